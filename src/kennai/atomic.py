"""Atomic writes: an output appears whole or not at all.

Every file or folder kennai writes for a user (builds, reports, maps, tiles) goes through a
temporary name in the same folder and is moved into place with :func:`os.replace` only when
writing succeeded, so a failure never leaves a half-written output behind.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kennai.errors import OutputError
from kennai.i18n import t


def _tmp_name(path: Path, tag: str) -> Path:
    # The suffix is kept so that writers choosing a format by extension (GDAL, matplotlib)
    # still see the right one.
    return path.with_name(f".{path.stem}.{tag}-{os.getpid()}-{threading.get_ident()}{path.suffix}")


@contextmanager
def atomic_path(path: str | Path, *, mkdir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` if the block succeeds.

    A missing folder is an error unless ``mkdir`` (kennai's own caches and builds): a typo in
    an output name should not quietly create a folder tree.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(t("出力先がフォルダです", "the output is a folder"), path=path,
                          hint=t("ファイル名を指定してください（例 report.csv）",
                                 "give a file name (e.g. report.csv)"))
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise OutputError(t("出力先のフォルダがありません", "the output folder does not exist"),
                          path=path.parent, hint=t("フォルダを作るか、別の場所を指定してください",
                                                   "create the folder or choose another place"))
    tmp = _tmp_name(path, "tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces the folder ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
