"""Failures: one municipality that could not be scanned or built is one row, with one line.

A :class:`~kennai.errors.KennaiError` (bad input, a broken config) gives its own one-line
message in Japanese and English; anything else is named by its type and message, on one line
too. The batch writes them all to ``DIR/failures.parquet`` (and ``.csv``), an empty table when
every municipality succeeded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from kennai.batch.manifest import BatchItem
from kennai.batch.outputs import FAILURES, write_table
from kennai.errors import KennaiError
from kennai.i18n import get_lang

#: The columns of the failures table, in order.
FAILURE_COLUMNS = ("municipality", "prefecture", "config", "stage", "error_kind", "error",
                   "error_en")


@dataclass(frozen=True)
class Failure:
    """One failed municipality: where it failed (``scan`` or ``build``) and why, in one line."""

    municipality: str
    prefecture: str
    config: str
    stage: str
    error_kind: str
    error: str
    error_en: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Failure:
        return cls(**{k: str(data[k]) for k in FAILURE_COLUMNS})


def _one_line(text: str) -> str:
    return " ".join(text.split())


def failure_from(item: BatchItem, stage: str, exc: BaseException) -> Failure:
    """The failure row of ``item`` for an exception raised while it was scanned or built."""
    if isinstance(exc, KennaiError):
        here, en = exc.format(get_lang()), exc.format("en")
    else:
        here = en = f"{type(exc).__name__}: {exc}"
    return Failure(item.code, item.prefecture, str(item.config), stage, type(exc).__name__,
                   _one_line(here), _one_line(en))


def write_failures(out_dir: Path, failures: list[Failure]) -> list[Path]:
    """Write the failures table (empty when nothing failed) as Parquet and CSV."""
    frame = pd.DataFrame([f.to_dict() for f in failures], columns=list(FAILURE_COLUMNS))
    return write_table(frame.astype(str), out_dir, FAILURES)
