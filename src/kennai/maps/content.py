"""What a district's printed map and its interactive twin both show, decided once.

The district and its places (numbered along a short tour, so neighbours on the map are
neighbours in the list), the marker style of each category (the same on every page of a region),
the one-line schedule, the shared address prefix, the credits, the area to shade and its label.
Drawing lives in :mod:`kennai.maps.treasure` (paper) and :mod:`kennai.maps.interactive` (HTML).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
import shapely

from kennai.access.options import AccessOptions
from kennai.errors import NotFoundError, TreasureMapError
from kennai.i18n import t
from kennai.maps.basemap import Basemap
from kennai.region import Region

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
#: The walking area's colour and the no-street-data area's colour and legend (paper and HTML).
SHADE_COLOUR = "#4DAF4A"
UNSERVED_COLOUR = "#9E9E9E"
UNSERVED_LABEL = "道路データなし（未評価）"

# Okabe–Ito colours (readable for colour-blind readers) and shapes that hold a number.
_COLOURS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7A5195",
            "#8C6D31", "#4D4D4D")
_MARKERS = ("o", "s", "D", "h", "H", "8", "o", "s", "D")


# ---------------------------------------------------------------------------------------------
# Which places, in which order


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


#: The prefix of a layer name that asks for a 第2層 plan's areas as the districts.
PLAN_PREFIX = "plan:"
_LAYER_TITLES = {"elementary": "小学校区", "junior_high": "中学校区", "neighbourhood": "自治会"}


def map_district(region: Region, layer: str, district: str) -> tuple[gpd.GeoDataFrame, int]:
    """The districts a map is drawn over and the row of ``district`` in them.

    ``layer`` is a district layer (``elementary``, ``neighbourhood`` …) or ``plan:<name>``, a
    第2層 plan whose areas serve as the districts.

    Raises
    ------
    NotFoundError
        For an unknown layer, plan or district.
    """
    if not layer.startswith(PLAN_PREFIX):
        return region.district_row(layer, district)
    plan = layer.removeprefix(PLAN_PREFIX)
    if plan not in region.plan_names:
        known = ", ".join(region.plan_names)
        raise NotFoundError(t(f"計画「{plan}」はありません（あるもの: {known or 'なし'}）",
                              f"no plan {plan!r} (there are: {known or 'none'})"),
                            feature="--plan", hint=t("設定の plans を確認してください",
                                                     "check the config's plans"))
    areas = region.plan(plan)
    hits = (areas["name"].astype(str).to_numpy() == district).nonzero()[0]
    if not len(hits):
        names = "、".join(areas["name"].astype(str).tolist())
        raise NotFoundError(t(f"圏域「{district}」は計画 {plan} にありません",
                              f"no area {district!r} in plan {plan}"), feature=district,
                            hint=t(f"あるもの: {names}", f"there are: {names}"))
    return areas.reset_index(drop=True), int(hits[0])


def district_names(region: Region, layer: str) -> list[str]:
    """Every district of ``layer`` (a district layer or ``plan:<name>``) once, in layer order:
    the pages of an atlas, numbered as their district pages are.

    Raises
    ------
    NotFoundError
        For an unknown layer or plan.
    """
    plan = layer.removeprefix(PLAN_PREFIX)
    if layer.startswith(PLAN_PREFIX) and plan not in region.plan_names:
        map_district(region, layer, "")  # raises NotFoundError naming the plans there are
    frame = region.plan(plan) if layer.startswith(PLAN_PREFIX) else region.layer(layer)
    return list(dict.fromkeys(frame["name"].astype(str)))


def map_layer_title(region: Region, layer: str) -> str:
    """What the districts are called on a map: the layer's or plan's title (「小学校区」)."""
    if layer.startswith(PLAN_PREFIX):
        plan = layer.removeprefix(PLAN_PREFIX)
        return next((p.title for p in region.config.plans if p.name == plan and p.title),
                    "第2層の圏域")
    cfg = region.config.layers.get(layer)
    return cfg.title if cfg is not None and cfg.title else _LAYER_TITLES.get(layer, layer)


def district_page_url(base: str, *, layer: str, district: str, number: int) -> str:
    """The address of a district's page on the exported site, for the map's QR code.

    ``base`` is the site's address; it may hold ``{layer}``, ``{district}`` and ``{n}`` (the
    district's 1-based place in its layer), else the site's own ``districts/<layer>/<n>.html``
    is appended.
    """
    from urllib.parse import quote

    parts = {"layer": quote(layer, safe=""), "district": quote(district, safe=""), "n": number}
    if any("{" + k + "}" in base for k in parts):
        return base.format(**parts)
    return f"{base.rstrip('/')}/districts/{parts['layer']}/{number}.html"


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
    districts, row = map_district(region, layer, district)
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


# ---------------------------------------------------------------------------------------------
# How a category looks


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


# ---------------------------------------------------------------------------------------------
# The texts


def clean_text(value: object) -> str:
    """A cell as text to print: stripped, and empty for a missing value (None, NaN, NA)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


