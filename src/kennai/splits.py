"""Does a layer-2 (第2層) plan cut a school district or a 自治会 in two?

:func:`analyse_splits` lays a plan over a layer of protected units (elementary districts, 自治会,
any polygon layer) and finds each unit's *pieces*: its part in each plan area, with area and
share, and population and share when census small areas are given. Digitising noise must not
count, so a piece counts only above :class:`SplitTolerances`; every ignored sliver stays in the
detailed output with the reason it was ignored. From the pieces come the seeds' patterns per
plan area (A: the whole municipality, B: whole units only, C: cuts a unit), redistricting-style
scores (units split, effective splits, uncertainty of membership, population in split units), a
split-free alternative and a side-by-side comparison of plans.

Method
------
Pieces are the exact intersections of unit × plan-area pairs that a spatial index proposes
(``sindex.query``), computed as one vectorised shapely 2 call, not a full overlay. Population of
a piece is estimated by *areal weighting* of census small areas: each small area's count is
spread over its polygon uniformly and a piece gets the part of each small area it covers
(areal interpolation, the standard estimate when no finer data exist; Dave's Redistricting App
assigns whole census blocks instead, which Japan's small areas are too coarse for). Residents
aged 65+ (高齢者) are weighted the same way when the layer has ``population_65plus``; a secret
or missing count makes the figures it weighs in unknown (null), never zero.

The part that does not depend on the plan, every unit intersected with the small areas it
overlaps (a sparse matrix of area shares, :class:`_Overlay`), is built once per pair of
layers and kept while they live, so comparing plans, the API's uploads and repeated analyses
reuse it. Per plan only the pieces other than each unit's largest are weighted, against the
small areas of their own unit; the largest gets the rest of the unit, and within a piece whose
unit is tiled by small areas the last small area gets the rest of the piece. These shortcuts
give the same numbers as weighting every piece from scratch (:func:`_disaggregate`, the
reference the tests compare with), with about half the intersections.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from kennai.atomic import atomic_path
from kennai.errors import InputError, NotFoundError
from kennai.i18n import get_lang, t

if TYPE_CHECKING:
    from kennai.region import Region

Pattern = Literal["A", "B", "C", "-"]

#: Why a piece does not count (the first tolerance it fails, in this order).
_REASONS = ("area_share", "area_m2", "population")


@dataclass(frozen=True, slots=True)
class SplitTolerances:
    """When a piece of a unit is real and when it is digitising noise.

    A piece counts only if it reaches *every* tolerance; a unit's largest piece always counts.
    Defaults:

    - ``min_area_share = 0.01``: boundaries of two layers digitised separately at 1:2,500–
      1:10,000 disagree by 5–10 m; along a 2–3 km shared edge of a 2–5 km² district that is
      0.2–0.8 % of its area (焼津市's 小川小 × 港中 sliver: 0.43 %, 7 m wide), so 1 % sits above
      the noise and far below a real cut (焼津東小: 19 %).
    - ``min_area_m2 = 1000``: the tiling tolerance of kennai's checks (about one house lot with
      its street); guards small units where 1 % is only a few square metres.
    - ``min_population = 10``: where population is known, a piece with fewer than ten estimated
      residents (about four households) holds no organised part of the community — a cut
      through fields, a river or a hillside.
    """

    min_area_share: float = 0.01
    min_area_m2: float = 1000.0
    min_population: float = 10.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_area_share < 0.5:
            raise InputError(t("min_area_share は 0 以上 0.5 未満にしてください",
                               "min_area_share must be in [0, 0.5)"),
                             feature="min_area_share", hint=t("例: 0.01（1 %）", "e.g. 0.01 (1 %)"))
        if self.min_area_m2 < 0 or self.min_population < 0:
            raise InputError(t("許容値は 0 以上にしてください", "tolerances must not be negative"),
                             feature="tolerances", hint=t("例: 1000 m², 10 人",
                                                          "e.g. 1000 m², 10 people"))


@dataclass
class SplitReport:
    """The splits of one layer of units by one plan.

    Attributes
    ----------
    pieces
        One row per unit × plan-area intersection with positive area (slivers included), in
        the analysis CRS: ``unit``, ``area``, ``area_m2``, ``area_share``, ``population``,
        ``population_share``, ``population_65plus``, ``population_65plus_share`` (NaN where
        unknown), ``mean_width_m`` (2·area/perimeter, small for slivers), ``counted`` and
        ``reason`` (why an ignored piece does not count).
    units
        One row per unit: ``name``, ``area_m2``, ``population``, ``population_65plus``,
        ``split``, ``n_pieces``, ``main_area``, ``effective_splits``, ``uncertainty``,
        ``uncovered_share``.
    areas
        One row per plan area: ``name``, ``pattern``, ``whole_units``, ``partial_units``,
        ``before``/``after`` (population, or area when there is none) and deviations from the
        mean, for the plan and for the split-free alternative, and ``population_65plus`` /
        ``population_65plus_after`` (NaN where unknown).
    summary
        The plan's scores (see :func:`analyse_splits`).
    has_population_65plus
        Whether the population layer gives residents aged 65 and over.
    """

    plan_name: str
    units_layer: str
    tolerances: SplitTolerances
    crs: CRS
    has_population: bool
    pieces: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    areas: pd.DataFrame
    summary: dict[str, Any]
    has_population_65plus: bool = False

    def alternative(self) -> pd.DataFrame:
        """The split-free alternative as an assignment table: ``unit`` → ``area``."""
        return pd.DataFrame({"unit": self.units["name"].to_numpy(),
                             "area": self.units["main_area"].to_numpy()})

    def alternative_plan(self) -> gpd.GeoDataFrame:
        """The split-free alternative as polygons (``name``): the units dissolved by area.

        It can be analysed again as a plan; it splits nothing by construction.
        """
        assigned = self.units.dropna(subset=["main_area"])
        gdf = assigned[["main_area", "geometry"]].dissolve(by="main_area", as_index=False,
                                                           sort=False)
        return gpd.GeoDataFrame({"name": gdf["main_area"].to_numpy()},
                                geometry=gdf.geometry.values, crs=self.crs)

    def pieces_frame(self) -> gpd.GeoDataFrame:
        """The pieces in EPSG:4326 for writing and maps: every column of :attr:`pieces` but
        ``unit_index``, with ``split`` (the piece's unit is split by the plan) and ``reason``
        as text ("" for a counted piece)."""
        split = self.units["split"].to_numpy(dtype=bool)[self.pieces["unit_index"].to_numpy()]
        return self.pieces.drop(columns=["unit_index"]).assign(
            split=split, reason=self.pieces["reason"].fillna("")).to_crs("EPSG:4326")

    def coverage_warning(self) -> str | None:
        """One line naming the units the plan leaves (partly) outside every area, or None."""
        return coverage_warning(self.summary)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result: ``summary``, ``units`` (each with ``pieces`` and ``slivers``),
        ``areas`` and the split-free ``alternative``."""
        pieces = self.pieces.sort_values(["unit_index", "area_m2"], ascending=[True, False])
        by_unit: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
            i: ([], []) for i in range(len(self.units))}
        cols = ["unit_index", "area", "area_m2", "area_share", "population", "population_share",
                "population_65plus", "population_65plus_share", "mean_width_m", "counted", "reason"]
        for row in pieces[cols].itertuples(index=False):
            d = {"area": row.area, "area_m2": _round(row.area_m2, 2),
                 "area_share": _round(row.area_share, 6)}
            if self.has_population:
                d["population"] = _round(row.population, 1)
                d["population_share"] = _round(row.population_share, 6)
                d["population_65plus"] = _round(row.population_65plus, 1)
                d["population_65plus_share"] = _round(row.population_65plus_share, 6)
            d["mean_width_m"] = _round(row.mean_width_m, 2)
            if not row.counted:
                d["reason"] = row.reason
            by_unit[row.unit_index][0 if row.counted else 1].append(d)
        units = []
        for i, u in enumerate(self.units.drop(columns="geometry").itertuples(index=False)):
            d = {"name": u.name, "split": bool(u.split), "n_pieces": int(u.n_pieces),
                 "main_area": u.main_area if isinstance(u.main_area, str) else None,
                 "area_m2": _round(u.area_m2, 2)}
            if self.has_population:
                d["population"] = _round(u.population, 1)
                d["population_65plus"] = _round(u.population_65plus, 1)
            d |= {"effective_splits": _round(u.effective_splits, 6),
                  "uncertainty": _round(u.uncertainty, 6),
                  "uncovered_share": _round(u.uncovered_share, 6),
                  "pieces": by_unit[i][0], "slivers": by_unit[i][1]}
            units.append(d)
        areas = [
            {"name": a.name, "pattern": a.pattern, "whole_units": list(a.whole_units),
             "partial_units": list(a.partial_units), "before": _round(a.before, 2),
             "after": _round(a.after, 2), "deviation_before": _round(a.deviation_before, 6),
             "deviation_after": _round(a.deviation_after, 6)}
            | ({"population_65plus": _round(a.population_65plus, 1),
                "population_65plus_after": _round(a.population_65plus_after, 1)}
               if self.has_population else {})
            for a in self.areas.itertuples(index=False)]
        return {
            "plan": self.plan_name,
            "units_layer": self.units_layer,
            "crs": {"epsg": self.crs.to_epsg(), "name": self.crs.name},
            "tolerances": asdict(self.tolerances),
            "has_population": self.has_population,
            "has_population_65plus": self.has_population_65plus,
            "summary": self.summary,
            "units": units,
            "areas": areas,
            "alternative": {"measure": self.summary["measure"],
                            "assignment": {u: a for u, a in self.alternative().itertuples(
                                index=False) if isinstance(a, str)}},
        }


