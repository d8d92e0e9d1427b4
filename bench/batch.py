"""Benchmark: a batch of invented towns on a Dask LocalCluster with 1 and then 2 workers.

The demo generator makes N distinct seeded towns of varied size (``kennai.demo.towns``: 1–6 km
wide, 80–9,000 people per km², streets reaching 1.3 km beyond each town line as a clipped
prefecture extract would). Each run is a fresh batch (every municipality built: scan, border
places, build with access and the surface, default split checks, GeoParquet written) through
:func:`kennai.batch.run_batch`, timed by phase.

Printed per worker count (medians of ``--runs`` runs, min–max in brackets):

- ``task s``: time of one municipality's task on its worker (median over the towns);
- ``build wall s``: from the first build task submitted to the last one finished;
- ``overhead/task s``: scheduler overhead per task, ``(build wall × workers − Σ task time) / N``
  (waiting, serialisation, idle workers at the tail);
- ``peak MiB/worker``: the largest resident memory a worker process reached (``ru_maxrss``);
- ``scan+start s``: cluster start-up and the scan pass;

and the scaling efficiency from 1 to 2 workers, ``wall(1) / (2 × wall(2))`` on the build wall
(target ≥ 0.85). The machine's other load is not controlled: say so when quoting the figures.

Run: ``PYTHONPATH=src .venv/bin/python bench/batch.py [--towns 200] [--runs 3] [--workers 1,2]
[--dir /tmp/kennai-bench-towns]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from kennai.batch import BatchResult, read_manifest, run_batch
from kennai.demo.towns import generate_towns


def _fit(samples: list[tuple[float, float, float]]) -> tuple[float, float]:
    """Least squares ``seconds ≈ a + c·locations`` over every task (the towns' networks vary
    too little, their 1.3 km band being most of each, to separate a network term)."""
    import numpy as np

    data = np.asarray(samples, dtype=float)
    design = np.column_stack([np.ones(len(data)), data[:, 2]])
    coef, *_ = np.linalg.lstsq(design, data[:, 0], rcond=None)
    return float(coef[0]), float(coef[1])


def _samples(result: BatchResult) -> list[tuple[float, float, float]]:
    return [(task.seconds, float(task.summary.get("network_km") or 0.0),
             float(task.summary.get("locations") or 0.0))
            for task in result.tasks if task.summary is not None]


def _measure(result: BatchResult, workers: int) -> dict[str, float]:
    tasks = result.tasks
    if result.failures:
        raise SystemExit(f"{len(result.failures)} towns failed: {result.failures[0].error}")
    busy = sum(task.seconds for task in tasks)
    peaks: dict[str, float] = defaultdict(float)
    for task in tasks:
        peaks[task.worker] = max(peaks[task.worker], task.peak_rss_mb)
    return {"task": statistics.median(task.seconds for task in tasks),
            "task_mean": busy / len(tasks),
            "wall": result.build_seconds,
            "overhead": (result.build_seconds * workers - busy) / len(tasks),
            "peak": max(peaks.values()),
            "start": result.scan_seconds,
            "total": result.wall_seconds}


def _fmt(values: list[float], digits: int = 2) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} [{min(values):.{digits}f}–{max(values):.{digits}f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--towns", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the towns are generated (kept and reused)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    towns_dir = args.dir or Path(tempfile.gettempdir()) / f"kennai-bench-towns-{args.towns}"
    manifest = towns_dir / "manifest.csv"
    if not manifest.is_file():
        generate_towns(args.towns, towns_dir)
    items = read_manifest(manifest)
    counts = [int(w) for w in args.workers.split(",")]
    print(f"{len(items)} towns, {args.runs} run(s) per worker count, {os.cpu_count()} CPUs "
          f"on this machine (load: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
    figures: dict[int, dict[str, list[float]]] = {}
    samples: list[tuple[float, float, float]] = []
    for workers in counts:
        runs: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.runs):
            out = Path(tempfile.mkdtemp(prefix=f"kennai-bench-batch-{workers}w-"))
            try:
                result = run_batch(items, out, workers=workers, force=True)
                measured = _measure(result, workers)
                if workers == 1:  # one task at a time: its time is its own cost
                    samples += _samples(result)
            finally:
                shutil.rmtree(out, ignore_errors=True)
            for key, value in measured.items():
                runs[key].append(value)
        figures[workers] = dict(runs)
        print(f"{workers} worker(s): task s {_fmt(runs['task'])} (mean {_fmt(runs['task_mean'])})"
              f" | build wall s {_fmt(runs['wall'], 1)} | overhead/task s "
              f"{_fmt(runs['overhead'], 3)} | peak MiB/worker {_fmt(runs['peak'], 0)}"
              f" | scan+start s {_fmt(runs['start'], 1)} | total s {_fmt(runs['total'], 1)}")
    report: dict[str, Any] = {"towns": len(items), "runs": args.runs, "figures": figures}
    if 1 in figures and 2 in figures:
        one = statistics.median(figures[1]["wall"])
        two = statistics.median(figures[2]["wall"])
        efficiency = one / (2.0 * two)
        per_run = [a / (2.0 * b) for a, b in zip(figures[1]["wall"], figures[2]["wall"],
                                                  strict=False)]
        report["efficiency"] = efficiency
        print(f"scaling efficiency 1→2 workers: {efficiency:.3f} (median walls; per run pair "
              f"{', '.join(f'{e:.3f}' for e in per_run)}; target ≥ 0.85)")
    if len(samples) >= 3:
        a, c = _fit(samples)
        km = [s[1] for s in samples]
        loc = [s[2] for s in samples]
        report["fit"] = {"a_s": a, "c_s_per_location": c}
        print(f"per-task cost (1 worker, {len(samples)} tasks): {a:.3f} s + {c * 1000:.3f} s per "
              f"1000 resident locations (locations {min(loc):.0f}–{max(loc):.0f}, network "
              f"{min(km):.0f}–{max(km):.0f} km)")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
