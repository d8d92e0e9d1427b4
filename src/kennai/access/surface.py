"""Walking minutes as a surface: a Cloud-Optimised GeoTIFF of minutes to the nearest place.

:func:`write_surface` rasterises the walk from every cell near the network to its nearest
place; the tiles and the maps draw from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.transform import from_origin

from kennai.access.results import AccessResults
from kennai.access.routing import nearest_places, network_extent, region_network, walk_graphs
from kennai.atomic import atomic_path
from kennai.region import Region
from kennai.residents import snap_to_edges


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
               "nodata": np.nan, "compress": "deflate", "blocksize": 256}
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as ds:
        ds.write(minutes.reshape(h, w), 1)
        ds.update_tags(units="minutes", profile=opts.profile, speed_mps=str(time.speed_mps))
    return path

