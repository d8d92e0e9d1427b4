"""Gaps: populated areas beyond walking reach, as ranked polygons, each inside one district.

Residents farther than the gap threshold (on the network) are binned into grid cells, and
touching cells (8-neighbours) merge into one gap, but only cells of the same district and the
same block: a gap never crosses a district boundary (its polygon is clipped to the district) and
is never larger than a walkable neighbourhood (a block of two gap thresholds square), so that
gap #1 is a place a new 通いの場 could serve, not half a town. Gaps are ranked by their 65+
(residents where 65+ is unknown), across the region and within their district. Residents on a
network part with no place are gaps of their own (``reach: unreachable``), apart from far ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from kennai.access.coverage import OUTSIDE_NAME
from kennai.access.districts import gap_districts, named_district
from kennai.access.results import AccessResults
from kennai.region import Region

#: The columns of a gap table, in order.
GAP_COLUMNS = ["rank", "district", "district_rank", "population", "population_65plus",
               "locations", "area_ha", "reach", "geometry"]

#: Touching-cell offsets looked up forwards (the other four are their mirror images).
_NEIGHBOURS = ((1, 0), (0, 1), (1, 1), (1, -1))


def gap_polygons(results: AccessResults, *, threshold_m: float | None = None,
                 cell_m: float | None = None, within: shapely.Geometry | None = None,
                 districts: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Uncovered populated areas: grid cells holding residents beyond ``threshold_m`` (on the
    network), merged where they touch within one district and one block, ranked by 65+.

    Parameters
    ----------
    results
        Access results with walking distances.
    threshold_m, cell_m
        The gap distance and the grid cell side (the results' options by default).
    within
        A district (in the results' CRS): only the residents inside it count, so a gap crossing
        a district line counts only the district's own people.
    districts
        Polygons with a ``name`` column (any CRS) that gaps are split at, named by and clipped
        to; residents in none of them make gaps named :data:`OUTSIDE_NAME`. Without it gaps are
        split by block only and have no district.
    """
    threshold_m = threshold_m or results.options.gap_threshold_m
    cell_m = cell_m or results.options.gap_cell_m
    res = results.residents
    crs = res.crs
    far = res[(res["status"] == "ok") & ~(res["distance_m"] <= threshold_m)
              & (res["population"] > 0)]
    xy = shapely.get_coordinates(far.geometry.values)
    if within is not None:
        shapely.prepare(within)
        inside = shapely.contains_xy(within, xy[:, 0], xy[:, 1])
        far, xy = far[inside], xy[inside]
    if far.empty:
        return gpd.GeoDataFrame(columns=GAP_COLUMNS, geometry="geometry", crs=crs)
    names, shapes, code = _district_of(xy, districts, crs)
    reach = (~np.isfinite(far["distance_m"].to_numpy(float))).astype(np.int64)
    block_cells = max(1, round(2 * threshold_m / cell_m))
    cells, label, n = _merge(np.floor(xy / cell_m).astype(np.int64), reach, code, block_cells)
    has65 = not far["population_65plus"].isna().all()
    pop = np.bincount(label, weights=far["population"].to_numpy(float), minlength=n)
    p65 = np.bincount(label, weights=np.nan_to_num(far["population_65plus"].to_numpy(float)),
                      minlength=n)
    first = np.zeros(n, dtype=np.int64)
    first[label[::-1]] = np.arange(len(label))[::-1]  # one resident of each gap
    boxes = shapely.box(cells["i"] * cell_m, cells["j"] * cell_m,
                        (cells["i"] + 1) * cell_m, (cells["j"] + 1) * cell_m)
    geoms = np.array([shapely.coverage_union_all(boxes[cells["label"] == k]) for k in range(n)])
    geoms = _clip(geoms, code[first], shapes, districts is not None)
    district = ([names[c] if c >= 0 else OUTSIDE_NAME for c in code[first]]
                if districts is not None else [None] * n)
    gdf = gpd.GeoDataFrame({"district": district, "population": np.round(pop, 1),
                            "population_65plus": np.round(p65, 1) if has65 else np.nan,
                            "locations": np.bincount(label, minlength=n),
                            "area_ha": np.round(shapely.area(geoms) / 1e4, 2),
                            "reach": np.where(reach[first] == 1, "unreachable", "far")},
                           geometry=geoms, crs=crs)
    key = ["population_65plus", "population", "locations"] if has65 else ["population", "locations"]
    gdf = gdf.sort_values(key, ascending=False, kind="stable").reset_index(drop=True)
    gdf.insert(0, "rank", np.arange(1, n + 1, dtype=np.int64))
    by = gdf["district"].fillna("")
    gdf["district_rank"] = gdf.groupby(by, sort=False).cumcount().astype(np.int64) + 1
    return gdf[GAP_COLUMNS].astype({"rank": "int64", "district_rank": "int64",
                                    "locations": "int64"})


