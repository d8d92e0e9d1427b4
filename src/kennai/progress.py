"""Progress of long steps: the one callback every step takes, and the one way it is shown.

A step calls ``progress(what)`` when it starts a stage, and ``progress(what, done, total)`` as
it counts its work (layers read, tiles written, pages drawn). The library never prints:
:func:`terminal_progress` turns the calls into rich bars with counts, elapsed time and ETA on
a console (the CLI's stderr), and into nothing when that console is not a terminal, so piped
JSON and CSV stay clean and outputs never depend on whether anyone watches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import Task, TaskID
    from rich.text import Text

T = TypeVar("T")


class Progress(Protocol):
    """What a long step calls: a stage's name, and how much of it is done out of how much."""

    def __call__(self, what: str, done: int | None = None, total: int | None = None, /) -> None:
        """Report that ``what`` runs (``done`` of ``total`` units when it counts them)."""


def no_progress(what: str, done: int | None = None, total: int | None = None, /) -> None:
    """The default callback: say nothing."""
    return None


def counted(progress: Progress, what: str, items: Sequence[T]) -> Iterator[T]:
    """Iterate over ``items`` reporting ``what`` as done/total before each and at the end
    (nothing for no items: there is no stage to show)."""
    total = len(items)
    if not total:
        return
    for i, item in enumerate(items):
        progress(what, i, total)
        yield item
    progress(what, total, total)


def within(progress: Progress, prefix: str) -> Progress:
    """The same callback with every stage named ``prefix: stage`` (e.g. one kind of
    destination's access, whose stages repeat those of the gathering places)."""
    def report(what: str, done: int | None = None, total: int | None = None, /) -> None:
        progress(f"{prefix}: {what}", done, total)
    return report


class _Bars:
    """The rich bars behind :func:`terminal_progress`: one line per stage, the last one live."""

    def __init__(self, bars: RichProgress) -> None:
        self.bars = bars
        self.tasks: dict[str, TaskID] = {}
        self.current: str | None = None

    def __call__(self, what: str, done: int | None = None, total: int | None = None, /) -> None:
        task = self.tasks.get(what)
        if task is None:
            self.finish_current()
            task = self.bars.add_task(what, total=total, counted=total is not None)
            self.tasks[what] = task
        if total is not None:
            self.bars.update(task, completed=done or 0, total=total, counted=True)
        self.current = what

    def finish_current(self) -> None:
        """A stage that did not count its work is over when the next one starts."""
        if self.current is None:
            return
        task = next(t for t in self.bars.tasks if t.id == self.tasks[self.current])
        if not task.fields.get("counted"):
            self.bars.update(task.id, total=1, completed=1)


def _columns() -> list[Any]:
    """Spinner, stage, bar, done/total, elapsed and ETA (the last two only for counted work)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Count(MofNCompleteColumn):
        def render(self, task: Task) -> Text:
            return super().render(task) if task.fields.get("counted") else Text("")

    class Eta(TimeRemainingColumn):
        def render(self, task: Task) -> Text:
            if not task.fields.get("counted") or task.finished:
                return Text("")
            return super().render(task)

    return [SpinnerColumn(finished_text="✓"), TextColumn("{task.description}"), BarColumn(),
            Count(), TimeElapsedColumn(), Eta()]


@contextmanager
def terminal_progress(console: Console, *, enabled: bool = True) -> Iterator[Progress]:
    """Show the progress of what runs inside on ``console``, or nothing.

    Parameters
    ----------
    console
        Where the bars go (the CLI passes its stderr console).
    enabled
        False for ``--json``/``--quiet``; the bars are also off when ``console`` is not a
        terminal (a pipe, a file, CI logs).
    """
    if not enabled or not console.is_terminal:
        yield no_progress
        return
    from rich.progress import Progress as RichProgress

    with RichProgress(*_columns(), console=console, transient=False) as bars:
        shown = _Bars(bars)
        try:
            yield shown
        finally:
            shown.finish_current()
