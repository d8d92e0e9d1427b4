"""One treasure-map request, the same whether it comes from the command line or the API.

Both doors only translate their arguments into a :class:`TreasureMapRequest`, which checks
itself when it is made. :func:`map_options` adds what the request implies from the access
results (the walking area to shade, where the street data end, the popup walking times of the
HTML twin) and :func:`render_map` makes the page in the requested format: bytes for the API, or
a file written atomically for the command line. Every option reaches every format the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from kennai.errors import KennaiError, TreasureMapError
from kennai.escape import is_safe_url
from kennai.i18n import t
from kennai.maps.formats import PrintFormat, output_format
from kennai.maps.layout import page_layout
from kennai.progress import Progress, no_progress

if TYPE_CHECKING:  # the drawing (geopandas, matplotlib) and the access results (scipy, rasterio)
    # are imported by the functions that use them, so that a request is checked at once
    import geopandas as gpd

    from kennai.access import AccessResults
    from kennai.region import Region

#: A printed page (PDF/PNG/SVG) or the interactive HTML twin.
MapFormat = Literal[PrintFormat, "html"]
MAP_FORMATS: tuple[MapFormat, ...] = ("pdf", "png", "svg", "html")
HTML_SUFFIXES = (".html", ".htm")
#: What a QR code may lead to: a web address, or a path relative to the page (no other scheme).



def file_format(path: Path, *, atlas: bool = False) -> MapFormat:
    """The map format an output file name asks for (``.pdf``, ``.png``, ``.svg``, ``.html``).

    Raises
    ------
    TreasureMapError
        For another suffix, or an atlas (every district) to anything but a PDF or HTML.
    """
    if path.suffix.lower() in HTML_SUFFIXES:
        return "html"
    fmt = output_format(path)
    if atlas and fmt != "pdf":
        raise TreasureMapError(t("全区域の地図帳は PDF か HTML にだけ書けます",
                                 "an atlas can only be a PDF or HTML"),
                               path=path, hint=t("-o に .pdf か .html を指定してください",
                                                 "give -o a .pdf or .html"))
    return fmt


def check_site_url(url: str) -> str:
    """``url`` if a QR code may lead there: an http(s) address or a relative path.

    Raises
    ------
    TreasureMapError
        For any other scheme (``javascript:`` …) or a value with spaces.
    """
    if not is_safe_url(url):
        raise TreasureMapError(t("--qr-base は http(s):// で始まるアドレスか相対パスにしてください",
                                 "--qr-base must be an http(s):// address or a relative path"),
                               feature="--qr-base", hint=t("例: https://example.jp/kennai/",
                                                           "e.g. https://example.jp/kennai/"))
    return url


@dataclass(frozen=True, kw_only=True)
class TreasureMapRequest:
    """One treasure map to make: which district, in which format, with what on it.

    Parameters
    ----------
    layer
        The district layer (``elementary``, ``junior_high``, ``neighbourhood``).
    district
        The district's name; may be ``None`` with ``all_districts``.
    all_districts
        One page per district: one PDF (an atlas), or for HTML an index page linking one
        page per district.
    fmt
        ``pdf``, ``png`` or ``svg`` (a printed page) or ``html`` (the offline interactive map).
    paper, orientation
        ``A4``/``A3`` and ``landscape``/``portrait`` (printed pages).
    categories
        Only these place categories (all when ``None``).
    walk_minutes
        Shade the area within this walk of a place (and hatch where there is no street data
        on printed pages); needs access results.
    title
        The page title (default 「<district>の宝物マップ」); in an atlas ``{district}`` is
        replaced by each district's name.
    dpi
        Resolution of PNG pages.
    qr_base
        The exported site's address (``https://…`` or a relative path): printed pages get a QR
        code to the district's page, the HTML twin a link.

    Raises
    ------
    TreasureMapError
        When the options cannot make a map (no district, unknown format or paper, an atlas
        that is not a PDF, a walk of no minutes).
    """

    layer: str = "elementary"
    district: str | None = None
    all_districts: bool = False
    fmt: MapFormat = "pdf"
    paper: str = "A4"
    orientation: str = "landscape"
    categories: tuple[str, ...] | None = None
    walk_minutes: float | None = None
    title: str | None = None
    dpi: int = 200
    qr_base: str | None = None

    def __post_init__(self) -> None:
        if not self.all_districts and not self.district:
            raise TreasureMapError(t("--district か --all を指定してください", "give --district or --all"),
                                   feature="--district", hint=t("例: --district 焼津東小学校",
                                                                "e.g. --district 焼津東小学校"))
        if self.fmt not in MAP_FORMATS:
            raise TreasureMapError(t(f"形式「{self.fmt}」は使えません", f"unsupported format {self.fmt!r}"),
                                   feature="format", hint=t("pdf / png / svg / html を指定してください",
                                                            "use pdf, png, svg or html"))
        if self.all_districts and self.fmt not in ("pdf", "html"):
            raise TreasureMapError(t("全区域の地図帳は PDF か HTML にだけ書けます",
                                     "an atlas can only be a PDF or HTML"),
                                   feature="format", hint=t("pdf か html を指定してください",
                                                            "use pdf or html"))
        page_layout(self.paper, self.orientation)  # raises for an unknown paper or orientation
        if self.qr_base is not None:
            check_site_url(self.qr_base)
        if self.walk_minutes is not None and self.walk_minutes <= 0:
            raise TreasureMapError(t("分数は正の数にしてください", "minutes must be positive"),
                                   feature="minutes", hint=t("例: --minutes 10", "e.g. --minutes 10"))

    @property
    def needs_access(self) -> bool:
        """Whether the map cannot be made without access results (a walking area to shade)."""
        return self.walk_minutes is not None

    @property
    def uses_access(self) -> bool:
        """Whether access results add to the map (needed, or the HTML popups' walking times)."""
        return self.needs_access or self.fmt == "html"


def access_for(region: Region, request: TreasureMapRequest) -> AccessResults | None:
    """The access results a request uses: the build's when current, else computed now.

    ``None`` when the request does not use them, or only would like them (the HTML popups) and
    they cannot be computed; an error when it needs them.
    """
    if not request.uses_access:
        return None
    from kennai.access.surface import access_results

    try:
        return access_results(region)
    except KennaiError:
        if request.needs_access:
            raise
        return None


@dataclass(frozen=True, eq=False)
class MapOptions:
    """What a request puts on the map from the access results (see :func:`map_options`)."""

    shade: gpd.GeoDataFrame | None
    shade_label: str
    unserved: gpd.GeoDataFrame | None
    minutes: dict[str, float] | None
    #: The HTML atlas's popup walking times: per district, then per place.
    atlas_minutes: dict[str, dict[str, float]] | None = None


def map_options(region: Region, request: TreasureMapRequest, *,
                results: AccessResults | None) -> MapOptions:
    """The shading, the no-data hatching and the popup walking times a request implies.

    Parameters
    ----------
    results
        The region's access results, or ``None`` when there are none (see :func:`access_for`).

    Raises
    ------
    TreasureMapError
        When the request shades a walking area and there are no access results.
    """
    if request.walk_minutes is not None and results is None:
        raise TreasureMapError(t("徒歩圏を塗るにはアクセスの計算結果が必要です",
                                 "shading a walking area needs access results"),
                               feature="walk_minutes", hint=t("kennai build を実行してください",
                                                              "run kennai build"))
    from kennai.maps.content import district_names, map_district, walk_label

    shade = unserved = None
    if request.walk_minutes is not None and results is not None:
        from kennai.access.surface import no_network_area, walk_area

        shade = walk_area(region, results, minutes=request.walk_minutes)
        unserved = no_network_area(region, results)  # hatched on paper, greyed in HTML
    minutes = atlas_minutes = None
    if request.fmt == "html" and results is not None:
        from kennai.access.surface import place_minutes

        names = district_names(region, request.layer) if request.all_districts else \
            [str(request.district)]
        per_district = {}
        for name in names:
            districts, row = map_district(region, request.layer, name)
            per_district[name] = place_minutes(results, districts.geometry.iloc[row])
        if request.all_districts:
            atlas_minutes = per_district
        else:
            minutes = per_district[str(request.district)]
    pace = results.options if results is not None else None
    return MapOptions(shade=shade, shade_label=walk_label(request.walk_minutes, pace),
                      unserved=unserved, minutes=minutes, atlas_minutes=atlas_minutes)


#: The modules :func:`render_map` draws each format with (the labels are measured with Agg).
_RENDERERS: dict[str, tuple[str, ...]] = {
    "html": ("kennai.maps.interactive",),
    **{fmt: ("kennai.maps.treasure", "matplotlib.backends.backend_agg",
             f"matplotlib.backends.backend_{fmt}") for fmt in ("pdf", "svg")},
    "png": ("kennai.maps.treasure", "matplotlib.backends.backend_agg"),
}


def import_renderer(fmt: MapFormat) -> None:
    """Import what :func:`render_map` draws ``fmt`` with (folium for HTML; matplotlib, its
    backends and the page modules for a printed page), so that a caller chooses when: the CLI
    does with the garbage collector paused. matplotlib's artist property listings (docstrings
    only) are skipped: a tenth of a second (see :mod:`kennai.maps.artist_docs`)."""
    import importlib

    from kennai.maps.artist_docs import artist_docs_skipped

    with artist_docs_skipped():
        for name in _RENDERERS[fmt]:
            importlib.import_module(name)


@overload
def render_map(region: Region, request: TreasureMapRequest, options: MapOptions, *,
               path: None = None, progress: Progress = no_progress) -> bytes: ...


@overload
def render_map(region: Region, request: TreasureMapRequest, options: MapOptions, *,
               path: str | Path, progress: Progress = no_progress) -> Path: ...


def render_map(region: Region, request: TreasureMapRequest, options: MapOptions, *,
               path: str | Path | None = None, progress: Progress = no_progress) -> bytes | Path:
    """Make the map of a request: its bytes, or a file written atomically at ``path``.

    ``progress`` is told the pages of an atlas as they are drawn.

    Raises
    ------
    NotFoundError, TreasureMapError
        For an unknown layer, district or category, an output name that does not fit the
        format, or no Japanese font.
    """
    if path is not None and file_format(Path(path), atlas=request.all_districts) != request.fmt:
        raise TreasureMapError(t(f"出力ファイル名が形式「{request.fmt}」に合いません",
                                 f"the output name does not fit the format {request.fmt!r}"),
                               path=path, hint=t(f".{request.fmt} の名前にしてください",
                                                 f"give a .{request.fmt} name"))
    shown: dict[str, Any] = {"categories": request.categories, "shade": options.shade,
                             "shade_label": options.shade_label, "qr_base": request.qr_base}
    shown |= {"paper": request.paper, "orientation": request.orientation,
              "unserved": options.unserved}
    if request.fmt == "html":
        # folium only for the HTML twin: a printed page does not import it
        from kennai.maps.interactive import (
            render_interactive_html,
            write_interactive_atlas,
            write_interactive_map,
        )

        if request.all_districts:
            if path is None:
                raise TreasureMapError(t("HTML の地図帳はファイルとフォルダにだけ書けます",
                                         "an HTML atlas is written to a file and a folder only"),
                                       feature="format", hint=t("PDF にするか、kennai treasure-map "
                                                                "--all -o 地図帳.html を使ってください",
                                                                "use pdf, or kennai treasure-map "
                                                                "--all -o atlas.html"))
            return write_interactive_atlas(region, path, layer=request.layer, title=request.title,
                                           minutes=options.atlas_minutes, progress=progress,
                                           **shown)
        assert request.district is not None  # checked by the request
        html = {"layer": request.layer, "district": request.district, "title": request.title,
                "minutes": options.minutes, **shown}
        if path is None:
            return render_interactive_html(region, **html).encode("utf-8")
        return write_interactive_map(region, path, **html)
    from kennai.maps.treasure import (
        atlas_bytes,
        treasure_map_bytes,
        write_atlas,
        write_treasure_map,
    )

    page = shown
    if request.all_districts:
        if path is None:
            return atlas_bytes(region, layer=request.layer, title=request.title,
                               progress=progress, **page)
        return write_atlas(region, path, layer=request.layer, title=request.title,
                           progress=progress, **page)
    assert request.district is not None  # checked by the request
    if path is None:
        return treasure_map_bytes(region, layer=request.layer, district=request.district,
                                  fmt=request.fmt, dpi=request.dpi, title=request.title, **page)
    return write_treasure_map(region, path, layer=request.layer, district=request.district,
                              dpi=request.dpi, title=request.title, **page)
