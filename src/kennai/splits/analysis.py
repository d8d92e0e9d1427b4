"""Does a layer-2 (第2層) plan cut a school district or a 自治会 in two? The analysis pipeline.

:func:`analyse_splits` lays a plan over a layer of protected units (elementary districts, 自治会,
any polygon layer) and finds each unit's *pieces*: its part in each plan area, with area and
share, and population and share when census small areas are given (:mod:`.overlay`). Digitising
noise must not count, so a piece counts only above :class:`~kennai.splits.model.SplitTolerances`;
every ignored sliver stays in the detailed output with the reason it was ignored. From the
pieces come the scores, patterns and split-free alternative (:mod:`.scoring`).
:func:`split_report_for_region` and :func:`compare_plans` do the same for a region's layers and
plans.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from kennai.errors import InputError, NotFoundError
from kennai.geometry import finite_round
from kennai.i18n import t
from kennai.plan_store import PlanStore, plan_polygons
from kennai.region import Region
from kennai.splits.model import PlanComparison, SplitReport, SplitTolerances
from kennai.splits.overlay import COUNTS, Overlay, count_piece_people, intersect_pairs, overlay_for
from kennai.splits.scoring import balance, classify_areas, count_pieces, split_summary, unit_scores

#: The default tolerances (frozen, so one instance serves every call).
_DEFAULT_TOLERANCES = SplitTolerances()


def _analysis_crs(gdf: gpd.GeoDataFrame) -> CRS:
    """The units' CRS when projected, else their UTM zone (distances never in degrees)."""
    if gdf.crs is None:
        raise InputError(t("区域に CRS がありません", "the units have no CRS"),
                         hint=t("CRS 付きのデータを渡してください", "give data with a CRS"))
    crs = CRS.from_user_input(gdf.crs)
    return crs if crs.is_projected else gdf.estimate_utm_crs()


def analyse_splits(
    units: gpd.GeoDataFrame,
    plan: gpd.GeoDataFrame,
    *,
    population: gpd.GeoDataFrame | None = None,
    tolerances: SplitTolerances = _DEFAULT_TOLERANCES,
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
    if population is not None and has_population and "population" not in population.columns:
        raise InputError(t("人口レイヤに population 列がありません",
                           "the population layer has no 'population' column"),
                         feature="population", hint=t("人口の列を population にしてください",
                                                      "name the count column 'population'"))
    has_65 = bool(population is not None and has_population
                  and "population_65plus" in population.columns
                  and population["population_65plus"].notna().any())
    unit_geoms = np.asarray(units.geometry.values)
    unit_area = shapely.area(unit_geoms)
    ui, pi, geoms = intersect_pairs(unit_geoms, plan.geometry)
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
    unit_counts = np.full((len(units), len(COUNTS)), np.nan)
    piece_counts = np.full((len(pieces), len(COUNTS)), np.nan)
    if has_population:
        assert population is not None and population_in is not None
        overlay = overlay_for(units_in, population_in,
                               lambda: Overlay.build(unit_geoms, population_in.to_crs(crs)))
        unit_counts = overlay.unit_values.copy()
        piece_counts = count_piece_people(pieces, unit_area, overlay)
    if not has_65:
        unit_counts[:, 1] = np.nan
        piece_counts[:, 1] = np.nan
    for k, col in enumerate(COUNTS):
        denom = unit_counts[ui, k]
        pieces[col] = piece_counts[:, k]
        pieces[f"{col}_share"] = np.divide(piece_counts[:, k], denom,
                                           out=np.full(len(pieces), np.nan),
                                           where=np.isfinite(denom) & (denom > 0))
    unit_pop = unit_counts[:, 0]
    pieces = pieces.reset_index(drop=True)
    counted, reason = count_pieces(pieces, has_population, tolerances)
    pieces["counted"] = counted
    pieces["reason"] = reason
    scores = unit_scores(pieces, len(units), has_population)
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
    areas = classify_areas(pieces, unit_table, list(dict.fromkeys(plan_names)),
                            tolerances=tolerances)
    areas = balance(pieces, unit_table, areas, measure)
    summary = split_summary(pieces, unit_table, areas, has_population, measure, tolerances)
    if population is not None and has_population:
        # People of the population layer who live in no unit (outside the units' outline):
        # said, so that a total below the census is not a mystery.
        outside = float(population["population"].sum()) - float(unit_table["population"].sum())
        summary["population_outside_units"] = finite_round(max(outside, 0.0), 1)
    return SplitReport(plan_name=plan_name, units_layer=units_layer, tolerances=tolerances,
                       crs=crs, has_population=has_population, pieces=pieces, units=unit_table,
                       areas=areas, summary=summary, has_population_65plus=has_65)


def _population_of(region: Region) -> gpd.GeoDataFrame | None:
    return region.layer("population") if region.has_layer("population") else None


def split_report_for_region(
    region: Region,
    plan_name: str,
    units_layer: str,
    *,
    tolerances: SplitTolerances = _DEFAULT_TOLERANCES,
    plan: gpd.GeoDataFrame | None = None,
    store: PlanStore | None = None,
) -> SplitReport:
    """Analyse a region's plan, a stored one (in ``store``) or an uploaded ``plan`` named
    ``plan_name`` against a layer.

    Population comes from the region's ``population`` layer when it has one.
    """
    units = region.layer(units_layer)
    if not units.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise NotFoundError(t(f"レイヤ「{units_layer}」は面ではありません",
                              f"layer {units_layer!r} is not a polygon layer"),
                            feature=units_layer, hint=t("小学校区や自治会などの面レイヤを指定してください",
                                                        "name a polygon layer such as elementary"))
    plan_gdf = plan if plan is not None else plan_polygons(region, plan_name, store)
    return analyse_splits(units, plan_gdf, population=_population_of(region),
                          tolerances=tolerances, units_layer=units_layer, plan_name=plan_name)


def compare_plans(
    region: Region,
    plan_names: Sequence[str],
    units_layer: str,
    *,
    tolerances: SplitTolerances = _DEFAULT_TOLERANCES,
    store: PlanStore | None = None,
) -> PlanComparison:
    """Analyse two or more of a region's plans (its own or stored in ``store``) against the
    same units, side by side."""
    if len(plan_names) < 2:
        raise InputError(t("比較には 2 つ以上の計画が必要です", "comparing needs two or more plans"),
                         feature="plans", hint=t(f"計画: {', '.join(region.plan_names)}",
                                                 f"plans: {', '.join(region.plan_names)}"))
    return PlanComparison(units_layer, [split_report_for_region(region, name, units_layer,
                                                                tolerances=tolerances, store=store)
                                        for name in plan_names])