@dataclass
class PlanComparison:
    """Several plans' splits of the same units, side by side."""

    units_layer: str
    reports: list[SplitReport] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """One row per plan with its scores and pattern counts."""
        rows = []
        for r in self.reports:
            s = r.summary
            rows.append({"plan": r.plan_name, "areas": s["areas"],
                         "pattern_A": s["patterns"]["A"], "pattern_B": s["patterns"]["B"],
                         "pattern_C": s["patterns"]["C"], "units": s["units"],
                         "units_split": s["units_split"], "units_split_3plus": s["units_split_3plus"],
                         "pieces": s["pieces"], "effective_splits": s["effective_splits"],
                         "uncertainty": s["uncertainty"],
                         "population_in_split_units": s["population_in_split_units"],
                         "population_in_split_units_share": s["population_in_split_units_share"],
                         "population_65plus_in_split_units": s["population_65plus_in_split_units"],
                         "population_65plus_in_split_units_share":
                             s["population_65plus_in_split_units_share"],
                         "max_deviation_before": s["max_deviation_before"],
                         "max_deviation_after": s["max_deviation_after"]})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: each plan's summary and, per unit, the areas it falls in under each plan."""
        names = self.reports[0].units["name"].tolist() if self.reports else []
        per_unit: dict[str, dict[str, Any]] = {n: {} for n in names}
        for r in self.reports:
            counted = r.pieces[r.pieces["counted"]].sort_values("area_m2", ascending=False)
            areas = counted.groupby("unit", sort=False)["area"].agg(list)
            for u in r.units.itertuples(index=False):
                per_unit[u.name][r.plan_name] = {"split": bool(u.split),
                                                 "areas": areas.get(u.name, [])}
        return {"units_layer": self.units_layer,
                "plans": [{"plan": r.plan_name, "summary": r.summary,
                           "areas": [{"name": a.name, "pattern": a.pattern}
                                     for a in r.areas.itertuples(index=False)]}
                          for r in self.reports],
                "units": [{"name": n, "plans": per_unit[n]} for n in names]}


def coverage_warning(summary: dict[str, Any]) -> str | None:
    """A warning line (current language) naming the units a plan leaves wholly or partly
    outside every plan area, from a report's ``summary``; None when it covers every unit."""
    none, part = summary.get("uncovered_units", []), summary.get("partly_uncovered_units", [])
    lines = []
    if none:
        lines.append(t(f"どの圏域にも入らない区域が {len(none)} 件あります: {'、'.join(none)}",
                       f"{len(none)} unit(s) lie in no plan area: {', '.join(none)}").get())
    if part:
        lines.append(t(f"一部が圏域の外にある区域が {len(part)} 件あります: {'、'.join(part)}",
                       f"{len(part)} unit(s) lie partly outside every plan area: "
                       f"{', '.join(part)}").get())
    if not lines:
        return None
    return t("注意: ", "Warning: ").get() + t("。", "; ").get().join(lines) \
        + t("（計画が市町村全体を覆っていません）", " (the plan does not cover the whole "
                                                   "municipality)").get()


def _round(x: Any, digits: int) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), digits)


# --------------------------------------------------------------------------------------------
# analysis


def _analysis_crs(gdf: gpd.GeoDataFrame) -> CRS:
    """The units' CRS when projected, else their UTM zone (distances never in degrees)."""
    if gdf.crs is None:
        raise InputError(t("区域に CRS がありません", "the units have no CRS"),
                         hint=t("CRS 付きのデータを渡してください", "give data with a CRS"))
    crs = CRS.from_user_input(gdf.crs)
    return crs if crs.is_projected else gdf.estimate_utm_crs()


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygonal part of each intersection (drop touching lines and points)."""
    types = shapely.get_type_id(geoms)
    mixed = np.flatnonzero(types == 7)  # GeometryCollection
    if len(mixed) == 0:
        return geoms
    parts, idx = shapely.get_parts(geoms[mixed], return_index=True)
    sub, sub_idx = shapely.get_parts(parts, return_index=True)  # flatten nested multi-parts
    idx = idx[sub_idx]
    keep = shapely.get_type_id(sub) == 3
    fixed = np.full(len(mixed), None, dtype=object)
    if keep.any():
        fixed = shapely.multipolygons(sub[keep], indices=idx[keep], out=fixed)
    out = geoms.copy()
    out[mixed] = np.where(pd.isna(fixed), shapely.Polygon(), fixed)
    return out


def _intersect_pairs(units: np.ndarray, plan: gpd.GeoSeries
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit × plan-area pieces with positive area: (unit index, area index, geometry).

    The index proposes candidate pairs; pairs where the unit lies inside one area need no
    intersection (the piece is the unit), the rest are cut in one vectorised call.
    """
    ui, pi = plan.sindex.query(units, predicate="intersects")
    plan_geoms = np.asarray(plan.geometry.values)
    inside_u, inside_p = plan.sindex.query(units, predicate="covered_by")
    n = len(plan_geoms)
    inside = np.isin(ui * n + pi, inside_u * n + inside_p)
    geoms = np.empty(len(ui), dtype=object)
    geoms[inside] = units[ui[inside]]
    rest = np.flatnonzero(~inside)
    geoms[rest] = _polygonal(shapely.intersection(units[ui[rest]], plan_geoms[pi[rest]]))
    area = shapely.area(geoms)
    keep = area > 0
    return ui[keep], pi[keep], geoms[keep]


