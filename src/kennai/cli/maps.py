"""`kennai treasure-map`: translates its options into a treasure-map request and renders it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kennai.cli.app import (
    ConfigArg,
    QuietOpt,
    app,
    collector_paused,
    open_region,
    progress_bars,
    say,
)
from kennai.i18n import t


def _split(values: list[str] | None) -> tuple[str, ...] | None:
    """``--categories A,B --categories C`` → (A, B, C) (、 separates too)."""
    if not values:
        return None
    out = tuple(v.strip() for raw in values for v in raw.replace("、", ",").split(",") if v.strip())
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
        "--all", help="全区域: PDF は 1 ファイル、HTML は目次と区域ごとのページ "
                      "(every district: one PDF, or an HTML index and a page per district)")] = False,
    plan: Annotated[str | None, typer.Option(
        "--plan", help="第2層の計画の圏域を区域にする（--layer の代わり） (a plan's areas as the "
                       "districts)")] = None,
    qr_base: Annotated[str | None, typer.Option(
        "--qr-base", help="公開サイトのアドレス: 区域のページへの QR コードを載せる "
                          "(exported site's address: QR code to the district's page)")] = None,
    quiet: QuietOpt = False,
) -> None:
    """宝物マップ（番号付きの場所と一覧表）を作る (print a district's treasure map)."""
    from kennai.maps.request import (
        TreasureMapRequest,
        access_for,
        file_format,
        import_renderer,
        map_options,
        render_map,
    )

    request = TreasureMapRequest(
        layer=f"plan:{plan}" if plan else layer, district=district, qr_base=qr_base,
        all_districts=all_districts,
        fmt=file_format(output, atlas=all_districts), paper=paper, orientation=orientation,
        categories=_split(categories), walk_minutes=minutes if coverage else None, title=title)
    region = open_region(config, build=True, quiet=quiet)
    with collector_paused():  # the request is checked: now the drawing stack
        import_renderer(request.fmt)
    with progress_bars(not quiet) as progress:
        options = map_options(region, request, results=access_for(region, request))
        path = render_map(region, request, options, path=output, progress=progress)
    say(t(f"書き出しました: {path}", f"written: {path}"))
