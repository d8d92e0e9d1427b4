"""What every benchmark here reports: the median of at least three runs with the min and max,
ratios taken on medians, and a child process's peak RSS.

One definition, so that no benchmark prints a best-of figure or a ratio of one lucky run.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Fewer runs than this give no median worth the name.
MIN_RUNS = 3


@dataclass(frozen=True)
class Spread:
    """The runs of one measurement: its median and its min–max."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a Spread needs at least one value")

    @property
    def median(self) -> float:
        return float(statistics.median(self.values))

    @property
    def low(self) -> float:
        return float(min(self.values))

    @property
    def high(self) -> float:
        return float(max(self.values))

    def text(self, *, scale: float = 1.0, unit: str = "", digits: int = 3) -> str:
        """``median [min–max] unit``, each value multiplied by ``scale``."""
        m, lo, hi = (v * scale for v in (self.median, self.low, self.high))
        tail = f" {unit}" if unit else ""
        return f"{m:.{digits}g} [{lo:.{digits}g}–{hi:.{digits}g}]{tail}"

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high,
                "runs": list(self.values)}


def ratio(slow: Spread, fast: Spread) -> float:
    """How many times faster ``fast`` is than ``slow``, on the medians."""
    return slow.median / fast.median if fast.median > 0 else float("inf")


def timed(fn: Callable[[], Any], *, runs: int = MIN_RUNS) -> tuple[Any, Spread]:
    """Run ``fn`` ``runs`` times (at least :data:`MIN_RUNS`); return its last result and the
    wall times in seconds."""
    runs = max(runs, MIN_RUNS)
    out: Any = None
    times: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, Spread(tuple(times))


def interleaved(fns: Mapping[str, Callable[[], Any]], *, runs: int = MIN_RUNS,
                collect: bool = True) -> tuple[dict[str, Any], dict[str, Spread]]:
    """Time several sides in turn, one run of each per round, so that a slow spell of the
    machine falls on all of them alike.

    Before each run the garbage the last side left is collected, and the benchmark's own heap
    (the data, every side's imports) is frozen out of the collector's sight. A side that makes
    many Python objects (networkx's dicts) otherwise pays for full collections walking objects
    that are not its own (measured on Ishigaki, networkx's job took 119 [30–124] ms so in this
    bench against 33 ms alone), and a side may pay for collecting another's leavings (OSMnx's
    graphs). ``collect=False`` only freezes: for sides of a millisecond that make no Python
    garbage, which a collection just before would leave with cold caches.

    Nothing is unfrozen (that would unfreeze what the caller froze too): what a side makes is
    made after the last freeze, so the next collection sees it; what stays frozen is the
    bench's own data, and the results, which are arrays that their reference counts free."""
    runs = max(runs, MIN_RUNS)
    results: dict[str, Any] = {}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            results.pop(name, None)
            if collect:
                gc.collect()
            gc.freeze()
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return results, {k: Spread(tuple(v)) for k, v in times.items()}


@dataclass(frozen=True)
class ProcessRun:
    """One child process: its wall time, its peak RSS and its exit code."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    stderr: str


#: Run in a small Python process that starts the measured command and reports it: a child
#: forked from a big parent starts with the parent's RSS high-water mark (Linux keeps it across
#: exec), so the command must be the child of a process that is small when it forks.
_WRAPPER = """
import os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - t0
with open(sys.argv[1], "w") as out:
    out.write(f"{seconds!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_process(cmd: Sequence[str], *, env: Mapping[str, str] | None = None,
                cwd: str | None = None) -> ProcessRun:
    """Run ``cmd`` to its end; its wall time and its own peak RSS from the kernel (``wait4``,
    which counts C and C++ memory that tracemalloc does not see), taken by a small wrapper
    process so that this (possibly large) process's memory does not count."""
    with tempfile.TemporaryDirectory() as tmp, open(os.path.join(tmp, "stderr"), "w+") as err:
        report = os.path.join(tmp, "report")
        proc = subprocess.run([sys.executable, "-S", "-c", _WRAPPER, report, *cmd],
                              env=dict(env) if env is not None else None, cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=err, text=True, check=False)
        err.seek(0)
        stderr = err.read()
        try:
            with open(report) as fh:
                seconds, rss_kib, code = fh.read().split()
        except (OSError, ValueError):
            return ProcessRun(float("nan"), float("nan"), proc.returncode or 1, stderr)
    # Linux reports ru_maxrss in KiB.
    return ProcessRun(float(seconds), int(rss_kib) / 1024.0, int(code), stderr)


def load_average() -> str:
    """The 1-minute load average, printed beside every figure: this machine is shared."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def quiet(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with file descriptor 1 sent to /dev/null: C++ peers (pandana's contraction
    hierarchy) print progress there, past Python's ``sys.stdout``."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            return fn(*args)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
