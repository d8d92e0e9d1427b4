"""The gathering-place register: places staff find on their walks, kept in SQLite.

Coordinators add, edit and retire places (通いの場) through the API; each change records who
and when, in one transaction with its entry in the change log, so the register never holds a
half-made change. Retired places stay in the file (with who/when/why) but leave the map and the
analysis. The build reads the register as one more places source with
:func:`register_places`, so access results pick the changes up on the next ``kennai build``.

The register lives outside ``build/<region>/`` (which a rebuild replaces):
:func:`default_register_path` is ``build/<region>.register.sqlite`` unless configured.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from pyproj import CRS

from kennai.config import RegionConfig, default_build_dir
from kennai.errors import InputError, NotFoundError
from kennai.i18n import t

#: Text fields of the places schema (``kennai.io.layers``) a register entry can set.
TEXT_FIELDS = ("name", "category", "address", "weekdays", "start_time", "end_time",
               "schedule_note", "description")
SOURCE_NAME = "register"
_MAX_TEXT = 2000
_SCHEMA = """
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


def default_register_path(config: RegionConfig, build_dir: Path | None = None) -> Path:
    """Where a region's register lives: beside its build folder, or ``KENNAI_REGISTER``."""
    env = os.environ.get("KENNAI_REGISTER")
    if env:
        return Path(env)
    build_dir = build_dir or default_build_dir(config)
    return build_dir.parent / f"{config.name}.register.sqlite"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _bad(field: str, ja: str, en: str, path: Path) -> InputError:
    return InputError(t(ja, en), path=path, feature=field,
                      hint=t("入力内容を確認してください", "check the submitted values"))


