"""`kennai` commands for maps (registered on kennai.cli.app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kennai.cli.app import ConfigArg, app, open_region, say
from kennai.errors import KennaiError
from kennai.i18n import t


def _split(values: list[str] | None) -> list[str] | None:
    """``--categories A,B --categories C`` → [A, B, C] (、 separates too)."""
    if not values:
        return None
    out = [v.strip() for raw in values for v in raw.replace("、", ",").split(",") if v.strip()]
    return out or None


@app.command("treasure-map")
def treasure_map(
    config: ConfigArg,
    output: Annotated[Path, typer.Option("-o", "--output",
                                         help="出力ファイル .pdf/.png/.svg/.html (output file)")],
    layer: Annotated[str, typer.Option("--layer", help="区域のレイヤ (district layer)")] = "elementary",
    district: Annotated[str | None, typer.Option("--district", help="区域名 (district name)")] = None,
    paper: Annotated[str, typer.Option("--paper", help="用紙 A4|A3 (paper size)")] = "A4",
    orientation: Annotated[str, typer.Option(
        "--orientation", help="向き landscape|portrait (orientation)")] = "landscape",
    categories: Annotated[list[str] | None, typer.Option(
        "--categories", help="載せる種別（カンマ区切り可） (place categories to show)")] = None,
    coverage: Annotated[bool, typer.Option(
        "--coverage", help="徒歩圏を塗る (shade the area within --minutes walk)")] = False,
    minutes: Annotated[float, typer.Option("--minutes", help="徒歩圏の分数 (walking minutes)")] = 10.0,
    title: Annotated[str | None, typer.Option(
        "--title", help="表題（--all では {district} が区域名） (page title)")] = None,
    all_districts: Annotated[bool, typer.Option(
        "--all", help="全区域を 1 つの PDF に (one page per district in one PDF)")] = False,
) -> None:
    """宝物マップ（番号付きの場所と一覧表）を作る (print a district's treasure map)."""
    from kennai.maps import interactive, treasure

    if not all_districts and not district:
        raise KennaiError(t("--district か --all を指定してください", "give --district or --all"),
                          feature="--district", hint=t("例: --district 焼津東小学校",
                                                       "e.g. --district 焼津東小学校"))
    region = open_region(config, build=True, quiet=True)
    is_html = output.suffix.lower() in (".html", ".htm")
    if is_html and all_districts:
        raise KennaiError(t("--all は PDF にだけ使えます", "--all writes a PDF only"), path=output,
                          hint=t("-o に .pdf を指定してください", "give -o a .pdf"))
    if not is_html:
        treasure.output_format(output)
    results = None
    if coverage or is_html:
        try:
            results = treasure.access_results(region)
        except KennaiError:
            if coverage:
                raise
    options: dict = {"categories": _split(categories)}
    if coverage:
        options["shade"] = treasure.walk_area(region, results, minutes=minutes)
        options["shade_label"] = treasure.walk_label(minutes)
        options["unserved"] = treasure.no_network_area(region, results)
    if all_districts:
        path = treasure.write_atlas(region, output, layer=layer, paper=paper,
                                    orientation=orientation, title=title, **options)
    elif is_html:
        mins = (treasure.district_place_minutes(region, results, layer=layer, district=district)
                if results is not None else None)
        path = interactive.write_interactive_map(region, output, layer=layer, district=district,
                                                 title=title, minutes=mins, **options)
    else:
        path = treasure.write_treasure_map(region, output, layer=layer, district=district,
                                           paper=paper, orientation=orientation, title=title,
                                           **options)
    say(t(f"書き出しました: {path}", f"written: {path}"))
