"""PNG tiles of a walking-minutes COG: fixed classes, transparent nodata, legend, point values."""

from __future__ import annotations

import io
from pathlib import Path

import mercantile
import numpy as np
import pytest
from PIL import Image

from kennai.errors import NotFoundError
from kennai.raster_tiles import MINUTES_SCALE, ColourScale, SurfaceTiles

rasterio = pytest.importorskip("rasterio")
pytest.importorskip("rio_tiler")

LON, LAT = 138.28, 34.86  # the raster's north-west corner
RES = 50.0


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def cog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 km × 2 km COG in EPSG:6676: minutes = 0.75 × column (0 … 29), west 5 columns NaN."""
    import pyproj
    from rasterio.transform import from_origin

    x0, y0 = pyproj.Transformer.from_crs(4326, 6676, always_xy=True).transform(LON, LAT)
    minutes = np.tile(np.arange(40, dtype=np.float32) * 0.75, (40, 1))
    minutes[:, :5] = np.nan
    path = tmp_path_factory.mktemp("surface") / "surface.tif"
    with rasterio.open(path, "w", driver="COG", width=40, height=40, count=1, dtype="float32",
                       crs="EPSG:6676", transform=from_origin(x0, y0, RES, RES),
                       nodata=np.nan) as ds:
        ds.write(minutes, 1)
    return path


def _lonlat_of(cog: Path, col: float, row: float) -> tuple[float, float]:
    import pyproj

    with rasterio.open(cog) as ds:
        x, y = ds.transform @ (col, row)
    return pyproj.Transformer.from_crs(6676, 4326, always_xy=True).transform(x, y)


def _pixel(png: bytes, tile: mercantile.Tile, lon: float, lat: float) -> tuple[int, ...]:
    b = mercantile.bounds(tile)
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    w, h = image.size
    wx, ny = mercantile.xy(b.west, b.north)
    ex, sy = mercantile.xy(b.east, b.south)
    px, py = mercantile.xy(lon, lat)
    return image.getpixel((int((px - wx) / (ex - wx) * w), int((ny - py) / (ny - sy) * h)))


def test_legend_has_fixed_minute_classes() -> None:
    legend = MINUTES_SCALE.legend()
    assert [(r["min"], r["max"]) for r in legend] == [(0, 5), (5, 10), (10, 15), (15, 20), (20, None)]
    assert legend[0]["label"] == "0〜5分" and legend[-1]["label_en"] == "20+ min"
    with pytest.raises(ValueError):
        ColourScale(breaks=(10, 5), colours=("#000000", "#111111", "#222222"))


def test_classes_are_coloured_by_minutes(cog: Path) -> None:
    tiles = SurfaceTiles(cog)
    assert tiles.legend()["classes"][2]["colour"] == MINUTES_SCALE.colours[2]
    west, south, east, north = tiles.bounds
    assert west == pytest.approx(LON, abs=1e-4) and north == pytest.approx(LAT, abs=1e-4)
    assert west < east < LON + 0.03 and LAT - 0.03 < south < north
    # Sample the middle of columns whose minutes fall in the five classes, at zoom 16.
    for col, cls in ((5.5, 0), (8.5, 1), (15.5, 2), (22.5, 3), (35.5, 4)):
        lon, lat = _lonlat_of(cog, col, 20.5)
        tile = mercantile.tile(lon, lat, 16)
        r, g, b, a = _pixel(tiles.tile(16, tile.x, tile.y), tile, lon, lat)
        assert (r, g, b) == _rgb(MINUTES_SCALE.colours[cls]), (col, (r, g, b))
        assert a == round(255 * MINUTES_SCALE.opacity)
    lon, lat = _lonlat_of(cog, 2.5, 20.5)  # a nodata column: transparent
    tile = mercantile.tile(lon, lat, 16)
    assert _pixel(tiles.tile(16, tile.x, tile.y), tile, lon, lat)[3] == 0


def test_empty_and_cached_tiles(cog: Path) -> None:
    tiles = SurfaceTiles(cog, memory_tiles=4)
    far = mercantile.tile(0.0, 0.0, 14)
    assert tiles.tile(14, far.x, far.y) == b""
    tile = mercantile.tile(LON + 0.01, LAT - 0.01, 15)
    first = tiles.tile(15, tile.x, tile.y)
    assert first.startswith(b"\x89PNG") and tiles.cached(15, tile.x, tile.y) == first


def test_value_at(cog: Path) -> None:
    tiles = SurfaceTiles(cog)
    lon, lat = _lonlat_of(cog, 10.5, 10.5)
    assert tiles.value_at(lon, lat) == pytest.approx(7.5)
    lon, lat = _lonlat_of(cog, 1.5, 10.5)
    assert tiles.value_at(lon, lat) is None
    assert tiles.value_at(0.0, 0.0) is None


def test_missing_raster(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        SurfaceTiles(tmp_path / "none.tif")


def _old_rgba(scale: ColourScale, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The RGBA image as it was made before the palette (the reference)."""
    lut = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] + [round(255 * scale.opacity)]
                    for c in scale.colours], dtype=np.uint8)
    out = lut[np.digitize(np.nan_to_num(values, nan=0.0), np.asarray(scale.breaks, dtype=float))]
    out[~valid] = 0
    return out


