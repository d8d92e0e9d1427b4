"""The exported site: the read-only web map and every result, as files any static server serves.

A city without a server can still publish: ``kennai export-site`` writes a folder that a plain
web server, or a USB stick opened through one, serves as it is. It holds:

- ``index.html`` and the web map's own scripts in *site* mode (``data-mode="site"``: the page
  reads the files below instead of the API), MapLibre GL JS and the pmtiles protocol, copied
  from ``web/node_modules`` — no CDN;
- ``tiles/region.pmtiles`` (every vector layer, the server's tiles) and
  ``tiles/access.pmtiles`` (the walking-minutes surface as PNG tiles), read through the pmtiles
  JS protocol with HTTP range requests;
- ``data/``: the region summary, coverage per district layer, gaps and split pieces as JSON
  and CSV (:mod:`kennai.export`);
- ``maps/<layer>/<n>.pdf``: one treasure map per district and ``maps/<layer>/atlas.pdf``;
- ``districts/<layer>/<n>.html``: a page per district linking its map and figures.

The folder is written atomically and checked against a size budget.
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kennai.access import AccessResults, coverage_table, district_gaps, region_gaps, resolve_polygons
from kennai.atomic import atomic_dir
from kennai.config import POLYGON_KINDS
from kennai.csp import protect_page
from kennai.errors import NotFoundError, OutputError
from kennai.export import write_table
from kennai.export_targets import coverage_export, export_table
from kennai.geojson import to_feature_collection
from kennai.i18n import t
from kennai.progress import Progress, counted, no_progress
from kennai.region import Region
from kennai.tiles import TileSet, export_pmtiles, region_tile_set

#: Where the web map's own files are (index.html, app.js, style.css).
PAGE_DIR = Path(__file__).resolve().parent / "web"


@dataclass(slots=True)
class SiteReport:
    """What ``export_site`` wrote: the folder, its size and how many files of each kind."""

    path: Path
    bytes: int
    files: int
    districts: int
    pdfs: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "bytes": self.bytes, "mb": round(self.bytes / 1e6, 2),
                "files": self.files, "districts": self.districts, "pdfs": self.pdfs}


def _vendor(web_modules: Path, out: Path) -> None:
    """Copy MapLibre GL JS and the pmtiles protocol into ``out/vendor`` (the site's only code)."""
    wanted = {"maplibre-gl": ("dist", ["maplibre-gl.js", "maplibre-gl.css"]),
              "pmtiles": ("dist", ["pmtiles.js"])}
    for package, (folder, names) in wanted.items():
        for name in names:
            src = web_modules / package / folder / name
            if not src.is_file():
                raise NotFoundError(t(f"{package} がありません", f"{package} is not installed"),
                                    path=src, hint=t("リポジトリで npm --prefix web ci を実行してください",
                                                     "run npm --prefix web ci in the repository"))
            (out / "vendor" / package).mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out / "vendor" / package / name)


def _page(out: Path) -> None:
    """The web map page in site mode: relative paths, the pmtiles script, no API."""
    text = (PAGE_DIR / "index.html").read_text(encoding="utf-8")
    text = text.replace('href="/vendor/', 'href="vendor/').replace('src="/vendor/', 'src="vendor/')
    text = text.replace('href="/static/', 'href="static/').replace('src="/static/', 'src="static/')
    text = text.replace("<body>", '<body data-mode="site">')
    text = text.replace('<script src="static/app.js">',
                        '<script src="vendor/pmtiles/pmtiles.js"></script>\n  '
                        '<script src="static/app.js">')
    (out / "index.html").write_text(protect_page(text), encoding="utf-8")
    (out / "static").mkdir()
    for name in ("app.js", "workbench.js", "style.css"):
        shutil.copy2(PAGE_DIR / name, out / "static" / name)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")


