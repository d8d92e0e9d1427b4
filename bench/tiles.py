"""Benchmark: cached vector tiles from the live server against rendering them without a cache.

Builds the region (default Yaizu) into a temporary folder, starts the real app
(``api.create_app`` under uvicorn, one worker) on a free loopback port in a subprocess, warms
its cache with every tile of the mix once, then drives it for ``--seconds`` with a small asyncio
HTTP/1.1 load generator (``--connections`` keep-alive connections, loopback only, bounded in
time). The tile mix is what the web page asks for when it is moved about the city: the single
vector source (every layer in one tile) at zooms 11–16 over the region's extent, drawn at
random, so high zooms (more tiles) dominate as they do in use; empty tiles (sea, 204) are
requested too, as a browser does.

Printed: p50/p95/p99 latency, tiles/s, status counts and errors for the cached server (under load, then
over one connection for the latency of a single request), and
p50/p95/p99 and tiles/s of ``TileSet.render`` (no cache, in this process) over the same tiles,
with the ratios. Targets (issue 5): p95 < 25 ms and ≥ 500 tiles/s cached, no errors.

Run: ``PYTHONPATH=src:. .venv/bin/python bench/tiles.py [pipelines/yaizu.yaml] [--seconds 60]
[--connections 16] [--minzoom 11 --maxzoom 16] [--build-dir DIR]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _start_server(config: Path, build_dir: Path, register: Path, port: int) -> subprocess.Popen:
    """The app under uvicorn (one worker, no access log) in a child process."""
    code = ("import uvicorn; from pathlib import Path; from api import create_app; "
            f"app = create_app({str(config)!r}, build_dir=Path({str(build_dir)!r}), "
            f"register_path=Path({str(register)!r})); "
            f"uvicorn.run(app, host={HOST!r}, port={port}, log_level='warning', access_log=False)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the server did not answer within 60 s")


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
               ) -> tuple[int, int]:
    """One keep-alive GET: (status, body bytes)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept-Encoding: identity\r\n\r\n".encode())
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