def _district_of(xy: np.ndarray, districts: gpd.GeoDataFrame | None, crs: object
                 ) -> tuple[list[str], list[shapely.Geometry], np.ndarray]:
    """Each point's district (a code into the names, -1 for none), and each name's shape
    (pieces sharing a name joined). A point in two overlapping districts takes the first."""
    code = np.full(len(xy), -1, dtype=np.int64)
    if districts is None or districts.empty:
        return [], [], code
    polys = districts.to_crs(crs)
    factor, uniques = pd.factorize(polys["name"].astype(str))
    shapes = [shapely.union_all(polys.geometry.values[factor == k]) for k in range(len(uniques))]
    points = shapely.points(xy)
    hit_point, hit_poly = shapely.STRtree(polys.geometry.values).query(points, predicate="within")
    order = np.lexsort((hit_poly, hit_point))
    hit_point, hit_poly = hit_point[order], hit_poly[order]
    keep = np.r_[True, hit_point[1:] != hit_point[:-1]] if len(hit_point) else hit_point.astype(bool)
    code[hit_point[keep]] = factor[hit_poly[keep]]
    return [str(u) for u in uniques], shapes, code


def _merge(ij: np.ndarray, reach: np.ndarray, code: np.ndarray, block_cells: int
           ) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """Residents' cells (absolute grid indices) joined into gaps: 8-neighbour cells of the same
    reach, district and block (blocks aligned to the grid origin, so they do not move with the
    data). Returns the cells (``i``, ``j``, ``label``), each resident's gap and the count."""
    lo = ij.min(axis=0) - 1  # a free row and column on every side for the neighbour look-up
    local = ij - lo
    span_i, span_j = (int(v) + 2 for v in local.max(axis=0))
    group = reach * (int(code.max()) + 2) + code + 1

    def encode(i: np.ndarray, j: np.ndarray, g: np.ndarray) -> np.ndarray:
        return (g * span_i + i) * span_j + j

    keys, first, inverse = np.unique(encode(local[:, 0], local[:, 1], group), return_index=True,
                                     return_inverse=True)
    ci, cj, cg = ij[first, 0], ij[first, 1], group[first]
    rows, cols = [], []
    for di, dj in _NEIGHBOURS:
        ni, nj = ci + di, cj + dj
        same_block = ((ci // block_cells == ni // block_cells)
                      & (cj // block_cells == nj // block_cells))
        wanted = encode(ni - lo[0], nj - lo[1], cg)
        pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        found = same_block & (keys[pos] == wanted)
        rows.append(np.nonzero(found)[0])
        cols.append(pos[found])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = sparse.coo_matrix((np.ones(len(r)), (r, c)), shape=(len(keys), len(keys)))
    n, cell_label = connected_components(graph, directed=False)
    return {"i": ci, "j": cj, "label": cell_label}, cell_label[inverse.ravel()], int(n)


def _clip(geoms: np.ndarray, code: np.ndarray, shapes: list[shapely.Geometry],
          split: bool) -> np.ndarray:
    """Each gap's cells cut to its district (or, outside every district, to what no district
    covers), keeping the polygonal part; a gap whose cut would be empty keeps its cells, so no
    resident's gap is lost."""
    if not split or not shapes:
        return geoms
    shapely.prepare(np.asarray(shapes, dtype=object))
    outside = shapely.union_all(shapes)
    cut = np.array([shapely.intersection(g, shapes[c]) if c >= 0 else shapely.difference(g, outside)
                    for g, c in zip(geoms, code, strict=True)])
    out = np.array([_polygonal(c) for c in cut])
    empty = shapely.is_empty(out) | (shapely.area(out) <= 0)
    out[empty] = geoms[empty]
    return out


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a geometry (an intersection may add touching lines and points)."""
    if shapely.get_type_id(geom) in (3, 6):  # Polygon, MultiPolygon
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


@dataclass(slots=True)
class DistrictGaps:
    """The gaps of one district's own residents and the district's lon/lat bounds."""

    gaps: gpd.GeoDataFrame
    bounds: list[float]


def region_gaps(region: Region, results: AccessResults, *, threshold_m: float | None = None
                ) -> gpd.GeoDataFrame:
    """The region's gaps, split at, clipped to and named by its main district layer (小学校区
    when it has one; see :func:`kennai.access.districts.gap_districts`)."""
    return gap_polygons(results, threshold_m=threshold_m, districts=gap_districts(region))


def district_gaps(region: Region, results: AccessResults, *, layer: str, district: str,
                  threshold_m: float | None = None) -> DistrictGaps:
    """Gap polygons counting only the residents of the district named ``district`` in ``layer``
    (a district layer or plan, as for ``--by``); its pieces sharing the name are joined, and
    every gap is clipped to it and carries its name.

    Raises :class:`NotFoundError` when the layer has no district of that name.
    """
    match = named_district(region, layer, district)
    shape = shapely.union_all(match.to_crs(results.residents.crs).geometry.values)
    frame = gap_polygons(results, threshold_m=threshold_m, within=shape, districts=match)
    bounds = [round(float(v), 6) for v in match.to_crs("EPSG:4326").total_bounds]
    return DistrictGaps(frame, bounds)
