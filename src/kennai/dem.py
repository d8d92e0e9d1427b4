"""The region's elevation model: checked against the region, and written into its build.

A DEM is a GeoTIFF, or 国土地理院 基盤地図情報 DEM files as GSI ships them (``FG-GML-…`` XML,
one or zipped), which are mosaicked over the region (:mod:`kennai.io.gsi_dem`). A DEM that
cannot give a slope anywhere in the region is an error, never a silently flat walk.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.warp
import shapely

from kennai.checks import check_coverage
from kennai.config import POLYGON_KINDS, RegionConfig
from kennai.errors import InputError
from kennai.i18n import t
from kennai.io.gsi_dem import is_gsi_dem, iter_gsi_tiles, write_gsi_mosaic
from kennai.region import Region


def check_dem(config: RegionConfig, region: Region) -> dict[str, Any] | None:
    """Describe the DEM, stopping when it cannot give a slope anywhere in the region.

    A DEM that is all nodata or lies outside the region would drop the slope silently: both
    are errors. One that covers part of the region is a warning finding on ``region``.
    """
    if "dem" not in config.layers:
        return None
    paths = [s.path for s in config.layers["dem"].sources]
    if all(is_gsi_dem(p) for p in paths):
        # 基盤地図情報 DEM as GSI distributes it: mosaicked into the build's GeoTIFF at write.
        tiles = list(iter_gsi_tiles(paths))
        return {"source": ", ".join(p.name for p in paths), "format": "gsi", "tiles": len(tiles),
                "crs": "EPSG:6668"}
    path = paths[0]
    hint = t("地域を覆う標高 GeoTIFF を指定してください", "give a GeoTIFF DEM covering the region")
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise InputError(t("標高ラスタに CRS がありません", "the DEM has no CRS"), path=path,
                                 hint=t("GeoTIFF に CRS を付けてください",
                                        "give the GeoTIFF a CRS"))
            # A decimated read is enough to tell "all nodata" apart from data.
            shape = (min(ds.height, 512), min(ds.width, 512))
            sample = ds.read(1, out_shape=shape, masked=True)
            values = sample.compressed()
            valid = int(np.isfinite(values).sum()) if values.dtype.kind == "f" else len(values)
            if valid == 0:
                raise InputError(t(f"標高ラスタがすべて nodata（{ds.nodata}）です",
                                   f"the DEM is all nodata ({ds.nodata})"), path=path, hint=hint)
            box = shapely.box(*rasterio.warp.transform_bounds(ds.crs, region.crs, *ds.bounds))
            meta = {"source": path.name, "crs": ds.crs.to_string(), "width": ds.width,
                    "height": ds.height, "res": list(ds.res), "nodata": ds.nodata}
    except rasterio.errors.RasterioIOError:
        raise InputError(t("標高ラスタとして読めません", "not a readable raster"), path=path,
                         hint=t("GeoTIFF を指定してください", "give a GeoTIFF")) from None
    if any(k in region.layer_names for k in POLYGON_KINDS):
        found = check_coverage(box, region.outline, "dem", "dem_outside", error_below=0.01)
        if found and found[0].level == "error":
            raise InputError(t(f"標高ラスタ（DEM）が地域と重なりません: {found[0].message.ja}",
                               f"the DEM does not overlap the region: {found[0].message.en}"),
                             path=path, hint=hint)
        region.findings.extend(found)
    return meta


def write_dem(config: RegionConfig, region: Region, meta: dict[str, Any], target: Path) -> Path:
    """Put the region's DEM at ``target``: GSI tiles mosaicked over the region (its outline and
    1 km around it, in metres), a GeoTIFF copied as it is."""
    sources = [s.path for s in config.layers["dem"].sources]
    if meta.get("format") == "gsi":
        box = shapely.bounds(gpd.GeoSeries([region.outline.buffer(1000.0)], crs=region.crs)
                             .to_crs("EPSG:6668").iloc[0])
        return write_gsi_mosaic(sources, target, bounds=(float(box[0]), float(box[1]),
                                                         float(box[2]), float(box[3])))
    shutil.copyfile(sources[0], target)
    return target
