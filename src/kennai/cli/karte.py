"""`kennai karte`: translates its options into a 地区カルテ request and writes the pages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kennai.cli.app import ConfigArg, QuietOpt, app, open_region, progress_bars, say
from kennai.i18n import t


@app.command("karte")
def karte(
    config: ConfigArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="出力ファイル .pdf/.html (output file)")],
    layer: Annotated[str, typer.Option("--layer", help="区域のレイヤ (district layer)")] = "elementary",
    district: Annotated[str | None, typer.Option("--district", help="区域名 (district name)")] = None,
    all_districts: Annotated[bool, typer.Option(
        "--all", help="全区域（1 区域 1 ページ） (every district, one page each)")] = False,
    quiet: QuietOpt = False,
) -> None:
    """地区カルテ（人口・高齢化率・徒歩圏・空白地・圏域の分割）を作る (district profiles)."""
    from kennai.maps.karte import karte_profiles
    from kennai.maps.karte_render import karte_format, write_karte

    karte_format(output)  # a wrong suffix fails before the region is opened
    region = open_region(config, build=True, quiet=quiet)
    with progress_bars(not quiet) as progress:
        profiles = karte_profiles(region, layer=layer, district=district,
                                  all_districts=all_districts, progress=progress)
        path = write_karte(profiles, output, progress=progress)
    say(t(f"書き出しました: {path}（{len(profiles)} 区域）", f"written: {path} ({len(profiles)} districts)"))