def _raster_pmtiles(surface_path: Path, path: Path, *, maxzoom: int,
                    progress: Progress = no_progress) -> dict[str, Any]:
    """The walking-minutes surface as a PNG PMTiles archive (zooms 10 to ``maxzoom``)."""
    import mercantile
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    from kennai.raster_tiles import SurfaceTiles

    surface = SurfaceTiles(surface_path)
    west, south, east, north = surface.bounds
    tiles = sorted((zxy_to_tileid(tl.z, tl.x, tl.y), tl.z, tl.x, tl.y)
                   for tl in mercantile.tiles(west, south, east, north, range(10, maxzoom + 1)))
    written = 0
    label = t("徒歩時間のタイル", "walking-minutes tiles").get()
    with open(path, "wb") as f:
        writer = Writer(f)
        for i, (tile_id, z, x, y) in enumerate(tiles):
            if i % 64 == 0:
                progress(label, i, len(tiles))
            data = surface.render(z, x, y)
            if data:
                writer.write_tile(tile_id, data)
                written += 1
        e7 = 10_000_000
        writer.finalize({
            "tile_type": TileType.PNG, "tile_compression": Compression.NONE,
            "min_lon_e7": int(west * e7), "min_lat_e7": int(south * e7),
            "max_lon_e7": int(east * e7), "max_lat_e7": int(north * e7), "center_zoom": 13,
            "center_lon_e7": int((west + east) / 2 * e7), "center_lat_e7": int((south + north) / 2 * e7),
        }, {"name": "access", "format": "png", "minzoom": 10, "maxzoom": maxzoom})
    progress(label, len(tiles), len(tiles))
    return {"legend": surface.legend(), "tiles": written}


def _summary(region: Region, tiles: TileSet) -> dict[str, Any]:
    """The region as the web map reads it (the shape of ``GET /api/v1/regions``)."""
    meta = region.metadata
    return {
        "name": region.name, "title": region.config.title, "title_en": region.config.title_en,
        "crs": meta.get("crs"), "bounds": tiles.bounds(), "attribution": region.config.attribution,
        "layers": [{"kind": k, **{f: v for f, v in m.items() if f != "sources"}}
                   for k, m in meta.get("layers", {}).items()],
        "plans": [{"name": k, "title": m.get("title"), "areas": m.get("areas")}
                  for k, m in meta.get("plans", {}).items()],
        "network": meta.get("network"), "built_at": meta.get("built_at"),
    }


