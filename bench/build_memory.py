"""Benchmark: time and peak memory of ``kennai build`` on a synthetic grid region.

The region is a jittered square grid of streets (about ``--nodes`` nodes, 50 m apart, written
as an edge file with ``u``/``v``), half as many building footprints as nodes beside the streets
(the residents, one household each) and 100 gathering places, in a temporary folder. Each run
is ``kennai build --force`` as a child process under ``/usr/bin/time -v``; its peak RSS is the
whole build's, suggestions and surface included. Figures are the median of ``--runs`` runs with
the min and max.

Run: ``PYTHONPATH=src .venv/bin/python bench/build_memory.py --nodes 300000 --runs 3``
(``--src`` another checkout's ``src`` to measure it on the same region).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

CRS = "EPSG:6677"  # JGD2011 / Japan Plane Rectangular CS IX (Tokyo)
SPACING_M = 50.0


def write_region(folder: Path, n_nodes: int, seed: int = 0) -> Path:
    """Write the synthetic region's files and config into ``folder``; return the config."""
    rng = np.random.default_rng(seed)
    side = int(np.sqrt(n_nodes) + 0.5)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side))
    xy = np.column_stack([ii.ravel(), jj.ravel()]) * SPACING_M
    xy = xy + rng.normal(0, SPACING_M / 10, xy.shape) - side * SPACING_M / 2
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    lines = gpd.GeoDataFrame({"u": u, "v": v, "highway": "residential"},
                             geometry=shapely.linestrings(np.stack([xy[u], xy[v]], axis=1)),
                             crs=CRS)
    lines.to_file(folder / "streets.gpkg", driver="GPKG", engine="pyogrio")
    # Buildings: 8 m squares 12 m off a random street's middle.
    e = rng.integers(0, len(u), len(xy) // 2)
    mid = (xy[u[e]] + xy[v[e]]) / 2 + rng.choice([-12.0, 12.0], (len(e), 2)) * rng.random((len(e), 1))
    boxes = shapely.box(mid[:, 0] - 4, mid[:, 1] - 4, mid[:, 0] + 4, mid[:, 1] + 4)
    gpd.GeoDataFrame(geometry=boxes, crs=CRS).to_file(folder / "buildings.gpkg", driver="GPKG",
                                                      engine="pyogrio")
    at = xy[rng.choice(len(xy), 100, replace=False)] + 5.0
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(at[:, 0], at[:, 1])
    pd.DataFrame({"NO": np.arange(1, 101), "名称": [f"サロン{i}" for i in range(1, 101)],
                  "住所": "", "緯度": np.round(lat, 7), "経度": np.round(lon, 7),
                  "利用可能曜日": "月", "開始時間": "10:00", "終了時間": "12:00",
                  "利用可能日時特記事項": "毎週", "説明": "", "種別": "サロン"}
                 ).to_csv(folder / "places.csv", index=False, encoding="utf-8-sig")
    config = folder / "grid.yaml"
    config.write_text(
        "name: grid\ntitle: 格子の町\ncrs: EPSG:6677\nlayers:\n"
        "  network:\n    path: streets.gpkg\n"
        "  buildings:\n    path: buildings.gpkg\n"
        "  places:\n    path: places.csv\n    category_column: 種別\n", encoding="utf-8")
    return config


def run_build(config: Path, src: Path, build_root: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one ``kennai build --force``."""
    env = {**os.environ, "PYTHONPATH": str(src), "KENNAI_BUILD_ROOT": str(build_root)}
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "kennai", "build",
                           str(config), "--force"], env=env, capture_output=True, text=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if wall is None or rss is None:
        raise SystemExit(proc.stderr[-2000:])
    h, m, s = wall.groups()
    secs = (int(h) * 3600 if h else 0) + int(m) * 60 + float(s)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return secs, int(rss.group(1)) / 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=300_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--src", type=Path, action="append",
                    help="a checkout's src folder to measure (repeatable; default: this one)")
    args = ap.parse_args()
    srcs = args.src or [Path(__file__).resolve().parents[1] / "src"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_region(folder, args.nodes)
        print(f"grid region: about {args.nodes:,} nodes, {args.nodes // 2:,} buildings, "
              f"100 places; {args.runs} runs each, in turn")
        figures: dict[Path, list[tuple[float, float, int]]] = {s: [] for s in srcs}
        for _ in range(args.runs):
            for src in srcs:
                figures[src].append(run_build(config, src, folder / "build" / str(len(figures))))
        for src, runs in figures.items():
            wall = [r[0] for r in runs]
            rss = [r[1] for r in runs]
            print(f"{src}: wall {statistics.median(wall):.1f} s ({min(wall):.1f}-{max(wall):.1f}), "
                  f"peak RSS {statistics.median(rss):,.0f} MiB ({min(rss):,.0f}-{max(rss):,.0f}), "
                  f"exit codes {[r[2] for r in runs]}")


if __name__ == "__main__":
    main()