def _decoded(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_palette_png_decodes_to_the_rgba_image() -> None:
    from rio_tiler.utils import render

    rng = np.random.default_rng(3)
    values = rng.uniform(-1, 40, (256, 256))
    values[:, :7] = np.nan
    values[100] = [5, 10, 15, 20] * 64  # on the breaks
    valid = np.isfinite(values) & (rng.random((256, 256)) > 0.2)
    rgba = MINUTES_SCALE.rgba(values, valid)
    assert (rgba == _old_rgba(MINUTES_SCALE, values, valid)).all()
    old = render(np.moveaxis(rgba, -1, 0), img_format="PNG")
    new = MINUTES_SCALE.png(values, valid)
    assert (_decoded(new) == _decoded(old)).all() and (_decoded(new) == rgba).all()


def _as_before(path: Path, minzoom: int, maxzoom: int) -> int:
    """Every tile over the raster between two zooms against the way tiles were made before
    (a reader opened per tile, the RGBA image rendered by rio-tiler); how many had pixels."""
    from rio_tiler.io import Reader
    from rio_tiler.utils import render

    tiles = SurfaceTiles(path)
    west, south, east, north = tiles.bounds
    compared = 0
    for tile in mercantile.tiles(west - 0.01, south - 0.01, east + 0.01, north + 0.01,
                                 range(minzoom, maxzoom + 1)):
        got = tiles.render(tile.z, tile.x, tile.y)
        with Reader(str(path)) as src:
            if not src.tile_exists(tile.x, tile.y, tile.z):
                assert got == b"", tile
                continue
            img = src.tile(tile.x, tile.y, tile.z, tilesize=256, indexes=1)
        values = img.array.data[0].astype(np.float64)
        valid = ~np.ma.getmaskarray(img.array)[0] & np.isfinite(values)
        if not valid.any():
            assert got == b"", tile
            continue
        ref = render(np.moveaxis(_old_rgba(MINUTES_SCALE, values, valid), -1, 0), img_format="PNG")
        assert (_decoded(got) == _decoded(ref)).all(), tile
        compared += 1
    return compared


def test_tiles_decode_as_the_rgba_tiles_did(cog: Path) -> None:
    assert _as_before(cog, 12, 18) > 10


def test_demo_surface_tiles_decode_as_before(demo) -> None:
    """The demo town's walking-minutes surface (its nodata gaps: where tiles are skipped
    unread), every tile of zooms 12-17."""
    from kennai.access import load_access

    surface = load_access(demo.build_dir).surface_path
    assert surface is not None
    assert _as_before(surface, 12, 17) > 10
