"""Read 国土地理院 基盤地図情報 DEM tiles as GSI distributes them, and mosaic them into a GeoTIFF.

GSI's download service gives the 数値標高モデル as JPGIS (FGD_GMLSchema 2008) XML files named
``FG-GML-<mesh>-DEM5A|DEM5B|DEM10A|DEM10B-<date>.xml``, one per 3rd-level mesh (5 m) or
2nd-level mesh (10 m), usually many to a zip (sometimes zips inside a zip). Each file holds:

- ``gml:Envelope`` with ``gml:lowerCorner`` / ``gml:upperCorner`` as **latitude longitude**
  (JGD2011, ``fguuid:jgd2011.bl`` = EPSG:6668);
- ``gml:GridEnvelope`` ``low`` / ``high`` (e.g. ``0 0`` / ``224 149``: 225 columns, 150 rows);
- ``gml:tupleList``: one ``type,value`` line per cell (``地表面,145.30``); ``内水面`` (inland
  water), ``海水面`` and ``データなし`` cells, and the value ``-9999.``, are no-data;
- ``gml:sequenceRule order="+x-y"``: west to east, then north to south, starting at
  ``gml:startPoint`` (``x y``). A tile may hold fewer values than cells: the rest are no-data.

The mosaic is written on the tiles' own EPSG:6668 grid (0.2″ for 5 m, 0.4″ for 10 m), with no
resampling: every cell keeps the value GSI published, neighbouring tiles meet on the same cell
edges (positions are snapped to whole cells, so no seam opens between them), and
:func:`kennai.graph.sample_dem` reprojects the points it samples into the DEM's CRS anyway.
Where a 5 m and a 10 m tile overlap, the 5 m value wins; a 10 m tile alone is repeated onto the
finer grid. DEM "A" (laser survey) wins over "B" (photogrammetry).

Files are read with :func:`xml.etree.ElementTree.iterparse`, element by element, and each
tile's elements are released once read. GSI needs a login to download, so ``kennai fetch``
cannot get these files; users download them and put them in the folder.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import ParseError, iterparse

import numpy as np
from affine import Affine
from pyproj import CRS

from kennai.atomic import atomic_path
from kennai.errors import InputError
from kennai.i18n import t

#: The CRS of every GSI DEM tile (JGD2011 geographic).
DEM_CRS = CRS.from_epsg(6668)
#: No-data value written to the GeoTIFF.
NODATA = -9999.0
#: Cell types that carry no ground elevation.
NODATA_TYPES = frozenset({"内水面", "海水面", "データなし"})
_KIND_RE = re.compile(r"DEM(5A|5B|10A|10B)", re.IGNORECASE)
_SNIFF_BYTES = 4096


@dataclass(frozen=True)
class DemTile:
    """One GSI DEM tile: its grid, bounds and elevations (NaN where there is no data)."""

    source: str
    mesh: str
    kind: str
    west: float
    south: float
    east: float
    north: float
    values: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the tile's grid."""
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    @property
    def res_arcsec(self) -> float:
        """Cell size in arc-seconds (0.2 for 5 m tiles, 0.4 for 10 m), rounded to 1e-4″."""
        return round((self.east - self.west) * 3600.0 / self.shape[1], 4)


def _bad(source: str, ja: str, en: str, feature: str | None = None) -> InputError:
    return InputError(t(f"国土地理院 DEM として読めません: {ja}", f"not a readable GSI DEM: {en}"),
                      path=source, feature=feature,
                      hint=t("基盤地図情報ダウンロードサービスの DEM（JPGIS GML の .xml か .zip）を"
                             "指定してください",
                             "give a 基盤地図情報 DEM as GSI distributes it (JPGIS GML .xml or .zip)"))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _pair(text: str | None, source: str, what: str) -> tuple[float, float]:
    parts = (text or "").split()
    try:
        a, b = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        raise _bad(source, f"{what} が数値の組ではありません（{text!r}）",
                   f"{what} is not a pair of numbers ({text!r})") from None
    return a, b


def _tuples(text: str, source: str) -> np.ndarray:
    """Elevations of a ``gml:tupleList`` (NaN for no-data types and -9999.)."""
    lines = text.split()
    values = np.empty(len(lines), dtype=np.float64)
    for i, line in enumerate(lines):
        kind, _, value = line.partition(",")
        try:
            values[i] = np.nan if kind in NODATA_TYPES else float(value)
        except ValueError:
            raise _bad(source, f"tupleList の {i + 1} 行目が「種別,標高」ではありません（{line!r}）",
                       f"tupleList line {i + 1} is not 'type,value' ({line!r})",
                       feature=f"tupleList {i + 1}") from None
    values[values <= NODATA] = np.nan
    return values


