"""Atomic writes: an output appears whole or not at all.

Every file or folder kennai writes for a user (builds, reports, maps, tiles) goes through a
temporary name in the same folder and is moved into place with :func:`os.replace` only when
writing succeeded, so a failure never leaves a half-written output behind.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from kennai.errors import OutputError
from kennai.i18n import t

_OS_CAUSES = {
    errno.ENOSPC: t("ディスクがいっぱいです", "the disk is full"),
    errno.EDQUOT: t("ディスクの割り当てを超えました", "the disk quota is exceeded"),
    errno.EROFS: t("読み取り専用の場所です", "the place is read-only"),
    errno.EACCES: t("書き込む権限がありません", "no permission to write there"),
    errno.EPERM: t("書き込む権限がありません", "no permission to write there"),
    errno.EFBIG: t("ファイルが大きすぎて書けません（ファイルサイズの上限）",
                   "the file is too large to write (file size limit)"),
}


def describe_os_error(exc: OSError, where: str | Path) -> OutputError:
    """An :class:`OSError` met while writing under ``where`` as one line naming its cause."""
    cause = _OS_CAUSES.get(exc.errno or 0)
    if cause is None:
        cause = t(f"書き込めません（{exc.strerror or exc}）",
                  f"cannot write ({exc.strerror or exc})")
    return OutputError(cause, path=exc.filename or where,
                       hint=t("空き容量と権限を確かめるか、別の場所を指定してください"
                              "（KENNAI_BUILD_ROOT など）",
                              "check the free space and permissions, or choose another place "
                              "(e.g. KENNAI_BUILD_ROOT)"))


def writable_problem(folder: Path) -> OutputError | None:
    """Why ``folder`` (or its nearest existing parent) cannot be written, if it cannot.

    Used to name the real cause when a writer (GDAL) reports a failure in its own words.
    """
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        st = os.statvfs(probe)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return describe_os_error(OSError(errno.EROFS, "read-only", str(probe)), probe)
    if not os.access(probe, os.W_OK):
        return describe_os_error(OSError(errno.EACCES, "permission", str(probe)), probe)
    if st.f_bavail * st.f_frsize < 1 << 20:
        return describe_os_error(OSError(errno.ENOSPC, "full", str(probe)), probe)
    return None


@contextmanager
def output_errors(where: str | Path) -> Iterator[None]:
    """Turn an :class:`OSError` raised while writing under ``where`` into an OutputError."""
    try:
        yield
    except OSError as exc:
        raise describe_os_error(exc, where) from None


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
    except OSError as exc:
        if exc.errno in _OS_CAUSES:
            raise describe_os_error(exc, path) from None
        raise
    finally:
        with suppress(OSError):  # a read-only place: nothing was written there either
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces the folder ``target`` only if the block succeeds."""
    target = Path(target)
    with output_errors(target.parent):
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_dead_temporaries(target)
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


# --- Versioned folders behind an atomically swapped pointer ------------------------------------
#
# A build lives in ``.<name>.v-<stamp>`` beside the pointer ``<name>``, a symlink replaced with
# os.replace, so ``<name>`` always names one complete version: there is no moment without it
# (except once, when a plain folder left by an older kennai becomes a version). The folder
# being written is ``.<name>.tmp-<pid>-<stamp>``; the next build removes those of dead
# processes, and versions other than the current and the previous one are pruned.

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<tag>tmp|old|link)-(?P<pid>\d+)(?:-.*)?$")
_VERSION_TAG = ".v-"
MANIFEST = "manifest.json"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (so its temporary folder may still be written)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def remove_dead_temporaries(target: str | Path) -> list[Path]:
    """Remove the temporary folders and links of ``target`` left by processes that died.

    Returns the paths removed. Those of live processes (a build running beside this one) stay.
    """
    target = Path(target)
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    for p in target.parent.iterdir():
        m = _TEMP_RE.match(p.name)
        if m and m["name"] == target.name and not _alive(int(m["pid"])):
            _remove(p)
            removed.append(p)
    return removed


