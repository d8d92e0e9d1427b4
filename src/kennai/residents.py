"""Where residents live, and where any point meets the walk network.

Census small areas (JINKO, and 65+ when known) are spread over the buildings inside each area
in proportion to floor area; without buildings, over points every ``spacing_m`` along the streets
inside the area. Buildings with no census layer count one household each. Every point is then
snapped to the nearest *edge* (not node) by :mod:`kennai.snapping`: the projected point, its
offset along the edge and the perpendicular walk to reach it are all kept, so short trips are
measured exactly.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from kennai.errors import EmptyLayerError
from kennai.geometry import polygonal
from kennai.i18n import t
from kennai.network import WalkNetwork


def _edge_points(net: WalkNetwork, spacing_m: float) -> np.ndarray:
    """Points every ``spacing_m`` along the edges (at least one mid-point per edge)."""
    lengths = shapely.length(net.edge_geometry)
    counts = np.maximum(1, np.floor(lengths / spacing_m).astype(np.int64))
    edge_of = np.repeat(np.arange(net.n_edges), counts)
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pos = (k + 0.5) / counts[edge_of]
    pts = shapely.line_interpolate_point(net.edge_geometry[edge_of], pos, normalized=True)
    return shapely.get_coordinates(pts)


def _spread(units: gpd.GeoDataFrame, points: gpd.GeoDataFrame, weight: np.ndarray
            ) -> tuple[pd.DataFrame, np.ndarray]:
    """Give each point its unit's population in proportion to ``weight``.

    Returns the located rows and the mask of units that received no point.
    """
    joined = gpd.sjoin(points.assign(_w=weight), units[["unit_id", "geometry"]], how="inner",
                       predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]  # points on a shared border
    total_w = joined.groupby("unit_id")["_w"].transform("sum")
    share = np.where(total_w > 0, joined["_w"] / total_w.where(total_w > 0, 1), 0.0)
    pop = units.set_index("unit_id")
    rows = pd.DataFrame({
        "x": joined.geometry.x.to_numpy(), "y": joined.geometry.y.to_numpy(),
        "population": share * pop.loc[joined["unit_id"], "population"].to_numpy(),
        "population_65plus": share * pop.loc[joined["unit_id"], "population_65plus"].to_numpy(),
        "unit_id": joined["unit_id"].to_numpy(),
    })
    missing = ~units["unit_id"].isin(joined["unit_id"]).to_numpy()
    return rows, missing


def _area_grid(units: gpd.GeoDataFrame, *, spacing_m: float, source: str,
               max_cells_per_unit: int = 200_000) -> pd.DataFrame:
    """Spread each unit's people over its area, for units with no building or street to hold them.

    The unit is cut by a regular grid of ``spacing_m`` cells; every piece of a cell inside it
    gets one point (inside the piece) and the unit's population in proportion to the piece's
    area. Counts per district then follow areal weighting to a cell's precision, every polygon
    part gets at least one point, and the unit's total is kept exactly.
    """
    geoms = polygonal(units.geometry.values)
    has = shapely.area(geoms) > 0
    # A unit with people but no area (a degenerate polygon) keeps them at a point of its own.
    flat = np.flatnonzero(~has)
    pos = shapely.point_on_surface(np.asarray(units.geometry.values)[flat])
    xy = np.column_stack([shapely.get_x(pos), shapely.get_y(pos)])  # NaN for an empty one
    rows = [_located(units, flat, xy, np.ones(len(flat)), source)]
    if not has.any():
        return rows[0]
    bounds = shapely.bounds(geoms[has])
    uidx = np.flatnonzero(has)
    # One grid per unit (a coarser one for a vast unit, so that no unit makes millions of cells).
    span = np.maximum(bounds[:, 2:] - bounds[:, :2], 1e-9)
    step = np.maximum(spacing_m, np.sqrt(span[:, 0] * span[:, 1] / max_cells_per_unit))
    lo = np.floor(bounds[:, :2] / step[:, None]).astype(np.int64)
    hi = np.ceil(bounds[:, 2:] / step[:, None]).astype(np.int64)
    shape = np.maximum(hi - lo, 1)
    count = shape[:, 0] * shape[:, 1]
    owner = np.repeat(np.arange(len(uidx)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    i = lo[owner, 0] + k % shape[owner, 0]
    j = lo[owner, 1] + k // shape[owner, 0]
    s = step[owner]
    boxes = shapely.box(i * s, j * s, (i + 1) * s, (j + 1) * s)
    target = geoms[uidx[owner]]
    shapely.prepare(geoms)
    inner = shapely.contains_properly(target, boxes)
    pieces = boxes.copy()
    edge = ~inner & shapely.intersects(target, boxes)
    pieces[edge] = shapely.intersection(target[edge], boxes[edge])
    keep = inner | edge
    parts, pidx = shapely.get_parts(pieces[keep], return_index=True)
    part_area = shapely.area(parts)
    ok = (shapely.get_type_id(parts) == 3) & (part_area > 0)
    parts, part_area = parts[ok], part_area[ok]
    unit_of = uidx[owner[np.flatnonzero(keep)[pidx[ok]]]]
    xy = shapely.get_coordinates(shapely.point_on_surface(parts))
    # Shares of the pieces' own total, so the unit's population is kept to the last person.
    total = np.bincount(unit_of, weights=part_area, minlength=len(geoms))
    rows.append(_located(units, unit_of, xy, part_area / total[unit_of], source))
    return pd.concat(rows, ignore_index=True)


def _located(units: gpd.GeoDataFrame, unit_of: np.ndarray, xy: np.ndarray, share: np.ndarray,
             source: str) -> pd.DataFrame:
    """Located rows holding ``share`` of the population of unit ``unit_of`` each."""
    return pd.DataFrame({
        "x": xy[:, 0], "y": xy[:, 1],
        "population": units["population"].to_numpy(float)[unit_of] * share,
        "population_65plus": units["population_65plus"].to_numpy(float)[unit_of] * share,
        "unit_id": units["unit_id"].to_numpy()[unit_of], "source": source})


def _split_by_extent(units: gpd.GeoDataFrame, extent: shapely.Geometry, *, spacing_m: float
                     ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Units cut to ``extent`` (population scaled by the area inside) and, for the part
    outside, located rows spread over that part's area (:func:`_area_grid`)."""
    geoms = units.geometry.values
    area = shapely.area(geoms)
    inside = shapely.intersection(geoms, extent)
    share = np.divide(shapely.area(inside), area, out=np.ones_like(area), where=area > 0)
    partial = (share < 0.999) & (share > 0)
    rest = 1.0 - share[partial]
    outer = gpd.GeoDataFrame({
        "unit_id": units["unit_id"].to_numpy()[partial],
        "population": units["population"].to_numpy(float)[partial] * rest,
        "population_65plus": units["population_65plus"].to_numpy(float)[partial] * rest},
        geometry=shapely.difference(geoms[partial], extent), crs=units.crs)
    outside = _area_grid(outer, spacing_m=spacing_m, source="area_outside_network")
    cut = units.copy()
    keep = share > 0
    cut.loc[partial, "population"] *= share[partial]
    cut.loc[partial, "population_65plus"] *= share[partial]
    cut = cut.set_geometry(np.where(partial, inside, geoms))
    # Units wholly outside stay whole: they are spread over their area below.
    cut.loc[~keep, "geometry"] = geoms[~keep]
    return cut, outside


