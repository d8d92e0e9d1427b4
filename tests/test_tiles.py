"""Vector tiles: clipping, grid scaling, per-zoom simplification, caches, TileJSON."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import mercantile
import numpy as np
import pandas as pd
import pytest
import shapely

from kennai.errors import NotFoundError
from kennai.roads import road_class
from kennai.tile_encoding import EXTENT, TileLayer, check_tile, encode_tile
from kennai.tiles import TileSet

LON, LAT = 138.28, 34.845


def _circle_layer() -> TileLayer:
    centre = gpd.GeoSeries([shapely.Point(LON, LAT)], crs="EPSG:4326").to_crs("EPSG:3857")
    disc = centre.buffer(300, quad_segs=256)  # 1024 vertices
    return TileLayer("districts", gpd.GeoDataFrame({"name": ["円"]}, geometry=disc.values,
                                                   crs="EPSG:3857"))


def _vertex_count(tile: bytes, layer: str) -> int:
    geom = mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True})[layer][
        "features"][0]["geometry"]
    return len(shapely.geometry.shape(geom).exterior.coords)


def test_polygon_is_clipped_scaled_and_north_up() -> None:
    layer = _circle_layer()
    tile = mercantile.tile(LON, LAT, 16)
    decoded = mapbox_vector_tile.decode(encode_tile([layer], 16, tile.x, tile.y),
                                        default_options={"y_coord_down": True})
    feature = decoded["districts"]["features"][0]
    assert feature["properties"] == {"name": "円"} and feature["id"] == 0
    shape = shapely.geometry.shape(feature["geometry"])
    minx, miny, maxx, maxy = shape.bounds
    assert minx >= -64 and maxx <= EXTENT + 64 and miny >= -64 and maxy <= EXTENT + 64
    # y grows downwards in the grid: the disc's northern rim has the smallest y.
    north = mercantile.xy(LON, LAT + 0.0025)
    ul = mercantile.xy_bounds(tile)
    expected_y = (ul.top - north[1]) / (ul.top - ul.bottom) * EXTENT
    top_y = min(y for _, y in shape.exterior.coords)
    assert top_y == pytest.approx(expected_y, abs=0.2 * EXTENT) or top_y < 0


def test_simplification_follows_zoom() -> None:
    layer = _circle_layer()
    counts = {}
    for z in (10, 15):
        tile = mercantile.tile(LON, LAT, z)
        counts[z] = _vertex_count(encode_tile([layer], z, tile.x, tile.y), "districts")
    assert counts[10] < counts[15] / 4


def test_empty_and_invalid_tiles() -> None:
    layer = _circle_layer()
    far = mercantile.tile(0.0, 0.0, 14)
    assert encode_tile([layer], 14, far.x, far.y) == b""
    with pytest.raises(NotFoundError):
        check_tile(3, 8, 0)
    low = TileLayer("late", layer.frame, minzoom=15)
    tile = mercantile.tile(LON, LAT, 14)
    assert encode_tile([low], 14, tile.x, tile.y) == b""


def test_tileset_caches_in_memory_and_on_disk(tmp_path: Path) -> None:
    tile = mercantile.tile(LON, LAT, 15)
    first = TileSet([_circle_layer()], version="v1", cache_dir=tmp_path)
    data = first.tile(15, tile.x, tile.y)
    assert data and first.tile(15, tile.x, tile.y) == data
    assert first.stats == {"memory_hits": 1, "disk_hits": 0, "rendered": 1}
    cached = list(tmp_path.rglob("*.mvt"))
    assert len(cached) == 1 and cached[0].read_bytes() == data
    second = TileSet([_circle_layer()], version="v1", cache_dir=tmp_path)
    assert second.tile(15, tile.x, tile.y) == data and second.stats["disk_hits"] == 1
    rebuilt = TileSet([_circle_layer()], version="v2", cache_dir=tmp_path)
    rebuilt.tile(15, tile.x, tile.y)
    assert rebuilt.stats["rendered"] == 1 and rebuilt.cache_dir != first.cache_dir


def test_prepare_makes_what_a_first_tile_would_and_the_tile_is_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tile = mercantile.tile(LON, LAT, 15)
    fresh = TileSet([_circle_layer()], version="v").render(15, tile.x, tile.y)
    ready = TileSet([_circle_layer()], version="v")
    ready.prepare(15, 15)
    layer = ready.layers[0]
    assert (15, 1.0) in layer._zooms
    made: list[int] = []
    monkeypatch.setattr("kennai.tile_encoding.layer_properties",
                        lambda records: made.append(len(records)))  # must not be called again
    assert ready.render(15, tile.x, tile.y) == fresh and made == []


def test_lru_is_bounded() -> None:
    ts = TileSet([_circle_layer()], version="v", memory_tiles=2)
    for x in range(4):
        ts.tile(2, x, 1)
    assert len(ts.memory) == 2


def test_tilejson_lists_layers_and_bounds() -> None:
    ts = TileSet([_circle_layer()], version="v")
    tj = ts.tilejson("http://h/t/{z}/{x}/{y}.mvt", name="テスト")
    assert tj["vector_layers"][0]["id"] == "districts"
    assert tj["vector_layers"][0]["fields"] == {"name": "String"}
    west, south, east, north = tj["bounds"]
    assert west < LON < east and south < LAT < north and east - west < 0.01


def test_road_classes() -> None:
    classes = road_class(pd.Series(["primary", "residential", "footway", None]))
    assert classes.tolist() == ["major", "minor", "path", "minor"]


def test_pmtiles_export_matches_served_tiles(tmp_path: Path) -> None:
    from pmtiles.reader import MmapSource, Reader

    from kennai.tiles import export_pmtiles

    served = TileSet([_circle_layer()], version="v")
    path = tmp_path / "circle.pmtiles"
    done = export_pmtiles(served, path, minzoom=12, maxzoom=16, name="円")
    assert done["tiles"] > 0 and not list(path.parent.glob(".*.tmp"))
    with open(path, "rb") as f:
        reader = Reader(MmapSource(f))
        header = reader.header()
        assert (header["min_zoom"], header["max_zoom"]) == (12, 16)
        assert reader.metadata()["vector_layers"][0]["id"] == "districts"
        fresh = TileSet([_circle_layer()], version="other")  # no shared cache
        for z in (12, 14, 16):
            tile = mercantile.tile(LON, LAT, z)
            stored = reader.get(z, tile.x, tile.y)
            assert stored == fresh.render(z, tile.x, tile.y)
            decoded = mapbox_vector_tile.decode(stored)
            assert decoded["districts"]["features"][0]["properties"] == {"name": "円"}
        far = mercantile.tile(LON + 1, LAT, 14)
        assert reader.get(14, far.x, far.y) is None


def test_pmtiles_export_refuses_bad_zooms_and_nothing_to_draw(tmp_path: Path) -> None:
    from kennai.errors import EmptyLayerError, InputError
    from kennai.tiles import export_pmtiles

    ts = TileSet([_circle_layer()], version="v")
    with pytest.raises(InputError):
        export_pmtiles(ts, tmp_path / "x.pmtiles", minzoom=10, maxzoom=8)
    late = TileSet([TileLayer("late", _circle_layer().frame, minzoom=18)], version="v")
    with pytest.raises(EmptyLayerError):
        export_pmtiles(late, tmp_path / "y.pmtiles", minzoom=10, maxzoom=12)
    assert not list(tmp_path.iterdir())


def test_features_under_a_pixel_are_left_out_and_show_when_zoomed_in() -> None:
    centre = gpd.GeoSeries([shapely.Point(LON, LAT)], crs="EPSG:4326").to_crs("EPSG:3857").iloc[0]
    short = shapely.LineString([(centre.x, centre.y), (centre.x + 5, centre.y)])  # 5 m
    layer = TileLayer("roads", gpd.GeoDataFrame({"n": [1]}, geometry=[short], crs="EPSG:3857"))
    for z, shown in ((12, False), (18, True)):  # a pixel is ~19 m at z12, ~0.3 m at z18
        tile = mercantile.tile(LON, LAT, z)
        data = encode_tile([layer], z, tile.x, tile.y)
        assert ("roads" in mapbox_vector_tile.decode(data)) is shown if data else not shown


def test_no_tile_is_over_the_cap_and_points_always_stay() -> None:
    rng = np.random.default_rng(7)
    centre = gpd.GeoSeries([shapely.Point(LON, LAT)], crs="EPSG:4326").to_crs("EPSG:3857").iloc[0]
    xy = centre.x + rng.uniform(-400, 400, (3000, 2)), centre.y + rng.uniform(-400, 400, (3000, 2))
    wiggly = [shapely.LineString(np.column_stack([np.linspace(x0, x0 + 60, 40),
                                                  y0 + rng.normal(0, 3, 40)]))
              for x0, y0 in zip(xy[0][:, 0], xy[1][:, 0], strict=True)]
    roads = TileLayer("roads", gpd.GeoDataFrame({"k": range(3000)}, geometry=wiggly,
                                                crs="EPSG:3857"))
    places = TileLayer("places", gpd.GeoDataFrame(
        {"name": [f"場所{i}" for i in range(50)]},
        geometry=shapely.points(np.column_stack([xy[0][:50, 1], xy[1][:50, 1]])), crs="EPSG:3857"))
    tile = mercantile.tile(LON, LAT, 15)
    full = encode_tile([roads, places], 15, tile.x, tile.y, max_bytes=10**9)
    capped = encode_tile([roads, places], 15, tile.x, tile.y, max_bytes=len(full) // 4)
    assert len(capped) <= len(full) // 4 < len(full)
    decoded = mapbox_vector_tile.decode(capped)
    assert len(decoded["places"]["features"]) == 50  # points are never thinned


def test_parallel_export_is_identical_to_serial(tmp_path: Path) -> None:
    from kennai.tiles import export_pmtiles

    centre = gpd.GeoSeries([shapely.Point(LON, LAT)], crs="EPSG:4326").to_crs("EPSG:3857")
    disc = TileLayer("districts", gpd.GeoDataFrame({"name": ["円"]},
                                                   geometry=centre.buffer(3000, quad_segs=64).values,
                                                   crs="EPSG:3857"))
    paths = {}
    for workers in (1, 2):
        paths[workers] = tmp_path / f"w{workers}.pmtiles"
        done = export_pmtiles(TileSet([disc], version="v"), paths[workers], minzoom=10,
                              maxzoom=16, workers=workers)
        assert done["addressed"] > 16  # more than one chunk: the pool is really used
    assert paths[1].read_bytes() == paths[2].read_bytes()


def test_an_over_size_tile_says_what_the_policy_dropped() -> None:
    from kennai.tile_encoding import POLICY_LAYER

    centre = gpd.GeoSeries([shapely.Point(LON, LAT)], crs="EPSG:4326").to_crs("EPSG:3857").iloc[0]
    rng = np.random.default_rng(3)
    boxes = [shapely.box(x, y, x + 40, y + 40) for x, y in
             zip(centre.x + rng.uniform(-300, 300, 2000), centre.y + rng.uniform(-300, 300, 2000),
                 strict=True)]
    buildings = TileLayer("buildings", gpd.GeoDataFrame(geometry=boxes, crs="EPSG:3857"))
    tile = mercantile.tile(LON, LAT, 16)
    assert POLICY_LAYER not in mapbox_vector_tile.decode(encode_tile([buildings], 16, tile.x,
                                                                     tile.y))
    capped = encode_tile([buildings], 16, tile.x, tile.y, max_bytes=200)
    assert len(capped) <= 200
    note = mapbox_vector_tile.decode(capped)[POLICY_LAYER]["features"][0]["properties"]
    assert note == {"detail": 16.0, "dropped": "buildings"}


def test_per_zoom_simplification_keeps_what_per_tile_cutting_kept() -> None:
    """The per-zoom path (simplify the layer once, then clip) against the reference (clip each
    tile, then simplify): the same features, but a line under a pixel as a whole."""
    from kennai.tile_encoding import PIXEL, SIMPLIFY_GRID_UNITS

    rng = np.random.default_rng(11)
    centre = gpd.GeoSeries([shapely.Point(LON, LAT)], crs="EPSG:4326").to_crs("EPSG:3857").iloc[0]
    starts = np.column_stack([centre.x + rng.uniform(-2000, 2000, 400),
                              centre.y + rng.uniform(-2000, 2000, 400)])
    lines = [shapely.LineString(s + np.cumsum(rng.normal(0, 15, (30, 2)), axis=0)) for s in starts]
    layer = TileLayer("roads", gpd.GeoDataFrame({"k": range(400)}, geometry=lines,
                                                crs="EPSG:3857"))
    geoms = np.asarray(layer.frame.geometry.values)
    for z in (12, 14, 16):
        for tile in mercantile.tiles(*mercantile.lnglat(centre.x - 1500, centre.y - 1500),
                                     *mercantile.lnglat(centre.x + 1500, centre.y + 1500), z):
            b = mercantile.xy_bounds(tile)
            scale = EXTENT / (b.right - b.left)
            pad = 64 / scale
            box = (b.left - pad, b.bottom - pad, b.right + pad, b.top + pad)
            ref = shapely.simplify(shapely.clip_by_rect(geoms, *box),
                                   SIMPLIFY_GRID_UNITS / scale, preserve_topology=True)
            ref_ids = set(np.flatnonzero(shapely.length(ref) * scale >= PIXEL))
            got = {f["id"] for f in layer.features((b.left, b.bottom, b.right, b.top), z)}
            assert got <= ref_ids
            assert len(ref_ids - got) <= max(1, len(ref_ids) // 100)