#: Counts carried from the population layer to units and pieces (the 65+ count may be unknown).
_COUNTS = ("population", "population_65plus")
#: Overlays kept for reuse (a nationwide one holds a few MB of indices and weights).
_MAX_OVERLAYS = 8


def _source_values(population: gpd.GeoDataFrame) -> np.ndarray:
    """The counts of each population feature as an (n, 2) array; NaN where unknown."""
    return np.column_stack([population[c].to_numpy(dtype=float) if c in population.columns
                            else np.full(len(population), np.nan) for c in _COUNTS])


def _weighted_sums(target: np.ndarray, weight: np.ndarray, values: np.ndarray, n: int
                   ) -> np.ndarray:
    """Σ weight · values per target, column by column: an unknown count makes the sum
    unknown where it weighs, not where it only touches (weight 0)."""
    if values.shape[1] == 0:
        return np.zeros((n, 0))
    return np.column_stack([np.bincount(target, np.where(weight > 0, weight * values[:, k], 0.0),
                                        minlength=n) for k in range(values.shape[1])])


def _overlap(targets: np.ndarray, sources: np.ndarray, ti: np.ndarray, si: np.ndarray, *,
             src_area: np.ndarray, polygonal: np.ndarray,
             target_inside: np.ndarray | None = None,
             remainder: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Areal weight of each candidate pair (target ``ti``, source ``si``) and whether the
    target lies inside the source.

    A polygon source's weight is the share of its area inside the target: prepared
    predicates settle the pairs where one lies inside the other, and exact intersections are
    computed only where boundaries cross. A point source weighs 1 in the first target that
    holds it. ``target_inside`` marks pairs known to have the target inside the source (a
    piece inside a unit inside a small area); ``remainder`` marks at most one pair per target
    whose candidate sources tile it exactly: that pair gets the target's area minus the
    others' (one intersection fewer per target, same result).
    """
    weight = np.zeros(len(ti))
    inside = np.zeros(len(ti), dtype=bool)
    if len(ti) == 0:
        return weight, inside
    shapely.prepare(targets)
    known = np.zeros(len(ti), dtype=bool) if target_inside is None else target_inside
    later = np.zeros(len(ti), dtype=bool) if remainder is None else remainder & ~known
    poly = polygonal[si]
    t_area = shapely.area(targets)
    inside[known] = True
    weight[known] = t_area[ti[known]]
    rest = np.flatnonzero(~(known | later))
    t, s = targets[ti[rest]], sources[si[rest]]
    hit = shapely.intersects(t, s)
    weight[rest[hit & ~poly[rest]]] = 1.0
    cand = np.flatnonzero(hit & poly[rest])
    holds = shapely.covers(t[cand], s[cand])  # the source lies inside the target
    within = ~holds
    within[within] = shapely.covers(s[cand[within]], t[cand[within]])
    cut = ~(holds | within)
    inter = np.empty(len(cand))
    inter[holds] = src_area[si[rest[cand[holds]]]]
    inter[within] = t_area[ti[rest[cand[within]]]]
    inter[cut] = shapely.area(shapely.intersection(t[cand[cut]], s[cand[cut]]))
    weight[rest[cand]] = inter
    inside[rest[cand[within]]] = True
    if later.any():
        others = np.bincount(ti, np.where(poly & ~later, weight, 0.0), minlength=len(targets))
        weight[later] = np.clip(t_area[ti[later]] - others[ti[later]], 0.0, None)
    weight[poly] = np.divide(weight[poly], src_area[si[poly]], out=np.zeros(int(poly.sum())),
                             where=src_area[si[poly]] > 0)
    # A point on a shared boundary counts once, in its first target.
    point_pairs = np.flatnonzero(~poly & (weight > 0))
    repeated = pd.Series(si[point_pairs]).duplicated().to_numpy()
    weight[point_pairs[repeated]] = 0.0
    return weight, inside


def _sources(population: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Population geometries (prepared), their areas and which are polygons."""
    geoms = np.asarray(population.geometry.values)
    shapely.prepare(geoms)
    return geoms, shapely.area(geoms), np.isin(shapely.get_type_id(geoms), (3, 6))


def _disaggregate(targets: np.ndarray, population: gpd.GeoDataFrame) -> np.ndarray:
    """Residents (and 65+) in each target polygon by areal weighting, from scratch: (n, 2).

    The reference computation: :class:`_Overlay` gives the same numbers for a plan's pieces
    while reusing the plan-independent work.
    """
    values = _source_values(population)
    if len(targets) == 0:
        return np.zeros((0, values.shape[1]))
    geoms, src_area, polygonal = _sources(population)
    ti, si = shapely.STRtree(geoms).query(targets)
    weight, _ = _overlap(targets, geoms, ti, si, src_area=src_area, polygonal=polygonal)
    return _weighted_sums(ti, weight, values[si], len(targets))


@dataclass(frozen=True, eq=False)
class _Overlay:
    """How a population layer falls into a layer of units: the plan-independent part of the
    areal weighting, computed once per (units, population) and reused for every plan.

    Attributes: the prepared ``sources`` with their ``tree``, ``src_area``, ``polygonal``
    and counts ``values`` (n_sources × 2); the unit × source overlaps as a sparse matrix of
    area shares (``pair_key`` = unit · n_sources + source, sorted, with ``pair_weight`` and
    ``unit_inside``: the unit lies inside the source); ``unit_values`` (n_units × 2) and
    ``unit_tiled``: the small areas cover the unit exactly once (their parts in it add up to
    its area), so a piece's last small area can take the piece's remaining area.
    """

    sources: np.ndarray
    tree: shapely.STRtree
    src_area: np.ndarray
    polygonal: np.ndarray
    values: np.ndarray
    pair_key: np.ndarray
    pair_weight: np.ndarray
    unit_inside: np.ndarray
    unit_values: np.ndarray
    unit_tiled: np.ndarray

    @classmethod
    def build(cls, unit_geoms: np.ndarray, population: gpd.GeoDataFrame) -> _Overlay:
        """Intersect every unit with the population features it overlaps (once)."""
        sources, src_area, polygonal = _sources(population)
        values = _source_values(population)
        tree = shapely.STRtree(sources)
        ti, si = tree.query(unit_geoms)
        weight, inside = _overlap(unit_geoms, sources, ti, si, src_area=src_area,
                                  polygonal=polygonal)
        keep = weight > 0
        ti, si, weight, inside = ti[keep], si[keep], weight[keep], inside[keep]
        key = ti.astype(np.int64) * len(sources) + si
        order = np.argsort(key, kind="stable")
        unit_area = shapely.area(unit_geoms)
        covered = np.bincount(ti, np.where(polygonal[si], weight * src_area[si], 0.0),
                              minlength=len(unit_geoms))
        tiled = np.abs(covered - unit_area) <= 1e-9 * np.maximum(unit_area, 1.0)
        return cls(sources, tree, src_area, polygonal, values, key[order], weight[order],
                   inside[order], _weighted_sums(ti, weight, values[si], len(unit_geoms)),
                   tiled)

    def pieces(self, geoms: np.ndarray, unit_index: np.ndarray) -> np.ndarray:
        """Counts (n × 2) in polygons each lying inside its unit ``unit_index``.

        Only the sources overlapping a piece's own unit are candidates, and a piece inside a
        unit inside a small area needs no geometry at all.
        """
        if len(geoms) == 0:
            return np.zeros((0, self.values.shape[1]))
        pj, si = self.tree.query(geoms)
        key = unit_index[pj].astype(np.int64) * len(self.sources) + si
        pos = np.minimum(np.searchsorted(self.pair_key, key), max(len(self.pair_key) - 1, 0))
        ok = self.pair_key[pos] == key if len(self.pair_key) else np.zeros(len(key), dtype=bool)
        pj, si, pos = pj[ok], si[ok], pos[ok]
        known = self.unit_inside[pos]
        weight, _ = _overlap(geoms, self.sources, pj, si, src_area=self.src_area,
                             polygonal=self.polygonal, target_inside=known,
                             remainder=self._remainder(geoms, unit_index, pj, si, known))
        return _weighted_sums(pj, weight, self.values[si], len(geoms))

    def _remainder(self, geoms: np.ndarray, unit_index: np.ndarray, pj: np.ndarray,
                   si: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Per piece in a tiled unit, the candidate small area most likely to hold most of it
        (largest bounding-box overlap): it gets the piece's remaining area."""
        out = np.zeros(len(pj), dtype=bool)
        idx = np.flatnonzero(self.unit_tiled[unit_index[pj]] & self.polygonal[si] & ~known)
        if len(idx) == 0:
            return out
        a = shapely.bounds(geoms)[pj[idx]]
        b = shapely.bounds(self.sources[si[idx]])
        overlap = (np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
                   * np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None))
        order = np.lexsort((-overlap, pj[idx]))
        first = np.ones(len(order), dtype=bool)
        first[1:] = pj[idx[order]][1:] != pj[idx[order]][:-1]
        out[idx[order[first]]] = True
        return out


_OVERLAYS: dict[tuple[int, int], tuple[Any, Any, tuple[Any, ...], _Overlay]] = {}
_OVERLAYS_LOCK = threading.Lock()


def _fingerprint(gdf: gpd.GeoDataFrame) -> tuple[Any, ...]:
    """A cheap check that a cached frame has not changed in place since it was overlaid."""
    geoms = np.asarray(gdf.geometry.values)
    sums = tuple(float(np.nansum(gdf[c].to_numpy(dtype=float))) for c in _COUNTS
                 if c in gdf.columns)
    crs = gdf.crs.to_wkt() if gdf.crs is not None else None
    return (len(gdf), crs, tuple(np.round(gdf.total_bounds, 6)) if len(gdf) else (),
            int(shapely.get_num_coordinates(geoms).sum()), sums)


def _overlay_for(units: gpd.GeoDataFrame, population: gpd.GeoDataFrame,
                 build: Callable[[], _Overlay]) -> _Overlay:
    """The overlay of these two frames, built once and reused while both are alive.

    Keyed on the frames' identity (a region's layers are loaded once and shared by every
    request), checked against a fingerprint so a frame changed in place is overlaid again.
    """
    key = (id(units), id(population))
    stamp = (_fingerprint(units), _fingerprint(population))
    with _OVERLAYS_LOCK:
        hit = _OVERLAYS.get(key)
    if hit is not None and hit[0]() is units and hit[1]() is population and hit[2] == stamp:
        return hit[3]
    overlay = build()
    with _OVERLAYS_LOCK:
        _OVERLAYS.pop(key, None)
        while len(_OVERLAYS) >= _MAX_OVERLAYS:
            _OVERLAYS.pop(next(iter(_OVERLAYS)))
        _OVERLAYS[key] = (weakref.ref(units), weakref.ref(population), stamp, overlay)
    for frame in (units, population):  # forget it with either frame (holds no reference)
        weakref.finalize(frame, _forget_overlay, key, id(overlay))
    return overlay


def _forget_overlay(key: tuple[int, int], overlay_id: int) -> None:
    with _OVERLAYS_LOCK:
        if key in _OVERLAYS and id(_OVERLAYS[key][3]) == overlay_id:
            del _OVERLAYS[key]


def _piece_counts(pieces: gpd.GeoDataFrame, unit_area: np.ndarray, overlay: _Overlay
                  ) -> np.ndarray:
    """Residents and 65+ (n × 2) of each piece; a unit's largest piece gets the rest.

    Where a unit's pieces cover it exactly once (no gap, no overlap of plan areas), its largest
    piece holds ``unit − other pieces``: the same areal-weighting estimate without the most
    expensive intersections (the big pieces crossing many small areas).
    """
    ui = pieces["unit_index"].to_numpy()
    area = pieces["area_m2"].to_numpy()
    covered = np.bincount(ui, area, minlength=len(unit_area))
    exact = np.abs(covered - unit_area) <= 1e-9 * np.maximum(unit_area, 1.0)
    largest = np.zeros(len(pieces), dtype=bool)
    largest[pieces.groupby("unit_index")["area_m2"].idxmax().to_numpy()] = True
    # Where a count is unknown in part of a unit, "the rest" would be unknown too: compute.
    known = np.isfinite(overlay.values).any(axis=0)
    complete = np.isfinite(overlay.unit_values[:, known]).all(axis=1)
    by_rest = largest & exact[ui] & complete[ui]
    out = np.zeros((len(pieces), overlay.values.shape[1]))
    direct = ~by_rest
    out[direct] = overlay.pieces(np.asarray(pieces.geometry.values)[direct], ui[direct])
    others = _weighted_sums(ui[direct], np.ones(int(direct.sum())), out[direct], len(unit_area))
    out[by_rest] = np.clip(overlay.unit_values[ui[by_rest]] - others[ui[by_rest]], 0.0, None)
    return out


def _count_pieces(pieces: pd.DataFrame, has_population: bool, tol: SplitTolerances
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Which pieces count, and the first tolerance each ignored piece fails."""
    fails = {
        "area_share": pieces["area_share"].to_numpy() < tol.min_area_share,
        "area_m2": pieces["area_m2"].to_numpy() < tol.min_area_m2,
        "population": (pieces["population"].to_numpy() < tol.min_population) if has_population
        else np.zeros(len(pieces), dtype=bool),
    }
    reason = np.full(len(pieces), None, dtype=object)
    for name in reversed(_REASONS):
        reason[fails[name]] = name
    counted = pd.isna(reason)
    # A unit's largest piece always counts: a unit lies somewhere, however small it is.
    largest = pieces.groupby("unit_index")["area_m2"].idxmax().to_numpy()
    counted[largest] = True
    reason[largest] = None
    return counted, reason


def _unit_scores(pieces: pd.DataFrame, n_units: int, has_population: bool
                 ) -> pd.DataFrame:
    """Per unit: counted pieces, main area, effective splits and uncertainty of membership.

    The shares ``p`` are the counted pieces' population shares (area shares without
    population), renormalised over the counted pieces so slivers do not make a whole unit look
    split: effective splits ``1/Σp² − 1`` (0 for a whole unit, 1 for two equal halves),
    uncertainty ``−Σ p log₂ p`` (bits).
    """
    c = pieces[pieces["counted"]].copy()
    weight = c["population"].to_numpy() if has_population else c["area_m2"].to_numpy()
    # Where a unit has no residents, fall back to its area.
    unit_pop = c.groupby("unit_index")["population"].transform("sum").to_numpy() \
        if has_population else np.zeros(len(c))
    weight = np.where(unit_pop > 0, weight, c["area_m2"].to_numpy())
    c["w"] = weight
    c["p"] = c["w"] / c.groupby("unit_index")["w"].transform("sum")
    c["p2"] = c["p"] ** 2
    c["plogp"] = np.where(c["p"] > 0, -c["p"] * np.log2(c["p"].where(c["p"] > 0, 1.0)), 0.0)
    g = c.groupby("unit_index")
    main = c.loc[g["w"].idxmax(), ["unit_index", "area"]].set_index("unit_index")["area"]
    out = pd.DataFrame(index=pd.RangeIndex(n_units))
    out["n_pieces"] = g.size().reindex(out.index, fill_value=0).astype(int)
    out["main_area"] = main.reindex(out.index).astype(object)
    out["effective_splits"] = (1.0 / g["p2"].sum() - 1.0).reindex(out.index, fill_value=0.0)
    out["uncertainty"] = g["plogp"].sum().reindex(out.index, fill_value=0.0) + 0.0  # no -0.0
    out["split"] = out["n_pieces"] >= 2
    return out


def _partly_uncovered(units: pd.DataFrame, tol: SplitTolerances) -> np.ndarray:
    """Units in some plan area whose part outside every area is more than digitising noise
    (the area tolerances a piece must reach to count)."""
    share = units["uncovered_share"].to_numpy()
    return ((units["n_pieces"].to_numpy() > 0) & (share > 0) & (share >= tol.min_area_share)
            & (share * units["area_m2"].to_numpy() >= tol.min_area_m2))


def _classify_areas(pieces: pd.DataFrame, units: pd.DataFrame, area_names: Sequence[str], *,
                    tolerances: SplitTolerances) -> pd.DataFrame:
    """Pattern A/B/C of each plan area with its whole and partial units.

    A: every unit lies wholly in this area and the plan leaves no part of any unit outside
    it (the area is the whole municipality); B: only whole units; C: at least one unit is
    cut; ``-``: no unit lies in it. A plan leaving part of the town uncovered has no A.
    """
    c = pieces[pieces["counted"]]
    split = units["split"].to_numpy()
    names = units["name"].to_numpy()
    town_covered = bool((units["n_pieces"] > 0).all()) and not _partly_uncovered(
        units, tolerances).any()
    rows = []
    members = c.groupby("area")["unit_index"].agg(list)
    for name in area_names:
        idx = members.get(name, [])
        whole = [names[i] for i in idx if not split[i]]
        partial = [names[i] for i in idx if split[i]]
        if not idx:
            pattern: Pattern = "-"
        elif partial:
            pattern = "C"
        elif town_covered and len(whole) == len(units):
            pattern = "A"
        else:
            pattern = "B"
        rows.append({"name": name, "pattern": pattern, "whole_units": whole,
                     "partial_units": partial})
    return pd.DataFrame(rows, columns=["name", "pattern", "whole_units", "partial_units"])


def _balance(pieces: pd.DataFrame, units: pd.DataFrame, areas: pd.DataFrame,
             measure: str) -> pd.DataFrame:
    """Each area's population (or area) under the plan and under the split-free alternative."""
    before = pieces.groupby("area")[measure].sum()
    after = units.groupby("main_area")[measure].sum()
    out = areas.copy()
    out["before"] = before.reindex(out["name"]).fillna(0.0).to_numpy()
    out["after"] = after.reindex(out["name"]).fillna(0.0).to_numpy()
    for col in ("before", "after"):
        mean = out[col].mean()
        out[f"deviation_{col}"] = (out[col] - mean) / mean if mean > 0 else np.nan
    # 65+ per area; one unknown count makes the area's total unknown, not smaller.
    old_before = pieces.groupby("area")["population_65plus"].sum(skipna=False)
    old_after = units.groupby("main_area")["population_65plus"].sum(skipna=False)
    empty = 0.0 if pieces["population_65plus"].notna().any() else np.nan  # an area with no unit
    out["population_65plus"] = old_before.reindex(out["name"], fill_value=empty).to_numpy()
    out["population_65plus_after"] = old_after.reindex(out["name"], fill_value=empty).to_numpy()
    return out


def analyse_splits(
    units: gpd.GeoDataFrame,
    plan: gpd.GeoDataFrame,
    *,
    population: gpd.GeoDataFrame | None = None,
    tolerances: SplitTolerances = SplitTolerances(),
    units_layer: str = "units",
    plan_name: str = "plan",
) -> SplitReport:
    """Find which units a plan splits, how badly, and what a split-free plan would be.

    Parameters
    ----------
    units
        Protected units (``name`` + polygons), e.g. elementary districts or 自治会.
    plan
        The plan's areas (``name`` + polygons), in any CRS.
    population
        Residents (``population`` column; census small-area polygons or points), in any CRS.
        When given, pieces get population and shares, tolerances include population, and the
        scores weight by residents.
    tolerances
        When a piece is digitising noise (see :class:`SplitTolerances`).
    units_layer, plan_name
        Labels for the outputs.

    Returns
    -------
    SplitReport
        Pieces, units, plan areas and ``summary``: ``units``, ``units_split``,
        ``units_split_3plus``, ``pieces`` (counted), ``slivers_ignored``, ``effective_splits``
        (sum over units), ``uncertainty`` (mean over residents, or area), population totals in
        split units, pattern counts, the largest deviation from the mean area population
        before and after the split-free alternative, and the units the plan leaves outside
        every area (``units_not_covered``, ``uncovered_units``) or partly outside beyond the
        area tolerances (``partly_uncovered_units``).
    """
    for gdf, what in ((units, "units"), (plan, "plan")):
        if "name" not in gdf.columns:
            raise InputError(t(f"{what} に name 列がありません", f"{what} has no 'name' column"),
                             feature=what, hint=t("区域の名称を name 列に入れてください",
                                                  "put the area names in a 'name' column"))
        if len(gdf) == 0:
            raise InputError(t(f"{what} に地物がありません", f"{what} has no features"),
                             feature=what, hint=t("空でないレイヤを渡してください",
                                                  "give a non-empty layer"))
    crs = _analysis_crs(units)
    units_in, population_in = units, population
    units = units.to_crs(crs).reset_index(drop=True)
    plan = plan.to_crs(crs).reset_index(drop=True)
    has_population = population is not None and len(population) > 0
    if has_population:
        assert population is not None
        if "population" not in population.columns:
            raise InputError(t("人口レイヤに population 列がありません",
                               "the population layer has no 'population' column"),
                             feature="population", hint=t("人口の列を population にしてください",
                                                          "name the count column 'population'"))
    has_65 = bool(has_population and "population_65plus" in population.columns
                  and population["population_65plus"].notna().any())
    unit_geoms = np.asarray(units.geometry.values)
    unit_area = shapely.area(unit_geoms)
    ui, pi, geoms = _intersect_pairs(unit_geoms, plan.geometry)
    area_m2 = shapely.area(geoms)
    perimeter = shapely.length(geoms)
    unit_names = units["name"].astype(str).to_numpy()
    plan_names = plan["name"].astype(str).to_numpy()
    pieces = gpd.GeoDataFrame({
        "unit_index": ui,
        "unit": unit_names[ui],
        "area": plan_names[pi],
        "area_m2": area_m2,
        "area_share": area_m2 / np.where(unit_area[ui] > 0, unit_area[ui], 1.0),
        "mean_width_m": np.divide(2 * area_m2, perimeter, out=np.zeros_like(area_m2),
                                  where=perimeter > 0),
    }, geometry=geoms, crs=crs)
    unit_counts = np.full((len(units), len(_COUNTS)), np.nan)
    piece_counts = np.full((len(pieces), len(_COUNTS)), np.nan)
    if has_population:
        assert population is not None and population_in is not None
        overlay = _overlay_for(units_in, population_in,
                               lambda: _Overlay.build(unit_geoms, population_in.to_crs(crs)))
        unit_counts = overlay.unit_values.copy()
        piece_counts = _piece_counts(pieces, unit_area, overlay)
    if not has_65:
        unit_counts[:, 1] = np.nan
        piece_counts[:, 1] = np.nan
    for k, col in enumerate(_COUNTS):
        denom = unit_counts[ui, k]
        pieces[col] = piece_counts[:, k]
        pieces[f"{col}_share"] = np.divide(piece_counts[:, k], denom,
                                           out=np.full(len(pieces), np.nan),
                                           where=np.isfinite(denom) & (denom > 0))
    unit_pop = unit_counts[:, 0]
    pieces = pieces.reset_index(drop=True)
    counted, reason = _count_pieces(pieces, has_population, tolerances)
    pieces["counted"] = counted
    pieces["reason"] = reason
    scores = _unit_scores(pieces, len(units), has_population)
    covered = np.bincount(ui, area_m2, minlength=len(units))
    unit_table = gpd.GeoDataFrame({
        "name": unit_names,
        "area_m2": unit_area,
        "population": unit_pop,
        "population_65plus": unit_counts[:, 1],
        "split": scores["split"].to_numpy(),
        "n_pieces": scores["n_pieces"].to_numpy(),
        "main_area": scores["main_area"].to_numpy(),
        "effective_splits": scores["effective_splits"].to_numpy(),
        "uncertainty": scores["uncertainty"].to_numpy(),
        "uncovered_share": np.clip(1 - covered / np.where(unit_area > 0, unit_area, 1.0), 0, 1),
    }, geometry=unit_geoms, crs=crs)
    measure = "population" if has_population else "area_m2"
    areas = _classify_areas(pieces, unit_table, list(dict.fromkeys(plan_names)),
                            tolerances=tolerances)
    areas = _balance(pieces, unit_table, areas, measure)
    summary = _summary(pieces, unit_table, areas, has_population, measure, tolerances)
    if has_population:
        # People of the population layer who live in no unit (outside the units' outline):
        # said, so that a total below the census is not a mystery.
        outside = float(population["population"].sum()) - float(unit_table["population"].sum())
        summary["population_outside_units"] = _round(max(outside, 0.0), 1)
    return SplitReport(plan_name=plan_name, units_layer=units_layer, tolerances=tolerances,
                       crs=crs, has_population=has_population, pieces=pieces, units=unit_table,
                       areas=areas, summary=summary, has_population_65plus=has_65)


def _summary(pieces: pd.DataFrame, units: pd.DataFrame, areas: pd.DataFrame,
             has_population: bool, measure: str, tolerances: SplitTolerances) -> dict[str, Any]:
    split = units["split"].to_numpy()
    weight = units["population"].to_numpy() if has_population else units["area_m2"].to_numpy()
    total_w = float(weight.sum())
    pop_total = float(units["population"].sum()) if has_population else None
    pop_split = float(units.loc[split, "population"].sum()) if has_population else None
    old = units["population_65plus"].to_numpy(dtype=float)
    old_total = float(old.sum()) if has_population else math.nan
    old_split = float(old[split].sum()) if has_population else math.nan
    patterns = {p: int((areas["pattern"] == p).sum()) for p in ("A", "B", "C", "-")}
    return {
        "units": len(units),
        "units_split": int(split.sum()),
        "units_split_3plus": int((units["n_pieces"] >= 3).sum()),
        "split_units": units.loc[split, "name"].tolist(),
        "pieces": int(pieces["counted"].sum()),
        "splits": int((units["n_pieces"] - 1).clip(lower=0).sum()),
        "slivers_ignored": int((~pieces["counted"]).sum()),
        "effective_splits": round(float(units["effective_splits"].sum()), 6),
        "uncertainty": round(float((units["uncertainty"] * weight).sum() / total_w), 6)
        if total_w > 0 else 0.0,
        "population_total": _round(pop_total, 1),
        "population_in_split_units": _round(pop_split, 1),
        "population_in_split_units_share": round(pop_split / pop_total, 6)
        if pop_total and pop_split is not None else None,
        "population_65plus_total": _round(old_total, 1),
        "population_65plus_in_split_units": _round(old_split, 1),
        "population_65plus_in_split_units_share": round(old_split / old_total, 6)
        if math.isfinite(old_total) and math.isfinite(old_split) and old_total > 0 else None,
        "areas": len(areas),
        "patterns": patterns,
        "measure": measure,
        "max_deviation_before": _round(areas["deviation_before"].abs().max(), 6),
        "max_deviation_after": _round(areas["deviation_after"].abs().max(), 6),
        "units_not_covered": int((units["n_pieces"] == 0).sum()),
        "uncovered_units": units.loc[units["n_pieces"] == 0, "name"].tolist(),
        "partly_uncovered_units": units.loc[_partly_uncovered(units, tolerances), "name"].tolist(),
    }


# --------------------------------------------------------------------------------------------
# regions


def _population_of(region: Region) -> gpd.GeoDataFrame | None:
    return region.layer("population") if region.has_layer("population") else None


def split_report_for_region(
    region: Region,
    plan_name: str,
    units_layer: str,
    *,
    tolerances: SplitTolerances = SplitTolerances(),
    plan: gpd.GeoDataFrame | None = None,
) -> SplitReport:
    """Analyse a region's plan (or an uploaded ``plan`` named ``plan_name``) against a layer.

    Population comes from the region's ``population`` layer when it has one.
    """
    units = region.layer(units_layer)
    if not units.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise NotFoundError(t(f"レイヤ「{units_layer}」は面ではありません",
                              f"layer {units_layer!r} is not a polygon layer"),
                            feature=units_layer, hint=t("小学校区や自治会などの面レイヤを指定してください",
                                                        "name a polygon layer such as elementary"))
    plan_gdf = plan if plan is not None else region.plan(plan_name)
    return analyse_splits(units, plan_gdf, population=_population_of(region),
                          tolerances=tolerances, units_layer=units_layer, plan_name=plan_name)


def compare_plans(
    region: Region,
    plan_names: Sequence[str],
    units_layer: str,
    *,
    tolerances: SplitTolerances = SplitTolerances(),
) -> PlanComparison:
    """Analyse two or more of a region's plans against the same units, side by side."""
    if len(plan_names) < 2:
        raise InputError(t("比較には 2 つ以上の計画が必要です", "comparing needs two or more plans"),
                         feature="plans", hint=t(f"計画: {', '.join(region.plan_names)}",
                                                 f"plans: {', '.join(region.plan_names)}"))
    return PlanComparison(units_layer, [split_report_for_region(region, name, units_layer,
                                                                tolerances=tolerances)
                                        for name in plan_names])


# --------------------------------------------------------------------------------------------
# writers


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then move it into place."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_json(result: SplitReport | PlanComparison, path: Path) -> Path:
    """Write a report or a comparison as UTF-8 JSON."""
    text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
    return _atomic(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))


