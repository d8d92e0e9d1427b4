"""Access results → the shading and the walking times shown on the maps.

This block moves to ``kennai.access.surface`` (same public names and signatures); the maps
import it from here until then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from kennai.access import AccessOptions, AccessResults, results_for, write_surface
from kennai.errors import TreasureMapError
from kennai.geometry import weighted_median
from kennai.i18n import t
from kennai.maps.content import district_row
from kennai.region import Region


def access_results(region: Region) -> AccessResults:
    """The region's access results: stored ones from the build when current, else computed."""
    return results_for(region, AccessOptions())


def _surface_grid(region: Region, results: AccessResults) -> tuple[np.ndarray, Any, Any]:
    """Access's walking-minutes surface (stored, or computed on the fly) as an array."""
    import tempfile

    import rasterio

    with tempfile.TemporaryDirectory() as tmpdir:
        surface = results.surface_path
        if surface is None or not Path(surface).is_file():
            surface = write_surface(region, results, Path(tmpdir) / "surface.tif")
        with rasterio.open(surface) as ds:
            return ds.read(1), ds.transform, ds.crs


def _polygonise(mask: np.ndarray, transform: Any, crs: Any, region: Region) -> shapely.Geometry:
    """The cells of ``mask`` as one (slightly smoothed) polygon in the region's CRS."""
    import rasterio.features

    polys = [shapely.geometry.shape(g) for g, v in rasterio.features.shapes(
        mask.astype(np.uint8), mask=mask, transform=transform) if v == 1]
    res = abs(transform.a)
    area = shapely.union_all(polys).buffer(res * 0.5).buffer(-res * 0.5) if polys else \
        shapely.MultiPolygon()
    return gpd.GeoSeries([area], crs=crs.to_wkt()).to_crs(region.crs).iloc[0]


def walk_area(region: Region, results: AccessResults, *, minutes: float) -> gpd.GeoDataFrame:
    """The area within ``minutes`` walk of a place, polygonised from access's walking-time surface.

    Parameters
    ----------
    results
        :class:`kennai.access.AccessResults`; its stored surface is used, or one is computed.
    """
    if minutes <= 0:
        raise TreasureMapError(t("分数は正の数にしてください", "minutes must be positive"),
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
    districts, row = district_row(region, layer, district)
    return place_minutes(results, districts.geometry.iloc[row])


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
        median = weighted_median(t_min[keep][sel], pop[keep][sel])
        if pid and median is not None:
            out[str(pid)] = round(median, 1)
    return out
