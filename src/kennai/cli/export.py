"""`kennai export` and `kennai export-site`: tables for the office and a site for any web server.

The commands only translate options: :mod:`kennai.export_targets` says what a ``--layer``
names, :mod:`kennai.export` writes it, :mod:`kennai.site` lays out the static site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kennai.cli.app import ConfigArg, app, open_region, progress_status, say
from kennai.i18n import t


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
) -> None:
    """レイヤや結果を GeoPackage / GeoParquet / FlatGeobuf / CSV / xlsx に書き出す (export a table)."""
    from kennai.export import output_format, write_table
    from kennai.export_targets import export_table

    output_format(output)  # a bad name fails before the analysis runs
    region = open_region(config, build=True)
    with progress_status(True) as progress:
        table = export_table(region, layer, by=by, units=units, progress=progress)
    write_table(table, output)
    say(t(f"保存しました: {output}（{len(table.frame)} 行）",
          f"written: {output} ({len(table.frame)} rows)"))
