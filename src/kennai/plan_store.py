"""Plans people upload, kept: a SQLite file beside the build, with who added or renamed each and
when, so that plans can be listed, compared, renamed and deleted after the upload.

A region's own plans come from its config and are rebuilt with it; stored plans live apart from
the build (a rebuild keeps them) and share the config plans' name rules. Geometries are kept as
GeoJSON in EPSG:4326, and come back in the region's CRS.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd

from kennai.config import NAME_RE, RegionConfig, beside_build
from kennai.errors import ConfigError, NotFoundError, PlanExistsError
from kennai.i18n import t
from kennai.plans import ASSIGNABLE_LAYERS, read_plan_file
from kennai.region import Region

_SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    name TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    areas INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    geojson TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class StoredPlan:
    """What is known of a stored plan besides its polygons."""

    name: str
    title: str
    source: str
    areas: int
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"stored": True}


def default_plan_store_path(config: RegionConfig, build_dir: Path | None = None) -> Path:
    """Where a region's stored plans live: ``<build root>/<region>.plans.sqlite``."""
    return beside_build(config, "plans.sqlite", build_dir)


class PlanStore:
    """The stored plans of one region (one SQLite file; writers take turns)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    def plans(self) -> list[StoredPlan]:
        """Every stored plan, oldest first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT name, title, source, areas, created_by, created_at, "
                                "updated_by, updated_at FROM plans ORDER BY created_at, name")
            return [StoredPlan(**dict(r)) for r in rows]

    def names(self) -> list[str]:
        return [p.name for p in self.plans()]

    def info(self, name: str) -> StoredPlan:
        """What is known of the plan ``name``; :class:`NotFoundError` when there is none."""
        for plan in self.plans():
            if plan.name == name:
                return plan
        raise _no_plan(name, self.names())

    def get(self, name: str) -> gpd.GeoDataFrame:
        """The plan's areas (``name`` + polygon) in EPSG:4326."""
        with self._connect() as conn:
            row = conn.execute("SELECT geojson FROM plans WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise _no_plan(name, self.names())
        return gpd.GeoDataFrame.from_features(json.loads(row["geojson"]), crs="EPSG:4326")[
            ["name", "geometry"]]

    def add(self, name: str, plan: gpd.GeoDataFrame, *, who: str, title: str | None = None,
            source: str = "", taken: tuple[str, ...] = ()) -> StoredPlan:
        """Store ``plan`` (areas with ``name``, any CRS) as ``name``.

        Raises :class:`PlanExistsError` when the name is stored already or in ``taken`` (the
        region's own plans), :class:`ConfigError` for a bad name or no ``who``.
        """
        _check_name(name)
        who = _check_who(who)
        if name in taken:
            raise _exists(name)
        now = _now()
        frame = plan[["name", plan.geometry.name]].to_crs("EPSG:4326")
        frame = frame.assign(name=frame["name"].astype(str))
        try:
            with self._connect() as conn:
                conn.execute("INSERT INTO plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (name, title or name, source, len(frame), who, now, who, now,
                              frame.to_json(drop_id=True)))
        except sqlite3.IntegrityError:
            raise _exists(name) from None
        return self.info(name)

    def rename(self, name: str, new_name: str, *, who: str, title: str | None = None,
               taken: tuple[str, ...] = ()) -> StoredPlan:
        """Give the plan ``name`` a new name (and title), recording who and when."""
        _check_name(new_name)
        who = _check_who(who)
        if new_name != name and new_name in taken:
            raise _exists(new_name)
        old = self.info(name)
        try:
            with self._connect() as conn:
                conn.execute("UPDATE plans SET name = ?, title = ?, updated_by = ?, updated_at = ? "
                             "WHERE name = ?",
                             (new_name, title or (old.title if old.title != name else new_name),
                              who, _now(), name))
        except sqlite3.IntegrityError:
            raise _exists(new_name) from None
        return self.info(new_name)

    def delete(self, name: str, *, who: str) -> None:
        """Remove the plan ``name``; :class:`NotFoundError` when there is none."""
        _check_who(who)
        with self._connect() as conn:
            gone = conn.execute("DELETE FROM plans WHERE name = ?", (name,)).rowcount
        if not gone:
            raise _no_plan(name, self.names())


def read_region_plan(region: Region, data: Path | bytes, *, filename: str,
                     name_column: str | None = None, source_crs: str | None = None,
                     units: str | None = None, unit_column: str | None = None,
                     area_column: str | None = None) -> gpd.GeoDataFrame:
    """A plan file brought to a region (polygons, or an assignment table of its units), as the
    region's plan polygons: what ``kennai plans add`` and the API's uploads read."""
    layers = {k: region.layer(k) for k in ASSIGNABLE_LAYERS if region.has_layer(k)}
    return read_plan_file(data, filename=filename, layers=layers, crs=region.crs,
                          name_column=name_column, source_crs=source_crs, units=units,
                          unit_column=unit_column, area_column=area_column)


def region_plan_store(region: Region) -> PlanStore:
    """The plan store of a region (beside its build; made empty on first use)."""
    return PlanStore(default_plan_store_path(region.config, region.build_dir))


def plan_polygons(region: Region, name: str, store: PlanStore | None) -> gpd.GeoDataFrame:
    """A plan by name: the region's own, else a stored one, in the region's CRS.

    Raises :class:`NotFoundError` naming both kinds when neither has it.
    """
    if name in region.plan_names:
        return region.plan(name)
    if store is not None and name in store.names():
        return store.get(name).to_crs(region.crs)
    raise _no_plan(name, [*region.plan_names, *(store.names() if store is not None else [])])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise ConfigError(t(f"案の名前「{name}」は使えません", f"plan name {name!r} is not allowed"),
                          feature=name, hint=t("半角の小文字・数字・_・- で書いてください（例: plan-2027）",
                                               "use lower-case letters, digits, '_' and '-' "
                                               "(e.g. plan-2027)"))


def _check_who(who: str) -> str:
    who = (who or "").strip()
    if not who:
        raise ConfigError(t("誰が変更したか（who）が必要です", "who made the change is required"),
                          feature="who", hint=t("名前か担当部署を書いてください",
                                                "give your name or office"))
    return who[:100]


def _exists(name: str) -> PlanExistsError:
    return PlanExistsError(t(f"案「{name}」はすでにあります", f"a plan named {name!r} exists"),
                           feature=name, hint=t("別の名前にするか、先に削除してください",
                                                "choose another name or delete it first"))


def _no_plan(name: str, names: list[str]) -> NotFoundError:
    known = ", ".join(names) or t("なし", "none").get()
    return NotFoundError(t(f"案「{name}」はありません（あるもの: {known}）",
                           f"no plan {name!r} (there are: {known})"), feature=name,
                         hint=t("kennai plans list で名前を確認してください",
                                "check the names with kennai plans list"))
