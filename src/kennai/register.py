"""The gathering-place register: places staff find on their walks, in SQLite or PostGIS.

Coordinators add, edit and retire places (通いの場) through the API; each change records who
and when, in one transaction with its entry in the change log, so the register never holds a
half-made change. Retired places stay in the register (with who/when/why) but leave the map and
the analysis. The build reads the register as one more places source with
:func:`register_places`, so access results pick the changes up on the next ``kennai build``.

Two stores share one interface, :class:`PlaceRegister` (validation, the change log and every
query are written once, in the base class):

* a SQLite file (the default): ``build/<region>.register.sqlite``, beside the build folder
  (which a rebuild replaces), or the path in ``KENNAI_REGISTER``;
* PostgreSQL + PostGIS when several people edit: a ``postgresql://`` URL in ``KENNAI_REGISTER``
  or ``kennai serve --register``. Places are ``geometry(Point, 4326)`` with a GiST index.

Concurrent editors cannot lose an update: every change reads the place it changes under a
lock held to the commit (``BEGIN IMMEDIATE`` in SQLite, ``SELECT … FOR UPDATE`` in PostgreSQL),
so a second editor waits, then sees the first one's commit (an edit of a place retired in the
meantime is refused) and both changes are in the log.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import shapely
from pyproj import CRS

from kennai.config import RegionConfig, default_build_dir
from kennai.errors import ConfigError, InputError, NotFoundError, RegisterConflictError
from kennai.i18n import t

#: Text fields of the places schema (``kennai.io.layers``) a register entry can set.
TEXT_FIELDS = ("name", "category", "address", "weekdays", "start_time", "end_time",
               "schedule_note", "description")
SOURCE_NAME = "register"
#: Where a register lives: a SQLite file, or a ``postgresql://`` URL (kept as ``str``).
RegisterLocation = str | Path
_URL_SCHEMES = ("postgresql://", "postgres://")
_MAX_TEXT = 2000
_STAMPS = ("created_at", "created_by", "updated_at", "updated_by", "retired_at", "retired_by",
           "retired_reason")
_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS places (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    place_id TEXT UNIQUE,
    name TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    weekdays TEXT NOT NULL DEFAULT '',
    start_time TEXT NOT NULL DEFAULT '',
    end_time TEXT NOT NULL DEFAULT '',
    schedule_note TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    retired_at TEXT,
    retired_by TEXT,
    retired_reason TEXT
);
CREATE TABLE IF NOT EXISTS place_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    place_id TEXT NOT NULL,
    action TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    data TEXT NOT NULL
);
"""
_POSTGIS_SCHEMA = """
CREATE TABLE IF NOT EXISTS places (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    place_id text UNIQUE,
    name text NOT NULL,
    category text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    weekdays text NOT NULL DEFAULT '',
    start_time text NOT NULL DEFAULT '',
    end_time text NOT NULL DEFAULT '',
    schedule_note text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    geom geometry(Point, 4326) NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    retired_at timestamptz,
    retired_by text,
    retired_reason text
);
CREATE INDEX IF NOT EXISTS places_geom_gist ON places USING gist (geom);
CREATE TABLE IF NOT EXISTS place_events (
    event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    place_id text NOT NULL REFERENCES places (place_id),
    action text NOT NULL,
    at timestamptz NOT NULL,
    "by" text NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS place_events_place_id ON place_events (place_id, event_id);
"""


def is_database_url(location: RegisterLocation) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(_URL_SCHEMES)


def register_location(text: str | Path) -> RegisterLocation:
    """A ``--register`` / ``KENNAI_REGISTER`` value as a location: a URL stays text, else a path.

    (``Path`` would fold the ``//`` of a URL, so URLs must never go through it.)
    """
    return str(text) if is_database_url(str(text)) else Path(text)


def default_register_path(config: RegionConfig, build_dir: Path | None = None
                          ) -> RegisterLocation:
    """Where a region's register lives: beside its build folder, or ``KENNAI_REGISTER``."""
    env = os.environ.get("KENNAI_REGISTER")
    if env:
        return register_location(env)
    build_dir = build_dir or default_build_dir(config)
    return build_dir.parent / f"{config.name}.register.sqlite"


