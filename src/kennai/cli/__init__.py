"""The ``kennai`` command: parses arguments, calls the library, prints the result.

:mod:`kennai.cli.app` holds the Typer app and what the commands share; each feature module
registers its own commands on it. Every user error arrives as a
:class:`~kennai.errors.KennaiError` and is printed as one line (Japanese by default, English
with ``--lang en``) with a non-zero exit code; JSON output (``--json``) goes to stdout alone so
it can be piped.
"""

from __future__ import annotations

# Each feature module registers its commands on the app; `kennai --help` lists them in this order.
from kennai.cli import build  # noqa: F401

# isort: split
from kennai.cli import access, export, init, karte, maps, serve, splits  # noqa: F401

# isort: split
from kennai.cli.app import app, err
from kennai.errors import KennaiError

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: run the app, turning kennai errors into one line and an exit code."""
    try:
        app()
    except KennaiError as exc:
        err.print(f"[red]kennai:[/red] {exc.format()}", highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