def pieces_table(report: SplitReport) -> pd.DataFrame:
    """The detailed pieces (slivers included) as a flat table, one row per piece."""
    pieces = report.pieces_frame()
    df = pd.DataFrame({
        "plan": report.plan_name, "units_layer": report.units_layer,
        "unit": pieces["unit"], "unit_split": pieces["split"], "area": pieces["area"],
        "area_m2": pieces["area_m2"].round(2), "area_share": pieces["area_share"].round(6),
        "population": pieces["population"].round(1),
        "population_share": pieces["population_share"].round(6),
    })
    if report.has_population_65plus:
        df["population_65plus"] = pieces["population_65plus"].round(1)
        df["population_65plus_share"] = pieces["population_65plus_share"].round(6)
    df["mean_width_m"] = pieces["mean_width_m"].round(2)
    df["counted"] = pieces["counted"]
    df["reason"] = pieces["reason"]
    return df.sort_values(["unit", "area_m2"], ascending=[True, False], kind="stable")


def write_csv(result: SplitReport | PlanComparison, path: Path) -> Path:
    """Write the pieces (a report) or the plans' scores (a comparison) as CSV for Excel.

    UTF-8 with a byte-order mark, so Excel on Japanese Windows opens it without mojibake.
    """
    if isinstance(result, SplitReport):
        df = pieces_table(result)
    else:
        df = result.table()
        unknown = [c for c in df.columns if c.startswith("population_65plus") and df[c].isna().all()]
        df = df.drop(columns=unknown)
    buf = io.StringIO()
    df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    return _atomic(path, lambda p: p.write_text(buf.getvalue(), encoding="utf-8-sig"))


