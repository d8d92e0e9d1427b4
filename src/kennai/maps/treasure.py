"""宝物マップ: a printable map of one district's gathering places with a matching list.

One page (A4/A3, landscape/portrait) holds a title, the district outlined over a basemap drawn
from the region's own data (neighbours faded), numbered markers styled by category with a legend,
a list whose numbers match the markers (ordered along a short tour so that neighbours on the map
are neighbours in the list), optional shading of a walking-time area, a scale bar, a north
arrow, the date and the attribution of every source. Text is Japanese in an embedded font.

This module draws the page and writes it (PDF/PNG/SVG, or an atlas of every district in one
PDF); what the page shows comes from :mod:`kennai.maps.content`, where things go from
:mod:`kennai.maps.layout`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PatchCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.text import Text

from kennai.atomic import atomic_path
from kennai.errors import TreasureMapError
from kennai.i18n import t
from kennai.maps.basemap import Basemap, load_basemap
from kennai.maps.content import (
    SHADE_COLOUR,
    UNSERVED_COLOUR,
    UNSERVED_LABEL,
    CategoryStyle,
    as_shade,
    attributions,
    district_names,
    district_page_url,
    district_places,
    map_district,
    map_layer_title,
    region_category_styles,
)
from kennai.maps.fonts import bold, font_rc, japanese_font
from kennai.maps.formats import FORMATS, output_format
from kennai.maps.layout import (
    PT_MM,
    Orientation,
    Page,
    Paper,
    format_metres,
    map_view,
    nice_length,
    page_layout,
    spread_labels,
)
from kennai.maps.sheet import (
    MARKER_SCALE,
    OUTLINE,
    draw_header_footer,
    draw_list,
    drop_colliding_labels,
)
from kennai.progress import Progress, counted, no_progress
from kennai.region import Region
from kennai.roads import DRAW_ORDER

_LAND = "#F6F3EC"
_SHADE = SHADE_COLOUR
_UNSERVED = UNSERVED_COLOUR
_ROAD_STYLE = {  # class: (casing colour, fill colour, width in pt, dashed)
    "major": ("#C98D4A", "#F7C98B", 2.6, False),
    "medium": ("#C9B06A", "#FCEBB0", 2.0, False),
    "minor": ("#B8B2A7", "#FFFFFF", 1.3, False),
    "path": (None, "#9A9183", 0.5, True),
}


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


def _polys(ax: Axes, geoms: Sequence[shapely.Geometry], **kw: Any) -> None:
    paths = [p for p in (_polygon_path(g) for g in geoms) if p is not None]
    if paths:
        ax.add_collection(PatchCollection([PathPatch(p) for p in paths], **kw))


def _lines(ax: Axes, geoms: Sequence[shapely.Geometry], **kw: Any) -> None:
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return
    if any(g.geom_type in ("Polygon", "MultiPolygon") for g in geoms):
        geoms = [g.boundary if g.geom_type in ("Polygon", "MultiPolygon") else g for g in geoms]
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    coords, index = shapely.get_coordinates(parts, return_index=True)
    splits = np.flatnonzero(np.diff(index)) + 1
    if kw.get("linestyles", "solid") == "solid" and kw.get("alpha") is None:
        # Solid opaque lines of one style drawn as one path of many pieces: stroked as one, they
        # cover what the pieces stroked one by one cover, and the page writes one path, not
        # hundreds (a dashed line restarts its dashes at every piece, a translucent one would
        # not darken where pieces cross: those stay pieces).
        codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
        codes[np.concatenate([[0], splits])] = MplPath.MOVETO
        style = {k: v for k, v in kw.items() if k not in ("colors", "linestyles")}
        ax.add_collection(PathCollection([MplPath(coords, codes)], facecolors="none",
                                         edgecolors=kw["colors"], **style))
        return
    ax.add_collection(LineCollection(np.split(coords, splits), **kw))


def _draw_basemap(ax: Axes, base: Basemap) -> None:
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
    for order, name in enumerate(DRAW_ORDER):
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


def _draw_scale_and_north(ax: Axes, view: tuple[float, float, float, float], m_per_mm: float) -> None:
    minx, miny, maxx, _ = view
    length = nice_length((maxx - minx) * 0.22)
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
        label = format_metres(length * frac) if frac else "0"
        ax.text(x0 + length * frac, y0 - 0.8 * m_per_mm, label, ha="center", va="top",
                fontsize=6.5, zorder=12)
    ax.add_patch(Rectangle((0.93, 0.845), 0.05, 0.135, transform=ax.transAxes, facecolor="white",
                           edgecolor="#999999", linewidth=0.4, alpha=0.85, zorder=11))
    # North arrow: grid north of the plane rectangular CRS (differs from true north by <1°).
    ax.annotate("", xy=(0.955, 0.965), xytext=(0.955, 0.885), xycoords="axes fraction",
                arrowprops={"arrowstyle": "-|>,head_width=0.5,head_length=1.0", "lw": 1.6,
                            "color": "#222222"}, zorder=12)
    ax.text(0.955, 0.87, "N", transform=ax.transAxes, ha="center", va="top", fontsize=10,
            zorder=12, **bold("#222222", 10))


def _draw_markers(ax: Axes, places: gpd.GeoDataFrame, styles: Mapping[str, CategoryStyle],
                  view: tuple[float, float, float, float], m_per_mm: float,
                  diameter_mm: float) -> None:
    if places.empty:
        return
    anchors = shapely.get_coordinates(places.geometry.values)
    r = diameter_mm / 2 * m_per_mm
    inner = (view[0] + r, view[1] + r, view[2] - r, view[3] - r)
    pos = spread_labels(anchors, min_distance=diameter_mm * 1.12 * m_per_mm, bounds=inner)
    moved = np.hypot(*(pos - anchors).T) > 0.3 * diameter_mm * m_per_mm
    size = (diameter_mm / PT_MM) ** 2
    for i, place in enumerate(places.itertuples(index=False)):
        style = styles[str(place.category)]
        # gids name the parts (in SVG output too), so that tests can find them.
        if moved[i]:
            ax.plot([anchors[i, 0], pos[i, 0]], [anchors[i, 1], pos[i, 1]], color="#333333",
                    linewidth=0.7, zorder=8, solid_capstyle="round", gid=f"leader-{place.number}")
            ax.scatter([anchors[i, 0]], [anchors[i, 1]], s=9, color=style.colour,
                       edgecolors="#333333", linewidths=0.5, zorder=8.5,
                       gid=f"anchor-{place.number}")
        ax.scatter([pos[i, 0]], [pos[i, 1]], s=size * MARKER_SCALE[style.marker],
                   marker=style.marker, color=style.colour,
                   edgecolors="white", linewidths=1.2, zorder=9, gid=f"marker-{place.number}")
        ax.text(pos[i, 0], pos[i, 1], str(place.number), ha="center", va="center_baseline",
                fontsize=diameter_mm * 1.45 if place.number < 10 else diameter_mm * 1.25,
                color=style.text_colour, zorder=10, gid=f"number-{place.number}",
                **bold(style.text_colour, diameter_mm * 1.4))


def _draw_map(fig: Figure, page: Page, *, districts: gpd.GeoDataFrame, row: int,
              places: gpd.GeoDataFrame, styles: Mapping[str, CategoryStyle], base: Basemap,
              shade: gpd.GeoDataFrame | None, shade_label: str,
              unserved: gpd.GeoDataFrame | None, layer_title: str) -> list[Text]:
    """Draw the map; return its optional labels (place and neighbour names), which give way
    to every other text (see :func:`drop_colliding_labels`)."""
    labels: list[Text] = []
    box = page.map_box
    ax = fig.add_axes((box[0] / page.width, box[1] / page.height, box[2] / page.width,
                       box[3] / page.height))
    shape = districts.geometry.iloc[row]
    view = map_view(shape, box)
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
    if has_unserved and unserved is not None:
        _polys(ax, unserved.geometry.values, facecolor="none", edgecolor=_UNSERVED, hatch="////",
               linewidth=0, zorder=4.2)
    # Fade everything outside the district (the neighbours stay visible, but pale).
    veil = shapely.difference(vbox, shape)
    _polys(ax, [veil], facecolor="white", edgecolor="none", alpha=0.55, zorder=5)
    others = districts.drop(index=districts.index[row])
    _lines(ax, others.geometry.values, colors="#9A9A9A", linewidths=0.8, zorder=5.5)
    _lines(ax, [shape], colors="white", linewidths=4.5, zorder=6, alpha=0.9)
    _lines(ax, [shape], colors=OUTLINE, linewidths=2.2, zorder=6.1)
    inner_view = shapely.box(*np.add(view, np.multiply((1, 1, -1, -1), 0.04 * (view[2] - view[0]))))
    for name, pt in zip(others["name"], others.geometry.representative_point(), strict=True):
        if inner_view.contains(pt):
            labels.append(ax.text(pt.x, pt.y, str(name), ha="center", va="center", fontsize=8,
                                  color="#8A8A8A", zorder=6.5))
    towns = base.towns
    if not towns.empty:
        pts = towns.geometry.representative_point()
        keep = shapely.covered_by(pts.values, shape)
        for name, pt in zip(towns["name"].to_numpy()[keep], pts.values[keep], strict=True):
            labels.append(ax.text(pt.x, pt.y, str(name), ha="center", va="center", fontsize=5.5,
                                  color="#8C8273", zorder=6.4))
    # Larger markers on A3 (read from further away); their numbers grow with them.
    _draw_markers(ax, places, styles, view, m_per_mm,
                  diameter_mm=6.4 if page.list_max_pt > 8.5 else 5.2)
    _draw_scale_and_north(ax, view, m_per_mm)
    handles: list[Any] = [
        Line2D([], [], linestyle="none", marker=styles[c].marker, markersize=8.5,
               markerfacecolor=styles[c].colour, markeredgecolor="white", label=c)
        for c in dict.fromkeys(places["category"].astype(str))]
    handles.append(Line2D([], [], color=OUTLINE, linewidth=2.2, label=f"{layer_title}の境界"))
    if shade is not None and not shade.empty:
        handles.append(Patch(facecolor=_SHADE, alpha=0.4, label=shade_label))
    if has_unserved:
        handles.append(Patch(facecolor="none", edgecolor=_UNSERVED, hatch="////",
                             label=UNSERVED_LABEL))
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
    return labels


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
    qr_base: str | None = None,
) -> Figure:
    """Draw one district's treasure map as a matplotlib Figure (one page).

    The Figure is returned undrawn; tests draw it (``FigureCanvasAgg(fig).draw()``) to measure
    every text's extent.

    Parameters
    ----------
    layer, district
        The district layer (``elementary`` …) and the district's ``name``.
    categories
        Only these place categories (all when ``None``).
    shade
        Polygons to shade (e.g. the area within a walking time), in any CRS.
    unserved
        Polygons drawn hatched as "no network data" (see :func:`~kennai.access.surface.no_network_area`).
    title
        The page title (default 「<district>の宝物マップ」).
    basemap
        A basemap loaded once with :func:`~kennai.maps.basemap.load_basemap` (atlases reuse it).
    qr_base
        The exported site's address: a QR code in the footer leads to the district's page
        (see :func:`~kennai.maps.content.district_page_url`).

    Raises
    ------
    NotFoundError, TreasureMapError
        For an unknown layer, district or category, bad paper options or no Japanese font.
    """
    page = page_layout(paper, orientation)
    districts, row = map_district(region, layer, district)
    places = district_places(region, layer=layer, district=district, categories=categories)
    styles = region_category_styles(region)
    base = basemap if basemap is not None else load_basemap(region)
    layer_title = map_layer_title(region, layer)
    qr_url = None if qr_base is None else district_page_url(
        qr_base, layer=layer, district=district, number=row + 1)
    font = japanese_font()
    with mpl.rc_context(font_rc(font)):
        fig = Figure(figsize=(page.width / 25.4, page.height / 25.4))
        fig.set_facecolor("white")
        labels = _draw_map(fig, page, districts=districts, row=row, places=places, styles=styles,
                  base=base, shade=as_shade(shade, region), shade_label=shade_label,
                  unserved=as_shade(unserved, region), layer_title=layer_title)
        draw_list(fig, page, places, styles)
        subtitle = (f"{region.config.title}　{layer_title}「{district}」　"
                    f"通いの場・集いの場 {len(places)} か所")
        draw_header_footer(fig, page, title=title or f"{district}の宝物マップ", subtitle=subtitle,
                            date=date or dt.date.today(), credits=attributions(region, base),
                            qr_url=qr_url)
        drop_colliding_labels(fig, labels)
    return fig


# ---------------------------------------------------------------------------------------------
# Writing files


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
    with atomic_path(path) as tmp, mpl.rc_context(font_rc()):
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_metadata(fmt, title))
    return path


def treasure_map_bytes(region: Region, *, layer: str, district: str, fmt: str = "pdf",
                       dpi: int = 200, **options: Any) -> bytes:
    """One district's page as PDF/PNG/SVG bytes (for the API's ``GET …/treasure-map``)."""
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


def _save_atlas(region: Region, target: Path | IO[bytes], *, layer: str,
                districts: Sequence[str] | None, title: str | None, options: dict[str, Any],
                progress: Progress) -> None:
    from matplotlib.backends.backend_pdf import PdfPages

    names = list(districts) if districts is not None else district_names(region, layer)
    options.setdefault("basemap", load_basemap(region))
    with mpl.rc_context(font_rc()), PdfPages(target, metadata={
            "Title": f"{region.config.title} 宝物マップ", "Creator": "kennai"}) as pdf:
        label = t(f"地図帳 {layer}", f"atlas {layer}").get()
        for name in counted(progress, label, names):
            page_title = title.format(district=name) if title else None
            fig = render_treasure_map(region, layer=layer, district=name, title=page_title,
                                      **options)
            pdf.savefig(fig)


def write_atlas(region: Region, path: str | Path, *, layer: str,
                districts: Sequence[str] | None = None, title: str | None = None,
                progress: Progress = no_progress, **options: Any) -> Path:
    """One page per district in a single PDF, like a QGIS atlas (written atomically).

    ``title`` may contain ``{district}``; ``progress`` is told the pages as they are drawn;
    ``options`` are those of :func:`render_treasure_map`.
    """
    path = Path(path)
    if output_format(path) != "pdf":
        raise TreasureMapError(t("全区域の地図帳は PDF にだけ書けます", "an atlas can only be a PDF"),
                               path=path, hint=t("-o に .pdf を指定してください", "give -o a .pdf"))
    with atomic_path(path) as tmp:
        _save_atlas(region, tmp, layer=layer, districts=districts, title=title, options=options,
                    progress=progress)
    return path


def atlas_bytes(region: Region, *, layer: str, districts: Sequence[str] | None = None,
                title: str | None = None, progress: Progress = no_progress,
                **options: Any) -> bytes:
    """The atlas of :func:`write_atlas` as PDF bytes."""
    buf = io.BytesIO()
    _save_atlas(region, buf, layer=layer, districts=districts, title=title, options=options,
                progress=progress)
    return buf.getvalue()
