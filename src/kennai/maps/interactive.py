"""The treasure map's interactive twin: one self-contained folium HTML page that works offline.

Same district, same numbers (:func:`~kennai.maps.content.district_places`), same marker colours
and shapes as the printed page; popups give the name, category, schedule, address and, when
access results exist, the walking time from the district's residents. Leaflet's JS and CSS are
inlined from the copy shipped in ``maps/vendor/leaflet`` (BSD-2) and the basemap is drawn from
the region's own data, so opening the file makes no network request at all.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Figure, MacroElement
from jinja2 import Template

from kennai import escape
from kennai.atomic import atomic_dir, atomic_path
from kennai.csp import protect_page
from kennai.i18n import t
from kennai.maps.basemap import Basemap, load_basemap
from kennai.maps.content import (
    SHADE_COLOUR,
    UNSERVED_COLOUR,
    UNSERVED_LABEL,
    CategoryStyle,
    as_shade,
    attributions,
    clean_text,
    district_names,
    district_page_url,
    district_places,
    map_district,
    map_layer_title,
    region_category_styles,
    schedule_text,
)
from kennai.progress import Progress, counted, no_progress
from kennai.region import Region
from kennai.roads import DRAW_ORDER

VENDOR = Path(__file__).resolve().parent / "vendor" / "leaflet"
_EXTERNAL = re.compile(r"""<(?:script|link|img)\b[^>]*(?:src|href)\s*=\s*["']?(?:https?:)?//""",
                       re.IGNORECASE)
_SHAPE_CSS = {  # marker shape on the printed map → CSS of the number badge
    "o": "border-radius:50%;",
    "s": "border-radius:3px;",
    "D": "clip-path:polygon(50% 0,100% 50%,50% 100%,0 50%);",
    "h": "clip-path:polygon(25% 3%,75% 3%,100% 50%,75% 97%,25% 97%,0 50%);",
    "H": "clip-path:polygon(50% 0,97% 25%,97% 75%,50% 100%,3% 75%,3% 25%);",
    "p": "clip-path:polygon(50% 0,100% 38%,82% 100%,18% 100%,0 38%);",
    "8": "clip-path:polygon(30% 0,70% 0,100% 30%,100% 70%,70% 100%,30% 100%,0 70%,0 30%);",
    "^": "clip-path:polygon(50% 0,100% 100%,0 100%);",
    "v": "clip-path:polygon(0 0,100% 0,50% 100%);",
}
_ROAD_STYLE = {  # class: (width in px, fill colour, casing colour)
    "major": (5, "#F7C98B", "#C98D4A"),
    "medium": (4, "#FCEBB0", "#C9B06A"),
    "minor": (3, "#FFFFFF", "#B8B2A7"),
    "path": (1, "#9A9183", None),
}
_PAGE_CSS = """
.leaflet-container{background:#ffffff;font-family:"IPAexGothic","Noto Sans CJK JP",sans-serif;}
.kn-num{width:26px;height:26px;display:flex;align-items:center;justify-content:center;
  font:bold 13px/1 sans-serif;box-shadow:0 0 0 2px #fff;}
.kn-panel{position:absolute;top:10px;right:10px;z-index:1000;background:rgba(255,255,255,.95);
  padding:8px 10px;max-width:320px;max-height:80vh;overflow:auto;border:1px solid #999;
  font-size:12px;border-radius:4px;}
.kn-panel h1{font-size:16px;margin:0 0 4px;color:#222;}
.kn-panel ol{padding-left:0;margin:4px 0;list-style:none;}
.kn-panel li{cursor:pointer;margin:2px 0;}
.kn-panel li b{display:inline-block;min-width:1.8em;}
.kn-credit{color:#555;font-size:10px;margin-top:6px;}
"""


