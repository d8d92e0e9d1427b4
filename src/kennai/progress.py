"""The progress callback every long step accepts: one line of text per stage."""

from __future__ import annotations

from collections.abc import Callable

#: A step reports what it is doing by calling this with one short line.
Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """The default callback: say nothing."""
    return None
