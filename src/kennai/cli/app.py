"""The ``kennai`` Typer app and what every command shares: options, console output, the region.

No analysis happens here. Feature modules (:mod:`kennai.cli.build`, :mod:`kennai.cli.access`
…) register their commands on :data:`app` and import nothing else from the CLI. Messages go to
stderr (Japanese by default, English with ``--lang en``) so that JSON and CSV on stdout can be
piped. Every command gets its region through :func:`open_region`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from kennai.config import default_build_dir, load_config
from kennai.i18n import Text, set_lang, t
from kennai.progress import Progress

if TYPE_CHECKING:
    # The build machinery (geopandas, scipy …) is imported when a command needs a region, so
    # that ``kennai --help`` and argument errors answer at once.
    from kennai.region import Region

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
def progress_status(enabled: bool) -> Iterator[Progress]:
    """A rich status line showing which step runs (silent when output is JSON)."""
    if not enabled or not err.is_terminal:
        yield lambda _step: None
        return
    with err.status(t("準備中…", "starting…").get()) as status:
        yield lambda step: status.update(t(f"{step} を処理中…", f"working on {step}…").get())


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """Progress bars with counts and ETA on stderr for steps that count their work.

    Yields a callback ``(what, done, in_all)``; each new ``what`` gets its own bar. Silent when
    stderr is not a terminal or the output is JSON, so piped output stays clean.
    """
    if not enabled or not err.is_terminal:
        yield lambda _what, _done, _total: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bars

    tasks: dict[str, Any] = {}
    with Bars(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
              TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False) as bars:
        def update(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bars.add_task(what, total=total)
            bars.update(tasks[what], completed=done, total=total)
        yield update


def print_json(data: Any) -> None:
    """Write JSON to stdout, Japanese kept as text."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def ensure_built(config_path: Path, *, force: bool = False, quiet: bool = False
                 ) -> tuple[Region, bool]:
    """Build the region into ``build/<region>/`` unless an up-to-date build is there.

    Returns
    -------
    (Region, bool)
        The region reopened from its build, and whether it was (re)built now.
    """
    from kennai.build import build_region

    config = load_config(config_path)
    with progress_status(not quiet) as progress:
        return build_region(config, force=force, progress=progress)


def open_region(config_path: Path, *, build: bool = False, quiet: bool = False) -> Region:
    """The region a command works on, built only when the command asks for a build.

    Parameters
    ----------
    config_path
        The region's YAML config.
    build
        Build the region when its build is missing or out of date (what the analysis commands
        do). Without it an out-of-date region is read and checked in memory and nothing is
        written (what ``kennai info`` does).
    quiet
        No progress line (for JSON and CSV output).
    """
    from kennai.build import is_current, read_region
    from kennai.region import open_region as open_build

    if build:
        return ensure_built(config_path, quiet=quiet)[0]
    config = load_config(config_path)
    build_dir = default_build_dir(config)
    if is_current(config, build_dir):
        return open_build(config, build_dir=build_dir)
    with progress_status(not quiet) as progress:
        return read_region(config, build_dir=build_dir, progress=progress)[0]


def serve_region(config_path: Path, *, host: str, port: int, register: str | None,
                 results: str | None = None, build_dir: Path | None = None) -> None:
    """Build the region when needed, then serve the API, tiles and web map until stopped.

    ``register`` is the place register (a SQLite file or a ``postgresql://`` URL); the build
    reads the same one. ``results`` (a batch folder or ``postgresql://`` URL) is where the
    region list, coverage and gaps are read from; ``build_dir`` serves that build as it is (a
    batch's), without building.
    """
    import uvicorn

    from kennai.register import register_location

    if register:
        # The build reads the register through KENNAI_REGISTER: the one the server writes.
        os.environ["KENNAI_REGISTER"] = register
    if build_dir is None:
        _, rebuilt = ensure_built(config_path)
        if rebuilt:
            say(t("地域を build しました", "built the region"))
    try:
        from api import create_app
    except ImportError:
        raise typer.BadParameter("the 'api' package is not importable: install kennai with "
                                 "pip install -e . from the repository") from None
    from kennai.batch.serving import results_source

    application = create_app(config_path, build_dir=build_dir,
                             register_path=register_location(register) if register else None,
                             results=results_source(results) if results else None)
    say(t(f"地図: http://{host}:{port}/map/  API 文書: http://{host}:{port}/docs",
           f"map: http://{host}:{port}/map/  API docs: http://{host}:{port}/docs"))
    uvicorn.run(application, host=host, port=port, log_level="info")


def serve_results(target: str, *, host: str, port: int) -> None:
    """Serve the results of a batch (its output folder or the PostGIS it was loaded into)."""
    import uvicorn

    from api import create_results_app

    application = create_results_app(target)
    say(t(f"バッチの結果: http://{host}:{port}/api/v1/regions",
           f"batch results: http://{host}:{port}/api/v1/regions"))
    uvicorn.run(application, host=host, port=port, log_level="info")