async def _drive(port: int, paths: list[str], *, seconds: float, connections: int, seed: int
                 ) -> dict[str, object]:
    """``connections`` clients requesting random paths until ``seconds`` have passed."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        rng = random.Random(seed + k)
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < stop:
                path = paths[rng.randrange(len(paths))]
                t0 = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(_get(reader, writer, path), timeout=10)
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                    errors.append(f"{path}: {exc!r}")
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
                    continue
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 400:
                    errors.append(f"{path}: HTTP {status}")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(connections)))
    return {"latencies": np.array(latencies), "statuses": statuses, "errors": errors,
            "elapsed": time.perf_counter() - start}


async def _warm(port: int, paths: list[str]) -> dict[int, int]:
    """Request every tile once (fills the server's caches); status counts."""
    reader, writer = await asyncio.open_connection(HOST, port)
    counts: dict[int, int] = {}
    try:
        for path in paths:
            status, _ = await _get(reader, writer, path)
            counts[status] = counts.get(status, 0) + 1
    finally:
        writer.close()
    return counts


def _percentiles_ms(values: np.ndarray) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(values, [50, 95, 99]) * 1000
    return float(p50), float(p95), float(p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", nargs="?", type=Path, default=ROOT / "pipelines" / "yaizu.yaml")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--minzoom", type=int, default=11)
    parser.add_argument("--maxzoom", type=int, default=16)
    parser.add_argument("--build-dir", type=Path, default=None,
                        help="use (and build if needed) this build folder instead of a temporary one")
    parser.add_argument("--latency-seconds", type=float, default=5.0,
                        help="a second, one-connection run: latency without queueing")
    parser.add_argument("--render-seconds", type=float, default=30.0,
                        help="time limit for the uncached rendering pass")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not 1 <= args.connections <= 256 or args.seconds <= 0 or args.seconds > 3600:
        raise SystemExit("--connections must be 1–256 and --seconds 0–3600")

    from kennai.build import build_region
    from kennai.config import load_config
    from kennai.tiles import TileSet, region_tile_layers

    cfg = load_config(args.config)
    with tempfile.TemporaryDirectory(prefix="kennai-bench-tiles-") as tmp:
        build_dir = args.build_dir or Path(tmp) / cfg.name
        t0 = time.perf_counter()
        region, _ = build_region(cfg, build_dir=build_dir)
        print(f"region {cfg.name}: built/opened in {time.perf_counter() - t0:.1f} s")
        # Fresh tile cache: a rebuilt-server state, warmed below through HTTP.
        tiles = TileSet(region_tile_layers(region), version=f"bench-{time.time()}")
        mix = list(tiles.tiles_in(args.minzoom, args.maxzoom))
        per_zoom = {z: sum(1 for t in mix if t[0] == z) for z in range(args.minzoom, args.maxzoom + 1)}
        print(f"tile mix: {len(mix)} tiles, zooms {per_zoom}")
        paths = [f"/api/v1/regions/{cfg.name}/tiles/{z}/{x}/{y}.mvt" for z, x, y in mix]

        port = _free_port()
        proc = _start_server(args.config, build_dir, Path(tmp) / "register.sqlite", port)
        try:
            t0 = time.perf_counter()
            warm = asyncio.run(_warm(port, paths))
            print(f"warm-up (first request of every tile, cache filled): {time.perf_counter() - t0:.1f} s,"
                  f" statuses {warm}")
            run = asyncio.run(_drive(port, paths, seconds=args.seconds,
                                     connections=args.connections, seed=args.seed))
            single = asyncio.run(_drive(port, paths, seconds=args.latency_seconds, connections=1,
                                        seed=args.seed))
        finally:
            proc.terminate()
            proc.wait(timeout=10)

        lat = run["latencies"]
        assert isinstance(lat, np.ndarray)
        rate = len(lat) / float(run["elapsed"])  # type: ignore[arg-type]
        c50, c95, c99 = _percentiles_ms(lat)
        errors = run["errors"]
        assert isinstance(errors, list)
        print(f"\ncached, live server ({args.connections} connections, {run['elapsed']:.1f} s): "
              f"{len(lat)} tiles, {rate:.0f} tiles/s, p50 {c50:.2f} ms, p95 {c95:.2f} ms, "
              f"p99 {c99:.2f} ms, statuses {run['statuses']}, errors {len(errors)}")
        for line in errors[:5]:
            print("  error:", line)
        one = single["latencies"]
        assert isinstance(one, np.ndarray)
        s50, s95, s99 = _percentiles_ms(one)
        print(f"cached, one connection (no queueing, {args.latency_seconds:.0f} s): {len(one)} tiles, "
              f"p50 {s50:.2f} ms, p95 {s95:.2f} ms, p99 {s99:.2f} ms, errors {len(single['errors'])}")
        errors = errors + list(single["errors"])  # type: ignore[arg-type]

        order = random.Random(args.seed).sample(mix, len(mix))
        times = []
        deadline = time.perf_counter() + args.render_seconds
        for z, x, y in order:
            t0 = time.perf_counter()
            tiles.render(z, x, y)
            times.append(time.perf_counter() - t0)
            if time.perf_counter() > deadline:
                break
        rt = np.array(times)
        r50, r95, r99 = _percentiles_ms(rt)
        r_rate = len(rt) / rt.sum()
        print(f"uncached, TileSet.render in-process (1 thread): {len(rt)} tiles, {r_rate:.0f} tiles/s, "
              f"p50 {r50:.2f} ms, p95 {r95:.2f} ms, p99 {r99:.2f} ms")
        print(f"\nratios uncached/cached: throughput ×{rate / r_rate:.1f} "
              f"({args.connections} connections vs 1 rendering thread); latency of one tile "
              f"(one connection vs render) p50 ×{r50 / s50:.1f}, p95 ×{r95 / s95:.1f}, "
              f"p99 ×{r99 / s99:.1f}")
        ok = c95 < 25 and rate >= 500 and not errors
        print(f"targets (p95 < 25 ms, ≥ 500 tiles/s, no errors): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
