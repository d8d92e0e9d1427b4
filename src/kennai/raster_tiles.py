"""PNG map tiles (XYZ) of the walking-minutes surface, drawn in fixed classes with a legend.

The access engine stores a Cloud-Optimised GeoTIFF of walking minutes to the nearest gathering
place (region CRS, float32, NaN where there is no network). :class:`SurfaceTiles` reads it with
rio-tiler (Web Mercator tiles, nearest resampling so a class never blends into its neighbour)
and colours each cell by a :class:`ColourScale` of fixed breaks in minutes, so the colours mean
the same minutes in every tile, at every zoom and in the legend the web page draws.

Each serving thread keeps one reader open; a tile whose footprint holds no cell with a value is
answered empty without reading (:class:`Coverage`); a tile is written as an 8-bit palette PNG
(:func:`palette_png`), which decodes to the same pixels as the RGBA image it stands for.
"""

from __future__ import annotations

import itertools
import math
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kennai.errors import InputError, NotFoundError
from kennai.i18n import t
from kennai.tiles import TileLRU, check_tile

PNG_TYPE = "image/png"


@dataclass(frozen=True)
class ColourScale:
    """Classes of walking minutes: ``breaks`` (ascending) cut the values into
    ``len(breaks) + 1`` classes, coloured ``colours`` (``#rrggbb``), drawn at ``opacity``."""

    breaks: tuple[float, ...]
    colours: tuple[str, ...]
    unit: str = "min"
    opacity: float = 0.7

    def __post_init__(self) -> None:
        if len(self.colours) != len(self.breaks) + 1 or list(self.breaks) != sorted(set(self.breaks)):
            raise ValueError("a colour scale needs ascending breaks and one more colour than breaks")

    def classes(self) -> list[tuple[float, float]]:
        """``(low, high)`` of every class; the last one is open (``high`` = ∞)."""
        edges = [0.0, *map(float, self.breaks), math.inf]
        return list(itertools.pairwise(edges))

    def legend(self) -> list[dict[str, Any]]:
        """The legend as JSON-ready rows: range, colour and labels in Japanese and English."""
        rows = []
        for (low, high), colour in zip(self.classes(), self.colours, strict=True):
            lo = _num(low)
            if math.isinf(high):
                ja, en = f"{lo}分以上", f"{lo}+ min"
            else:
                ja, en = f"{lo}〜{_num(high)}分", f"{lo}–{_num(high)} min"
            rows.append({"min": low, "max": None if math.isinf(high) else high, "colour": colour,
                         "label": ja, "label_en": en})
        return rows

    def palette(self) -> np.ndarray:
        """``(classes + 1, 4)`` uint8 RGBA: transparent first, then each class's colour."""
        return np.array([[0, 0, 0, 0]] + [
            [int(c[i:i + 2], 16) for i in (1, 3, 5)] + [round(255 * self.opacity)]
            for c in self.colours], dtype=np.uint8)

    def index(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Each cell's row of :meth:`palette`: 0 where not ``valid``, else its class + 1."""
        idx = np.digitize(np.nan_to_num(values, nan=0.0), np.asarray(self.breaks, dtype=float))
        return np.where(valid, idx + 1, 0).astype(np.uint8)

    def rgba(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """An ``(h, w, 4)`` uint8 image of ``values``; cells not ``valid`` are transparent."""
        return self.palette()[self.index(values, valid)]

    def png(self, values: np.ndarray, valid: np.ndarray) -> bytes:
        """:meth:`rgba` as a PNG: an 8-bit palette image (with per-entry alpha), which decodes
        to exactly those pixels and is written in a fraction of the time of an RGBA one."""
        return palette_png(self.index(values, valid), self.palette())


def palette_png(index: np.ndarray, palette: np.ndarray, *, level: int = 6) -> bytes:
    """An ``(h, w)`` image of rows of an RGBA ``palette`` (at most 256) as PNG bytes: colour
    type 3 with a ``tRNS`` chunk for the alpha, no filter, zlib at ``level``."""
    h, w = index.shape
    rows = np.zeros((h, w + 1), dtype=np.uint8)  # each scanline: filter type 0, then the indices
    rows[:, 1:] = index
    rgba = np.asarray(palette, dtype=np.uint8)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"".join([b"\x89PNG\r\n\x1a\n",
                     chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)),
                     chunk(b"PLTE", rgba[:, :3].tobytes()), chunk(b"tRNS", rgba[:, 3].tobytes()),
                     chunk(b"IDAT", zlib.compress(rows.tobytes(), level)), chunk(b"IEND", b"")])


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


