"""The numpy MVT layer encoder (:mod:`kennai.mvt`) gives the bytes ``mapbox_vector_tile.encode``
gives, on awkward synthetic features and on every low-zoom tile of real Yaizu data."""

from __future__ import annotations

import pickle

import geopandas as gpd
import mapbox_vector_tile
import mercantile
import numpy as np
import pytest
import shapely
from conftest import PIPELINES, SHARED

from kennai.build import build_region
from kennai.config import load_config
from kennai.mvt import FEW, encode_layer, layer_properties
from kennai.region import Region
from kennai.tile_encoding import EXTENT, TileLayer, encode_tile
from kennai.tile_encoding import MVT_OPTIONS as OPTIONS
from kennai.tiles import region_tile_set


def _reference(name: str, geoms: np.ndarray, rows: np.ndarray, records: list[dict]) -> bytes:
    feats = [{"geometry": g, "properties": records[r], "id": int(r)}
             for g, r in zip(geoms, rows, strict=True)]
    return mapbox_vector_tile.encode([{"name": name, "features": feats}], default_options=OPTIONS)


def _awkward() -> tuple[list[shapely.Geometry], list[dict]]:
    """Features that exercise every rule: rounding half to even, repeated points, lines and
    rings that vanish when rounded, holes, multi-parts, polygons invalid once rounded, and
    property values the library would merge (1 and 1.0, 0.0 and -0.0) or keep apart (True)."""
    rng = np.random.default_rng(7)
    geoms: list[shapely.Geometry] = []
    for i in range(60):
        x, y = rng.uniform(0, EXTENT, 2)
        geoms.append(shapely.Point(x, y))
        geoms.append(shapely.Point(i + 0.5, 2.5))  # halves: to even
        pts = np.cumsum(rng.normal(0, 30, (8, 2)), axis=0) + np.array([x, y])
        geoms.append(shapely.LineString(pts))
        geoms.append(shapely.LineString([(x, y), (x + 0.2, y + 0.1), (x + 0.3, y)]))  # vanishes
        geoms.append(shapely.LineString([(x, y), (x, y), (x + 5, y), (x + 5.2, y), (x + 9, y)]))
        geoms.append(shapely.MultiLineString([[(x, y), (x + 0.1, y)], [(x, y), (x + 20, y + 3)],
                                              [(x + 1, y + 1), (x + 1.2, y + 1.1)],
                                              [(x - 4, y), (x - 4, y + 40)]]))
        box = shapely.box(x, y, x + 50 + i, y + 30)
        geoms.append(box)
        geoms.append(shapely.Polygon(box.exterior.coords[::-1]))  # clockwise: re-oriented
        geoms.append(box.difference(shapely.box(x + 10, y + 10, x + 20, y + 20)))  # a hole
        geoms.append(shapely.box(x, y, x + 0.3, y + 0.3))  # collapses when rounded
        geoms.append(shapely.MultiPolygon([shapely.box(x, y, x + 9, y + 9),
                                           shapely.box(x + 0.1, y + 20, x + 0.2, y + 20.2),
                                           shapely.box(x + 20, y, x + 30, y + 9)]))
        geoms.append(shapely.Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10)]))  # bowtie
        geoms.append(shapely.Polygon([(x, y), (x + 10, y), (x + 10, y + 0.4), (x + 5, y + 0.45),
                                      (x, y + 0.4)]))  # a sliver, invalid once rounded
    values = [1, 1.0, 0.0, -0.0, True, False, "道", "", -3, 2 ** 40, 0.1, 7]
    records = [{"class": values[i % len(values)], "n": i % 5, "w": float(i % 3),
                **({"flag": bool(i % 2)} if i % 4 else {})} for i in range(len(geoms))]
    return geoms, records