def _district_page(region: Region, layer: str, name: str, number: int, row: dict[str, Any],
                   gaps: int, *, has_map: bool) -> str:
    """One district's page: its figures and links to its map, the atlas and the tables."""
    esc = html.escape
    covs = "".join(f"<tr><td>{esc(label)}</td><td>{_pct(share)}</td>"
                   f"<td>{_pct((row.get('coverage_65plus') or {}).get(label))}</td></tr>"
                   for label, share in (row.get("coverage") or {}).items())
    pop65 = row.get("population_65plus")
    maps = (f"<li><a id=\"pdf\" href=\"../../maps/{esc(layer)}/{number}.pdf\">宝物マップ（PDF） "
            f"treasure map</a></li><li><a href=\"../../maps/{esc(layer)}/atlas.pdf\">"
            "地図帳（全区域） atlas</a></li>") if has_map else ""
    return protect_page(
        "<!doctype html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(name)} — {esc(region.config.title)}</title>"
        "<link rel=\"stylesheet\" href=\"../../static/style.css\"></head>"
        f"<body class=\"district-page\" data-layer=\"{esc(layer)}\" data-name=\"{esc(name)}\">"
        f"<h1>{esc(name)}</h1><p>{esc(region.config.title)}</p><ul>{maps}"
        f"<li><a href=\"../../data/coverage/{esc(layer)}.csv\">カバー率の表（CSV） coverage table</a></li>"
        "<li><a href=\"../../index.html\">地図へ back to the map</a></li></ul>"
        f"<table><tr><th>人口 population</th><td>{row.get('population', 0):,.0f}</td></tr>"
        f"<tr><th>65歳以上 aged 65+</th><td>{'—' if pop65 is None else f'{pop65:,.0f}'}</td></tr>"
        f"<tr><th>ネットワーク外 off the network</th><td>{row.get('no_network_population', 0):,.0f}"
        f"</td></tr><tr><th>徒歩圏外の空白地帯 gaps</th><td>{gaps}</td></tr></table>"
        f"<table id=\"coverage-table\"><tr><th>しきい値</th><th>人口割合</th><th>65歳以上</th></tr>"
        f"{covs}</table><p><small>{esc(' / '.join(region.config.attribution))}</small></p>"
        "</body></html>\n")


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def _maps(region: Region, layer: str, names: list[str], out: Path, results: AccessResults | None,
          progress: Progress, qr_base: str | None) -> int:
    """One treasure-map PDF per district (numbered as in the district list) and the atlas; with
    ``qr_base`` (the site's address) each page's QR code leads to its district's page."""
    from kennai.maps.request import TreasureMapRequest, map_options, render_map

    folder = out / "maps" / layer
    folder.mkdir(parents=True, exist_ok=True)
    minutes = 10.0 if results is not None else None
    label = t(f"宝物マップ {layer}", f"treasure maps {layer}").get()
    for i, name in enumerate(counted(progress, label, names)):
        request = TreasureMapRequest(layer=layer, district=name, walk_minutes=minutes,
                                     qr_base=qr_base)
        render_map(region, request, map_options(region, request, results=results),
                   path=folder / f"{i + 1}.pdf")
    atlas = TreasureMapRequest(layer=layer, all_districts=True, walk_minutes=minutes,
                               qr_base=qr_base)
    render_map(region, atlas, map_options(region, atlas, results=results),
               path=folder / "atlas.pdf", progress=progress)
    return len(names) + 1