#: Walking minutes 0–5 / 5–10 / 10–15 / 15–20 / 20+: green (near) to dark red (far).
MINUTES_SCALE = ColourScale(breaks=(5, 10, 15, 20),
                            colours=("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#b2182b"))


#: Rasters up to this many cells keep a map of where they have values (a byte per cell).
MAX_COVER_CELLS = 50_000_000


class Coverage:
    """Where a north-up raster has values, to tell a tile that would come out empty without
    reading it (most tiles over a city's extent fall where its walk network is not).

    A tile is empty when no cell with a value lies within its footprint widened by two cells of
    the coarsest overview and one tile pixel: the tile's pixels are nearest-neighbour samples
    of cells in that footprint (the warper's approximation is a fraction of a pixel), so they
    would all be transparent.
    """

    def __init__(self, path: Path, *, tilesize: int) -> None:
        import pyproj
        import rasterio

        with rasterio.open(path) as ds:
            self.transform = ds.transform
            self.usable = (ds.transform.b == 0 and ds.transform.d == 0 and ds.crs is not None
                           and ds.width * ds.height <= MAX_COVER_CELLS)
            if not self.usable:
                return
            band = ds.read(1, masked=True)
            self.valid = ~np.ma.getmaskarray(band) & np.isfinite(band.data)
            coarsest = max(ds.overviews(1), default=1)
            self.cell = max(abs(ds.transform.a), abs(ds.transform.e)) * coarsest
            self.to_raster = pyproj.Transformer.from_crs("EPSG:3857", ds.crs, always_xy=True)
        self.tilesize = tilesize

    def empty(self, z: int, x: int, y: int) -> bool:
        """Whether the tile ``z/x/y`` surely holds no cell with a value (``False``: read it)."""
        import mercantile

        if not self.usable:
            return False
        b = mercantile.xy_bounds(x, y, z)
        edge = np.linspace(0.0, 1.0, 21)
        xs = np.concatenate([b.left + edge * (b.right - b.left), np.full(21, b.right),
                             b.right - edge * (b.right - b.left), np.full(21, b.left)])
        ys = np.concatenate([np.full(21, b.top), b.top - edge * (b.top - b.bottom),
                             np.full(21, b.bottom), b.bottom + edge * (b.top - b.bottom)])
        px, py = self.to_raster.transform(xs, ys)
        px, py = np.asarray(px), np.asarray(py)
        if not (np.isfinite(px).all() and np.isfinite(py).all()):
            return False
        margin = 2 * self.cell + max(np.ptp(px), np.ptp(py)) / self.tilesize
        t = self.transform
        cols = sorted(((px.min() - margin - t.c) / t.a, (px.max() + margin - t.c) / t.a))
        rows = sorted(((py.min() - margin - t.f) / t.e, (py.max() + margin - t.f) / t.e))
        h, w = self.valid.shape
        c0, c1 = max(0, math.floor(cols[0])), min(w, math.ceil(cols[1]))
        r0, r1 = max(0, math.floor(rows[0])), min(h, math.ceil(rows[1]))
        return c0 >= c1 or r0 >= r1 or not bool(self.valid[r0:r1, c0:c1].any())