def write_gpkg(report: SplitReport, path: Path) -> Path:
    """Write the pieces (layer ``pieces``) and the split-free alternative (``alternative``)
    to a GeoPackage in EPSG:4326."""
    pieces = report.pieces_frame().assign(units_layer=report.units_layer, plan=report.plan_name)

    def write(tmp: Path) -> None:
        pieces.to_file(tmp, layer="pieces", driver="GPKG", engine="pyogrio")
        report.alternative_plan().to_crs("EPSG:4326").to_file(
            tmp, layer="alternative", driver="GPKG", engine="pyogrio")
    return _atomic(path, write)


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def _num(x: float | None, digits: int = 0) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


_PATTERN_TEXT = {
    "A": t("A: 市町村全体", "A: the whole municipality"),
    "B": t("B: 区域を丸ごと含む", "B: whole units only"),
    "C": t("C: 区域を分断", "C: cuts a unit"),
    "-": t("-: 区域なし", "-: no unit"),
}


def _report_blocks(report: SplitReport) -> list[tuple[str, Any]]:
    """The report as (kind, content) blocks: ``h1``/``h2``/``p``/``table``."""
    s = report.summary
    tol = report.tolerances
    blocks: list[tuple[str, Any]] = [
        ("h1", t(f"第2層圏域の分断チェック: 計画「{report.plan_name}」× {report.units_layer}",
                 f"Layer-2 split check: plan {report.plan_name!r} × {report.units_layer}").get()),
        ("p", t(f"{s['units']} 区域のうち {s['units_split']} 区域が分断されています"
                f"（3 つ以上に分断: {s['units_split_3plus']}、実効分断数 {s['effective_splits']:.2f}、"
                f"所属の不確かさ {s['uncertainty']:.3f} ビット）。",
                f"{s['units_split']} of {s['units']} units are split ({s['units_split_3plus']} "
                f"three or more ways; effective splits {s['effective_splits']:.2f}; uncertainty "
                f"of membership {s['uncertainty']:.3f} bits).").get()),
    ]
    if report.has_population:
        blocks.append(("p", t(
            f"分断された区域に住む人口: {_num(s['population_in_split_units'])} 人"
            f"（全体 {_num(s['population_total'])} 人の {_pct(s['population_in_split_units_share'])}）。"
            "人口は国勢調査小地域の人口を面積按分して推計しています。"
            + (f"区域の外にいる {_num(s['population_outside_units'])} 人は全体に含みません。"
               if s.get("population_outside_units") else ""),
            f"Population living in split units: {_num(s['population_in_split_units'])} "
            f"({_pct(s['population_in_split_units_share'])} of {_num(s['population_total'])}). "
            "Population is estimated by area-weighting the census small areas."
            + (f" {_num(s['population_outside_units'])} people outside every unit are not in "
               "the total." if s.get("population_outside_units") else "")).get()))
    if report.has_population_65plus:
        blocks.append(("p", t(
            f"うち 65 歳以上: {_num(s['population_65plus_in_split_units'])} 人"
            f"（65 歳以上全体 {_num(s['population_65plus_total'])} 人の "
            f"{_pct(s['population_65plus_in_split_units_share'])}）。",
            f"Aged 65 and over living in split units: "
            f"{_num(s['population_65plus_in_split_units'])} "
            f"({_pct(s['population_65plus_in_split_units_share'])} of "
            f"{_num(s['population_65plus_total'])}).").get()))
    warning = report.coverage_warning()
    if warning is not None:
        blocks.append(("p", warning))
    blocks.append(("p", t(
        f"判定の許容値: 面積の {tol.min_area_share:.1%} 未満、{tol.min_area_m2:,.0f} m² 未満"
        + (f"、推計人口 {tol.min_population:g} 人未満" if report.has_population else "")
        + f" の断片はデジタル化の誤差として数えません（{s['slivers_ignored']} 件、CSV に記載）。",
        f"Tolerances: pieces under {tol.min_area_share:.1%} of the area, under "
        f"{tol.min_area_m2:,.0f} m²"
        + (f" or under {tol.min_population:g} estimated residents" if report.has_population else "")
        + f" are digitising noise and do not count ({s['slivers_ignored']} ignored, listed in "
        "the CSV).").get()))
    blocks.append(("h2", t("分断された区域", "Split units").get()))
    split_units = report.units[report.units["split"]]
    if len(split_units) == 0:
        blocks.append(("p", t("分断された区域はありません。", "No unit is split.").get()))
    else:
        header = [t("区域", "unit").get(), t("圏域", "area").get(), t("面積割合", "area share").get()]
        if report.has_population:
            header += [t("推計人口", "est. population").get(), t("人口割合", "population share").get()]
        if report.has_population_65plus:
            header += [t("65歳以上", "aged 65+").get(), t("65歳以上の割合", "65+ share").get()]
        rows = []
        counted = report.pieces[report.pieces["counted"]].sort_values(
            ["unit_index", "area_m2"], ascending=[True, False])
        for p in counted[counted["unit_index"].isin(split_units.index)].itertuples(index=False):
            row = [p.unit, p.area, _pct(p.area_share)]
            if report.has_population:
                row += [_num(p.population), _pct(p.population_share)]
            if report.has_population_65plus:
                row += [_num(p.population_65plus), _pct(p.population_65plus_share)]
            rows.append(row)
        blocks.append(("table", (header, rows)))
    blocks.append(("h2", t("圏域のパターン", "Patterns of the areas").get()))
    meas = t("人口", "population") if report.has_population else t("面積 m²", "area m²")
    rows = [[a.name, _PATTERN_TEXT[a.pattern].get(), "、".join(a.whole_units) or "–",
             "、".join(a.partial_units) or "–", _num(a.before), _num(a.after),
             _pct(a.deviation_before), _pct(a.deviation_after)]
            + ([_num(a.population_65plus), _num(a.population_65plus_after)]
               if report.has_population_65plus else [])
            for a in report.areas.itertuples(index=False)]
    header = [t("圏域", "area").get(), t("パターン", "pattern").get(),
              t("丸ごと含む区域", "whole units").get(), t("一部を含む区域", "partial units").get(),
              t(f"{meas.ja}（案）", f"{meas.en} (plan)").get(),
              t(f"{meas.ja}（分断なし案）", f"{meas.en} (split-free)").get(),
              t("平均との差（案）", "deviation (plan)").get(),
              t("平均との差（分断なし案）", "deviation (split-free)").get()]
    if report.has_population_65plus:
        header += [t("65歳以上（案）", "aged 65+ (plan)").get(),
                   t("65歳以上（分断なし案）", "aged 65+ (split-free)").get()]
    blocks.append(("table", (header, rows)))
    blocks.append(("h2", t("分断なし案", "Split-free alternative").get()))
    blocks.append(("p", t(
        "分断された区域をそれぞれ" + ("人口" if report.has_population else "面積")
        + "の多い圏域に丸ごと割り当てた案です（上の表の「分断なし案」）。",
        "Each split unit is assigned wholly to the area holding most of its "
        + ("residents" if report.has_population else "area") + " (the split-free columns above)."
    ).get()))
    rows = [[u.name, u.main_area or "–"] for u in split_units.itertuples(index=False)]
    if rows:
        blocks.append(("table", ([t("区域", "unit").get(), t("割り当てる圏域", "assigned area").get()],
                                 rows)))
    return blocks