def versions(target: str | Path) -> list[Path]:
    """The version folders of ``target``, oldest first."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    prefix = f".{target.name}{_VERSION_TAG}"
    return sorted(p for p in target.parent.iterdir() if p.name.startswith(prefix))


def current_version(target: str | Path) -> Path | None:
    """The version folder the pointer ``target`` names, or ``target`` itself if it is a plain
    folder (a build from before versioning), or ``None`` when there is none."""
    target = Path(target)
    if target.is_symlink():
        resolved = target.resolve()
        return resolved if resolved.is_dir() else None
    return target if target.is_dir() else None


def _stamp() -> str:
    ns = time.time_ns()
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(ns // 10**9))}" \
           f"{ns % 10**9:09d}-{os.getpid()}"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_manifest(folder: Path) -> None:
    """Record the size and sha256 of every file under ``folder`` in ``folder/manifest.json``.

    Written last, so a version with a manifest that matches its files is complete
    (:func:`verify_manifest`).
    """
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            files[p.relative_to(folder).as_posix()] = {"bytes": p.stat().st_size,
                                                      "sha256": file_sha256(p)}
    (folder / MANIFEST).write_text(json.dumps(files, indent=1, sort_keys=True), encoding="utf-8")


def verify_manifest(folder: str | Path) -> list[str]:
    """What differs between ``folder`` and its manifest (missing, changed or extra files).

    An empty list means the folder is complete as written.
    """
    folder = Path(folder)
    try:
        want = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [MANIFEST]
    have = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*")
            if p.is_file() and p.name != MANIFEST}
    problems = sorted(set(want) ^ set(have))
    for rel in sorted(set(want) & set(have)):
        if file_sha256(have[rel]) != want[rel]["sha256"]:
            problems.append(rel)
    return problems


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB chunks (build inputs, manifests, downloads)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def versioned_dir(target: str | Path, *, keep: int = 2) -> Iterator[Path]:
    """Yield a temporary folder that becomes the new version behind the pointer ``target``.

    On success the folder gets a manifest, is renamed to ``.<name>.v-<stamp>`` and the symlink
    ``target`` is swapped to it with :func:`os.replace`; a reader opening ``target`` sees the
    old version or the new one, whole. On failure the folder is removed and ``target`` is
    untouched. Before writing, temporaries of dead processes are removed; after the swap, all
    versions but the new one and the one it replaced (``keep`` = 2) are pruned.

    Raises
    ------
    OutputError
        When the folder cannot be created or written (read-only, full disk, no permission).
    """
    target = Path(target)
    parent = target.parent
    with output_errors(parent):
        parent.mkdir(parents=True, exist_ok=True)
        remove_dead_temporaries(target)
        stamp = _stamp()
        tmp = parent / f".{target.name}.tmp-{os.getpid()}-{stamp}"
        tmp.mkdir()
    try:
        yield tmp
        with output_errors(parent):
            write_manifest(tmp)
        with output_errors(parent), _swap_lock(parent / f".{target.name}.lock"):
            version = parent / f".{target.name}{_VERSION_TAG}{stamp}"
            os.replace(tmp, version)
            previous = current_version(target)
            if previous is not None and not target.is_symlink():
                # A plain folder from before versioning becomes a version of its own.
                legacy = parent / f".{target.name}{_VERSION_TAG}0-legacy-{stamp}"
                os.replace(target, legacy)
                previous = legacy
            link = parent / f".{target.name}.link-{os.getpid()}-{threading.get_ident()}"
            link.unlink(missing_ok=True)
            os.symlink(version.name, link)
            os.replace(link, target)
            _fsync_dir(parent)
            kept = [version.resolve(), *([previous.resolve()] if previous is not None else [])]
            for old in versions(target):
                if old.resolve() not in kept[:keep]:
                    shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


#: Swaps in this process, one at a time (``flock`` alone serialises separate processes and,
#: on Linux, separate opens; the lock makes it so whatever the platform).
_SWAP = threading.Lock()


@contextmanager
def _swap_lock(path: Path) -> Iterator[None]:
    """Hold the build's swap lock: two builders of one region (a server's background rebuild
    and a ``kennai build``, or two servers) swap and prune one after the other, so that one's
    pruning never removes the version the other has just made current."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the in-process lock only
        fcntl = None  # type: ignore[assignment]
    with _SWAP, path.open("a") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield
