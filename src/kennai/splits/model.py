"""The typed results of a split check: tolerances, one plan's report, a comparison of plans.

:class:`SplitTolerances` says when a piece of a unit is real and when it is digitising noise;
:class:`SplitReport` holds one plan's pieces, units, plan areas and scores (with the split-free
alternative derived from them); :class:`PlanComparison` lays several reports side by side. Each
result turns itself into JSON-ready data (``to_dict``); nothing here computes a split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from kennai.errors import InputError
from kennai.geometry import finite_round
from kennai.i18n import t

#: The pattern of a plan area (the guidance's figure 5-2): A the whole municipality, B two or more
#: whole units, M (一致) exactly one whole unit, C cuts a unit, ``-`` no unit.
Pattern = Literal["A", "B", "M", "C", "-"]

#: Every pattern, in the order reports list them.
PATTERNS: tuple[Pattern, ...] = ("A", "B", "M", "C", "-")


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
            d = {"area": row.area, "area_m2": finite_round(row.area_m2, 2),
                 "area_share": finite_round(row.area_share, 6)}
            if self.has_population:
                d["population"] = finite_round(row.population, 1)
                d["population_share"] = finite_round(row.population_share, 6)
                d["population_65plus"] = finite_round(row.population_65plus, 1)
                d["population_65plus_share"] = finite_round(row.population_65plus_share, 6)
            d["mean_width_m"] = finite_round(row.mean_width_m, 2)
            if not row.counted:
                d["reason"] = row.reason
            by_unit[row.unit_index][0 if row.counted else 1].append(d)
        units = []
        for i, u in enumerate(self.units.drop(columns="geometry").itertuples(index=False)):
            d = {"name": u.name, "split": bool(u.split), "n_pieces": int(u.n_pieces),
                 "main_area": u.main_area if isinstance(u.main_area, str) else None,
                 "area_m2": finite_round(u.area_m2, 2)}
            if self.has_population:
                d["population"] = finite_round(u.population, 1)
                d["population_65plus"] = finite_round(u.population_65plus, 1)
            d |= {"effective_splits": finite_round(u.effective_splits, 6),
                  "uncertainty": finite_round(u.uncertainty, 6),
                  "uncovered_share": finite_round(u.uncovered_share, 6),
                  "pieces": by_unit[i][0], "slivers": by_unit[i][1]}
            units.append(d)
        areas = [
            {"name": a.name, "pattern": a.pattern, "whole_units": list(a.whole_units),
             "partial_units": list(a.partial_units), "before": finite_round(a.before, 2),
             "after": finite_round(a.after, 2), "deviation_before": finite_round(a.deviation_before, 6),
             "deviation_after": finite_round(a.deviation_after, 6)}
            | ({"population_65plus": finite_round(a.population_65plus, 1),
                "population_65plus_after": finite_round(a.population_65plus_after, 1)}
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
                         "pattern_M": s["patterns"]["M"], "pattern_C": s["patterns"]["C"],
                         "units": s["units"],
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
