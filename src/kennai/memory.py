"""Giving freed memory back to the system between the phases of a large build.

A network read from two million lines frees about a gigabyte of small GEOS blocks (the copies
made while it is built); glibc keeps such blocks in its heap for reuse, so the process's RSS
stays at its high-water mark and the next phase's peak stacks on top of it. ``malloc_trim``
returns the free pages (measured on a 1M-node grid: 2,446 -> 1,173 MiB after reading).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name or "libc.so.6").malloc_trim
        return trim
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to trim
        return None


def release_freed_memory() -> None:
    """Collect reference cycles, then hand the C heap's free pages back to the system."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
