"""Benchmark: cold, warm and raster tiles and the JSON endpoints of a live server, open loop.

Builds the region (default ``pipelines/yaizu_rosenka.yaml``), then per run: drops the build's
disk tile cache, starts the real app (``api.create_app`` under uvicorn, one worker) as its own
process on a loopback port, pinned to one core (``os.sched_setaffinity``) while this process,
the load generator, is pinned to another, and drives it with an **open-loop** load: request
``i`` is sent at ``start + i / rate`` whatever happened to the earlier ones, over a pool of
keep-alive connections, and its latency is measured from that scheduled time (so a stalled
server shows as latency, not as a lower rate). Phases, each on the same fresh server:

- cold tiles (``SETTLE_S`` after the server answers): every vector tile of zooms
  ``--minzoom``–``--maxzoom`` over the region once, in random order, at ``--cold-rate``
  (each is rendered: nothing is cached yet);
- warm tiles: the same tiles, now cached, drawn at random at ``--tile-rate`` for ``--seconds``;
- raster tiles: the walking-minutes PNG tiles of the same grid at ``--raster-rate`` (first
  requests render, later ones are cached);
- JSON: coverage, gaps, suggestions, the access summary and the region at ``--json-rate``.

Printed per phase: p50/p95/p99 (median of the runs, min–max), achieved rate, statuses and
errors; cold p95 per zoom; the largest tile per zoom. The #13 targets are printed beside the
figures, not judged. ``--src`` picks the code the server runs (e.g. another worktree: measure
before and after the same way).

Run: ``PYTHONPATH=src:. .venv/bin/python bench/tiles.py [pipelines/yaizu_rosenka.yaml]
[--runs 3] [--seconds 10] [--tile-rate 1000] [--json-rate 300] [--src DIR]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stats import Spread, load_average

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
#: Seconds between the server answering and the cold phase (its start-up work, e.g. the
#: per-zoom simplification of the layers, runs first: the cold tiles are cold in the caches).
SETTLE_S = 3.0
#: Keep-alive connections of the load generator (a request waits for a free one: counted).
CONNECTIONS = 64


@dataclass
class Phase:
    """What one open-loop phase saw."""

    latencies: list[float] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def percentiles_ms(self, mask: np.ndarray | None = None) -> tuple[float, float, float]:
        lat = np.array(self.latencies)
        if mask is not None:
            lat = lat[mask]
        if not len(lat):
            return (float("nan"),) * 3
        p50, p95, p99 = np.percentile(lat, [50, 95, 99]) * 1000
        return float(p50), float(p95), float(p99)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _start_server(src: Path, config: Path, build_dir: Path, register: Path, port: int,
                  core: int | None) -> subprocess.Popen:
    """The app under uvicorn (one worker, no access log) in its own process, on ``core``."""
    code = ("from pathlib import Path; from api import create_app; from api.server import serve; "
            f"app = create_app({str(config)!r}, build_dir=Path({str(build_dir)!r}), "
            f"register_path=Path({str(register)!r})); "
            f"serve(app, host={HOST!r}, port={port}, log_level='warning', access_log=False)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src / "src"), str(src)]))
    pin = (lambda: os.sched_setaffinity(0, {core})) if core is not None else None
    # cwd=src: ``python -c`` puts the working directory first on sys.path, so without it the
    # ``api`` package of wherever the bench was started from would be served, not ``src``'s.
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, preexec_fn=pin, cwd=src)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the server did not answer within 120 s")


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
               ) -> tuple[int, int]:
    """One keep-alive GET: (status, body bytes)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept-Encoding: identity\r\n\r\n"
                 .encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status, length


async def _open_loop(port: int, paths: list[str], rate: float) -> Phase:
    """Send ``paths`` in order, request ``i`` at ``start + i / rate``; latency from then."""
    phase = Phase()
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(await asyncio.open_connection(HOST, port))

    async def one(path: str, due: float) -> None:
        reader, writer = await pool.get()
        try:
            status, size = await asyncio.wait_for(_get(reader, writer, path), timeout=30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            phase.errors.append(f"{path}: {exc!r}")
            writer.close()
            pool.put_nowait(await asyncio.open_connection(HOST, port))
            return
        pool.put_nowait((reader, writer))
        phase.latencies.append(time.perf_counter() - due)
        phase.paths.append(path)
        phase.sizes.append(size)
        phase.statuses[status] = phase.statuses.get(status, 0) + 1
        if status >= 500:
            phase.errors.append(f"{path}: HTTP {status}")

    start = time.perf_counter() + 0.05
    tasks = []
    for i, path in enumerate(paths):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(path, due)))
    await asyncio.gather(*tasks)
    phase.elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    return phase


def _cores() -> tuple[int | None, int | None]:
    """(server core, load-generator core): two different usable cores, when there are two."""
    usable = sorted(os.sched_getaffinity(0))
    return (usable[0], usable[1]) if len(usable) >= 2 else (None, None)


