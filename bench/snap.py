"""Benchmark: bulk snapping (:class:`kennai.snapping.EdgeIndex`) on real and synthetic networks.

Two figures of issue #13: Ishigaki's buildings (their representative points, where the build
puts each household) snapped to its OSM network, and 500k points on a synthetic 1M-node grid.
Each is the median [min–max] of ``--runs`` runs on a fresh index (its tree and grids made in
the run, as a build makes them once), and the snap alone on an index already made.

Run: ``PYTHONPATH=src:. KENNAI_BUILD_ROOT=/tmp/kb .venv/bin/python bench/snap.py``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from bench.stats import Spread, load_average
from kennai.network import WalkNetwork
from kennai.snapping import EdgeIndex

ROOT = Path(__file__).resolve().parents[1]


def grid_network(n_nodes: int, seed: int = 0) -> WalkNetwork:
    """A jittered square street grid of about ``n_nodes`` nodes, 50 m apart."""
    rng = np.random.default_rng(seed)
    side = int(np.sqrt(n_nodes) + 0.5)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side))
    xy = np.column_stack([ii.ravel(), jj.ravel()]) * 50.0 + rng.normal(0, 5.0, (side * side, 2))
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    geom = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1))
    return WalkNetwork.from_geometry(CRS.from_epsg(6677), np.arange(side * side), xy, u, v,
                       shapely.length(geom), np.full(len(u), "residential", dtype=object), geom)


def measure(net: WalkNetwork, xy: np.ndarray, runs: int) -> tuple[Spread, Spread]:
    """(fresh index + snap, snap alone) seconds."""
    fresh, warm = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        index = EdgeIndex(net, remember=0)
        index.snap(xy)
        fresh.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        index.snap(xy)
        warm.append(time.perf_counter() - t0)
    return Spread(tuple(fresh)), Spread(tuple(warm))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--points", type=int, default=500_000)
    args = ap.parse_args()
    from kennai.build import build_region
    from kennai.config import load_config

    region, _ = build_region(load_config(ROOT / "pipelines" / "ishigaki.yaml"))
    net = region.network
    assert net is not None
    xy = shapely.get_coordinates(region.layer("buildings").geometry.representative_point().values)
    fresh, warm = measure(net, xy, args.runs)
    print(f"Ishigaki: {len(xy):,} buildings on {net.n_edges:,} edges: index+snap "
          f"{fresh.text(scale=1e3, unit='ms')}, snap alone {warm.text(scale=1e3, unit='ms')} "
          f"(load {load_average()})")
    grid = grid_network(args.nodes)
    rng = np.random.default_rng(1)
    lo, hi = grid.node_xy.min(axis=0), grid.node_xy.max(axis=0)
    pts = lo + rng.random((args.points, 2)) * (hi - lo)
    fresh, warm = measure(grid, pts, args.runs)
    print(f"grid: {args.points:,} points on {grid.n_nodes:,} nodes: index+snap "
          f"{fresh.text(unit='s')}, snap alone {warm.text(unit='s')} (load {load_average()})")


if __name__ == "__main__":
    main()
