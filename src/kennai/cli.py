"""The ``kennai`` command: parses arguments, calls the library, prints the result.

No analysis happens here. Every user error arrives as a :class:`~kennai.errors.KennaiError`
and is printed as one line (Japanese by default, English with ``--lang en``) with a non-zero
exit code; JSON output (``--json``) goes to stdout alone so it can be piped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kennai.config import load_config
from kennai.errors import KennaiError
from kennai.i18n import Text, get_lang, set_lang, t

app = typer.Typer(
    name="kennai",
    help="圏内 kennai — 通いの場への徒歩アクセス・第2層圏域の分断チェック・地図 "
         "(walkable access, layer-2 split checks and maps)",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

ConfigArg = Annotated[Path, typer.Argument(help="地域の設定 YAML (region config)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON で出力 (machine-readable output)")]


@app.callback()
def _main(
    lang: Annotated[str, typer.Option("--lang", help="表示言語 ja|en (message language)")] = "",
) -> None:
    if lang:
        if lang not in ("ja", "en"):
            raise typer.BadParameter("--lang must be ja or en")
        set_lang(lang)


def say(text: Text) -> None:
    """Print a message for the user (stderr, so that stdout stays clean for JSON/CSV)."""
    err.print(text.get(), highlight=False)


@contextmanager
def progress_status(enabled: bool) -> Iterator[Any]:
    """A rich status line showing which step runs (silent when output is JSON)."""
    if not enabled or not err.is_terminal:
        yield lambda _step: None
        return
    with err.status(t("準備中…", "starting…").get()) as status:
        yield lambda step: status.update(t(f"{step} を処理中…", f"working on {step}…").get())


def print_json(data: Any) -> None:
    """Write JSON to stdout, Japanese kept as text."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


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
        shares = "  ".join(f"{k}: {v:.0%}" for k, v in acc["coverage"].items() if v is not None)
        out.print(t(f"徒歩アクセス（{acc['profile']}、通いの場 {acc['places']} か所）: {shares}"
                    f"  ネットワーク外 {acc['no_network_population']:,.0f} 人",
                    f"walkable access ({acc['profile']}, {acc['places']} places): {shares}"
                    f"  no network {acc['no_network_population']:,.0f}").get(), highlight=False)
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
) -> None:
    """地域を読み込み・検査して build/<地域>/ に保存 (read, check and store a region)."""
    from kennai.build import build_region

    cfg = load_config(config)
    with progress_status(not as_json) as progress:
        region, rebuilt = build_region(cfg, force=force, progress=progress)
    report = region.report() | {"rebuilt": rebuilt}
    if as_json:
        print_json(report)
        return
    if not rebuilt:
        say(t("入力に変更がないため前回の結果を使いました", "inputs unchanged: reused the last build"))
    _print_report(report)


@app.command()
def info(config: ConfigArg, as_json: JsonOpt = False) -> None:
    """地域のレイヤ・件数・CRS・チェック結果を表示 (layers, counts, CRS, check report)."""
    from kennai.build import build_region

    cfg = load_config(config)
    with progress_status(not as_json) as progress:
        region, _ = build_region(cfg, progress=progress)
    report = region.report()
    if as_json:
        print_json(report)
    else:
        _print_report(report)


def _demo_config() -> Path:
    path = Path(__file__).resolve().parents[2] / "pipelines" / "demo.yaml"
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
    from kennai.cli_serve import serve

    path = _demo_config()
    say(t(f"デモ地域を読み込みます: {path}", f"building the demo region: {path}"))
    build(path, force=False, as_json=False)
    if serve_map:
        serve(path, host=host, port=port, register=None)


def _register_commands() -> None:
    """Import the feature modules whose commands register themselves on ``app``."""
    from kennai import cli_access, cli_maps, cli_serve, cli_splits  # noqa: F401


def main() -> None:
    """Entry point: run the app, turning kennai errors into one line and an exit code."""
    _register_commands()
    try:
        app()
    except KennaiError as exc:
        err.print(f"[red]kennai:[/red] {exc.format()}", highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    # Run through the package module so that command modules register on the same app.
    from kennai.cli import main as _package_main

    _package_main()
