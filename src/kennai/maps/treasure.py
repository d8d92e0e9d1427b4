"""宝物マップ: a printable map of one district's gathering places with a matching list.

One page (A4/A3, landscape/portrait) holds a title, the district outlined over a basemap drawn
from the region's own data (neighbours faded), numbered markers styled by category with a legend,
a list whose numbers match the markers (ordered along a short tour so that neighbours on the map
are neighbours in the list), optional shading of a walking-time area, a scale bar, a north
arrow, the date and the attribution of every source. Text is Japanese in an embedded font.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
import shapely
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.patheffects import withStroke

from kennai.access.surface import (  # noqa: F401  (the maps' access analysis, used through this module)
    access_results,
    district_place_minutes,
    no_network_area,
    place_minutes,
    walk_area,
)
from kennai.atomic import atomic_path
from kennai.config import POLYGON_KINDS
from kennai.errors import KennaiError, NotFoundError
from kennai.i18n import t
from kennai.maps.basemap import Basemap, is_osm_path, load_basemap
from kennai.region import Region

Paper = Literal["A4", "A3"]
Orientation = Literal["landscape", "portrait"]

#: Paper sizes in millimetres, landscape (width, height).
PAPER_MM: dict[str, tuple[float, float]] = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
#: Output formats by file suffix.
FORMATS = {".pdf": "pdf", ".png": "png", ".svg": "svg"}
OSM_ATTRIBUTION = "© OpenStreetMap contributors"

# Okabe–Ito colours (readable for colour-blind readers) and shapes that hold a number.
_COLOURS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7A5195",
            "#8C6D31", "#4D4D4D")
_MARKERS = ("o", "s", "D", "h", "H", "8", "o", "s", "D")
#: Marker area factors so that every shape holds its number like the circle does.
_MARKER_SCALE = {"o": 1.0, "s": 0.85, "D": 1.25, "h": 1.1, "H": 1.1, "8": 1.05}
_LAND = "#F6F3EC"
_OUTLINE = "#B2182B"
_SHADE = "#4DAF4A"
_UNSERVED = "#9E9E9E"
_ROAD_STYLE = {  # class: (casing colour, fill colour, width in pt, dashed)
    "major": ("#C98D4A", "#F7C98B", 2.6, False),
    "medium": ("#C9B06A", "#FCEBB0", 2.0, False),
    "minor": ("#B8B2A7", "#FFFFFF", 1.3, False),
    "path": (None, "#9A9183", 0.5, True),
}
_FONT_NAMES = ("IPAexGothic", "IPAGothic", "IPAPGothic", "VL Gothic", "TakaoGothic",
               "Noto Sans CJK JP", "Noto Sans JP", "Source Han Sans JP")
_FONT_FILES = ("ipaexg.ttf", "ipag.ttf", "ipagp.ttf", "VL-Gothic-Regular.ttf", "TakaoGothic.ttf",
               "NotoSansCJK-Regular.ttc", "NotoSansJP-Regular.otf", "SourceHanSansJP-Regular.otf")
_PT_MM = 25.4 / 72.0


class TreasureMapError(KennaiError):
    """A treasure map cannot be made as asked (bad option, no Japanese font, bad output name)."""


# ---------------------------------------------------------------------------------------------
# Fonts


@dataclass(frozen=True)
class JapaneseFont:
    """The Japanese font used for every text of a page: its family name and file."""

    name: str
    path: Path

    @property
    def truetype(self) -> bool:
        """TrueType outlines embed as Type 42 (CID) in PDF; CFF/collections go as Type 3."""
        return self.path.suffix.lower() == ".ttf"


@functools.cache
def japanese_font() -> JapaneseFont:
    """Find an installed Japanese font (``KENNAI_FONT`` may name a file to use instead).

    Raises
    ------
    TreasureMapError
        When none is installed (see ``scripts/setup_system.sh``).
    """
    from matplotlib import font_manager as fm

    override = os.environ.get("KENNAI_FONT")
    if override:
        path = Path(override)
        if not path.is_file():
            raise TreasureMapError(t("KENNAI_FONT のフォントファイルがありません",
                                     "the font file in KENNAI_FONT does not exist"), path=path,
                                   hint=t("TrueType (.ttf) の日本語フォントを指定してください",
                                          "name a Japanese TrueType (.ttf) font"))
        fm.fontManager.addfont(str(path))
        return JapaneseFont(fm.FontProperties(fname=str(path)).get_name(), path)
    by_name: dict[str, str] = {}
    for entry in fm.fontManager.ttflist:
        by_name.setdefault(entry.name, entry.fname)
    for name in _FONT_NAMES:
        if name in by_name and Path(by_name[name]).is_file():
            return JapaneseFont(name, Path(by_name[name]))
    # matplotlib's font cache can predate the font's installation: look at the files once.
    files = {Path(f).name: f for f in fm.findSystemFonts()}
    for fname in _FONT_FILES:
        if fname in files:
            fm.fontManager.addfont(files[fname])
            return JapaneseFont(fm.FontProperties(fname=files[fname]).get_name(),
                                Path(files[fname]))
    raise TreasureMapError(t("日本語フォントが見つかりません", "no Japanese font is installed"),
                           hint=t("scripts/setup_system.sh を実行してください"
                                  "（apt-get install -y fonts-ipaexfont-gothic）",
                                  "run scripts/setup_system.sh "
                                  "(apt-get install -y fonts-ipaexfont-gothic)"))


@functools.cache
def _has_bold(name: str) -> bool:
    from matplotlib import font_manager as fm

    return any(f.name == name and int(f.weight) >= 600 for f in fm.fontManager.ttflist
               if isinstance(f.weight, int | float))


def _bold(colour: str, size: float) -> dict[str, Any]:
    """Bold text options: the bold face when the font has one, else a thin outline stroke."""
    if _has_bold(japanese_font().name):
        return {"fontweight": "bold"}
    return {"path_effects": [withStroke(linewidth=max(size * 0.045, 0.25), foreground=colour)]}


def font_rc(font: JapaneseFont | None = None) -> dict[str, Any]:
    """matplotlib settings that draw and embed every text in the Japanese font."""
    font = font or japanese_font()
    return {"font.family": [font.name], "axes.unicode_minus": False,
            "pdf.fonttype": 42 if font.truetype else 3, "svg.fonttype": "path",
            "pdf.compression": 6}


# ---------------------------------------------------------------------------------------------
# Which places, in which order, with which style


def _district_row(region: Region, layer: str, district: str) -> tuple[gpd.GeoDataFrame, int]:
    if layer not in POLYGON_KINDS:
        raise NotFoundError(t(f"「{layer}」は区域のレイヤではありません",
                              f"{layer!r} is not a district layer"), feature=layer,
                            hint=t(f"{' / '.join(POLYGON_KINDS)} のどれかを指定してください",
                                   f"use one of {', '.join(POLYGON_KINDS)}"))
    districts = region.layer(layer)
    hits = np.flatnonzero(districts["name"].to_numpy() == district)
    if not len(hits):
        names = "、".join(districts["name"].astype(str).tolist())
        raise NotFoundError(t(f"区域「{district}」は {layer} にありません",
                              f"no district {district!r} in {layer}"), feature=district,
                            hint=t(f"あるもの: {names}", f"there are: {names}"))
    return districts, int(hits[0])


def order_places(xy: np.ndarray) -> np.ndarray:
    """An order of points along a short open tour, starting at the north-west.

    A nearest-neighbour tour improved by 2-opt: points close on the map get close numbers, so a
    reader finds No. 4 next to No. 3.
    """
    n = len(xy)
    if n <= 1:
        return np.arange(n)
    xy = np.asarray(xy, dtype=float)
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    start = int(np.argmin(xy[:, 0] - xy[:, 1]))
    tour = [start]
    free = np.ones(n, dtype=bool)
    free[start] = False
    for _ in range(n - 1):
        d = np.where(free, dist[tour[-1]], np.inf)
        nxt = int(np.argmin(d))
        tour.append(nxt)
        free[nxt] = False
    path = np.asarray(tour)
    for _ in range(20):  # 2-opt on an open path (the first point stays first)
        improved = False
        for i in range(1, n - 1):
            for j in range(i + 1, n):
                a, b = path[i - 1], path[i]
                c = path[j]
                d_old = dist[a, b] + (dist[c, path[j + 1]] if j + 1 < n else 0.0)
                d_new = dist[a, c] + (dist[b, path[j + 1]] if j + 1 < n else 0.0)
                if d_new < d_old - 1e-9:
                    path[i:j + 1] = path[i:j + 1][::-1]
                    improved = True
        if not improved:
            break
    return path


def district_places(region: Region, *, layer: str, district: str,
                    categories: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """The places inside a district, numbered 1… in map order (column ``number``).

    Parameters
    ----------
    categories
        Keep only these categories (all when ``None``).

    Raises
    ------
    NotFoundError
        For an unknown layer, district or category.
    """
    districts, row = _district_row(region, layer, district)
    places = region.layer("places")
    if categories:
        known = list(dict.fromkeys(places["category"].astype(str)))
        unknown = [c for c in categories if c not in known]
        if unknown:
            raise NotFoundError(t(f"種別「{'、'.join(unknown)}」の場所はありません",
                                  f"no places of category {', '.join(unknown)}"),
                                feature="categories",
                                hint=t(f"あるもの: {'、'.join(known)}", f"there are: {', '.join(known)}"))
        places = places[places["category"].isin(list(categories))]
    shape = districts.geometry.iloc[row]
    inside = places[shapely.covered_by(places.geometry.values, shape)]
    inside = inside.sort_values("place_id", kind="stable")
    order = order_places(shapely.get_coordinates(inside.geometry.values))
    out = inside.iloc[order].reset_index(drop=True)
    out.insert(0, "number", np.arange(1, len(out) + 1))
    return out


@dataclass(frozen=True)
class CategoryStyle:
    """How a category's markers look: fill colour, marker shape and number colour."""

    colour: str
    marker: str
    text_colour: str