def folder_size(path: Path) -> tuple[int, int]:
    """Bytes and files under ``path``."""
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def export_site(region: Region, out: Path, *, web_modules: Path, results: AccessResults | None,
                max_mb: float = 200.0, maxzoom: int = 15, map_layers: tuple[str, ...] | None = None,
                qr_base: str | None = None, progress: Progress = no_progress) -> SiteReport:
    """Write the static site of a built region into the folder ``out`` (replaced whole).

    Parameters
    ----------
    region
        A built region.
    out
        The folder to write (created; an existing one is replaced only when all went well).
    web_modules
        ``web/node_modules`` holding ``maplibre-gl`` and ``pmtiles``.
    results
        The stored access results (coverage, gaps, the walking surface), or None.
    max_mb
        The size budget: a larger site is an :class:`OutputError` and nothing is replaced.
    maxzoom
        The deepest zoom of the vector tiles.
    map_layers
        The district layers that get treasure-map PDFs (the slowest part; default the first
        district layer, ``()`` for none).
    qr_base
        The address the site will be served from (``https://…/``): the treasure maps get a QR
        code leading to their district's page there.
    progress
        Told each stage, with counts where it has them (tiles, pages, districts).
    """
    if out.exists() and not out.is_dir():
        raise OutputError(t("出力先がファイルです", "the output is a file"), path=out,
                          hint=t("フォルダ名を指定してください", "give a folder name"))
    if qr_base is not None:
        from kennai.maps.request import check_site_url

        check_site_url(qr_base)  # before the slow part
    layers = [k for k in POLYGON_KINDS if region.has_layer(k)]
    map_layers = tuple(layers[:1]) if map_layers is None else map_layers
    for layer in map_layers:
        if layer not in layers:
            raise NotFoundError(t(f"区域のレイヤ「{layer}」はありません（あるもの: {', '.join(layers)}）",
                                  f"no district layer {layer!r} (there are: {', '.join(layers)})"),
                                feature=layer, hint=t("--maps に上のどれかを指定してください",
                                                      "give --maps one of these"))
    districts = pdf_count = 0
    with atomic_dir(out) as tmp:
        _vendor(web_modules, tmp)
        _page(tmp)
        tileset = region_tile_set(region, access=results)
        (tmp / "tiles").mkdir()
        export_pmtiles(tileset, tmp / "tiles" / "region.pmtiles", maxzoom=maxzoom,
                       name=region.config.title, attribution=" / ".join(region.config.attribution),
                       progress=progress)
        summary = _summary(region, tileset)
        summary["vector_layers"] = tileset.tilejson("", name=region.name)["vector_layers"]
        summary["legend"] = None
        if results is not None and results.surface_path and Path(results.surface_path).is_file():
            raster = _raster_pmtiles(Path(results.surface_path), tmp / "tiles" / "access.pmtiles",
                                     maxzoom=min(maxzoom, 15), progress=progress)
            summary["legend"] = raster["legend"]
        summary["district_layers"] = layers
        summary["map_layers"] = list(map_layers)
        _write_json(tmp / "data" / "region.json", summary)
        _write_json(tmp / "data" / "places.geojson", to_feature_collection(region.layer("places"))
                    if region.has_layer("places") else {"type": "FeatureCollection", "features": []})
        progress(t("表（JSON・CSV）", "tables (JSON, CSV)").get())
        if results is not None:
            gaps = export_table(region, "gaps")
            write_table(gaps, tmp / "data" / "gaps.csv")
            _write_json(tmp / "data" / "gaps.json", to_feature_collection(region_gaps(region, results)))
        for plan in region.plan_names:
            pieces = export_table(region, f"splits:{plan}", units=layers[0] if layers else "elementary")
            (tmp / "data" / "splits").mkdir(parents=True, exist_ok=True)
            write_table(pieces, tmp / "data" / "splits" / f"{plan}.csv")
            _write_json(tmp / "data" / "splits" / f"{plan}.json", to_feature_collection(pieces.frame))
        for layer in counted(progress, t("区域のページ", "district pages").get(), layers):
            names = list(dict.fromkeys(str(n) for n in region.layer(layer)["name"]))
            index: dict[str, Any] = {"names": names, "coverage": {}, "gaps": {}}
            if results is not None:
                _, polygons = resolve_polygons(region, layer)
                rows = coverage_table(results, polygons, region_name=region.config.title)
                index["coverage"] = {r["name"]: r for r in rows}
                (tmp / "data" / "coverage").mkdir(parents=True, exist_ok=True)
                write_table(coverage_export(region, results, layer),
                            tmp / "data" / "coverage" / f"{layer}.csv")
                for name in names:
                    frame = district_gaps(region, results, layer=layer, district=name).gaps
                    index["gaps"][name] = to_feature_collection(frame)
            _write_json(tmp / "data" / "coverage" / f"{layer}.json", index)
            (tmp / "districts" / layer).mkdir(parents=True)
            for i, name in enumerate(names):
                row = index["coverage"].get(name, {})
                gap_count = len(index["gaps"].get(name, {}).get("features", []))
                (tmp / "districts" / layer / f"{i + 1}.html").write_text(
                    _district_page(region, layer, name, i + 1, row, gap_count,
                                   has_map=layer in map_layers), encoding="utf-8")
            districts += len(names)
            if layer in map_layers:
                pdf_count += _maps(region, layer, names, tmp, results, progress, qr_base)
        size, files = folder_size(tmp)
        if size > max_mb * 1e6:
            raise OutputError(t(f"サイトが {size / 1e6:.1f} MB で上限 {max_mb:g} MB を超えます",
                                f"the site is {size / 1e6:.1f} MB, over the budget of {max_mb:g} MB"),
                              path=out, hint=t("--max-mb を増やすか --maxzoom を下げてください",
                                               "raise --max-mb or lower --maxzoom"))
    return SiteReport(out, size, files, districts, pdf_count)
