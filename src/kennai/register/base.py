"""The register's interface: its fields, validation, change log and every query, written once.

:class:`PlaceRegister` holds everything both stores share; a store (``kennai.register.sqlite``,
``kennai.register.postgis``) only says how to connect, how to lock and how a point is stored.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from kennai.errors import InputError, NotFoundError, RegisterConflictError
from kennai.i18n import t
from kennai.register.location import RegisterLocation, is_database_url
from kennai.schedule import (
    ScheduleValueError,
    check_hours,
    parse_frequency,
    parse_time,
    parse_weekdays,
)

if TYPE_CHECKING:  # loaded by to_frame(): the register's fingerprint (a build's freshness) needs neither
    import geopandas as gpd

#: Text fields of the places schema (``kennai.io.layers``): what every places source has.
PLACE_FIELDS = ("name", "category", "address", "weekdays", "start_time", "end_time",
               "schedule_note", "description")
#: The fields a 通いの場 gained after the first register version (added to old tables); a
#: register place carries them into the places layer, other sources leave them empty.
ADDED_FIELDS = ("frequency", "audience", "fee", "activity", "contact", "note")
#: Every text field a register entry can set.
TEXT_FIELDS = PLACE_FIELDS + ADDED_FIELDS
#: Fields read by a rule of :mod:`kennai.schedule` rather than taken as free text.
_PARSED = {"weekdays": parse_weekdays, "start_time": parse_time, "end_time": parse_time,
           "frequency": parse_frequency}
#: Field → its Japanese name, for messages.
FIELD_TITLES = {"name": "名称", "category": "種別", "address": "住所", "weekdays": "曜日",
                "start_time": "開始時刻", "end_time": "終了時刻", "schedule_note": "日時の特記事項",
                "description": "説明", "frequency": "頻度", "audience": "対象（どなたでも等）",
                "fee": "参加費", "activity": "活動内容", "contact": "連絡先", "note": "備考"}
SOURCE_NAME = "register"
_MAX_TEXT = 2000
_STAMPS = ("created_at", "created_by", "updated_at", "updated_by", "retired_at", "retired_by",
           "retired_reason")
#: How long an ``Idempotency-Key`` is remembered (a client retries within minutes, not days).
IDEMPOTENCY_TTL = timedelta(hours=24)
#: Longest ``Idempotency-Key`` accepted (a UUID is 36 characters).
MAX_KEY = 200

def _now() -> str:
    """The time of a change: UTC, to the second, as ISO text."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _text(value: Any) -> Any:
    """Timestamps as the ISO text both stores hand out (PostgreSQL returns datetimes)."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if isinstance(value, datetime) \
        else value


def _request_digest(action: str, place_id: str, values: Mapping[str, Any], by: str) -> str:
    """What a write asked for, as a digest: a retry asks for the same, another change does not."""
    text = json.dumps([action, place_id, dict(values), by], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row as a plain dict, timestamps as text."""
    return {k: _text(row[k]) for k in row.keys()}  # noqa: SIM118  (sqlite3.Row is not iterable by key)


#: The stores by scheme; each store's class adds itself when it is defined.
_STORES: dict[str, type[PlaceRegister]] = {}