def _comparison_blocks(comparison: PlanComparison) -> list[tuple[str, Any]]:
    table = comparison.table()
    header = [t("計画", "plan").get(), t("圏域数", "areas").get(), "A/B/C",
              t("分断区域", "units split").get(), t("3つ以上", "3+ ways").get(),
              t("断片", "pieces").get(), t("実効分断数", "effective splits").get(),
              t("不確かさ", "uncertainty").get(), t("分断区域の人口", "pop. in split units").get()]
    old = any(r.has_population_65plus for r in comparison.reports)
    if old:
        header.append(t("分断区域の65歳以上", "aged 65+ in split units").get())
    rows = [[r.plan, str(r.areas), f"{r.pattern_A}/{r.pattern_B}/{r.pattern_C}",
             f"{r.units_split}/{r.units}", str(r.units_split_3plus), str(r.pieces),
             f"{r.effective_splits:.2f}", f"{r.uncertainty:.3f}",
             f"{_num(r.population_in_split_units)} ({_pct(r.population_in_split_units_share)})"]
            + ([f"{_num(r.population_65plus_in_split_units)} "
                f"({_pct(r.population_65plus_in_split_units_share)})"] if old else [])
            for r in table.itertuples(index=False)]
    blocks: list[tuple[str, Any]] = [
        ("h1", t(f"第2層圏域案の比較（{comparison.units_layer}）",
                 f"Layer-2 plans compared ({comparison.units_layer})").get()),
        ("table", (header, rows)),
        ("h2", t("区域ごとの分断", "Splits per unit").get())]
    split_any = sorted({n for r in comparison.reports for n in r.summary["split_units"]})
    unit_rows = []
    for name in split_any:
        row = [name]
        for r in comparison.reports:
            mine = r.pieces[(r.pieces["unit"] == name) & r.pieces["counted"]]
            areas = mine.sort_values("area_m2", ascending=False)["area"].tolist()
            row.append(" / ".join(areas) if len(areas) > 1 else "–")
        unit_rows.append(row)
    if unit_rows:
        blocks.append(("table", ([t("区域", "unit").get()] + [r.plan_name for r in comparison.reports],
                                 unit_rows)))
    else:
        blocks.append(("p", t("どの案も区域を分断しません。", "No plan splits any unit.").get()))
    return blocks