def test_awkward_features_encode_as_the_library_does() -> None:
    geoms, records = _awkward()
    props = layer_properties(records)
    arr = np.array(geoms, dtype=object)
    rows = np.arange(len(arr))
    assert len(arr) > FEW
    for pick in (rows, rows[::3], rows[::-7][::-1], rows[rows % 13 == 0]):
        got = encode_layer("t", arr[pick], pick, props, extent=EXTENT, options=OPTIONS)
        assert got == _reference("t", arr[pick], pick, records)
    lines = rows[[isinstance(g, shapely.LineString) and g.length < 1 for g in geoms]]
    lines = np.concatenate([lines] * 5)  # only lines that vanish: the layer, with no features
    assert encode_layer("t", arr[lines], lines, props, extent=EXTENT, options=OPTIONS) == \
        _reference("t", arr[lines], lines, records)


@pytest.fixture(scope="module")
def rosenka(tmp_path_factory: pytest.TempPathFactory) -> Region:
    """焼津市 with the rosenka street centre-lines (29k lines: the heavy low-zoom tiles)."""
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED}")
    cfg = load_config(PIPELINES / "yaizu_rosenka.yaml")
    region, _ = build_region(cfg, build_dir=tmp_path_factory.mktemp("rosenka") / cfg.name)
    return region


def _layer_reference(layer: TileLayer, bounds: tuple[float, float, float, float], z: int, *,
                     detail: float = 1.0) -> bytes:
    feats = layer.features(bounds, z, detail=detail)
    if not feats:
        return b""
    return mapbox_vector_tile.encode([{"name": layer.name, "features": feats}],
                                     default_options=OPTIONS)


@pytest.mark.parametrize("which", ["yaizu", "rosenka"])
def test_real_tiles_encode_as_the_library_does(which: str, request: pytest.FixtureRequest,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    tiles = region_tile_set(request.getfixturevalue(which))
    keys = list(tiles.tiles_in(10, 14))
    keys += list(tiles.tiles_in(15, 16))[::25]
    compared = 0
    for z, x, y in keys:
        b = mercantile.xy_bounds(x, y, z)
        bounds = (b.left, b.bottom, b.right, b.top)
        for layer in tiles.layers:
            for detail in (1.0, 4.0):
                assert layer.encode(bounds, z, detail=detail) == _layer_reference(
                    layer, bounds, z, detail=detail), (layer.name, z, x, y, detail)
                compared += 1
    assert compared > 1000
    # Whole tiles, size policy included, as the library-encoded path makes them.
    fast = [encode_tile(tiles.layers, z, x, y) for z, x, y in keys if z <= 12]
    monkeypatch.setattr(TileLayer, "encode", _layer_reference)
    assert fast == [encode_tile(tiles.layers, z, x, y) for z, x, y in keys if z <= 12]
    assert any(fast)


def test_rosenka_tiles_are_fast_enough_to_matter(rosenka: Region) -> None:
    """Not a timing test: the busiest tiles go through the numpy path (over ``FEW``)."""
    tiles = region_tile_set(rosenka)
    roads = next(ly for ly in tiles.layers if ly.name == "roads")
    z, x, y = max(tiles.tiles_in(11, 11), key=lambda k: len(tiles.render(*k)))
    b = mercantile.xy_bounds(x, y, z)
    geoms, _ = roads.grid((b.left, b.bottom, b.right, b.top), z)
    assert shapely.get_num_coordinates(geoms).sum() > 10 * FEW


def test_pickled_layer_encodes_the_same() -> None:
    """A layer pickled (e.g. to a worker process) with its numbering encodes the same."""
    geoms, records = _awkward()
    frame = gpd.GeoDataFrame(
        records, geometry=[shapely.affinity.scale(g, 10, 10, origin=(0, 0)) for g in geoms],
        crs="EPSG:3857")
    layer = TileLayer("t", frame)
    bounds = (0.0, 0.0, 40960.0 * 4, 40960.0 * 4)
    before = layer.encode(bounds, 14)
    assert pickle.loads(pickle.dumps(layer)).encode(bounds, 14) == before