def _row(name: str, runs: list[Phase], target: str, offered: float) -> None:
    cols = [Spread(tuple(r.percentiles_ms()[i] for r in runs)) for i in range(3)]
    rate = Spread(tuple(r.rate for r in runs))
    errors = sum(len(r.errors) for r in runs)
    statuses: dict[int, int] = {}
    for r in runs:
        for k, v in r.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    print(f"{name:<12} offered {offered:>6.0f}/s achieved {rate.text(digits=4)}/s | p50 "
          f"{cols[0].text(unit='ms')} p95 {cols[1].text(unit='ms')} p99 "
          f"{cols[2].text(unit='ms')} | statuses {statuses} errors {errors} | #13: {target}")
    for r in runs[:1]:
        for line in r.errors[:3]:
            print("   error:", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", nargs="?", type=Path,
                        default=ROOT / "pipelines" / "yaizu_rosenka.yaml")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--minzoom", type=int, default=10)
    parser.add_argument("--maxzoom", type=int, default=16)
    parser.add_argument("--cold-rate", type=float, default=50.0)
    parser.add_argument("--tile-rate", type=float, default=1000.0)
    parser.add_argument("--raster-rate", type=float, default=200.0)
    parser.add_argument("--json-rate", type=float, default=300.0)
    parser.add_argument("--src", type=Path, default=ROOT, help="the code the server runs")
    parser.add_argument("--build-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.runs < 3:
        raise SystemExit("--runs must be at least 3 (medians)")

    from kennai.build import build_region
    from kennai.config import load_config
    from kennai.tiles import region_tile_set

    cfg = load_config(args.config)
    server_core, load_core = _cores()
    print(f"server code {args.src}; server on core {server_core}, load generator on core "
          f"{load_core}; load average {load_average()}")
    if load_core is not None:
        os.sched_setaffinity(0, {load_core})
    with tempfile.TemporaryDirectory(prefix="kennai-bench-tiles-") as tmp:
        build_dir = args.build_dir or Path(tmp) / cfg.name
        region, _ = build_region(cfg, build_dir=build_dir)
        mix = list(region_tile_set(region).tiles_in(args.minzoom, args.maxzoom))
        rng = random.Random(args.seed)
        vec = [f"/api/v1/regions/{cfg.name}/tiles/{z}/{x}/{y}.mvt" for z, x, y in mix]
        png = [f"/api/v1/regions/{cfg.name}/access/tiles/{z}/{x}/{y}.png" for z, x, y in mix
               if z <= 16]
        base = f"/api/v1/regions/{cfg.name}"
        json_paths = [f"{base}/access/coverage?layer=elementary", f"{base}/access/gaps",
                      f"{base}/access/suggestions?k=5", f"{base}/access", "/api/v1/regions",
                      f"{base}/access/coverage?layer=junior_high"]
        per_zoom = {z: sum(1 for t in mix if t[0] == z) for z in range(args.minzoom,
                                                                        args.maxzoom + 1)}
        print(f"region {cfg.name}; vector tiles {len(vec)} {per_zoom}; raster {len(png)}")
        phases: dict[str, list[Phase]] = {"cold": [], "warm": [], "raster": [], "json": []}
        for run in range(args.runs):
            shutil.rmtree(region.build_dir / "tiles", ignore_errors=True)  # cold: no disk cache
            port = _free_port()
            proc = _start_server(args.src, args.config, build_dir,
                                 Path(tmp) / f"register{run}.sqlite", port, server_core)
            try:
                time.sleep(SETTLE_S)
                cold = rng.sample(vec, len(vec))
                phases["cold"].append(asyncio.run(_open_loop(port, cold, args.cold_rate)))
                n = int(args.tile_rate * args.seconds)
                phases["warm"].append(asyncio.run(_open_loop(
                    port, [rng.choice(vec) for _ in range(n)], args.tile_rate)))
                n = int(args.raster_rate * args.seconds)
                phases["raster"].append(asyncio.run(_open_loop(
                    port, [rng.choice(png) for _ in range(n)], args.raster_rate)))
                n = int(args.json_rate * args.seconds)
                phases["json"].append(asyncio.run(_open_loop(
                    port, [rng.choice(json_paths) for _ in range(n)], args.json_rate)))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            print(f"run {run + 1}/{args.runs} done; load average {load_average()}")

    print(f"\nmedian [min–max] of {args.runs} runs, each on a fresh server; "
          f"load average {load_average()}")
    _row("cold tiles", phases["cold"], "p95 < 50 ms at every zoom", args.cold_rate)
    _row("warm tiles", phases["warm"], "p95 < 25 ms at 1,000 tiles/s", args.tile_rate)
    _row("raster", phases["raster"], "(none)", args.raster_rate)
    _row("JSON", phases["json"], "p95 < 50 ms at 300 req/s", args.json_rate)
    print("\ncold tiles by zoom (p95 ms, median [min–max]; largest tile bytes over the runs; "
          "#13: p95 < 50 ms, no tile over 500,000 bytes)")
    for z in sorted(per_zoom):
        tag = f"/tiles/{z}/"
        p95 = []
        largest = 0
        for r in phases["cold"]:
            mask = np.array([tag in p for p in r.paths])
            p95.append(r.percentiles_ms(mask)[1])
            largest = max([largest] + [s for p, s in zip(r.paths, r.sizes, strict=True)
                                       if tag in p])
        print(f"  z{z:<2} {per_zoom[z]:>5} tiles  p95 {Spread(tuple(p95)).text(unit='ms')}  "
              f"largest {largest:,} bytes")


if __name__ == "__main__":
    main()
