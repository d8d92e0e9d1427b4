"""`kennai serve` (build the region when needed, then serve the API, tiles and web map) and
`kennai export-tiles` (the same vector tiles as one PMTiles archive for static hosting)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kennai.cli.app import (
    ConfigArg,
    QuietOpt,
    app,
    open_region,
    progress_bars,
    say,
    serve_region,
    serve_results,
)
from kennai.i18n import t


@app.command()
def serve(
    target: Annotated[str, typer.Argument(
        help="地域の設定 YAML、kennai batch の出力フォルダ、または結果を読み込んだ postgresql:// URL "
             "(a region config, a batch output folder, or a PostGIS URL holding batch results)")],
    host: Annotated[str, typer.Option("--host", help="待ち受けるアドレス (bind address)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="ポート (port)")] = 8000,
    register: Annotated[str | None, typer.Option(
        "--register", help="通いの場の登録簿: SQLite ファイルか postgresql:// URL (register file "
                           "or PostgreSQL+PostGIS URL; default build/<region>.register.sqlite "
                           "or KENNAI_REGISTER)")] = None,
    uploads_need_token: Annotated[bool, typer.Option(
        "--uploads-need-token", help="案のアップロードにもトークンを求める（既定: ループバックでは不要。"
                                     "同じ機械のリバースプロキシの後ろでは指定） (uploads need the "
                                     "token even on a loopback address, e.g. behind a reverse proxy)"
    )] = False,
    results: Annotated[str | None, typer.Option(
        "--results", help="地域の一覧・カバー率・空白地帯をここから読む: バッチの出力フォルダか "
                          "postgresql:// URL (read regions, coverage and gaps from batch results)")
    ] = None,
    region: Annotated[str | None, typer.Option(
        "--region", help="バッチの出力フォルダのうち、この地域の地図も配信する（名前かコード） "
                         "(with a batch folder: also serve this region's web map)")] = None,
) -> None:
    """API・タイル・ウェブ地図を配信 (serve the API, vector tiles and the web map).

    バッチの出力フォルダか postgresql:// URL を渡すと、その全地域の集計を配信します
    (a batch output or PostGIS URL serves every region's results)."""
    if Path(target).is_dir() and region is not None:
        from kennai.batch.serving import region_in_batch

        config, build_dir = region_in_batch(Path(target), region)
        serve_region(config, host=host, port=port, register=register, results=target,
                     build_dir=build_dir, uploads_need_token=uploads_need_token)
        return
    if target.startswith(("postgresql://", "postgres://")) or Path(target).is_dir():
        serve_results(target, host=host, port=port)
        return
    serve_region(Path(target), host=host, port=port, register=register, results=results,
                 uploads_need_token=uploads_need_token)


@app.command("export-tiles")
def export_tiles(
    config: ConfigArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="書き出す .pmtiles (output file)")],
    minzoom: Annotated[int, typer.Option("--minzoom", min=0, max=22, help="最小ズーム")] = 10,
    maxzoom: Annotated[int, typer.Option("--maxzoom", min=0, max=22, help="最大ズーム")] = 16,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="エンコードするプロセス数（既定: 使える CPU の数） "
                                 "(encoding processes; default: the usable CPUs)")] = None,
    quiet: QuietOpt = False,
) -> None:
    """ベクトルタイルを PMTiles に書き出す (export the served vector tiles to one PMTiles file)."""
    from kennai.errors import InputError
    from kennai.tiles import export_pmtiles, region_tile_set

    if output.suffix.lower() != ".pmtiles":
        raise InputError(t("出力ファイルは .pmtiles にしてください", "the output must be a .pmtiles file"),
                         path=output, hint=t("例: -o yaizu.pmtiles", "e.g. -o yaizu.pmtiles"))
    region = open_region(config, build=True, quiet=quiet)
    cfg = region.config
    with progress_bars(not quiet) as progress:
        tiles = region_tile_set(region)
        done = export_pmtiles(tiles, output, minzoom=minzoom, maxzoom=maxzoom, name=cfg.title,
                              attribution=" / ".join(cfg.attribution),
                              progress=progress, workers=workers)
    say(t(f"{done['tiles']} タイルを {output} に書き出しました（{done['bytes']:,} バイト）",
           f"wrote {done['tiles']} tiles to {output} ({done['bytes']:,} bytes)"))
