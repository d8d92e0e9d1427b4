"""`kennai batch`: many municipalities at once on a Dask cluster (registered on kennai.cli.app).

The command only translates options into :func:`kennai.batch.run_batch` (and
:func:`kennai.batch.postgis.load_batch` with ``--to``) and shows its progress: a bar with the
municipalities done and failed and the time left, and the Dask dashboard address. It exits
with 0 when every municipality is done and 3 when some failed (the others are written).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from kennai.cli.app import JsonOpt, app, err, print_json, say
from kennai.errors import ConfigError
from kennai.i18n import t


@contextmanager
def _bar(enabled: bool) -> Iterator[Callable[[int, int, int], None]]:
    """A progress bar on stderr: done/total, failed, elapsed and ETA (silent when piped)."""
    if not enabled or not err.is_terminal:
        yield lambda _done, _failed, _total: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    label = t("市区町村", "municipalities").get()
    failed_label = t("失敗", "failed").get()
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                  TextColumn(f"{failed_label} {{task.fields[failed]}}"), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err) as bars:
        task = bars.add_task(label, total=None, failed=0)

        def update(done: int, failed: int, total: int) -> None:
            bars.update(task, completed=done, total=total, failed=failed)
        yield update


@app.command()
def batch(
    configs: Annotated[list[Path] | None, typer.Argument(
        help="地域の設定 YAML（複数可） (region configs)")] = None,
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", help="市区町村コード → 設定 YAML の CSV（列 code,config） (manifest CSV)")] = None,
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="出力フォルダ（再実行では変わった所だけ） (output folder)")] = Path("batch"),
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="LocalCluster のワーカー数（既定: CPU 数） (local workers)")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="既存の Dask スケジューラ tcp://HOST:8786 (use a running cluster)")] = None,
    to: Annotated[str | None, typer.Option(
        "--to", help="結果を PostGIS に読み込む postgresql://… (load the results into PostGIS)")] = None,
    schema: Annotated[str, typer.Option("--schema", help="PostGIS のスキーマ (schema)")] = "kennai",
    force: Annotated[bool, typer.Option(
        "--force", help="入力が変わっていない市区町村も計算し直す (run every municipality)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """多数の市区町村を Dask で一括計算 (many municipalities at once on a Dask cluster)."""
    from kennai.batch import items_from_configs, read_manifest, run_batch

    if (manifest is None) == (not configs):
        raise ConfigError(t("設定 YAML か --manifest のどちらか一方を指定してください",
                            "give either configs or --manifest"),
                          hint=t("例: kennai batch pipelines/demo.yaml pipelines/yaizu.yaml -o out/",
                                 "e.g. kennai batch pipelines/demo.yaml pipelines/yaizu.yaml -o out/"))
    items = read_manifest(manifest) if manifest is not None else items_from_configs(configs or [])
    n_workers = workers or max(1, os.cpu_count() or 1)
    with _bar(not as_json) as progress:
        result = run_batch(items, output, workers=n_workers, scheduler=scheduler, force=force,
                           on_progress=progress,
                           on_dashboard=None if as_json else lambda link: say(
                               t(f"Dask ダッシュボード: {link}", f"Dask dashboard: {link}")))
    loaded = None
    if to:
        from kennai.batch.postgis import load_batch

        loaded = load_batch(result.out_dir, to, schema=schema)
    if as_json:
        print_json({"out_dir": str(result.out_dir), "ran": result.ran, "skipped": result.skipped,
                    "failures": [f.to_dict() for f in result.failures],
                    "wall_seconds": round(result.wall_seconds, 3), "loaded": loaded,
                    "exit_code": result.exit_code})
    else:
        say(t(f"計算 {len(result.ran)}・変更なしで省略 {len(result.skipped)}・失敗 {len(result.failures)}"
              f"（{result.wall_seconds:.1f} 秒）→ {result.out_dir}",
              f"ran {len(result.ran)}, unchanged and skipped {len(result.skipped)}, failed "
              f"{len(result.failures)} ({result.wall_seconds:.1f} s) → {result.out_dir}"))
        for failure in result.failures:
            err.print(f"  {failure.municipality}: {failure.error}", highlight=False, markup=False,
                      soft_wrap=True)
        if loaded is not None:
            say(t(f"PostGIS のスキーマ {schema} に {loaded} 市区町村を読み込みました",
                  f"loaded {loaded} municipalities into the PostGIS schema {schema}"))
    if result.exit_code:
        raise typer.Exit(result.exit_code)
