"""Gaps: populated areas beyond walking reach, as ranked polygons (region-wide or per district).

Residents farther than the gap threshold (on the network) are binned into grid cells, and
touching cells (8-neighbours) merge into one gap, ranked by the people it holds. Residents on a
network part with no place are gaps of their own (``reach: unreachable``), apart from far ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage

from kennai.access.districts import resolve_polygons
from kennai.access.results import AccessResults
from kennai.errors import NotFoundError
from kennai.i18n import t
from kennai.region import Region


def gap_polygons(results: AccessResults, *, threshold_m: float | None = None,
                 cell_m: float | None = None, within: shapely.Geometry | None = None
                 ) -> gpd.GeoDataFrame:
    """Uncovered populated areas: grid cells holding residents beyond ``threshold_m`` (on the
    network), merged where they touch (8-neighbours), ranked by population.

    Residents on a part of the network with no place at all are ``reach: unreachable`` gaps,
    drawn and counted apart from ``reach: far`` ones (a new place nearby is not enough there:
    the street data may be cut, or the place is missing). ``within`` (a district, in the
    results' CRS) keeps only the residents inside it, so a gap crossing a district line counts
    only the district's own people.
    """
    threshold_m = threshold_m or results.options.gap_threshold_m
    cell_m = cell_m or results.options.gap_cell_m
    res = results.residents
    crs = res.crs
    far = res[(res["status"] == "ok") & ~(res["distance_m"] <= threshold_m)
              & (res["population"] > 0)]
    if within is not None:
        xy = shapely.get_coordinates(far.geometry.values)
        shapely.prepare(within)
        far = far[shapely.contains_xy(within, xy[:, 0], xy[:, 1])]
    if far.empty:
        return gpd.GeoDataFrame(columns=GAP_COLUMNS, geometry="geometry", crs=crs)
    has65 = not far["population_65plus"].isna().all()
    reachable = np.isfinite(far["distance_m"].to_numpy(float))
    parts = [_merge_cells(far[mask], cell_m, has65).assign(reach=reach)
             for mask, reach in ((reachable, "far"), (~reachable, "unreachable")) if mask.any()]
    gdf = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)
    gdf = gdf.sort_values(["population", "locations"], ascending=False).reset_index(drop=True)
    gdf.insert(0, "rank", np.arange(1, len(gdf) + 1, dtype=np.int64))
    return gdf[GAP_COLUMNS].astype({"rank": "int64", "locations": "int64"})


#: The columns of a gap table, in order.
GAP_COLUMNS = ["rank", "population", "population_65plus", "locations", "area_ha", "reach",
               "geometry"]


def _merge_cells(far: gpd.GeoDataFrame, cell_m: float, has65: bool) -> gpd.GeoDataFrame:
    """The residents' grid cells, touching cells (8-neighbours) merged, with their people."""
    xy = shapely.get_coordinates(far.geometry.values)
    ij = np.floor(xy / cell_m).astype(np.int64)
    lo = ij.min(axis=0)
    ij -= lo
    shape = tuple(ij.max(axis=0) + 1)
    grid = np.zeros(shape[::-1], dtype=bool)
    grid[ij[:, 1], ij[:, 0]] = True
    labels, n = ndimage.label(grid, structure=np.ones((3, 3)))
    lab = labels[ij[:, 1], ij[:, 0]] - 1
    pop = np.bincount(lab, weights=far["population"].to_numpy(float), minlength=n)
    p65 = np.bincount(lab, weights=np.nan_to_num(far["population_65plus"].to_numpy(float)),
                      minlength=n)
    count = np.bincount(lab, minlength=n)
    cells = np.unique(np.column_stack([ij, lab]), axis=0)
    x0 = (cells[:, 0] + lo[0]) * cell_m
    y0 = (cells[:, 1] + lo[1]) * cell_m
    boxes = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    geoms = [shapely.coverage_union_all(boxes[cells[:, 2] == k]) for k in range(n)]
    return gpd.GeoDataFrame({"population": np.round(pop, 1),
                             "population_65plus": np.round(p65, 1) if has65 else np.nan,
                             "locations": count,
                             "area_ha": np.round(np.bincount(cells[:, 2], minlength=n)
                                                 * cell_m * cell_m / 1e4, 2)},
                            geometry=geoms, crs=far.crs)


@dataclass(slots=True)
class DistrictGaps:
    """The gaps of one district's own residents and the district's lon/lat bounds."""

    gaps: gpd.GeoDataFrame
    bounds: list[float]


def district_gaps(region: Region, results: AccessResults, *, layer: str, district: str,
                  threshold_m: float | None = None) -> DistrictGaps:
    """Gap polygons counting only the residents of the district named ``district`` in ``layer``
    (a district layer or plan, as for ``--by``); its pieces sharing the name are joined.

    Raises :class:`NotFoundError` when the layer has no district of that name.
    """
    key, polygons = resolve_polygons(region, layer)
    match = polygons[polygons["name"].astype(str) == district]
    if match.empty:
        names = ", ".join(sorted(map(str, polygons["name"].unique()))[:20])
        raise NotFoundError(t(f"{key} に区域「{district}」はありません（あるもの: {names}）",
                              f"no district {district!r} in {key} (there are: {names})"),
                            feature=district, hint=t("区域の一覧で名称を確認してください",
                                                     "check the names in the district list"))
    shape = shapely.union_all(match.to_crs(results.residents.crs).geometry.values)
    frame = gap_polygons(results, threshold_m=threshold_m, within=shape)
    bounds = [round(float(v), 6) for v in match.to_crs("EPSG:4326").total_bounds]
    return DistrictGaps(frame, bounds)