def resident_locations(
    *,
    population: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame | None,
    network: WalkNetwork | None,
    spacing_m: float = 50.0,
    extent: shapely.Geometry | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Points where residents live, with ``population`` and ``population_65plus`` each.

    Parameters
    ----------
    population
        Census small areas (polygons) or points with ``unit_id``, ``population`` and
        ``population_65plus`` (NaN when unknown); in the analysis CRS.
    buildings
        Building footprints (polygons), or ``None``.
    network
        The walk network, used to place people along streets when there are no buildings.
    spacing_m
        Spacing of street points when population is spread along edges.
    extent
        The network's extent. When people are spread along streets, the part of an area
        outside it keeps its share of the population (by area) at a point of its own, so a
        network covering half an area does not pull all its residents onto its streets.

    Returns
    -------
    (GeoDataFrame, dict)
        One row per location (``unit_id``, ``population``, ``population_65plus``, ``source``)
        and a summary: method used, counts, population placed and any areas placed at their
        own representative point for lack of buildings or streets.
    """
    crs = (population.crs if population is not None else
           buildings.crs if buildings is not None else network.crs if network else None)
    info: dict[str, Any] = {}
    if population is None or population.empty:
        if buildings is None or buildings.empty:
            raise EmptyLayerError(
                t("住民の位置を決める人口も建物もありません",
                  "neither population nor buildings to place residents"),
                hint=t("population か buildings のレイヤを追加してください",
                       "add a population or buildings layer"))
        pts = shapely.get_coordinates(buildings.geometry.representative_point().values)
        rows = pd.DataFrame({"x": pts[:, 0], "y": pts[:, 1], "population": 1.0,
                             "population_65plus": np.nan, "unit_id": "", "source": "building"})
        info = {"method": "buildings_as_households", "unit": "households"}
    elif population.geom_type.eq("Point").all():
        rows = pd.DataFrame({"x": population.geometry.x.to_numpy(),
                             "y": population.geometry.y.to_numpy(),
                             "population": population["population"].to_numpy(float),
                             "population_65plus": population["population_65plus"].to_numpy(float),
                             "unit_id": population["unit_id"].astype(str).to_numpy(),
                             "source": "point"})
        info = {"method": "population_points", "unit": "persons"}
    else:
        units = population[population["population"] > 0].reset_index(drop=True)
        if buildings is not None and not buildings.empty:
            geoms = buildings.geometry.values
            pts = gpd.GeoDataFrame(geometry=shapely.point_on_surface(geoms), crs=crs)
            rows, missing = _spread(units, pts, shapely.area(geoms))
            rows["source"] = "building"
            info = {"method": "census_on_buildings", "unit": "persons"}
        elif network is not None and network.n_edges:
            pts = gpd.GeoDataFrame(geometry=shapely.points(_edge_points(network, spacing_m)),
                                   crs=crs)
            outside = None
            if extent is not None:
                units, outside = _split_by_extent(units, extent, spacing_m=spacing_m)
            rows, missing = _spread(units, pts, np.ones(len(pts)))
            rows["source"] = "street"
            if outside is not None and len(outside):
                rows = pd.concat([rows, outside], ignore_index=True)
            info = {"method": "census_on_streets", "unit": "persons", "spacing_m": spacing_m}
        else:
            rows, missing = pd.DataFrame(), np.ones(len(units), dtype=bool)
            info = {"method": "census_over_area", "unit": "persons", "spacing_m": spacing_m}
        if missing.any():
            # Areas with people but no building or street inside: spread over their area,
            # never dropped (they are then likely to show as "no network").
            rows = pd.concat([rows, _area_grid(units[missing], spacing_m=spacing_m,
                                               source="area_grid")], ignore_index=True)
            info["areas_spread_over_area"] = int(missing.sum())
    gdf = gpd.GeoDataFrame(rows.reset_index(drop=True),
                           geometry=shapely.points(rows[["x", "y"]].to_numpy(float)), crs=crs)
    info |= {"locations": len(gdf), "population": round(float(gdf["population"].sum()), 3)}
    p65 = gdf["population_65plus"]
    info["population_65plus"] = None if p65.isna().all() else round(float(p65.sum()), 3)
    return gdf.drop(columns=["x", "y"]), info
