"""Walking minutes as a surface: the COG of minutes to the nearest place, and the areas it shows.

:func:`write_surface` rasterises the walk from every cell near the network to its nearest
place. The print maps draw from it the area within so many minutes' walk (:func:`walk_area`)
and, hatched apart, where the street data do not reach (:func:`no_network_area`), and their
popups show each place's median walking time (:func:`place_minutes`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.features
import shapely
from rasterio.transform import Affine, from_origin

from kennai.access.compute import results_for
from kennai.access.districts import district_geometry
from kennai.access.options import AccessOptions
from kennai.access.results import AccessResults
from kennai.access.routing import nearest_places, network_extent, region_network, walk_graphs
from kennai.atomic import atomic_path
from kennai.errors import ConfigError
from kennai.geometry import weighted_median
from kennai.i18n import t
from kennai.region import Region
from kennai.snapping import snap_to_edges


def write_surface(region: Region, results: AccessResults, path: Path, *,
                  res_m: float | None = None, max_cells: int = 4_000_000) -> Path:
    """A Cloud-Optimised GeoTIFF of walking minutes to the nearest place (region CRS).

    Cells farther than ``2 × res_m`` from the network, or outside its extent, are nodata.
    """
    res_m = res_m or results.options.surface_res_m
    net = region_network(region)
    extent = network_extent(net, margin_m=results.options.extent_margin_m)
    xmin, ymin, xmax, ymax = shapely.bounds(extent)
    while ((xmax - xmin) / res_m) * ((ymax - ymin) / res_m) > max_cells:
        res_m *= 2
    w = max(1, int(np.ceil((xmax - xmin) / res_m)))
    h = max(1, int(np.ceil((ymax - ymin) / res_m)))
    xs = xmin + (np.arange(w) + 0.5) * res_m
    ys = ymax - (np.arange(h) + 0.5) * res_m
    gx, gy = np.meshgrid(xs, ys)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    inside = shapely.contains_xy(extent, xy[:, 0], xy[:, 1])
    opts = results.options
    _, time = walk_graphs(region, opts)
    places = results.places
    p_snap = snap_to_edges(net, shapely.get_coordinates(places.geometry.values),
                           max_distance_m=opts.max_snap_m)
    p_snap.edge[~places["on_network"].to_numpy(bool)] = -1
    cells = snap_to_edges(net, xy[inside], max_distance_m=2 * res_m)
    secs, _ = nearest_places(time, cells, p_snap)
    minutes = np.full(len(xy), np.nan, dtype=np.float32)
    minutes[np.flatnonzero(inside)] = np.where(np.isfinite(secs), secs / 60.0, np.nan)
    profile = {"driver": "COG", "width": w, "height": h, "count": 1, "dtype": "float32",
               "crs": net.crs.to_wkt(), "transform": from_origin(xmin, ymax, res_m, res_m),
               "nodata": np.nan, "compress": "deflate", "blocksize": 256,
               # Blocks and overviews compressed on every core: the same bytes (94 -> 64 ms
               # for Ishigaki's 1569 x 1359 cells on two cores).
               "num_threads": "ALL_CPUS"}
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as ds:
        ds.write(minutes.reshape(h, w), 1)
        ds.update_tags(units="minutes", profile=opts.profile, speed_mps=str(time.speed_mps))
    return path


# --------------------------------------------------------------------------- areas for the maps


def access_results(region: Region) -> AccessResults:
    """The region's access results: stored ones from the build when current, else computed."""
    return results_for(region, AccessOptions())


def _surface_grid(region: Region, results: AccessResults) -> tuple[np.ndarray, Affine, str]:
    """The walking-minutes surface (stored, or computed on the fly) as an array, its transform
    and its CRS (WKT)."""
    with tempfile.TemporaryDirectory() as tmpdir:
        surface = results.surface_path
        if surface is None or not Path(surface).is_file():
            surface = write_surface(region, results, Path(tmpdir) / "surface.tif")
        with rasterio.open(surface) as ds:
            return ds.read(1), ds.transform, ds.crs.to_wkt()


def _polygonise(mask: np.ndarray, transform: Affine, crs_wkt: str, region: Region
                ) -> shapely.Geometry:
    """The cells of ``mask`` as one (slightly smoothed) polygon in the region's CRS."""
    polys = [shapely.geometry.shape(g) for g, v in rasterio.features.shapes(
        mask.astype(np.uint8), mask=mask, transform=transform) if v == 1]
    res = abs(transform.a)
    area = shapely.union_all(polys).buffer(res * 0.5).buffer(-res * 0.5) if polys else \
        shapely.MultiPolygon()
    return gpd.GeoSeries([area], crs=crs_wkt).to_crs(region.crs).iloc[0]


def walk_area(region: Region, results: AccessResults, *, minutes: float) -> gpd.GeoDataFrame:
    """The area within ``minutes`` walk of a place, polygonised from the walking-time surface.

    Parameters
    ----------
    results
        The region's access results; their stored surface is used, or one is computed.
    """
    if minutes <= 0:
        raise ConfigError(t("分数は正の数にしてください", "minutes must be positive"),
                          feature="minutes", hint=t("例: --minutes 10", "e.g. --minutes 10"))
    grid, transform, crs = _surface_grid(region, results)
    area = _polygonise(np.isfinite(grid) & (grid <= minutes), transform, crs, region)
    return gpd.GeoDataFrame({"minutes": [float(minutes)]}, geometry=[area], crs=region.crs)


def no_network_area(region: Region, results: AccessResults) -> gpd.GeoDataFrame:
    """Where the region has no walking times at all (no street network data there).

    Shown hatched beside the walking-time shading, so that an unshaded area is never read as
    "far from every place" when the data simply do not cover it.
    """
    grid, transform, crs = _surface_grid(region, results)
    served = _polygonise(np.isfinite(grid), transform, crs, region)
    return gpd.GeoDataFrame(geometry=[shapely.difference(region.outline, served)], crs=region.crs)


def district_place_minutes(region: Region, results: AccessResults, *, layer: str, district: str
                           ) -> dict[str, float]:
    """:func:`place_minutes` for a district given by layer and name (NotFoundError if unknown)."""
    return place_minutes(results, district_geometry(region, layer=layer, district=district))


def place_minutes(results: AccessResults, shape: shapely.Geometry) -> dict[str, float]:
    """Per place, the median walking time (minutes, weighted by population) of the residents
    inside ``shape`` whose nearest place it is — what the popups show."""
    res = results.residents
    t_min = res["time_min"].to_numpy(float)
    pop = res["population"].to_numpy(float)
    keep = (shapely.covered_by(res.geometry.values, shape) & (res["status"] == "ok").to_numpy()
            & np.isfinite(t_min) & (pop > 0))
    ids = res["place_id"].astype(str).to_numpy()[keep]
    out = {}
    for pid in np.unique(ids):
        sel = ids == pid
        if pid:
            median = weighted_median(t_min[keep][sel], pop[keep][sel])
            if median is not None:
                out[str(pid)] = round(median, 1)
    return out