class PlaceRegister:
    """A region's register of gathering places (the interface both stores share).

    ``PlaceRegister(location)`` opens the right store, as ``pathlib.Path`` does: a
    :class:`SQLiteRegister` for a path, a :class:`PostGISRegister` for a ``postgresql://`` URL.
    Subclasses only say how to connect, how to lock and how a point is stored; a store
    declares the scheme it serves (``class SQLiteRegister(PlaceRegister, scheme="sqlite")``),
    which is how ``PlaceRegister(location)`` finds it.

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
    #: The store's scheme: ``sqlite`` or ``postgresql`` (the fingerprint's prefix).
    _scheme: ClassVar[str]

    def __init_subclass__(cls, *, scheme: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if scheme is not None:
            cls._scheme = scheme
            _STORES[scheme] = cls

    def __new__(cls, location: RegisterLocation, **_: Any) -> PlaceRegister:
        if cls is PlaceRegister:
            cls = _STORES["postgresql" if is_database_url(location) else "sqlite"]
        return super().__new__(cls)

    def __init__(self, location: RegisterLocation, *,
                 bounds: tuple[float, float, float, float] | None = None) -> None:
        self.location = str(location)
        self.bounds = bounds

    # -- what a store provides --------------------------------------------------------------
    def _connect(self) -> AbstractContextManager[Any]:
        """A connection whose ``execute(sql, params)`` returns mapping rows."""
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[Any]:
        """A write transaction: all of it is committed, or none of it."""
        raise NotImplementedError

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
                raise self._bad(key, f"「{FIELD_TITLES[key]}」が長すぎます（{_MAX_TEXT} 文字まで）",
                                f"{key!r} is too long (max {_MAX_TEXT} characters)")
            if text and key in _PARSED:
                try:
                    text = _PARSED[key](text)
                except ScheduleValueError as exc:
                    raise self._bad(key, f"{FIELD_TITLES[key]}: {exc.text.ja}",
                                    f"{key}: {exc.text.en}") from None
            out[key] = text
        if not partial:
            self._check_hours(out.get("start_time", ""), out.get("end_time", ""))
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

    def _check_hours(self, start: str, end: str) -> None:
        try:
            check_hours(start, end)
        except ScheduleValueError as exc:
            raise self._bad("end_time", f"終了時刻: {exc.text.ja}", f"end_time: {exc.text.en}"
                            ) from None

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
    def add(self, values: Mapping[str, Any], *, by: str,
            idempotency_key: str | None = None) -> dict[str, Any]:
        """Add a place (``name``, ``lon``, ``lat`` and any other text field); returns it.

        With an ``idempotency_key``, a retry of the same add (a client that never saw the first
        answer) returns the first answer and stores nothing more.
        """
        clean = self._clean(values, partial=False)
        who, now = self._who(by), _now()
        text = {k: v for k, v in clean.items() if k in TEXT_FIELDS}
        point_cols, point_values = self._insert_point
        cols = [*text, point_cols, "created_at", "created_by", "updated_at", "updated_by"]
        holes = [*("?" * len(text)), point_values, "?", "?", "?", "?"]
        asked = _request_digest("add", "", clean, who)
        with self._transaction() as conn:
            if (earlier := self._replay(conn, idempotency_key, asked)) is not None:
                return earlier
            seq = self._exec(conn, f"INSERT INTO places ({', '.join(cols)}) VALUES "
                                   f"({', '.join(holes)}) RETURNING seq",
                             [*text.values(), clean["lon"], clean["lat"], now, who, now, who]
                             )[0]["seq"]
            place_id = f"{SOURCE_NAME}:{seq}"
            self._exec(conn, "UPDATE places SET place_id = ? WHERE seq = ?", (place_id, seq))
            self._log(conn, place_id, "add", now, who, clean)
            return self._remember(conn, idempotency_key, asked, _row(self._fetch(conn, place_id)))

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
            self._check_hours(clean.get("start_time", row["start_time"]),
                              clean.get("end_time", row["end_time"]))
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

    def retire(self, place_id: str, *, by: str, reason: str = "",
               idempotency_key: str | None = None) -> dict[str, Any]:
        """Retire a place (it stays in the register, off the map and out of the analysis); a
        retry with the same ``idempotency_key`` returns the first answer."""
        who, now = self._who(by), _now()
        reason = (reason or "").strip()[:_MAX_TEXT]
        asked = _request_digest("retire", place_id, {"reason": reason}, who)
        with self._transaction() as conn:
            if (earlier := self._replay(conn, idempotency_key, asked)) is not None:
                return earlier
            row = self._fetch(conn, place_id, lock=True)
            if row["retired_at"] is not None:
                raise InputError(t(f"「{place_id}」は既に廃止されています",
                                   f"{place_id!r} is already retired"), feature=place_id,
                                 hint=t("一覧を更新してください", "reload the list"))
            self._exec(conn, "UPDATE places SET retired_at = ?, retired_by = ?, retired_reason = ?, "
                             "updated_at = ?, updated_by = ? WHERE place_id = ?",
                       (now, who, reason, now, who, place_id))
            self._log(conn, place_id, "retire", now, who, {"reason": reason})
            return self._remember(conn, idempotency_key, asked, _row(self._fetch(conn, place_id)))

    # -- idempotent writes -----------------------------------------------------------------
    def _lock_key(self, conn: Any, key: str) -> None:
        """Make a second writer with the same key wait for the first (a store may need to)."""

    def _replay(self, conn: Any, key: str | None, asked: str) -> dict[str, Any] | None:
        """The stored answer of an earlier write with ``key`` (None when there was none).

        The same key with another request is refused: the client reused a key by mistake.
        """
        if key is None:
            return None
        if not key.strip() or len(key) > MAX_KEY:
            raise InputError(t(f"Idempotency-Key は 1〜{MAX_KEY} 文字にしてください",
                               f"an Idempotency-Key has 1 to {MAX_KEY} characters"),
                             feature="Idempotency-Key", hint=t("UUID などを使ってください",
                                                               "use e.g. a UUID"))
        self._lock_key(conn, key)
        cutoff = (datetime.now(UTC) - IDEMPOTENCY_TTL).isoformat(timespec="seconds")
        self._exec(conn, "DELETE FROM idempotency WHERE at < ?", (cutoff,))
        rows = self._exec(conn, "SELECT request, response FROM idempotency WHERE idem_key = ?",
                          (key,))
        if not rows:
            return None
        if rows[0]["request"] != asked:
            raise RegisterConflictError(t("この Idempotency-Key は別の変更に使われています",
                                          "this Idempotency-Key was used for another change"),
                                        feature="Idempotency-Key",
                                        hint=t("変更ごとに新しいキーを使ってください",
                                               "use a new key for each change"))
        stored = rows[0]["response"]
        return json.loads(stored) if isinstance(stored, str) else dict(stored)

    def _remember(self, conn: Any, key: str | None, asked: str, answer: dict[str, Any]
                  ) -> dict[str, Any]:
        """Store ``answer`` under ``key`` in the write's own transaction; return it."""
        if key is not None:
            self._exec(conn, "INSERT INTO idempotency (idem_key, request, response, at) "
                             "VALUES (?, ?, ?, ?)",
                       (key, asked, json.dumps(answer, ensure_ascii=False), _now()))
        return answer

    def _log(self, conn: Any, place_id: str, action: str, at: str, by: str,
             data: Mapping[str, Any]) -> None:
        self._exec(conn, 'INSERT INTO place_events (place_id, action, at, "by", data) '
                         "VALUES (?, ?, ?, ?, ?)",
                   (place_id, action, at, by, json.dumps(dict(data), ensure_ascii=False)))

    def to_frame(self, *, include_retired: bool = False) -> gpd.GeoDataFrame:
        """The register as a GeoDataFrame in EPSG:4326 with every stored column."""
        import geopandas as gpd
        import shapely

        rows = self.list_places(include_retired=include_retired)
        columns = list(rows[0]) if rows else ["place_id", *TEXT_FIELDS, "lon", "lat"]
        geoms = shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]) if rows else []
        return gpd.GeoDataFrame({c: [r[c] for r in rows] for c in columns}, geometry=list(geoms),
                                crs="EPSG:4326")