def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS with its images inlined as data URIs."""
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        path = VENDOR / match.group(1)
        if not path.is_file():
            return "none"
        return "url(data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() + ")"

    return js, re.sub(r"url\((images/[^)]+)\)", data_uri, css)


def _geojson(geoms: Sequence[shapely.Geometry], crs: Any, props: list[dict[str, Any]] | None = None
             ) -> dict[str, Any]:
    gdf = gpd.GeoDataFrame(props or [{} for _ in geoms], geometry=list(geoms), crs=crs)
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()].to_crs("EPSG:4326")
    gdf.geometry = shapely.set_precision(gdf.geometry.values, 1e-6)
    return json.loads(gdf.to_json(drop_id=True))


def _merge(geoms: np.ndarray, tolerance: float) -> list[shapely.Geometry]:
    """All geometries as one (simplified), so a layer is one GeoJSON feature."""
    if not len(geoms):
        return []
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    lines = parts[shapely.get_type_id(parts) == 1]
    polys = parts[shapely.get_type_id(parts) == 3]
    merged = ([shapely.multilinestrings(lines)] if len(lines) else []) + \
        ([shapely.multipolygons(polys)] if len(polys) else [])
    return list(shapely.simplify(np.asarray(merged, dtype=object), tolerance))


def _add_basemap(m: folium.Map, base: Basemap, crs: Any) -> None:
    layers: list[tuple[np.ndarray, dict[str, Any]]] = [
        (base.water.geometry.values, {"color": "#B9D7EA", "weight": 0, "fillColor": "#B9D7EA",
                                      "fillOpacity": 1}),
        (base.buildings.geometry.values, {"color": "#C9C0B2", "weight": 0.5,
                                          "fillColor": "#DDD6CB", "fillOpacity": 1}),
        (base.waterways.geometry.values, {"color": "#8DBBD9", "weight": 2}),
        (base.coastline.geometry.values, {"color": "#5B9BC8", "weight": 2}),
    ]
    cls = base.roads["cls"].to_numpy()
    roads = [(name, *_ROAD_STYLE[name]) for name in DRAW_ORDER]
    for name, weight, _fill, casing in roads:
        if casing:
            layers.append((base.roads.geometry.values[cls == name],
                           {"color": casing, "weight": weight + 2, "opacity": 1}))
    for name, weight, fill, _casing in roads:
        layers.append((base.roads.geometry.values[cls == name],
                       {"color": fill, "weight": weight, "opacity": 1,
                        **({"dashArray": "3 3"} if name == "path" else {})}))
    layers.append((base.rail.geometry.values, {"color": "#555555", "weight": 3,
                                               "dashArray": "8 6"}))
    for geoms, style in layers:
        if not len(geoms):
            continue
        folium.GeoJson(_geojson(_merge(geoms, 1.0), crs), style_function=lambda _f, s=style: s,
                       interactive=False, control=False).add_to(m)


class _Bind(MacroElement):
    """A popup or tooltip bound with Leaflet alone: its HTML (user text escaped by the caller)
    as a JSON string literal, never in a template literal (folium's Tooltip puts its text raw
    into one, where ``${…}`` runs; its Popup builds content with jQuery)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.{{ this.method }}({{ this.content }}, {{ this.options }});"
        "{% endmacro %}")

    def __init__(self, method: str, content: str, options: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "Bind"
        self.method = method
        self.content = escape.js_string(content)
        self.options = escape.js_string(dict(options))


class _ListClicks(MacroElement):
    """Clicking a row of the panel's list opens its marker's popup (a listener, not an inline
    ``onclick``, which the page's policy does not run)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "document.querySelectorAll('[data-kn-marker]').forEach(function (row) {"
        " row.addEventListener('click', function () {"
        " var marker = window[row.getAttribute('data-kn-marker')];"
        " if (marker) { marker.openPopup(); } }); });"
        "{% endmacro %}")

    def __init__(self) -> None:
        super().__init__()
        self._name = "ListClicks"


def _marker_html(number: int, style: CategoryStyle) -> str:
    css = f"background:{style.colour};color:{style.text_colour};{_SHAPE_CSS.get(style.marker, '')}"
    return (f'<div class="kn-num" data-kennai-number="{int(number)}" style="{escape.attr(css)}">'
            f"{int(number)}</div>")


def _popup_html(place: Mapping[str, Any], minutes: float | None, layer_title: str) -> str:
    rows = [f"<b>{int(place['number'])}. {escape.text(clean_text(place['name']))}</b>",
            escape.text(clean_text(place["category"]))]
    for label, value in (("曜日・時間", schedule_text(place)), ("住所", clean_text(place.get("address"))),
                         ("内容", clean_text(place.get("description")))):
        if value:
            rows.append(f"{label}: {escape.text(value)}")
    if minutes is not None and np.isfinite(minutes):
        rows.append(f"徒歩: この{escape.text(layer_title)}でここが最寄りの住民から "
                    f"約{minutes:.0f} 分（中央値）")
    return "<br>".join(rows)


def interactive_map(
    region: Region,
    *,
    layer: str,
    district: str,
    categories: Sequence[str] | None = None,
    shade: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    shade_label: str = "徒歩圏",
    minutes: Mapping[str, float] | None = None,
    title: str | None = None,
    basemap: Basemap | None = None,
    qr_base: str | None = None,
    unserved: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    paper: str = "A4",
    orientation: str = "landscape",
) -> folium.Map:
    """The district's interactive map (a folium Map whose page needs no network).

    Parameters
    ----------
    minutes
        Walking time (minutes) per ``place_id`` shown in the popups, e.g. from
        :func:`~kennai.access.surface.place_minutes`.
    qr_base
        The exported site's address: the panel links the district's page (the printed page's
        QR code).
    unserved
        Where there are no street data (greyed and named in the panel, as the printed page
        hatches it).
    paper, orientation
        The sheet the browser prints the page on (``@page`` size), as for the printed map.
    """
    districts, row = map_district(region, layer, district)
    places = district_places(region, layer=layer, district=district, categories=categories)
    styles = region_category_styles(region)
    base = basemap if basemap is not None else load_basemap(region)
    shape = districts.geometry.iloc[row]
    minx, miny, maxx, maxy = shape.bounds
    pad = max(maxx - minx, maxy - miny) * 0.08 + 50
    view = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    crs = region.crs
    (lo_lon, hi_lon), (lo_lat, hi_lat) = (
        gpd.GeoSeries(shapely.points([view[:2], view[2:]]), crs=crs).to_crs("EPSG:4326")
        .get_coordinates().to_numpy().T)
    m = folium.Map(location=[(lo_lat + hi_lat) / 2, (lo_lon + hi_lon) / 2], zoom_start=15,
                   tiles=None, control_scale=True, max_zoom=19)
    m.default_js = []   # folium links Leaflet, jQuery and Bootstrap from CDNs: inline instead
    m.default_css = []
    js, css = _leaflet_assets()
    root = cast(Figure, m.get_root())
    sheet = f"@page{{size:{paper} {orientation};margin:8mm}}"  # checked by the request
    root.header.add_child(folium.Element(f"<style>{css}\n{_PAGE_CSS}\n{sheet}</style>"),
                          name="kn_css")
    root.header.add_child(folium.Element(f"<script>{js}</script>"), name="kn_leaflet")
    m.fit_bounds([[lo_lat, lo_lon], [hi_lat, hi_lon]])

    folium.GeoJson(_geojson(list(districts.geometry.values), crs),
                   style_function=lambda _f: {"color": "#9A9A9A", "weight": 1,
                                              "fillColor": "#F6F3EC", "fillOpacity": 1},
                   interactive=False, control=False).add_to(m)
    _add_basemap(m, base.clip(view), crs)
    shade_gdf = as_shade(shade, region)
    if shade_gdf is not None and not shade_gdf.empty:
        folium.GeoJson(_geojson(list(shade_gdf.geometry.values), crs), name=shade_label,
                       style_function=lambda _f: {"color": SHADE_COLOUR, "weight": 0,
                                                  "fillColor": SHADE_COLOUR, "fillOpacity": 0.28},
                       interactive=False).add_to(m)
    unserved_gdf = as_shade(unserved, region)
    has_unserved = unserved_gdf is not None and not unserved_gdf.empty and bool(
        shapely.intersects(shapely.union_all(unserved_gdf.geometry.values), shape))
    if has_unserved and unserved_gdf is not None:
        folium.GeoJson(_geojson(list(unserved_gdf.geometry.values), crs), name=UNSERVED_LABEL,
                       style_function=lambda _f: {"color": UNSERVED_COLOUR, "weight": 0,
                                                  "fillColor": UNSERVED_COLOUR,
                                                  "fillOpacity": 0.3},
                       interactive=False).add_to(m)
    veil = shapely.difference(shapely.box(*view).buffer(max(view[2] - view[0], 2000) * 3), shape)
    folium.GeoJson(_geojson([veil], crs), style_function=lambda _f: {
        "weight": 0, "fillColor": "#FFFFFF", "fillOpacity": 0.55}, interactive=False,
        control=False).add_to(m)
    others = districts.drop(index=districts.index[row])
    # folium's GeoJsonTooltip writes the value into innerHTML: the name goes in escaped.
    folium.GeoJson(_geojson(list(others.geometry.values), crs,
                            [{"name": escape.text(n)} for n in others["name"]]),
                   style_function=lambda _f: {"color": "#8A8A8A", "weight": 1, "fillOpacity": 0},
                   tooltip=folium.GeoJsonTooltip(["name"], labels=False), control=False).add_to(m)
    folium.GeoJson(_geojson([shape], crs), style_function=lambda _f: {
        "color": "#B2182B", "weight": 4, "fillOpacity": 0}, interactive=False,
        control=False).add_to(m)

    layer_title = map_layer_title(region, layer)
    xy = gpd.GeoSeries(places.geometry, crs=crs).to_crs("EPSG:4326").get_coordinates().to_numpy()
    items = []
    for (lon, lat), place in zip(xy, places.to_dict("records"), strict=True):
        style = styles[str(place["category"])]
        mins = (minutes or {}).get(str(place["place_id"]))
        marker = folium.Marker(
            [lat, lon], icon=folium.DivIcon(html=_marker_html(place["number"], style),
                                            icon_size=(26, 26), icon_anchor=(13, 13),
                                            class_name="kn-marker"))
        marker.add_to(m)
        _Bind("bindTooltip", f"{int(place['number'])}. {escape.text(clean_text(place['name']))}",
              {"sticky": True}).add_to(marker)
        _Bind("bindPopup", _popup_html(place, mins, layer_title), {"maxWidth": 320}).add_to(marker)
        items.append(f'<li data-kn-marker="{escape.attr(marker.get_name())}"><b style="color:'
                     f'{escape.attr(style.colour)}">{int(place["number"])}</b>'
                     f'{escape.text(clean_text(place["name"]))}</li>')
    _ListClicks().add_to(m)
    credits = " ／ ".join(escape.text(c) for c in attributions(region, base))
    heading = escape.text(title or f"{district}の宝物マップ")
    link = ""
    if shade_gdf is not None and not shade_gdf.empty:  # the printed legend's walking-area note
        link += (f'<div class="kn-walk"><span style="color:{SHADE_COLOUR}">■</span> '
                 f'{escape.text(shade_label)}</div>')
    if has_unserved:
        link += (f'<div class="kn-unserved"><span style="color:{UNSERVED_COLOUR}">■</span> '
                 f'{escape.text(UNSERVED_LABEL)}</div>')
    if qr_base is not None:  # the printed page's QR code, as a link
        url = district_page_url(qr_base, layer=layer, district=district, number=row + 1)
        link += f'<div><a class="kn-page" href="{escape.url(url)}">この地区のページ</a></div>'
    panel = (f'<div class="kn-panel" id="kn-panel"><h1>{heading}</h1>'
             f'<div>{escape.text(region.config.title)} {escape.text(layer_title)}「'
             f'{escape.text(district)}」 {len(places)} か所</div><ol>{"".join(items)}</ol>'
             f'{link}<div class="kn-credit">{credits}</div></div>')
    root.html.add_child(folium.Element(panel), name="kn_panel")
    return m


def render_interactive_html(region: Region, **options: Any) -> str:
    """The interactive map as one HTML string (see :func:`interactive_map` for the options),
    carrying its Content Security Policy (:func:`kennai.csp.protect_page`)."""
    page = interactive_map(region, **options).get_root().render()
    external = _EXTERNAL.search(page)
    if external:  # a folium element brought a CDN link: that would break offline use
        raise RuntimeError(f"the page links an external asset: {external.group(0)!r}")
    return protect_page(page, scripts=None)


def write_interactive_map(region: Region, path: str | Path, **options: Any) -> Path:
    """Write the interactive map as one self-contained HTML file (atomically)."""
    page = render_interactive_html(region, **options)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)


def atlas_folder(path: str | Path) -> Path:
    """Where the pages of the HTML atlas ``path`` go: the folder beside it named as its stem."""
    path = Path(path)
    return path.with_name(path.stem)


def write_interactive_atlas(region: Region, path: str | Path, *, layer: str,
                            districts: Sequence[str] | None = None, title: str | None = None,
                            minutes: Mapping[str, Mapping[str, float]] | None = None,
                            progress: Progress = no_progress, **options: Any) -> Path:
    """Every district's interactive map, the HTML twin of the PDF atlas.

    ``path`` is an index page linking one self-contained page per district,
    ``<stem>/<n>.html``, numbered in layer order as the district pages of an exported site;
    the folder and then the index are written atomically. ``title`` may contain
    ``{district}``; ``minutes`` are the popup walking times per district (then per
    ``place_id``); ``options`` are those of :func:`interactive_map`.
    """
    path = Path(path)
    names = list(districts) if districts is not None else district_names(region, layer)
    options.setdefault("basemap", load_basemap(region))
    folder = atlas_folder(path)
    label = t(f"HTML 地図帳 {layer}", f"HTML atlas {layer}").get()
    with atomic_dir(folder) as tmp:
        for i, name in enumerate(counted(progress, label, names)):
            page = render_interactive_html(
                region, layer=layer, district=name, minutes=(minutes or {}).get(name),
                title=title.format(district=name) if title else None, **options)
            (tmp / f"{i + 1}.html").write_text(page, encoding="utf-8")
    heading = escape.text(f"{region.config.title} {map_layer_title(region, layer)}の宝物マップ")
    links = "".join(f'<li><a href="{escape.url(quote(folder.name))}/{i + 1}.html">'
                    f"{escape.text(name)}</a></li>" for i, name in enumerate(names))
    credits = " ／ ".join(escape.text(c) for c in region.config.attribution)
    index = protect_page('<!doctype html>\n<html lang="ja"><head><meta charset="utf-8">'
                         '<meta name="viewport" content="width=device-width, initial-scale=1">'
                         f"<title>{heading}</title></head><body><h1>{heading}</h1><ol>{links}</ol>"
                         f"<p><small>{credits}</small></p></body></html>\n")
    with atomic_path(path) as tmp_index:
        tmp_index.write_text(index, encoding="utf-8")
    return path