def register_fingerprint(location: RegisterLocation) -> str:
    """What the build's input hash records for the register: it changes with every change.

    A SQLite file is hashed (``sqlite:<sha256>``; ``none`` when there is no file); a PostgreSQL
    register gives its revision (the number of changes) and the time of its last change, as
    ``postgresql:<revision>:<timestamp>``, without reading the places.
    """
    if is_database_url(location):
        return PlaceRegister(location).fingerprint()
    path = Path(location)
    if not path.is_file():
        return "none"
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return f"sqlite:{h.hexdigest()}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _text(value: Any) -> Any:
    """Timestamps as the ISO text both stores hand out (PostgreSQL returns datetimes)."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if isinstance(value, datetime) \
        else value


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class PlaceRegister(ABC):
    """A region's register of gathering places (the interface both stores share).

    ``PlaceRegister(location)`` opens the right store, as ``pathlib.Path`` does: a
    :class:`SQLiteRegister` for a path, a :class:`PostGISRegister` for a ``postgresql://`` URL.
    Subclasses only say how to connect, how to lock and how a point is stored.

    Parameters
    ----------
    location
        The SQLite file or the PostgreSQL URL (the tables are created on first use).
    bounds
        Optional ``(west, south, east, north)`` in degrees: places outside are refused
        (a click far outside the region is a mistake, not a place).
    """

    #: Text shown in messages (a path, or the URL without its password).
    location: str
    #: SQL for the point, per store: selected as ``lon, lat``; inserted; assigned by an edit.
    _select_point = "lon, lat"
    _insert_point = ("lon, lat", "?, ?")
    _assign_point = "lon = ?, lat = ?"
    #: Appended to the read of the place a change is about to change.
    _lock_row = ""
    _scheme = "sqlite"

    def __new__(cls, location: RegisterLocation, **_: Any) -> PlaceRegister:
        if cls is PlaceRegister:
            cls = PostGISRegister if is_database_url(location) else SQLiteRegister
        return super().__new__(cls)

    def __init__(self, location: RegisterLocation, *,
                 bounds: tuple[float, float, float, float] | None = None) -> None:
        self.location = str(location)
        self.bounds = bounds

    # -- what a store provides --------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> AbstractContextManager[Any]:
        """A connection whose ``execute(sql, params)`` returns mapping rows."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """A write transaction: all of it is committed, or none of it."""

    def _sql(self, sql: str) -> str:
        """The store's form of ``sql`` (written with ``?`` placeholders)."""
        return sql

    def _exec(self, conn: Any, sql: str, params: tuple | list = ()) -> list[Mapping[str, Any]]:
        """Run one statement; its rows (none for a statement without results)."""
        cur = conn.execute(self._sql(sql), params)
        return cur.fetchall() if cur.description is not None else []

    # -- validation ------------------------------------------------------------------------
    @staticmethod
    def _bad(field: str, ja: str, en: str) -> InputError:
        # The submitted value is at fault, not the register: name no server file.
        return InputError(t(ja, en), feature=field,
                          hint=t("入力内容を確認してください", "check the submitted values"))

    def _clean(self, values: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
        unknown = sorted(set(values) - {*TEXT_FIELDS, "lon", "lat"})
        if unknown:
            raise self._bad(unknown[0], f"知らない項目「{unknown[0]}」です",
                            f"unknown field {unknown[0]!r}")
        out: dict[str, Any] = {}
        for key in TEXT_FIELDS:
            if key not in values or values[key] is None:
                continue
            text = str(values[key]).strip()
            if len(text) > _MAX_TEXT:
                raise self._bad(key, f"「{key}」が長すぎます（{_MAX_TEXT} 文字まで）",
                                f"{key!r} is too long (max {_MAX_TEXT} characters)")
            out[key] = text
        if (not partial or "name" in out) and not out.get("name"):
            raise self._bad("name", "名称を入れてください", "a place needs a name")
        has_lon, has_lat = values.get("lon") is not None, values.get("lat") is not None
        if has_lon != has_lat or (not partial and not has_lon):
            raise self._bad("lon/lat", "経度と緯度を両方入れてください", "give both lon and lat")
        if has_lon:
            try:
                lon, lat = float(values["lon"]), float(values["lat"])
            except (TypeError, ValueError):
                raise self._bad("lon/lat", "経度・緯度は数値です",
                                "lon and lat must be numbers") from None
            if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180
                    and -90 <= lat <= 90):
                raise self._bad("lon/lat", "経度・緯度の範囲外です", "lon/lat out of range")
            if self.bounds is not None:
                w, s, e, n = self.bounds
                if not (w <= lon <= e and s <= lat <= n):
                    raise self._bad("lon/lat", f"地点 ({lon:.5f}, {lat:.5f}) が地域の外です",
                                    f"point ({lon:.5f}, {lat:.5f}) is outside the region")
            out["lon"], out["lat"] = lon, lat
        return out

    @staticmethod
    def _who(by: str) -> str:
        who = (by or "").strip()
        if not who or len(who) > 200:
            raise InputError(t("誰が変更したか（by）を入れてください（200 文字まで）",
                               "say who makes the change ('by', up to 200 characters)"),
                             feature="by", hint=t("氏名か担当名を入れてください",
                                                  "give a name or role"))
        return who

    # -- reading ---------------------------------------------------------------------------
    def _columns(self) -> str:
        return ", ".join(["place_id", *TEXT_FIELDS, self._select_point, *_STAMPS])

    def list_places(self, *, include_retired: bool = False) -> list[dict[str, Any]]:
        """Every place (oldest first), without retired ones unless asked for."""
        where = "" if include_retired else " WHERE retired_at IS NULL"
        with self._connect() as conn:
            rows = self._exec(conn, f"SELECT {self._columns()} FROM places{where} ORDER BY seq")
        return [_row(r) for r in rows]

    def get(self, place_id: str) -> dict[str, Any]:
        """One place by id (retired ones included)."""
        with self._connect() as conn:
            return _row(self._fetch(conn, place_id))

    def history(self, place_id: str) -> list[dict[str, Any]]:
        """The change log of one place, oldest first."""
        with self._connect() as conn:
            self._fetch(conn, place_id)
            rows = self._exec(conn, 'SELECT event_id, action, at, "by", data FROM place_events '
                                    "WHERE place_id = ? ORDER BY event_id", (place_id,))
        return [{"event_id": r["event_id"], "action": r["action"], "at": _text(r["at"]),
                 "by": r["by"], "data": json.loads(r["data"]) if isinstance(r["data"], str)
                 else r["data"]} for r in rows]

    def revision(self) -> int:
        """The number of changes made so far (it grows with every committed change)."""
        with self._connect() as conn:
            return int(self._exec(conn, "SELECT COUNT(*) AS n FROM place_events")[0]["n"])

    def fingerprint(self) -> str:
        """The revision and the time of the last change (see :func:`register_fingerprint`)."""
        with self._connect() as conn:
            row = self._exec(conn, "SELECT COUNT(*) AS n, MAX(at) AS last FROM place_events")[0]
        return f"{self._scheme}:{row['n']}:{_text(row['last']) or '-'}"

    def _fetch(self, conn: Any, place_id: str, *, lock: bool = False) -> Mapping[str, Any]:
        rows = self._exec(conn, f"SELECT {self._columns()} FROM places WHERE place_id = ?"
                                + (self._lock_row if lock else ""), (place_id,))
        if not rows:
            raise NotFoundError(t(f"登録簿に「{place_id}」はありません",
                                  f"no place {place_id!r} in the register"),
                                feature=place_id, hint=t("一覧で ID を確認してください",
                                                         "check the id in the list"))
        return rows[0]

    # -- writing ---------------------------------------------------------------------------
    def add(self, values: Mapping[str, Any], *, by: str) -> dict[str, Any]:
        """Add a place (``name``, ``lon``, ``lat`` and any other text field); returns it."""
        clean = self._clean(values, partial=False)
        who, now = self._who(by), _now()
        text = {k: v for k, v in clean.items() if k in TEXT_FIELDS}
        point_cols, point_values = self._insert_point
        cols = [*text, point_cols, "created_at", "created_by", "updated_at", "updated_by"]
        holes = [*("?" * len(text)), point_values, "?", "?", "?", "?"]
        with self._transaction() as conn:
            seq = self._exec(conn, f"INSERT INTO places ({', '.join(cols)}) VALUES "
                                   f"({', '.join(holes)}) RETURNING seq",
                             [*text.values(), clean["lon"], clean["lat"], now, who, now, who]
                             )[0]["seq"]
            place_id = f"{SOURCE_NAME}:{seq}"
            self._exec(conn, "UPDATE places SET place_id = ? WHERE seq = ?", (place_id, seq))
            self._log(conn, place_id, "add", now, who, clean)
            return _row(self._fetch(conn, place_id))

    def edit(self, place_id: str, changes: Mapping[str, Any], *, by: str) -> dict[str, Any]:
        """Change some fields of an active place; returns it.

        An edit that gives no field returns the place as it is, with no ``edit`` event and no
        new ``updated_at``. (Fields given with their current value are written and logged:
        someone confirmed them.)
        """
        clean = self._clean(changes, partial=True)
        who, now = self._who(by), _now()
        with self._transaction() as conn:
            row = self._fetch(conn, place_id, lock=True)
            if row["retired_at"] is not None:
                raise InputError(t(f"「{place_id}」は廃止済みです", f"{place_id!r} is retired"),
                                 feature=place_id, hint=t("廃止した場所は編集できません",
                                                          "a retired place cannot be edited"))
            if not clean:
                return _row(row)
            text = {k: v for k, v in clean.items() if k in TEXT_FIELDS}
            sets = [f"{k} = ?" for k in text]
            params: list[Any] = list(text.values())
            if "lon" in clean:
                sets.append(self._assign_point)
                params += [clean["lon"], clean["lat"]]
            self._exec(conn, f"UPDATE places SET {', '.join(sets)}, updated_at = ?, "
                             "updated_by = ? WHERE place_id = ?",
                       [*params, now, who, place_id])
            self._log(conn, place_id, "edit", now, who, clean)
            return _row(self._fetch(conn, place_id))

    def retire(self, place_id: str, *, by: str, reason: str = "") -> dict[str, Any]:
        """Retire a place (it stays in the register, off the map and out of the analysis)."""
        who, now = self._who(by), _now()
        reason = (reason or "").strip()[:_MAX_TEXT]
        with self._transaction() as conn:
            row = self._fetch(conn, place_id, lock=True)
            if row["retired_at"] is not None:
                raise InputError(t(f"「{place_id}」は既に廃止されています",
                                   f"{place_id!r} is already retired"), feature=place_id,
                                 hint=t("一覧を更新してください", "reload the list"))
            self._exec(conn, "UPDATE places SET retired_at = ?, retired_by = ?, retired_reason = ?, "
                             "updated_at = ?, updated_by = ? WHERE place_id = ?",
                       (now, who, reason, now, who, place_id))
            self._log(conn, place_id, "retire", now, who, {"reason": reason})
            return _row(self._fetch(conn, place_id))

    def _log(self, conn: Any, place_id: str, action: str, at: str, by: str,
             data: Mapping[str, Any]) -> None:
        self._exec(conn, 'INSERT INTO place_events (place_id, action, at, "by", data) '
                         "VALUES (?, ?, ?, ?, ?)",
                   (place_id, action, at, by, json.dumps(dict(data), ensure_ascii=False)))

    def to_frame(self, *, include_retired: bool = False) -> gpd.GeoDataFrame:
        """The register as a GeoDataFrame in EPSG:4326 with every stored column."""
        rows = self.list_places(include_retired=include_retired)
        columns = list(rows[0]) if rows else ["place_id", *TEXT_FIELDS, "lon", "lat"]
        geoms = shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]) if rows else []
        return gpd.GeoDataFrame({c: [r[c] for r in rows] for c in columns}, geometry=list(geoms),
                                crs="EPSG:4326")