class SurfaceTiles:
    """PNG tiles of a single-band raster (a walking-minutes COG) coloured by a scale.

    Parameters
    ----------
    path
        The GeoTIFF (any CRS; a COG reads fastest).
    scale
        The colour classes (default :data:`MINUTES_SCALE`).
    tilesize
        Tile width in pixels (256 matches the web page's raster source).
    memory_tiles
        How many PNGs the in-memory LRU keeps.
    """

    def __init__(self, path: Path, *, scale: ColourScale = MINUTES_SCALE, tilesize: int = 256,
                 memory_tiles: int = 4096) -> None:
        from rio_tiler.io import Reader

        self.path = Path(path)
        if not self.path.is_file():
            raise NotFoundError(t("歩行時間の面（GeoTIFF）がありません",
                                  "there is no walking-minutes raster"),
                                path=self.path, hint=t("kennai build でアクセスを計算してください",
                                                       "run kennai build to compute access"))
        try:
            with Reader(str(self.path)) as src:
                self.bounds = [round(float(v), 6) for v in src.get_geographic_bounds("EPSG:4326")]
                self.minzoom, self.maxzoom = int(src.minzoom), int(src.maxzoom)
        except Exception as exc:  # rasterio/rio-tiler raise many kinds for unreadable files
            raise InputError(t("GeoTIFF を読めません", "cannot read the GeoTIFF"), path=self.path,
                             hint=t(f"ファイルが壊れていないか確認してください（{exc}）",
                                    f"check the file ({exc})")) from None
        self.scale = scale
        self.tilesize = tilesize
        self.memory = TileLRU(memory_tiles)
        stat = self.path.stat()
        self.version = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
        self._readers = threading.local()
        self._coverage: Coverage | None = None
        self._coverage_lock = threading.Lock()

    def coverage(self) -> Coverage:
        """Where the raster has values (read once, on first use)."""
        with self._coverage_lock:
            if self._coverage is None:
                self._coverage = Coverage(self.path, tilesize=self.tilesize)
            return self._coverage

    def _reader(self) -> Any:
        """This thread's open reader of the raster (a dataset handle is not to be shared
        between threads; opening one per tile cost more than reading the tile)."""
        reader = getattr(self._readers, "reader", None)
        if reader is None:
            from rio_tiler.io import Reader

            reader = self._readers.reader = Reader(str(self.path))
        return reader

    def render(self, z: int, x: int, y: int) -> bytes:
        """One tile as PNG bytes, no cache (empty bytes when the raster does not reach it)."""
        from rio_tiler.errors import TileOutsideBounds

        check_tile(z, x, y)
        if self.coverage().empty(z, x, y):
            return b""
        try:  # rio-tiler's tile() checks the tile touches the raster (TileOutsideBounds if not)
            img = self._reader().tile(x, y, z, tilesize=self.tilesize, indexes=1)
        except TileOutsideBounds:
            return b""
        values = img.array.data[0].astype(np.float64)
        valid = ~np.ma.getmaskarray(img.array)[0] & np.isfinite(values)
        if not valid.any():
            return b""
        return self.scale.png(values, valid)

    def value_at(self, lon: float, lat: float) -> float | None:
        """The raster's value at a point in degrees (``None`` off the raster or on nodata)."""
        from rio_tiler.errors import PointOutsideBounds

        try:
            pt = self._reader().point(lon, lat, indexes=1)
        except PointOutsideBounds:
            return None
        value = float(pt.array.data[0])
        if bool(np.ma.getmaskarray(pt.array)[0]) or not math.isfinite(value):
            return None
        return round(value, 2)

    def tile(self, z: int, x: int, y: int) -> bytes:
        """A tile from the memory cache, else rendered (and kept)."""
        data = self.cached(z, x, y)
        if data is None:
            data = self.render(z, x, y)
            self.memory.put((z, x, y), data)
        return data

    def cached(self, z: int, x: int, y: int) -> bytes | None:
        """The tile when the memory cache holds it, else ``None``."""
        return self.memory.get((z, x, y))

    def legend(self) -> dict[str, Any]:
        """The legend of the tiles (classes, colours, labels) plus the raster's extent."""
        return {"unit": self.scale.unit, "opacity": self.scale.opacity,
                "classes": self.scale.legend(),
                "nodata": {"label": "歩行ネットワーク外（色なし）",
                           "label_en": "off the walk network (clear)"},
                "bounds": self.bounds, "minzoom": self.minzoom, "maxzoom": self.maxzoom}