def _text_on(colour: str) -> str:
    r, g, b = mpl.colors.to_rgb(colour)
    return "#1A1A1A" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.55 else "#FFFFFF"


def category_styles(categories: Sequence[str]) -> dict[str, CategoryStyle]:
    """A style per category, in the given order (use the region's order to keep pages alike)."""
    styles = {}
    for i, cat in enumerate(dict.fromkeys(categories)):
        colour = _COLOURS[i % len(_COLOURS)]
        styles[cat] = CategoryStyle(colour, _MARKERS[i % len(_MARKERS)], _text_on(colour))
    return styles


def region_category_styles(region: Region) -> dict[str, CategoryStyle]:
    """Styles for every category of the region's places (same colours on every page)."""
    return category_styles(region.layer("places")["category"].astype(str).tolist())


def _clean(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


def schedule_text(place: Mapping[str, Any]) -> str:
    """Day and time of a place in one line: 曜日, 開始～終了, and the free-text note."""
    days = _clean(place.get("weekdays"))
    start, end = _clean(place.get("start_time")), _clean(place.get("end_time"))
    hours = f"{start}～{end}" if start or end else ""
    return " ".join(x for x in (days, hours, _clean(place.get("schedule_note"))) if x)


def address_prefix(addresses: Sequence[str]) -> str:
    """The common 都道府県＋市区町村 part of addresses, to print once in the list header."""
    addrs = [a for a in addresses if a]
    if not addrs:
        return ""
    common = addrs[0]
    for a in addrs[1:]:
        n = next((i for i, (x, y) in enumerate(zip(common, a, strict=False)) if x != y),
                 min(len(common), len(a)))
        common = common[:n]
    m = re.match(r"^(.*?(?:都|道|府|県)?.*?[市区町村])", common)
    if not m:
        return ""
    prefix = m.group(1)
    # Keep the municipality whole: stop after the last 市/区/町/村 that ends the shared part.
    cut = max(prefix.rfind(c) for c in "市区町村")
    return prefix[:cut + 1] if all(len(a) > cut + 1 for a in addrs) else ""


# ---------------------------------------------------------------------------------------------
# Layout helpers


def _char_em(ch: str) -> float:
    return 1.0 if unicodedata.east_asian_width(ch) in ("W", "F", "A") else 0.56


_WORD_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.:/()@"
_NO_LINE_START = set("、。，．・：；？！）」』】〕ー～ぁぃぅぇぉっゃゅょァィゥェォッャュョ,.:;)!?")


def wrap_text(text: str, width_em: float) -> list[str]:
    """Break text into lines of at most ``width_em`` ems (Japanese breaks between characters).

    Spaces are preferred break points; a line never starts with closing punctuation (禁則).
    """
    lines: list[str] = []
    for para in str(text).splitlines() or [""]:
        line, width = "", 0.0
        for ch in para:
            w = _char_em(ch)
            if width + w > width_em and line:
                cut = line.rfind(" ")
                run = len(line) - len(line.rstrip(_WORD_CHARS))  # a number like 2172-1
                if ch in _NO_LINE_START or ch in _WORD_CHARS:
                    k = run if 0 < run < len(line) else int(ch in _NO_LINE_START and len(line) > 1)
                    while 0 < k < len(line) and line[-k] in _NO_LINE_START:
                        k += 1  # 「）、」 run: carry them all with the character before
                    if k >= len(line):
                        k = 0  # nothing sensible to carry: break here
                    carry, line = line[len(line) - k:], line[:len(line) - k]
                elif cut > len(line) // 2:
                    carry, line = line[cut + 1:], line[:cut]
                else:
                    carry = ""
                lines.append(line.rstrip())
                line = carry
                width = sum(_char_em(c) for c in line)
                if ch == " " and not line:
                    continue
            line += ch
            width += w
        lines.append(line.rstrip())
    return lines


def spread_labels(anchors: np.ndarray, *, min_distance: float,
                  bounds: tuple[float, float, float, float] | None = None,
                  iterations: int = 400) -> np.ndarray:
    """Positions for markers near their anchors such that no two are closer than ``min_distance``.

    Overlapping markers are pushed apart pairwise (coincident ones in fixed directions, so the
    result is deterministic); markers that need not move stay on their place.
    """
    p = np.asarray(anchors, dtype=float).copy()
    n = len(p)
    if n < 2:
        return p
    idx = np.arange(n)
    lo_i, hi_i = np.minimum.outer(idx, idx), np.greater.outer(idx, idx)
    golden = np.pi * (3 - np.sqrt(5))
    fallback = np.stack([np.cos(golden * lo_i), np.sin(golden * lo_i)], axis=-1)
    fallback = np.where(hi_i[..., None], fallback, -fallback)
    for _ in range(iterations):
        d = p[:, None, :] - p[None, :, :]
        dist = np.hypot(d[..., 0], d[..., 1])
        np.fill_diagonal(dist, np.inf)
        overlap = dist < min_distance * 0.999
        if not overlap.any():
            break
        unit = np.where((dist > 1e-9)[..., None], d / np.where(dist > 1e-9, dist, 1)[..., None],
                        fallback)
        push = np.where(overlap, (min_distance - np.where(np.isinf(dist), 0, dist)) * 0.5, 0.0)
        p += 0.6 * (unit * push[..., None]).sum(axis=1)
        if bounds is not None:
            p[:, 0] = np.clip(p[:, 0], bounds[0], bounds[2])
            p[:, 1] = np.clip(p[:, 1], bounds[1], bounds[3])
    return p


def _nice_length(target: float) -> float:
    exp = 10 ** np.floor(np.log10(target))
    return float(max(m * exp for m in (1, 2, 2.5, 5, 10) if m * exp <= target))


def _fmt_m(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def attributions(region: Region, basemap: Basemap | None = None) -> list[str]:
    """Every source to credit: the config's list, each layer's own, and OSM when used."""
    cfg = region.config
    items = list(cfg.attribution)
    items += [lc.attribution for lc in cfg.layers.values() if lc.attribution]
    uses_osm = (basemap.osm if basemap is not None else False) or any(
        is_osm_path(Path(s.path)) for lc in cfg.layers.values() for s in lc.sources)
    if uses_osm and not any("openstreetmap" in a.lower() for a in items):
        items.append(OSM_ATTRIBUTION)
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------------------------------------
# Drawing


def _polygon_path(geom: shapely.Geometry) -> MplPath | None:
    """A matplotlib path (holes included) of a polygon or multipolygon."""
    verts, codes = [], []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            verts.append(xy)
            codes.append([MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY])
    if not verts:
        return None
    return MplPath(np.concatenate(verts), np.concatenate(codes))


def _polys(ax: Any, geoms: Sequence[shapely.Geometry], **kw: Any) -> None:
    paths = [p for p in (_polygon_path(g) for g in geoms) if p is not None]
    if paths:
        ax.add_collection(PatchCollection([PathPatch(p) for p in paths], **kw))


def _lines(ax: Any, geoms: Sequence[shapely.Geometry], **kw: Any) -> None:
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return
    if any(g.geom_type in ("Polygon", "MultiPolygon") for g in geoms):
        geoms = [g.boundary if g.geom_type in ("Polygon", "MultiPolygon") else g for g in geoms]
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    coords, index = shapely.get_coordinates(parts, return_index=True)
    splits = np.flatnonzero(np.diff(index)) + 1
    ax.add_collection(LineCollection(np.split(coords, splits), **kw))


@dataclass(frozen=True)
class _Page:
    """Page geometry in millimetres: figure size and the map, list and header boxes."""

    width: float
    height: float
    map_box: tuple[float, float, float, float]   # left, bottom, width, height
    list_box: tuple[float, float, float, float]


def _page(paper: str, orientation: str) -> _Page:
    if paper not in PAPER_MM:
        raise TreasureMapError(t(f"用紙「{paper}」は使えません", f"unknown paper size {paper!r}"),
                               feature="paper", hint=t("A4 か A3 を指定してください", "use A4 or A3"))
    if orientation not in ("landscape", "portrait"):
        raise TreasureMapError(t(f"向き「{orientation}」は使えません",
                                 f"unknown orientation {orientation!r}"), feature="orientation",
                               hint=t("landscape か portrait を指定してください",
                                      "use landscape or portrait"))
    w, h = PAPER_MM[paper]
    if orientation == "portrait":
        w, h = h, w
    margin, header, footer, gap = 10.0, 22.0, 14.0, 6.0
    inner_w, inner_h = w - 2 * margin, h - header - footer
    bottom = footer
    if orientation == "landscape":
        map_w = inner_w * 0.60
        return _Page(w, h, (margin, bottom, map_w, inner_h),
                     (margin + map_w + gap, bottom, inner_w - map_w - gap, inner_h))
    map_h = inner_h * 0.60
    return _Page(w, h, (margin, bottom + inner_h - map_h, inner_w, map_h),
                 (margin, bottom, inner_w, inner_h - map_h - gap))


def _view(shape: shapely.Geometry, box_mm: tuple[float, float, float, float]
          ) -> tuple[float, float, float, float]:
    """The map extent holding ``shape`` with a margin, in the map box's aspect ratio."""
    minx, miny, maxx, maxy = shape.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    w, h = max(maxx - minx, 50.0) * 1.10, max(maxy - miny, 50.0) * 1.10
    aspect = box_mm[2] / box_mm[3]
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _draw_basemap(ax: Any, base: Basemap) -> None:
    _polys(ax, base.water.geometry.values, facecolor="#B9D7EA", edgecolor="none", zorder=1.5)
    _polys(ax, base.buildings.geometry.values, facecolor="#DDD6CB", edgecolor="#C9C0B2",
           linewidth=0.2, zorder=1.8)
    _lines(ax, base.towns.geometry.values, colors="#C8C0B0", linewidths=0.4,
           linestyles=(0, (2, 2)), zorder=2.0)
    for kind, lw in (("river", 1.6), ("canal", 1.2)):
        sel = base.waterways["kind"] == kind
        _lines(ax, base.waterways.geometry.values[sel.to_numpy()], colors="#8DBBD9",
               linewidths=lw, zorder=2.2)
    minor_ww = ~base.waterways["kind"].isin(["river", "canal"]).to_numpy()
    _lines(ax, base.waterways.geometry.values[minor_ww], colors="#8DBBD9", linewidths=0.6,
           zorder=2.2)
    _lines(ax, base.coastline.geometry.values, colors="#5B9BC8", linewidths=1.2, zorder=2.3)
    cls = base.roads["cls"].to_numpy()
    geoms = base.roads.geometry.values
    for order, name in enumerate(("path", "minor", "medium", "major")):
        casing, fill, width, dashed = _ROAD_STYLE[name]
        sel = geoms[cls == name]
        if casing:
            _lines(ax, sel, colors=casing, linewidths=width + 0.8, capstyle="round",
                   zorder=2.5 + order * 0.1)
        _lines(ax, sel, colors=fill, linewidths=width, capstyle="round",
               linestyles=(0, (1.5, 1.5)) if dashed else "solid", zorder=2.55 + order * 0.1)
    _lines(ax, base.rail.geometry.values, colors="#555555", linewidths=2.0, zorder=3.0)
    _lines(ax, base.rail.geometry.values, colors="#FFFFFF", linewidths=1.1,
           linestyles=(0, (4, 4)), zorder=3.05)


def _draw_scale_and_north(ax: Any, view: tuple[float, float, float, float], m_per_mm: float) -> None:
    minx, miny, maxx, _ = view
    length = _nice_length((maxx - minx) * 0.22)
    bar_h = 1.4 * m_per_mm
    x0 = maxx - 8 * m_per_mm - length
    y0 = miny + 7 * m_per_mm
    ax.add_patch(Rectangle((x0 - 3 * m_per_mm, y0 - 4.5 * m_per_mm), length + 9 * m_per_mm,
                           10 * m_per_mm, facecolor="white", edgecolor="#999999", alpha=0.85,
                           linewidth=0.4, zorder=11))
    for k in range(4):
        ax.add_patch(Rectangle((x0 + k * length / 4, y0), length / 4, bar_h,
                               facecolor="#222222" if k % 2 == 0 else "white",
                               edgecolor="#222222", linewidth=0.6, zorder=12))
    for frac in (0.0, 0.5, 1.0):
        label = _fmt_m(length * frac) if frac else "0"
        ax.text(x0 + length * frac, y0 - 0.8 * m_per_mm, label, ha="center", va="top",
                fontsize=6.5, zorder=12)
    ax.add_patch(Rectangle((0.93, 0.845), 0.05, 0.135, transform=ax.transAxes, facecolor="white",
                           edgecolor="#999999", linewidth=0.4, alpha=0.85, zorder=11))
    # North arrow: grid north of the plane rectangular CRS (differs from true north by <1°).
    ax.annotate("", xy=(0.955, 0.965), xytext=(0.955, 0.885), xycoords="axes fraction",
                arrowprops={"arrowstyle": "-|>,head_width=0.5,head_length=1.0", "lw": 1.6,
                            "color": "#222222"}, zorder=12)
    ax.text(0.955, 0.87, "N", transform=ax.transAxes, ha="center", va="top", fontsize=10,
            zorder=12, **_bold("#222222", 10))


def _draw_markers(ax: Any, places: gpd.GeoDataFrame, styles: Mapping[str, CategoryStyle],
                  view: tuple[float, float, float, float], m_per_mm: float,
                  diameter_mm: float) -> None:
    if places.empty:
        return
    anchors = shapely.get_coordinates(places.geometry.values)
    r = diameter_mm / 2 * m_per_mm
    inner = (view[0] + r, view[1] + r, view[2] - r, view[3] - r)
    pos = spread_labels(anchors, min_distance=diameter_mm * 1.12 * m_per_mm, bounds=inner)
    moved = np.hypot(*(pos - anchors).T) > 0.3 * diameter_mm * m_per_mm
    size = (diameter_mm / _PT_MM) ** 2
    for i, place in enumerate(places.itertuples(index=False)):
        style = styles[str(place.category)]
        if moved[i]:
            ax.plot([anchors[i, 0], pos[i, 0]], [anchors[i, 1], pos[i, 1]], color="#333333",
                    linewidth=0.7, zorder=8, solid_capstyle="round")
            ax.scatter([anchors[i, 0]], [anchors[i, 1]], s=9, color=style.colour,
                       edgecolors="#333333", linewidths=0.5, zorder=8.5)
        ax.scatter([pos[i, 0]], [pos[i, 1]], s=size * _MARKER_SCALE[style.marker],
                   marker=style.marker, color=style.colour,
                   edgecolors="white", linewidths=1.2, zorder=9)
        ax.text(pos[i, 0], pos[i, 1], str(place.number), ha="center", va="center_baseline",
                fontsize=diameter_mm * 1.45 if place.number < 10 else diameter_mm * 1.25,
                color=style.text_colour, zorder=10, **_bold(style.text_colour, diameter_mm * 1.4))


def _draw_map(fig: Figure, page: _Page, *, districts: gpd.GeoDataFrame, row: int,
              places: gpd.GeoDataFrame, styles: Mapping[str, CategoryStyle], base: Basemap,
              shade: gpd.GeoDataFrame | None, shade_label: str,
              unserved: gpd.GeoDataFrame | None, layer_title: str) -> None:
    box = page.map_box
    ax = fig.add_axes((box[0] / page.width, box[1] / page.height, box[2] / page.width,
                       box[3] / page.height))
    shape = districts.geometry.iloc[row]
    view = _view(shape, box)
    m_per_mm = (view[2] - view[0]) / box[2]
    ax.set_xlim(view[0], view[2])
    ax.set_ylim(view[1], view[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.8)
        spine.set_color("#555555")
    ax.set_facecolor("#FFFFFF")
    vbox = shapely.box(*view)
    base = base.clip(view)
    _polys(ax, districts.geometry.values, facecolor=_LAND, edgecolor="none", zorder=1)
    _draw_basemap(ax, base)
    if shade is not None and not shade.empty:
        _polys(ax, shade.geometry.values, facecolor=_SHADE, edgecolor="none", alpha=0.28, zorder=4)
    has_unserved = unserved is not None and not unserved.empty and \
        shapely.intersects(shapely.union_all(unserved.geometry.values), shape)
    if has_unserved:
        _polys(ax, unserved.geometry.values, facecolor="none", edgecolor=_UNSERVED, hatch="////",
               linewidth=0, zorder=4.2)
    # Fade everything outside the district (the neighbours stay visible, but pale).
    veil = shapely.difference(vbox, shape)
    _polys(ax, [veil], facecolor="white", edgecolor="none", alpha=0.55, zorder=5)
    others = districts.drop(index=districts.index[row])
    _lines(ax, others.geometry.values, colors="#9A9A9A", linewidths=0.8, zorder=5.5)
    _lines(ax, [shape], colors="white", linewidths=4.5, zorder=6, alpha=0.9)
    _lines(ax, [shape], colors=_OUTLINE, linewidths=2.2, zorder=6.1)
    inner_view = shapely.box(*np.add(view, np.multiply((1, 1, -1, -1), 0.04 * (view[2] - view[0]))))
    for name, pt in zip(others["name"], others.geometry.representative_point(), strict=True):
        if inner_view.contains(pt):
            ax.text(pt.x, pt.y, str(name), ha="center", va="center", fontsize=8, color="#8A8A8A",
                    zorder=6.5)
    towns = base.towns
    if not towns.empty:
        pts = towns.geometry.representative_point()
        keep = shapely.covered_by(pts.values, shape)
        for name, pt in zip(towns["name"].to_numpy()[keep], pts.values[keep], strict=True):
            ax.text(pt.x, pt.y, str(name), ha="center", va="center", fontsize=5.5,
                    color="#8C8273", zorder=6.4)
    _draw_markers(ax, places, styles, view, m_per_mm, diameter_mm=5.2)
    _draw_scale_and_north(ax, view, m_per_mm)
    handles: list[Any] = [
        Line2D([], [], linestyle="none", marker=styles[c].marker, markersize=8.5,
               markerfacecolor=styles[c].colour, markeredgecolor="white", label=c)
        for c in dict.fromkeys(places["category"].astype(str))]
    handles.append(Line2D([], [], color=_OUTLINE, linewidth=2.2, label=f"{layer_title}の境界"))
    if shade is not None and not shade.empty:
        handles.append(Patch(facecolor=_SHADE, alpha=0.4, label=shade_label))
    if has_unserved:
        handles.append(Patch(facecolor="none", edgecolor=_UNSERVED, hatch="////",
                             label="道路データなし（未評価）"))
    if not base.rail.empty:
        handles.append(Line2D([], [], color="#555555", linewidth=2, label="鉄道"))
    leg = ax.legend(handles=handles, loc="lower left", fontsize=6.5, frameon=True,
                    framealpha=0.9, borderpad=0.6, handletextpad=0.5, labelspacing=0.5)
    leg.set_zorder(12)
    leg.get_frame().set_linewidth(0.4)
    if places.empty:
        ax.text(0.5, 0.5, "この区域には登録された場所がありません", transform=ax.transAxes,
                ha="center", va="center", fontsize=11, color="#555555", zorder=12,
                bbox={"facecolor": "white", "edgecolor": "#999999", "alpha": 0.9})


_COLUMNS = ("No.", "名称", "種別", "曜日・時間", "住所")


def _column_widths(rows: list[list[str]], total_mm: float) -> list[float]:
    """Column widths (mm): No. fixed, the text columns by how long their content is."""
    no = max(7.0, 0.07 * total_mm)
    natural = np.array([max([sum(_char_em(c) for c in r[i]) for r in rows] + [len(_COLUMNS[i])])
                        for i in range(1, len(_COLUMNS))], dtype=float)
    weight = np.clip(natural, 4.0, 22.0) ** 0.75
    share = np.maximum(weight / weight.sum(), 0.14)
    return [no, *((total_mm - no) * share / share.sum()).tolist()]


def _list_rows(places: gpd.GeoDataFrame, prefix: str) -> list[list[str]]:
    rows = []
    for p in places.to_dict("records"):
        addr = _clean(p.get("address"))
        if prefix and addr.startswith(prefix):
            addr = addr[len(prefix):]
        rows.append([str(p["number"]), _clean(p["name"]), _clean(p["category"]), schedule_text(p),
                     addr])
    return rows


def _layout_list(rows: list[list[str]], widths_mm: list[float], height_mm: float
                 ) -> tuple[float, list[list[list[str]]]]:
    """The largest font size (pt) at which all wrapped rows fit, and the wrapped cells."""
    for size in np.arange(8.5, 3.9, -0.5):
        em = size * _PT_MM
        wrapped = [[wrap_text(cell, (w - 2.0) / em) for cell, w in zip(r, widths_mm, strict=True)]
                   for r in rows]
        lines = sum(max(len(c) for c in r) for r in wrapped)
        total = (lines * 1.3 + len(rows) * 0.9 + 2.2) * em + 6.0  # 6 mm for the note below
        if total <= height_mm:
            return float(size), wrapped
    return 4.0, wrapped


def _draw_list(fig: Figure, page: _Page, places: gpd.GeoDataFrame,
               styles: Mapping[str, CategoryStyle]) -> None:
    box = page.list_box
    ax = fig.add_axes((box[0] / page.width, box[1] / page.height, box[2] / page.width,
                       box[3] / page.height))
    ax.set_xlim(0, box[2])
    ax.set_ylim(box[3], 0)
    ax.axis("off")
    prefix = address_prefix([_clean(a) for a in places.get("address", pd.Series(dtype=str))])
    rows = _list_rows(places, prefix)
    widths = _column_widths(rows, box[2])
    lefts = np.concatenate([[0.0], np.cumsum(widths)[:-1]])
    size, wrapped = _layout_list(rows, widths, box[3])
    em = size * _PT_MM
    line_h, pad = em * 1.3, em * 0.45
    head_h = em * 2.2
    ax.add_patch(Rectangle((0, 0), box[2], head_h, facecolor="#3B3B3B", edgecolor="none"))
    headers = list(_COLUMNS)
    for (x, w), head in zip(zip(lefts, widths, strict=True), headers, strict=True):
        head_lines = wrap_text(head, (w - 2.0) / em)
        ax.text(x + 1.0, head_h / 2, "\n".join(head_lines[:2]), va="center", ha="left",
                fontsize=size, color="white", linespacing=1.0, **_bold("white", size))
    y = head_h
    for i, (place, cells) in enumerate(zip(places.to_dict("records"), wrapped, strict=True)):
        n_lines = max(len(c) for c in cells)
        h = n_lines * line_h + 2 * pad
        if i % 2:
            ax.add_patch(Rectangle((0, y), box[2], h, facecolor="#F1EEE7", edgecolor="none"))
        style = styles[str(place["category"])]
        cx, cy = lefts[0] + widths[0] / 2, y + pad + line_h / 2
        ax.scatter([cx], [cy], s=(em * 1.75 / _PT_MM) ** 2 * min(_MARKER_SCALE[style.marker], 1.1),
                   marker=style.marker,
                   color=style.colour, edgecolors="white", linewidths=0.6, zorder=3)
        ax.text(cx, cy, cells[0][0], ha="center", va="center_baseline", fontsize=size * 0.9,
                color=style.text_colour, zorder=4, **_bold(style.text_colour, size))
        for col in range(1, len(_COLUMNS)):
            ax.text(lefts[col] + 1.0, y + pad, "\n".join(cells[col]), ha="left", va="top",
                    fontsize=size, linespacing=1.3 * 0.83, color="#1A1A1A")
        y += h
        ax.plot([0, box[2]], [y, y], color="#D5CFC2", linewidth=0.4)
    if places.empty:
        ax.text(box[2] / 2, head_h + 8, "（該当なし）", ha="center", va="top", fontsize=9,
                color="#555555")
    elif prefix:
        ax.text(0.5, y + 1.5, f"※ 住所の「{prefix}」は省略しています。", ha="left", va="top",
                fontsize=min(size, 7.0), color="#555555")
    y += 8.0
    if box[3] - y >= 30.0:  # room left: a box for hand-written notes (photos, comments, contacts)
        ax.add_patch(Rectangle((0, y), box[2], box[3] - y, facecolor="none", edgecolor="#B8B2A7",
                               linewidth=0.6, linestyle=(0, (3, 2))))
        ax.text(2.0, y + 2.0, "メモ（写真・ひとこと・連絡先など）", ha="left", va="top", fontsize=7,
                color="#8C8273")


def _draw_header_footer(fig: Figure, page: _Page, *, title: str, subtitle: str,
                        date: dt.date, credits: list[str]) -> None:
    top = 1 - 9.5 / page.height
    fig.text(10 / page.width, top, title, fontsize=22 if page.width > 250 else 19,
             va="center", ha="left", color="#222222", **_bold("#222222", 20))
    fig.text(1 - 10 / page.width, top, subtitle, fontsize=9, va="center", ha="right",
             color="#444444")
    fig.add_artist(Line2D([10 / page.width, 1 - 10 / page.width],
                          [1 - 17 / page.height] * 2, color=_OUTLINE, linewidth=1.2))
    date_text = (f"作成日 {date.year}年{date.month}月{date.day}日 ・ kennai で作成"
                 "（背景図も地域のデータから作成）")
    credit = "クレジット：" + " ／ ".join(credits) if credits else ""
    width_em = (page.width - 20) / (6.0 * _PT_MM)
    lines = [date_text, *wrap_text(credit, width_em)] if credit else [date_text]
    fig.text(10 / page.width, 10.5 / page.height, "\n".join(lines[:3]), fontsize=6.0,
             va="top", ha="left", color="#444444", linespacing=1.35)


def _as_shade(shade: gpd.GeoDataFrame | gpd.GeoSeries | None, region: Region
              ) -> gpd.GeoDataFrame | None:
    if shade is None:
        return None
    if isinstance(shade, gpd.GeoSeries):
        shade = gpd.GeoDataFrame(geometry=shade)
    if shade.crs is None:
        raise TreasureMapError(t("塗る範囲に CRS がありません", "the area to shade has no CRS"),
                               feature="shade", hint=t("CRS を付けて渡してください",
                                                       "give it a CRS"))
    shade = shade.to_crs(region.crs)
    return shade[shade.geom_type.isin(["Polygon", "MultiPolygon"])]


def render_treasure_map(
    region: Region,
    *,
    layer: str,
    district: str,
    paper: Paper = "A4",
    orientation: Orientation = "landscape",
    categories: Sequence[str] | None = None,
    shade: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    shade_label: str = "徒歩圏",
    unserved: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    title: str | None = None,
    date: dt.date | None = None,
    basemap: Basemap | None = None,
) -> Figure:
    """Draw one district's treasure map as a matplotlib Figure (one page).

    Parameters
    ----------
    layer, district
        The district layer (``elementary`` …) and the district's ``name``.
    categories
        Only these place categories (all when ``None``).
    shade
        Polygons to shade (e.g. the area within a walking time), in any CRS.
    unserved
        Polygons drawn hatched as "no network data" (see :func:`no_network_area`).
    title
        The page title (default 「<district>の宝物マップ」).
    basemap
        A basemap loaded once with :func:`~kennai.maps.basemap.load_basemap` (atlases reuse it).

    Raises
    ------
    NotFoundError, TreasureMapError
        For an unknown layer, district or category, bad paper options or no Japanese font.
    """
    page = _page(paper, orientation)
    districts, row = _district_row(region, layer, district)
    places = district_places(region, layer=layer, district=district, categories=categories)
    styles = region_category_styles(region)
    base = basemap if basemap is not None else load_basemap(region)
    layer_cfg = region.config.layers.get(layer)
    layer_title = (layer_cfg.title if layer_cfg and layer_cfg.title else
                   {"elementary": "小学校区", "junior_high": "中学校区",
                    "neighbourhood": "自治会"}.get(layer, layer))
    font = japanese_font()
    with mpl.rc_context(font_rc(font)):
        fig = Figure(figsize=(page.width / 25.4, page.height / 25.4))
        fig.set_facecolor("white")
        _draw_map(fig, page, districts=districts, row=row, places=places, styles=styles,
                  base=base, shade=_as_shade(shade, region), shade_label=shade_label,
                  unserved=_as_shade(unserved, region), layer_title=layer_title)
        _draw_list(fig, page, places, styles)
        subtitle = (f"{region.config.title}　{layer_title}「{district}」　"
                    f"通いの場・集いの場 {len(places)} か所")
        _draw_header_footer(fig, page, title=title or f"{district}の宝物マップ", subtitle=subtitle,
                            date=date or dt.date.today(), credits=attributions(region, base))
    return fig


# ---------------------------------------------------------------------------------------------
# Writing files


def output_format(path: Path) -> str:
    """The file format from the output name's suffix (pdf, png, svg)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TreasureMapError(t(f"出力形式「{path.suffix}」は使えません",
                                 f"unsupported output format {path.suffix!r}"), path=path,
                               hint=t(".pdf / .png / .svg（対話地図は .html）を指定してください",
                                      "use .pdf, .png or .svg (.html for the interactive map)"))
    return fmt


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp)`` and move the result onto ``path`` (never a half-written file)."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def _metadata(fmt: str, title: str) -> dict[str, Any]:
    if fmt == "pdf":
        return {"Title": title, "Creator": "kennai"}
    if fmt == "svg":
        return {"Title": title}
    return {"Software": "kennai"}


def write_treasure_map(region: Region, path: str | Path, *, layer: str, district: str,
                       dpi: int = 200, **options: Any) -> Path:
    """Render one district's treasure map to a PDF, PNG or SVG file (written atomically).

    ``options`` are those of :func:`render_treasure_map`.
    """
    path = Path(path)
    fmt = output_format(path)
    fig = render_treasure_map(region, layer=layer, district=district, **options)
    title = options.get("title") or f"{district}の宝物マップ"

    def _save(tmp: Path) -> None:
        with mpl.rc_context(font_rc()):
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_metadata(fmt, title))

    return atomic_write(path, _save)


def treasure_map_bytes(region: Region, *, layer: str, district: str, fmt: str = "pdf",
                       dpi: int = 200, **options: Any) -> bytes:
    """One district's page as PDF/PNG/SVG bytes (for the API's ``GET …/treasure-map``)."""
    import io

    if fmt not in FORMATS.values():
        raise TreasureMapError(t(f"形式「{fmt}」は使えません", f"unsupported format {fmt!r}"),
                               feature="format", hint=t("pdf / png / svg を指定してください",
                                                        "use pdf, png or svg"))
    fig = render_treasure_map(region, layer=layer, district=district, **options)
    buf = io.BytesIO()
    with mpl.rc_context(font_rc()):
        fig.savefig(buf, format=fmt, dpi=dpi,
                    metadata=_metadata(fmt, options.get("title") or f"{district}の宝物マップ"))
    return buf.getvalue()


def write_atlas(region: Region, path: str | Path, *, layer: str,
                districts: Sequence[str] | None = None, title: str | None = None,
                **options: Any) -> Path:
    """One page per district in a single PDF, like a QGIS atlas (written atomically).

    ``title`` may contain ``{district}``; ``options`` are those of :func:`render_treasure_map`.
    """
    from matplotlib.backends.backend_pdf import PdfPages

    path = Path(path)
    if output_format(path) != "pdf":
        raise TreasureMapError(t("全区域の地図帳は PDF にだけ書けます", "an atlas can only be a PDF"),
                               path=path, hint=t("-o に .pdf を指定してください", "give -o a .pdf"))
    names = list(districts) if districts is not None else \
        region.layer(layer)["name"].astype(str).tolist()
    options.setdefault("basemap", load_basemap(region))

    def _save(tmp: Path) -> None:
        with mpl.rc_context(font_rc()), PdfPages(tmp, metadata={
                "Title": f"{region.config.title} 宝物マップ", "Creator": "kennai"}) as pdf:
            for name in names:
                page_title = title.format(district=name) if title else None
                fig = render_treasure_map(region, layer=layer, district=name, title=page_title,
                                          **options)
                pdf.savefig(fig)

    return atomic_write(path, _save)


# ---------------------------------------------------------------------------------------------
# Access results → the shading and the walking times shown on the maps


def walk_label(minutes: float | None) -> str:
    """The legend label of the shaded walking area (「徒歩10分圏」)."""
    return f"徒歩{minutes:g}分圏" if minutes is not None else "徒歩圏"
