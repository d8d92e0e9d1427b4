"""The ``kennai`` Typer app and what every command shares: options, console output, the region.

No analysis happens here. Feature modules (:mod:`kennai.cli.build`, :mod:`kennai.cli.access`
…) register their commands on :data:`app` and import nothing else from the CLI. Messages go to
stderr (Japanese by default, English with ``--lang en``) so that JSON and CSV on stdout can be
piped. Every command gets its region through :func:`open_region`.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from kennai.i18n import Text, set_lang, t
from kennai.progress import Progress, terminal_progress

if TYPE_CHECKING:
    # The config (pydantic, yaml) and the build machinery (geopandas, scipy …) are imported
    # when a command needs a region, so that ``kennai --help`` and argument errors answer at once.
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

#: ``kennai plans …``: the layer-2 plans (compared in kennai.cli.splits, kept in kennai.cli.plans).
plans_app = typer.Typer(help="第2層圏域の案 (layer-2 plans)", no_args_is_help=True)
app.add_typer(plans_app, name="plans")

ConfigArg = Annotated[Path, typer.Argument(help="地域の設定 YAML (region config)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON で出力 (machine-readable output)")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="進み具合を表示しない (no progress bars)")]


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


def progress_bars(enabled: bool) -> AbstractContextManager[Progress]:
    """Progress bars with counts and ETA on stderr (:func:`kennai.progress.terminal_progress`).

    Silent when ``enabled`` is false (``--json``, ``--quiet``) or stderr is not a terminal, so
    piped output stays clean.
    """
    return terminal_progress(err, enabled=enabled)


def print_json(data: Any) -> None:
    """Write JSON to stdout, Japanese kept as text."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@contextmanager
def collector_paused() -> Iterator[None]:
    """Import a command's machinery with the cyclic garbage collector paused, then freeze it.

    Importing geopandas and matplotlib makes some hundred thousand objects, which the collector
    would scan again at every collection although they live as long as the process: a fifth of
    a printed map's time. Frozen (:func:`gc.freeze`), they are skipped; the collector runs as
    usual on what the command makes afterwards (an atlas's pages).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def ensure_built(config_path: Path, *, force: bool = False, quiet: bool = False
                 ) -> tuple[Region, bool]:
    """Build the region into ``build/<region>/`` unless an up-to-date build is there.

    Returns
    -------
    (Region, bool)
        The region reopened from its build, and whether it was (re)built now.
    """
    with collector_paused():
        from kennai.config import default_build_dir, load_config
        from kennai.freshness import is_current
        from kennai.region import open_region as open_build

    config = load_config(config_path)
    build_dir = default_build_dir(config)
    # A current build is reopened as build_region would, without importing the readers and
    # writers (geopandas, rasterio, scipy …: most of a second).
    if not force and is_current(config, build_dir):
        return open_build(config, build_dir=build_dir), False
    with collector_paused():  # geopandas, rasterio, pyosmium, scipy: not scanned at each collection
        from kennai.build import build_region

    with progress_bars(not quiet) as progress:
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
    with collector_paused():
        from kennai.config import default_build_dir, load_config
        from kennai.freshness import is_current
        from kennai.region import open_region as open_build

    if build:
        return ensure_built(config_path, quiet=quiet)[0]
    config = load_config(config_path)
    build_dir = default_build_dir(config)
    if is_current(config, build_dir):
        return open_build(config, build_dir=build_dir)
    from kennai.build import read_region  # the readers, only when there is no current build

    with progress_bars(not quiet) as progress:
        return read_region(config, build_dir=build_dir, progress=progress)[0]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False


def serve_region(config_path: Path, *, host: str, port: int, register: str | None,
                 uploads_need_token: bool = False, results: str | None = None,
                 build_dir: Path | None = None) -> None:
    """Build the region when needed, then serve the API, tiles and web map until stopped.

    ``register`` is the place register (a SQLite file or a ``postgresql://`` URL); the build
    reads the same one. Plan uploads need the token unless ``host`` is a loopback address and
    ``uploads_need_token`` is not set. ``results`` (a batch folder or ``postgresql://`` URL) is
    where the region list, coverage and gaps are read from; ``build_dir`` serves that build as
    it is (a batch's), without building.
    """
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
        from api.server import serve
    except ImportError:
        raise typer.BadParameter("the 'api' package is not importable: install kennai with "
                                 "pip install -e . from the repository") from None
    from kennai.batch.serving import results_source

    # Uploads without the token only when no other machine can connect (see docs/api-security.md).
    application = create_app(config_path, build_dir=build_dir,
                             register_path=register_location(register) if register else None,
                             open_uploads=is_loopback(host) and not uploads_need_token,
                             results=results_source(results) if results else None)
    say(t(f"地図: http://{host}:{port}/map/  API 文書: http://{host}:{port}/docs",
           f"map: http://{host}:{port}/map/  API docs: http://{host}:{port}/docs"))
    serve(application, host=host, port=port)


def serve_results(target: str, *, host: str, port: int) -> None:
    """Serve the results of a batch (its output folder or the PostGIS it was loaded into)."""
    from api import create_results_app
    from api.server import serve

    application = create_results_app(target)
    say(t(f"バッチの結果: http://{host}:{port}/api/v1/regions",
           f"batch results: http://{host}:{port}/api/v1/regions"))
    serve(application, host=host, port=port)
