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
