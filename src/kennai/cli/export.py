"""`kennai export` and `kennai export-site`: tables for the office and a site for any web server.

The commands only translate options: :mod:`kennai.export_targets` says what a ``--layer``
names, :mod:`kennai.export` writes it, :mod:`kennai.site` lays out the static site.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from kennai.cli.app import (
    ConfigArg,
    JsonOpt,
    QuietOpt,
    app,
    open_region,
    print_json,
    progress_bars,
    say,
)
from kennai.i18n import t

#: Where ``npm --prefix web ci`` puts MapLibre GL JS and pmtiles (the repository's ``web/``), or
#: ``KENNAI_WEB_MODULES``.
DEFAULT_WEB_MODULES = Path(os.environ.get("KENNAI_WEB_MODULES") or
                           Path(__file__).resolve().parents[3] / "web" / "node_modules")


@app.command("export")
def export(
    config: ConfigArg,
    layer: Annotated[str, typer.Option(
        "--layer", help="レイヤの種類 (population, elementary, places …) か access / gaps / "
                        "suggestions / splits[:計画名] (a layer kind or a result)")],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="出力ファイル: .gpkg .parquet .fgb .csv .xlsx (output file)")],
    by: Annotated[str | None, typer.Option(
        "--by", help="access を区域ごとに: elementary / 計画名 (districts for access)")] = None,
    units: Annotated[str, typer.Option(
        "--units", help="splits の区域レイヤ (units layer for splits)")] = "elementary",
    quiet: QuietOpt = False,
) -> None:
    """レイヤや結果を GeoPackage / GeoParquet / FlatGeobuf / CSV / xlsx に書き出す (export a table)."""
    from kennai.export import output_format, write_table
    from kennai.export_targets import export_table

    output_format(output)  # a bad name fails before the analysis runs
    region = open_region(config, build=True, quiet=quiet)
    with progress_bars(not quiet) as progress:
        table = export_table(region, layer, by=by, units=units, progress=progress)
        write_table(table, output, progress=progress)
    say(t(f"保存しました: {output}（{len(table.frame)} 行）",
          f"written: {output} ({len(table.frame)} rows)"))


@app.command("export-site")
def export_site(
    config: ConfigArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="出力フォルダ (output folder)")],
    max_mb: Annotated[float, typer.Option(
        "--max-mb", help="サイズの上限 MB (size budget)")] = 200.0,
    maxzoom: Annotated[int, typer.Option(
        "--maxzoom", help="ベクトルタイルの最大ズーム (deepest tile zoom)")] = 15,
    maps: Annotated[list[str] | None, typer.Option(
        "--maps", help="宝物マップの PDF を作る区域レイヤ（既定: 最初の区域レイヤ、none で作らない） "
                       "(district layers that get treasure-map PDFs; repeatable)")] = None,
    qr_base: Annotated[str | None, typer.Option(
        "--qr-base", help="サイトを公開するアドレス: 宝物マップに区域のページへの QR コードを載せる "
                          "(the site's public address: QR codes to the district pages)")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """静的サイト（地図・表・宝物マップ）をフォルダに書き出す (export a static site)."""
    from kennai.access import ACCESS_DIR, load_access
    from kennai.site import export_site as write_site

    quiet = quiet or as_json
    region = open_region(config, build=True, quiet=quiet)
    assert region.build_dir is not None
    stored = region.build_dir / ACCESS_DIR / "access.json"
    results = load_access(region.build_dir) if stored.is_file() else None
    with progress_bars(not quiet) as progress:
        report = write_site(region, output, web_modules=DEFAULT_WEB_MODULES, results=results,
                            max_mb=max_mb, maxzoom=maxzoom, progress=progress, qr_base=qr_base,
                            map_layers=None if not maps else tuple(m for m in maps if m != "none"))
    if as_json:
        print_json(report.to_dict())
        return
    say(t(f"サイトを書き出しました: {output}（{report.bytes / 1e6:.1f} MB、{report.files} ファイル、"
          f"区域 {report.districts}、PDF {report.pdfs}）",
          f"site written: {output} ({report.bytes / 1e6:.1f} MB, {report.files} files, "
          f"{report.districts} districts, {report.pdfs} PDFs)"))
