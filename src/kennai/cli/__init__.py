"""The ``kennai`` command: parses arguments, calls the library, prints the result.

:mod:`kennai.cli.app` holds the Typer app and what the commands share; each feature module
registers its own commands on it. Every user error arrives as a
:class:`~kennai.errors.KennaiError` and is printed as one line (Japanese by default, English
with ``--lang en``) with a non-zero exit code; JSON output (``--json``) goes to stdout alone so
it can be piped.
"""

from __future__ import annotations

import os

from rich.markup import escape

# Each feature module registers its commands on the app; `kennai --help` lists them in this order.
from kennai.cli import build  # noqa: F401

# isort: split
from kennai.cli import access, batch, export, init, karte, maps, plans, serve, splits, suggest  # noqa: F401

# isort: split
from kennai.cli.app import app, err
from kennai.errors import KennaiError
from kennai.i18n import t

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: run the app, turning kennai errors into one line and an exit code."""
    try:
        app()
    except KennaiError as exc:
        err.print(f"[red]kennai:[/red] {escape(exc.format())}", highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except Exception as exc:  # a bug, not a user error: one line still, the trace on request
        if os.environ.get("KENNAI_DEBUG"):
            raise
        name = type(exc).__name__
        text = t(f"内部エラー（{name}: {exc}）→ KENNAI_DEBUG=1 を付けて再実行し、"
                 "出力を添えて報告してください",
                 f"internal error ({name}: {exc}) → run again with KENNAI_DEBUG=1 and report the output")
        err.print(f"[red]kennai:[/red] {escape(text.get())}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