def parse_gsi_dem(stream: IO[bytes], source: str) -> DemTile:
    """Parse one GSI DEM XML document from a binary stream.

    Parameters
    ----------
    stream
        The XML bytes (a file or a zip member).
    source
        The name used in messages (the file, or ``zip!member``).

    Returns
    -------
    DemTile
        The tile's grid, bounds (lon/lat) and elevations in metres.

    Raises
    ------
    InputError
        When the document is not a GSI DEM, or its grid and values disagree.
    """
    found: dict[str, str] = {}
    order = "+x-y"
    try:
        for _, elem in iterparse(stream, events=("end",)):
            name = _local(elem.tag)
            if name in {"mesh", "type", "lowerCorner", "upperCorner", "low", "high",
                        "tupleList", "startPoint"} and name not in found:
                found[name] = elem.text or ""
            elif name == "sequenceRule":
                order = elem.get("order", order)
            if name in {"tupleList", "DEM", "coverage"}:
                elem.clear()
    except ParseError as exc:
        raise _bad(source, f"XML の構文エラー（{exc}）", f"XML syntax error ({exc})") from None
    missing = [k for k in ("lowerCorner", "upperCorner", "low", "high", "tupleList")
               if k not in found]
    if missing:
        raise _bad(source, f"{', '.join(missing)} がありません", f"it has no {', '.join(missing)}")
    if order != "+x-y":
        raise _bad(source, f"未対応の並び順 {order}", f"unsupported sequence order {order}")
    south, west = _pair(found["lowerCorner"], source, "lowerCorner")
    north, east = _pair(found["upperCorner"], source, "upperCorner")
    lo_x, lo_y = _pair(found["low"], source, "low")
    hi_x, hi_y = _pair(found["high"], source, "high")
    cols, rows = int(hi_x - lo_x) + 1, int(hi_y - lo_y) + 1
    if cols <= 0 or rows <= 0 or not (west < east and south < north):
        raise _bad(source, "格子の大きさか範囲が不正です", "the grid size or envelope is invalid")
    start_x, start_y = _pair(found.get("startPoint", "0 0"), source, "startPoint")
    values = _tuples(found["tupleList"], source)
    start = int(start_y) * cols + int(start_x)
    if start + len(values) > rows * cols:
        raise _bad(source, f"値が {len(values)} 個あり、{rows}×{cols} の格子に収まりません",
                   f"{len(values)} values do not fit a {rows}x{cols} grid")
    grid = np.full(rows * cols, np.nan, dtype=np.float32)
    grid[start:start + len(values)] = values
    kind = _KIND_RE.search(Path(source).name)
    mesh = found.get("mesh", "").strip()
    return DemTile(source, mesh, ("DEM" + kind.group(1).upper()) if kind else "DEM", west, south,
                   east, north, grid.reshape(rows, cols))


def _looks_like_dem(head: bytes) -> bool:
    return b"FGD_GMLSchema" in head and (b"<DEM" in head or "DEM構成点".encode() in head)


def is_gsi_dem(path: str | Path) -> bool:
    """Whether a file is a GSI DEM (an ``.xml``, or a zip holding at least one), from its bytes."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return any(_member_is_dem(zf, m) for m in zf.namelist()[:50])
        with path.open("rb") as fh:
            return _looks_like_dem(fh.read(_SNIFF_BYTES))
    except (OSError, zipfile.BadZipFile):
        return False


def _member_is_dem(zf: zipfile.ZipFile, member: str) -> bool:
    low = member.lower()
    if low.endswith(".xml"):
        with zf.open(member) as fh:
            return _looks_like_dem(fh.read(_SNIFF_BYTES))
    if low.endswith(".zip"):
        with zf.open(member) as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as inner:
            return any(_member_is_dem(inner, m) for m in inner.namelist()[:50])
    return False


def _zip_tiles(zf: zipfile.ZipFile, label: str) -> Iterator[DemTile]:
    for member in sorted(zf.namelist()):
        low = member.lower()
        if low.endswith(".xml"):
            with zf.open(member) as fh:
                if not _looks_like_dem(fh.read(_SNIFF_BYTES)):
                    continue
            with zf.open(member) as fh:
                yield parse_gsi_dem(fh, f"{label}!{member}")
        elif low.endswith(".zip"):
            with zf.open(member) as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as inner:
                yield from _zip_tiles(inner, f"{label}!{member}")


def iter_gsi_tiles(paths: str | Path | Iterable[str | Path]) -> Iterator[DemTile]:
    """Every DEM tile in the given ``.xml`` files, zips (nested zips too) and folders."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    for item in items:
        path = Path(item)
        if path.is_dir():
            yield from iter_gsi_tiles(sorted(p for p in path.rglob("*")
                                             if p.suffix.lower() in {".xml", ".zip"}))
            continue
        if not path.is_file():
            raise InputError(t("ファイルが見つかりません", "file not found"), path=path,
                             hint=t("パスを確認してください", "check the path"))
        if zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as zf:
                    yield from _zip_tiles(zf, str(path))
            except zipfile.BadZipFile:
                raise InputError(t("ZIP ファイルが壊れています", "the zip file is damaged"),
                                 path=path, hint=t("ダウンロードし直してください",
                                                   "download it again")) from None
            continue
        with path.open("rb") as fh:
            yield parse_gsi_dem(fh, str(path))


