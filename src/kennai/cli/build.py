"""`kennai build`, `kennai info` and `kennai demo`: store a region, report on it, try the demo.

Only argument parsing and printing; reading and checking is :mod:`kennai.region`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kennai.cli.app import (
    ConfigArg,
    JsonOpt,
    QuietOpt,
    app,
    ensure_built,
    open_region,
    out,
    print_json,
    say,
    serve_region,
)
from kennai.errors import KennaiError
from kennai.i18n import get_lang, t


def _print_report(report: dict[str, Any]) -> None:
    ja = get_lang() == "ja"
    title = report["title"] if ja or not report.get("title_en") else report["title_en"]
    out.print(f"[bold]{title}[/bold] ({report['region']})  CRS: EPSG:{report['crs']['epsg']} "
              f"{report['crs']['name']}", highlight=False)
    table = Table(t("レイヤ", "layer").get(), t("件数", "count").get(),
                  t("入力", "source").get(), show_header=True)
    for kind, meta in report["layers"].items():
        extra = ""
        if kind == "population":
            extra = t(f"  人口 {meta['population']:,.0f}", f"  population {meta['population']:,.0f}"
                      ).get()
            if meta.get("population_65plus") is not None:
                extra += t(f" / 65歳以上 {meta['population_65plus']:,.0f}",
                           f" / 65+ {meta['population_65plus']:,.0f}").get()
        table.add_row(kind, f"{meta['count']:,}", ", ".join(meta["sources"]) + extra)
    for name, meta in report["plans"].items():
        table.add_row(f"plan:{name}", f"{meta['areas']}", meta.get("title") or "")
    net = report.get("network")
    if net:
        table.add_row("network", f"{net['nodes']:,} / {net['edges']:,}",
                      t(f"{net['length_km']:,.1f} km, {net['components']} 連結成分, 最大成分 "
                        f"{net['largest_component_length_share']:.1%}",
                        f"{net['length_km']:,.1f} km, {net['components']} components, largest "
                        f"{net['largest_component_length_share']:.1%}").get())
    if report.get("dem"):
        dem = report["dem"]
        table.add_row("dem", f"{dem['width']}×{dem['height']}", dem["source"])
    out.print(table)
    acc = report.get("access") or {}
    if acc.get("coverage"):
        from kennai.coverage_base import base_note

        shares = "  ".join(f"{k}: {v:.0%}" for k, v in acc["coverage"].items() if v is not None)
        out.print(t(f"徒歩アクセス（{acc['profile']}、通いの場 {acc['places']} か所）: "
                    f"{base_note(acc).ja}{shares}  ネットワーク外 {acc['no_network_population']:,.0f} 人",
                    f"walkable access ({acc['profile']}, {acc['places']} places): "
                    f"{base_note(acc).en}{shares}  no network {acc['no_network_population']:,.0f}"
                    ).get(), highlight=False)
    checks = report["checks"]
    out.print(t(f"チェック: エラー {checks['error']} / 警告 {checks['warning']} / 情報 "
                f"{checks['info']}",
                f"checks: {checks['error']} errors / {checks['warning']} warnings / "
                f"{checks['info']} notes").get())
    for f in report["findings"]:
        where = ": ".join(x for x in (f["layer"], f["feature"]) if x)
        msg = f["message_ja"] if ja else f["message"]
        colour = {"error": "red", "warning": "yellow"}.get(f["level"], "dim")
        out.print(f"  [{colour}]{f['level']}[/{colour}] {where}: {msg}", highlight=False)


@app.command()
def build(
    config: ConfigArg,
    force: Annotated[bool, typer.Option("--force", help="入力が同じでも作り直す (rebuild)")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """地域を読み込み・検査して build/<地域>/ に保存 (read, check and store a region)."""
    region, rebuilt = ensure_built(config, force=force, quiet=quiet or as_json)
    report = region.report() | {"rebuilt": rebuilt}
    if as_json:
        print_json(report)
        return
    if not rebuilt:
        say(t("入力に変更がないため前回の結果を使いました", "inputs unchanged: reused the last build"))
    _print_report(report)


@app.command()
def info(config: ConfigArg, as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """地域のレイヤ・件数・CRS・チェック結果を表示 (layers, counts, CRS, check report)."""
    # The build when it is up to date; otherwise the inputs read and checked, nothing written.
    report = open_region(config, quiet=quiet or as_json).report()
    if as_json:
        print_json(report)
    else:
        _print_report(report)


def _demo_config() -> Path:
    path = Path(__file__).resolve().parents[3] / "pipelines" / "demo.yaml"
    if not path.is_file():
        raise KennaiError(t("デモの設定 pipelines/demo.yaml が見つかりません",
                            "the demo config pipelines/demo.yaml is missing"), path=path,
                          hint=t("リポジトリから pip install -e . でインストールしてください",
                                 "install from the repository with pip install -e ."))
    return path


@app.command()
def demo(
    host: Annotated[str, typer.Option("--host", help="待ち受けるアドレス (bind address)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="ポート (port)")] = 8000,
    serve_map: Annotated[bool, typer.Option("--serve/--no-serve",
                                            help="ウェブ地図を配信する (serve the web map)")] = True,
) -> None:
    """デモ地域を build し、結果を表示してウェブ地図を配信 (build the demo region, report, serve)."""
    path = _demo_config()
    say(t(f"デモ地域を読み込みます: {path}", f"building the demo region: {path}"))
    build(path, force=False, as_json=False, quiet=False)
    if serve_map:
        serve_region(path, host=host, port=port, register=None)
