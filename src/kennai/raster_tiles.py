"""PNG map tiles (XYZ) of the walking-minutes surface, drawn in fixed classes with a legend.

The access engine stores a Cloud-Optimised GeoTIFF of walking minutes to the nearest gathering
place (region CRS, float32, NaN where there is no network). :class:`SurfaceTiles` reads it with
rio-tiler (Web Mercator tiles, nearest resampling so a class never blends into its neighbour)
and colours each cell by a :class:`ColourScale` of fixed breaks in minutes, so the colours mean
the same minutes in every tile, at every zoom and in the legend the web page draws.
"""

from __future__ import annotations

import itertools
import math
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

    def rgba(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """An ``(h, w, 4)`` uint8 image of ``values``; cells not ``valid`` are transparent."""
        lut = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] + [round(255 * self.opacity)]
                        for c in self.colours], dtype=np.uint8)
        idx = np.digitize(np.nan_to_num(values, nan=0.0), np.asarray(self.breaks, dtype=float))
        out = lut[idx]
        out[~valid] = 0
        return out


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


#: Walking minutes 0–5 / 5–10 / 10–15 / 15–20 / 20+: green (near) to dark red (far).
MINUTES_SCALE = ColourScale(breaks=(5, 10, 15, 20),
                            colours=("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#b2182b"))


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
                 memory_tiles: int = 1024) -> None:
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

    def render(self, z: int, x: int, y: int) -> bytes:
        """One tile as PNG bytes, no cache (empty bytes when the raster does not reach it)."""
        from rio_tiler.errors import TileOutsideBounds
        from rio_tiler.io import Reader
        from rio_tiler.utils import render

        check_tile(z, x, y)
        with Reader(str(self.path)) as src:
            if not src.tile_exists(x, y, z):
                return b""
            try:
                img = src.tile(x, y, z, tilesize=self.tilesize, indexes=1)
            except TileOutsideBounds:
                return b""
        values = img.array.data[0].astype(np.float64)
        valid = ~np.ma.getmaskarray(img.array)[0] & np.isfinite(values)
        if not valid.any():
            return b""
        rgba = self.scale.rgba(values, valid)
        return render(np.moveaxis(rgba, -1, 0), img_format="PNG")

    def value_at(self, lon: float, lat: float) -> float | None:
        """The raster's value at a point in degrees (``None`` off the raster or on nodata)."""
        from rio_tiler.errors import PointOutsideBounds
        from rio_tiler.io import Reader

        with Reader(str(self.path)) as src:
            try:
                pt = src.point(lon, lat, indexes=1)
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
