"""The per-zoom tile path on real data (Yaizu) against the reference that cuts each tile from
the full geometries (clip, then simplify to half a pixel, then drop what is under a pixel)."""

from __future__ import annotations

import mercantile
import numpy as np
import shapely

from kennai.region import Region
from kennai.tile_encoding import BUFFER, EXTENT, MAX_TILE_BYTES, PIXEL, SIMPLIFY_GRID_UNITS
from kennai.tiles import region_tile_set


def _reference_ids(geoms: np.ndarray, tree: shapely.STRtree,
                   bounds: tuple[float, float, float, float]) -> set[int]:
    west, south, east, north = bounds
    scale = EXTENT / (east - west)
    pad = BUFFER / scale
    box = (west - pad, south - pad, east + pad, north + pad)
    idx = np.sort(tree.query(shapely.box(*box)))
    part = geoms[idx]
    points = shapely.get_type_id(part) == 0
    cut = np.where(points, part, shapely.simplify(shapely.clip_by_rect(part, *box),
                                                  SIMPLIFY_GRID_UNITS / scale,
                                                  preserve_topology=True))
    kind = shapely.get_type_id(cut)
    small = (np.isin(kind, (3, 6)) & (shapely.area(cut) * scale * scale < PIXEL * PIXEL)) | (
        np.isin(kind, (1, 5)) & (shapely.length(cut) * scale < PIXEL))
    return {int(i) for i in idx[~(shapely.is_empty(cut) | small)]}


def test_per_zoom_tiles_match_the_per_tile_reference_on_yaizu(yaizu: Region) -> None:
    tiles = region_tile_set(yaizu)
    west, south, east, north = tiles.bounds()
    lon, lat = (west + east) / 2, (south + north) / 2
    checked = 0
    for layer in tiles.layers:
        geoms = np.asarray(layer.frame.geometry.values)
        tree = shapely.STRtree(geoms)
        for z in range(max(10, layer.minzoom), 17):
            centre = mercantile.tile(lon, lat, z)
            for dx in (-1, 0, 1):
                b = mercantile.xy_bounds(centre.x + dx, centre.y, z)
                bounds = (b.left, b.bottom, b.right, b.top)
                ref = _reference_ids(geoms, tree, bounds)
                got = {f["id"] for f in layer.features(bounds, z)}
                assert len(got ^ ref) <= 1 + len(ref) // 100, (layer.name, z, got ^ ref)
                checked += len(ref)
    assert checked > 1000


def test_no_tile_of_yaizu_is_over_the_cap(yaizu: Region) -> None:
    tiles = region_tile_set(yaizu)
    sizes = [len(tiles.render(z, x, y)) for z, x, y in tiles.tiles_in(10, 13)]
    assert max(sizes) <= MAX_TILE_BYTES and any(sizes)