class PlaceRegister:
    """A region's register of gathering places in one SQLite file.

    Parameters
    ----------
    path
        The SQLite file (created with its tables on first use).
    bounds
        Optional ``(west, south, east, north)`` in degrees: places outside are refused
        (a click far outside the region is a mistake, not a place).
    """

    def __init__(self, path: Path, *, bounds: tuple[float, float, float, float] | None = None
                 ) -> None:
        self.path = Path(path)
        self.bounds = bounds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

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
        """A write transaction: all of it is committed, or none of it."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- validation ------------------------------------------------------------------------
    def _clean(self, values: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
        unknown = sorted(set(values) - {*TEXT_FIELDS, "lon", "lat"})
        if unknown:
            raise _bad(unknown[0], f"知らない項目「{unknown[0]}」です", f"unknown field {unknown[0]!r}",
                       self.path)
        out: dict[str, Any] = {}
        for key in TEXT_FIELDS:
            if key not in values or values[key] is None:
                continue
            text = str(values[key]).strip()
            if len(text) > _MAX_TEXT:
                raise _bad(key, f"「{key}」が長すぎます（{_MAX_TEXT} 文字まで）",
                           f"{key!r} is too long (max {_MAX_TEXT} characters)", self.path)
            out[key] = text
        if (not partial or "name" in out) and not out.get("name"):
            raise _bad("name", "名称を入れてください", "a place needs a name", self.path)
        has_lon, has_lat = values.get("lon") is not None, values.get("lat") is not None
        if has_lon != has_lat or (not partial and not has_lon):
            raise _bad("lon/lat", "経度と緯度を両方入れてください", "give both lon and lat",
                       self.path)
        if has_lon:
            try:
                lon, lat = float(values["lon"]), float(values["lat"])
            except (TypeError, ValueError):
                raise _bad("lon/lat", "経度・緯度は数値です", "lon and lat must be numbers",
                           self.path) from None
            if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180
                    and -90 <= lat <= 90):
                raise _bad("lon/lat", "経度・緯度の範囲外です", "lon/lat out of range", self.path)
            if self.bounds is not None:
                w, s, e, n = self.bounds
                if not (w <= lon <= e and s <= lat <= n):
                    raise _bad("lon/lat", f"地点 ({lon:.5f}, {lat:.5f}) が地域の外です",
                               f"point ({lon:.5f}, {lat:.5f}) is outside the region", self.path)
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
    def list_places(self, *, include_retired: bool = False) -> list[dict[str, Any]]:
        """Every place (oldest first), without retired ones unless asked for."""
        sql = "SELECT * FROM places" + ("" if include_retired else " WHERE retired_at IS NULL")
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(sql + " ORDER BY seq")]

    def get(self, place_id: str) -> dict[str, Any]:
        """One place by id (retired ones included)."""
        with self._connect() as conn:
            return _row(self._fetch(conn, place_id))

    def history(self, place_id: str) -> list[dict[str, Any]]:
        """The change log of one place, oldest first."""
        with self._connect() as conn:
            self._fetch(conn, place_id)
            rows = conn.execute("SELECT * FROM place_events WHERE place_id = ? ORDER BY event_id",
                                (place_id,)).fetchall()
        return [{"event_id": r["event_id"], "action": r["action"], "at": r["at"], "by": r["by"],
                 "data": json.loads(r["data"])} for r in rows]

    def revision(self) -> int:
        """A number that grows with every change (for caches)."""
        with self._connect() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(event_id), 0) FROM place_events"
                                    ).fetchone()[0])

    def _fetch(self, conn: sqlite3.Connection, place_id: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM places WHERE place_id = ?", (place_id,)).fetchone()
        if row is None:
            raise NotFoundError(t(f"登録簿に「{place_id}」はありません",
                                  f"no place {place_id!r} in the register"),
                                feature=place_id, hint=t("一覧で ID を確認してください",
                                                         "check the id in the list"))
        return row

    # -- writing ---------------------------------------------------------------------------
    def add(self, values: Mapping[str, Any], *, by: str) -> dict[str, Any]:
        """Add a place (``name``, ``lon``, ``lat`` and any other text field); returns it."""
        clean = self._clean(values, partial=False)
        who, now = self._who(by), _now()
        with self._transaction() as conn:
            cols = [*clean, "created_at", "created_by", "updated_at", "updated_by"]
            cur = conn.execute(
                f"INSERT INTO places ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [*clean.values(), now, who, now, who])
            place_id = f"{SOURCE_NAME}:{cur.lastrowid}"
            conn.execute("UPDATE places SET place_id = ? WHERE seq = ?", (place_id, cur.lastrowid))
            _log(conn, place_id, "add", now, who, clean)
            return _row(self._fetch(conn, place_id))

    def edit(self, place_id: str, changes: Mapping[str, Any], *, by: str) -> dict[str, Any]:
        """Change some fields of an active place; returns it."""
        clean = self._clean(changes, partial=True)
        who, now = self._who(by), _now()
        with self._transaction() as conn:
            row = self._fetch(conn, place_id)
            if row["retired_at"] is not None:
                raise InputError(t(f"「{place_id}」は廃止済みです", f"{place_id!r} is retired"),
                                 feature=place_id, hint=t("廃止した場所は編集できません",
                                                          "a retired place cannot be edited"))
            if clean:
                sets = ", ".join(f"{k} = ?" for k in clean)
                conn.execute(f"UPDATE places SET {sets}, updated_at = ?, updated_by = ? "
                             "WHERE place_id = ?", [*clean.values(), now, who, place_id])
            _log(conn, place_id, "edit", now, who, clean)
            return _row(self._fetch(conn, place_id))

    def retire(self, place_id: str, *, by: str, reason: str = "") -> dict[str, Any]:
        """Retire a place (it stays in the file, off the map and out of the analysis)."""
        who, now = self._who(by), _now()
        reason = (reason or "").strip()[:_MAX_TEXT]
        with self._transaction() as conn:
            row = self._fetch(conn, place_id)
            if row["retired_at"] is not None:
                raise InputError(t(f"「{place_id}」は既に廃止されています",
                                   f"{place_id!r} is already retired"), feature=place_id,
                                 hint=t("一覧を更新してください", "reload the list"))
            conn.execute("UPDATE places SET retired_at = ?, retired_by = ?, retired_reason = ?, "
                         "updated_at = ?, updated_by = ? WHERE place_id = ?",
                         (now, who, reason, now, who, place_id))
            _log(conn, place_id, "retire", now, who, {"reason": reason})
            return _row(self._fetch(conn, place_id))

    def to_frame(self, *, include_retired: bool = False) -> gpd.GeoDataFrame:
        """The register as a GeoDataFrame in EPSG:4326 with every stored column."""
        rows = self.list_places(include_retired=include_retired)
        columns = list(rows[0]) if rows else ["place_id", *TEXT_FIELDS, "lon", "lat"]
        geoms = shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]) if rows else []
        return gpd.GeoDataFrame({c: [r[c] for r in rows] for c in columns}, geometry=list(geoms),
                                crs="EPSG:4326")


def _row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out.pop("seq", None)
    return out


def _log(conn: sqlite3.Connection, place_id: str, action: str, at: str, by: str,
         data: Mapping[str, Any]) -> None:
    conn.execute("INSERT INTO place_events (place_id, action, at, by, data) VALUES (?, ?, ?, ?, ?)",
                 (place_id, action, at, by, json.dumps(dict(data), ensure_ascii=False)))


def register_places(db_path: str | Path, *, crs: CRS | str | None = None) -> gpd.GeoDataFrame:
    """The register's active places in the places schema, for the build to read as a source.

    Parameters
    ----------
    db_path
        The register file. A missing file means an empty register (no places), not an error.
    crs
        Project to this CRS (default: EPSG:4326, the register's own).

    Returns
    -------
    GeoDataFrame
        ``place_id, name, category, address, weekdays, start_time, end_time, schedule_note,
        description, source_file`` and point geometry; ``source_file`` is ``register``.
    """
    path = Path(db_path)
    columns = ["place_id", *TEXT_FIELDS]
    if path.is_file():
        frame = PlaceRegister(path).to_frame()
    else:
        frame = gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs="EPSG:4326")
    out = gpd.GeoDataFrame(frame[columns].astype(str), geometry=frame.geometry.values,
                           crs="EPSG:4326")
    out["source_file"] = SOURCE_NAME
    return out.to_crs(crs) if crs is not None else out