def _markdown(blocks: list[tuple[str, Any]]) -> str:
    out = []
    for kind, content in blocks:
        if kind == "h1":
            out.append(f"# {content}\n")
        elif kind == "h2":
            out.append(f"## {content}\n")
        elif kind == "p":
            out.append(f"{content}\n")
        else:
            header, rows = content
            esc = [[str(c).replace("|", "\\|") for c in r] for r in [header, *rows]]
            out.append("| " + " | ".join(esc[0]) + " |\n|" + "---|" * len(header))
            out.extend("| " + " | ".join(r) + " |" for r in esc[1:])
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _html(blocks: list[tuple[str, Any]], lang: str) -> str:
    from html import escape

    body = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "p"):
            body.append(f"<{kind}>{escape(str(content))}</{kind}>")
        else:
            header, rows = content
            body.append("<table><thead><tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in header)
                        + "</tr></thead><tbody>"
                        + "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>"
                                  for r in rows) + "</tbody></table>")
    title = escape(str(blocks[0][1]))
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.6}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;"
             "padding:.2em .5em;text-align:left}th{background:#eee}")
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{title}'
            f"</title><style>{style}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")


def render_report(result: SplitReport | PlanComparison, *, fmt: Literal["md", "html"] = "md",
                  lang: str | None = None) -> str:
    """A readable report (Japanese by default, English with ``lang="en"``)."""
    from kennai.i18n import set_lang

    previous = get_lang()
    lang = lang or previous
    set_lang(lang)
    try:
        blocks = _report_blocks(result) if isinstance(result, SplitReport) \
            else _comparison_blocks(result)
    finally:
        set_lang(previous)
    return _html(blocks, lang) if fmt == "html" else _markdown(blocks)


def write_report(result: SplitReport | PlanComparison, path: Path, *,
                 lang: str | None = None) -> Path:
    """Write the readable report: HTML when ``path`` ends in .html/.htm, else Markdown."""
    fmt: Literal["md", "html"] = "html" if Path(path).suffix.lower() in (".html", ".htm") else "md"
    text = render_report(result, fmt=fmt, lang=lang)
    return _atomic(path, lambda p: p.write_text(text, encoding="utf-8"))