def schedule_text(place: Mapping[str, object]) -> str:
    """Day and time of a place in one line: how often (週1回以上 …), 曜日, 開始～終了, and the
    free-text note."""
    days = clean_text(place.get("weekdays"))
    start, end = clean_text(place.get("start_time")), clean_text(place.get("end_time"))
    hours = f"{start}～{end}" if start or end else ""
    return " ".join(x for x in (clean_text(place.get("frequency")), days, hours,
                                clean_text(place.get("schedule_note"))) if x)


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


def list_rows(places: gpd.GeoDataFrame) -> tuple[list[list[str]], str]:
    """The cells of the list beside the map (No., 名称, 種別, 曜日・時間, 住所) and the address
    prefix they share, cut from every address to be printed once below the list."""
    prefix = address_prefix([clean_text(a) for a in places.get("address", pd.Series(dtype=str))])
    rows = []
    for p in places.to_dict("records"):
        addr = clean_text(p.get("address"))
        if prefix and addr.startswith(prefix):
            addr = addr[len(prefix):]
        rows.append([str(p["number"]), clean_text(p["name"]), clean_text(p["category"]),
                     schedule_text(p), addr])
    return rows, prefix


def attributions(region: Region, basemap: Basemap | None = None) -> list[str]:
    """Every source to credit: the config's list, each layer's own, and OSM when used."""
    cfg = region.config
    items = list(cfg.attribution)
    items += [lc.attribution for lc in cfg.layers.values() if lc.attribution]
    uses_osm = (basemap.osm if basemap is not None else False) or any(
        s.is_osm for lc in cfg.layers.values() for s in lc.sources)
    if uses_osm and not any("openstreetmap" in a.lower() for a in items):
        items.append(OSM_ATTRIBUTION)
    return list(dict.fromkeys(items))


#: Who walks at a speed profile's pace, for the notes that say the speed.
PROFILE_WALKERS = {"elderly": "高齢者", "adult": "成人"}


def pace_text(options: AccessOptions) -> str:
    """The walking speed the access results assume (「高齢者の歩行速度 0.8 m/s」).

    Taken from the options (profile, or an explicit speed), so a map never claims a pace its
    walking times were not computed at.
    """
    from kennai.graph import speed_for  # scipy, only for a map that says its walking pace

    speed = speed_for(options.profile, options.speed_mps)
    who = PROFILE_WALKERS.get(options.profile) if options.speed_mps is None else None
    return f"{who}の歩行速度 {speed:g} m/s" if who else f"歩行速度 {speed:g} m/s"


def walk_label(minutes: float | None, options: AccessOptions | None = None) -> str:
    """The legend label of the shaded walking area: 「徒歩10分圏（高齢者の歩行速度 0.8 m/s で10分）」
    when the options are known, else 「徒歩10分圏」."""
    if minutes is None:
        return "徒歩圏"
    if options is None:
        return f"徒歩{minutes:g}分圏"
    return f"徒歩{minutes:g}分圏（{pace_text(options)} で{minutes:g}分）"


# ---------------------------------------------------------------------------------------------
# The area to shade


def as_shade(shade: gpd.GeoDataFrame | gpd.GeoSeries | None, region: Region
             ) -> gpd.GeoDataFrame | None:
    """The polygons of an area to shade, in the region's CRS (``None`` stays ``None``).

    Raises
    ------
    TreasureMapError
        When the area has no CRS (its coordinates could be anywhere).
    """
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