def _priority(tile: DemTile) -> tuple[float, int, str]:
    # Coarse before fine, B before A: later tiles overwrite earlier ones where they have data.
    return (-tile.res_arcsec, 0 if tile.kind.endswith("B") else 1, tile.source)


def _intersects(tile: DemTile, bounds: tuple[float, float, float, float] | None) -> bool:
    if bounds is None:
        return True
    minx, miny, maxx, maxy = bounds
    return tile.west < maxx and tile.east > minx and tile.south < maxy and tile.north > miny


def read_gsi_dem(
    paths: str | Path | Iterable[str | Path],
    *,
    bounds: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, Affine, CRS]:
    """Mosaic GSI DEM tiles into one elevation grid on their own EPSG:6668 cells.

    Parameters
    ----------
    paths
        ``.xml`` tiles, zips of them (nested zips too) or folders holding them.
    bounds
        Keep only this lon/lat box ``(minx, miny, maxx, maxy)`` (degrees, JGD2011 ≈ WGS84),
        e.g. the region's outline with a margin; cells are kept whole.

    Returns
    -------
    (numpy.ndarray, affine.Affine, pyproj.CRS)
        ``float32`` elevations in metres (NaN = no data), north row first; the grid's transform;
        EPSG:6668.

    Raises
    ------
    InputError
        When a file is not a GSI DEM, or no tile covers ``bounds``.
    """
    tiles = sorted((tile for tile in iter_gsi_tiles(paths) if _intersects(tile, bounds)),
                   key=_priority)
    label = ", ".join(str(p) for p in ([paths] if isinstance(paths, str | Path) else paths))
    if not tiles:
        raise InputError(t("範囲にかかる DEM タイルがありません", "no DEM tile covers the area"),
                         path=label[:200] or None,
                         hint=t("地域を覆うメッシュの DEM をダウンロードしてください",
                                "download the DEM meshes that cover the region"))
    res = min(tile.res_arcsec for tile in tiles)  # arc-seconds of the output grid
    step = res / 3600.0

    def index(deg: float) -> int:
        return round(deg / step)

    x0 = min(index(tile.west) for tile in tiles)
    x1 = max(index(tile.east) for tile in tiles)
    y0 = max(index(tile.north) for tile in tiles)  # north edge, counted northwards
    y1 = min(index(tile.south) for tile in tiles)
    if bounds is not None:
        minx, miny, maxx, maxy = bounds
        x0, x1 = max(x0, int(np.floor(minx / step))), min(x1, int(np.ceil(maxx / step)))
        y0, y1 = min(y0, int(np.ceil(maxy / step))), max(y1, int(np.floor(miny / step)))
    out = np.full((y0 - y1, x1 - x0), np.nan, dtype=np.float32)
    for tile in tiles:
        factor = round(tile.res_arcsec / res)
        grid = tile.values if factor == 1 else np.repeat(np.repeat(tile.values, factor, axis=0),
                                                         factor, axis=1)
        top, left = y0 - index(tile.north), index(tile.west) - x0
        r0, c0 = max(top, 0), max(left, 0)
        r1 = min(top + grid.shape[0], out.shape[0])
        c1 = min(left + grid.shape[1], out.shape[1])
        if r0 >= r1 or c0 >= c1:
            continue
        piece = grid[r0 - top:r1 - top, c0 - left:c1 - left]
        target = out[r0:r1, c0:c1]
        have = ~np.isnan(piece)
        target[have] = piece[have]
    transform = Affine(step, 0.0, x0 * step, 0.0, -step, y0 * step)
    return out, transform, DEM_CRS


def write_gsi_mosaic(
    paths: str | Path | Iterable[str | Path],
    out_tif: str | Path,
    *,
    bounds: tuple[float, float, float, float] | None = None,
) -> Path:
    """Mosaic GSI DEM tiles (see :func:`read_gsi_dem`) into a GeoTIFF a region can use as ``dem``.

    The GeoTIFF is ``float32``, EPSG:6668, no-data ``-9999``, tiled and deflate-compressed, and
    appears only when it was written whole.

    Returns
    -------
    pathlib.Path
        ``out_tif``.
    """
    import rasterio

    array, transform, crs = read_gsi_dem(paths, bounds=bounds)
    out_tif = Path(out_tif)
    data = np.where(np.isnan(array), NODATA, array).astype(np.float32)
    profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1,
               "dtype": "float32", "crs": crs.to_wkt(), "transform": transform,
               "nodata": NODATA, "compress": "deflate", "predictor": 3}
    if data.shape[0] >= 256 and data.shape[1] >= 256:
        profile |= {"tiled": True, "blockxsize": 256, "blockysize": 256}
    with atomic_path(out_tif) as tmp, rasterio.open(tmp, "w", **profile) as ds:
        ds.write(data, 1)
        ds.update_tags(source="国土地理院 基盤地図情報 数値標高モデル", crs="EPSG:6668")
    return out_tif