class SQLiteRegister(PlaceRegister):
    """The register in one SQLite file: one writer at a time (``BEGIN IMMEDIATE``)."""

    def __init__(self, location: RegisterLocation, *,
                 bounds: tuple[float, float, float, float] | None = None) -> None:
        super().__init__(location, bounds=bounds)
        self.path = Path(location)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SQLITE_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # the write lock, before the read of the place
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


class PostGISRegister(PlaceRegister):
    """The register in PostgreSQL + PostGIS, for several editors at once.

    Each call opens its own connection (a register sees a few changes a minute; no pool to
    size). A change locks the place's row (``SELECT … FOR UPDATE``) until it commits, so a
    second editor of the same place waits; after ``lock_timeout`` seconds of waiting it gets a
    :class:`RegisterConflictError` and nothing is changed.

    Parameters
    ----------
    location
        ``postgresql://user[:password]@host[:port]/database`` (libpq URL; ``PG*`` environment
        variables and ``~/.pgpass`` apply too).
    bounds
        As for :class:`PlaceRegister`.
    lock_timeout
        Seconds a change waits for another editor's lock on the same place.
    """

    _select_point = "ST_X(geom) AS lon, ST_Y(geom) AS lat"
    _insert_point = ("geom", "ST_SetSRID(ST_MakePoint(?, ?), 4326)")
    _assign_point = "geom = ST_SetSRID(ST_MakePoint(?, ?), 4326)"
    _lock_row = " FOR UPDATE"
    _scheme = "postgresql"

    def __init__(self, location: RegisterLocation, *,
                 bounds: tuple[float, float, float, float] | None = None,
                 lock_timeout: float = 10.0) -> None:
        try:
            import psycopg  # noqa: F401  (an optional dependency: kennai[postgis])
        except ImportError:
            raise ConfigError(t("PostgreSQL の登録簿には psycopg が必要です",
                                "a PostgreSQL register needs psycopg"), path=_redact(str(location)),
                              hint=t('pip install "kennai[postgis]" を実行してください',
                                     'run pip install "kennai[postgis]"')) from None
        super().__init__(_redact(str(location)), bounds=bounds)
        self._url = str(location)
        self.lock_timeout = lock_timeout
        self._create_schema()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import psycopg
        from psycopg.rows import dict_row

        try:
            conn = psycopg.connect(self._url, autocommit=True, row_factory=dict_row,
                                   connect_timeout=10, application_name="kennai-register")
        except psycopg.Error as exc:
            raise ConfigError(t("登録簿のデータベースに接続できません",
                                "cannot connect to the register's database"),
                              path=self.location, feature=type(exc).__name__,
                              hint=t("URL・サーバー・権限を確認してください（"
                                     f"{str(exc).strip()[:200]}）",
                                     f"check the URL, the server and the role ({str(exc).strip()[:200]})"
                                     )) from None
        with conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        import psycopg

        with self._connect() as conn:
            try:
                with conn.transaction():
                    conn.execute(f"SET LOCAL lock_timeout = '{int(self.lock_timeout * 1000)}ms'")
                    yield conn
            except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
                raise RegisterConflictError(
                    t("他の人が同じ場所を変更中のため、変更できませんでした",
                      "someone else is changing the same place: nothing was changed"),
                    path=self.location, hint=t("少し待ってからもう一度試してください",
                                               "wait a moment and try again")) from None

    def _create_schema(self) -> None:
        import psycopg

        with self._transaction() as conn:
            # One creator at a time: two servers starting together must not race on the DDL.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('kennai.register'))")
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is None:
                try:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                except psycopg.Error as exc:
                    raise ConfigError(
                        t("データベースに PostGIS がありません", "the database has no PostGIS"),
                        path=self.location, feature="postgis",
                        hint=t("管理者に CREATE EXTENSION postgis を実行してもらってください",
                               f"ask the administrator to run CREATE EXTENSION postgis ({exc})"),
                    ) from None
            conn.execute(_POSTGIS_SCHEMA)


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _text(row[k]) for k in row.keys()}  # noqa: SIM118  (sqlite3.Row is not iterable by key)


def register_places(location: RegisterLocation, *, crs: CRS | str | None = None
                    ) -> gpd.GeoDataFrame:
    """The register's active places in the places schema, for the build to read as a source.

    Parameters
    ----------
    location
        The register's SQLite file or PostgreSQL URL. A missing file means an empty register
        (no places), not an error.
    crs
        Project to this CRS (default: EPSG:4326, the register's own).

    Returns
    -------
    GeoDataFrame
        ``place_id, name, category, address, weekdays, start_time, end_time, schedule_note,
        description, source_file`` and point geometry; ``source_file`` is ``register``.
    """
    columns = ["place_id", *TEXT_FIELDS]
    if is_database_url(location) or Path(location).is_file():
        frame = PlaceRegister(location).to_frame()
    else:
        frame = gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs="EPSG:4326")
    out = gpd.GeoDataFrame(frame[columns].astype(str), geometry=frame.geometry.values,
                           crs="EPSG:4326")
    out["source_file"] = SOURCE_NAME
    return out.to_crs(crs) if crs is not None else out
