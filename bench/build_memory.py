"""Benchmark: time and peak memory of ``kennai build`` as a child process (issue #13's targets).

Regions: synthetic grids (``--nodes``, repeatable: a jittered square grid of streets about that
many nodes, 50 m apart, written as an edge file with ``u``/``v``; half as many building
footprints as nodes beside the streets, one household each; 100 gathering places) and the real
regions named by ``--region`` (``ishigaki``, ``malta``: pipelines/<name>.yaml, skipped with a
reason when their data are absent). Each run is ``kennai build --force`` as a child process;
its peak RSS is the kernel's figure for that process (``wait4``), so the whole build counts,
suggestions and surface included. Figures are the median [min–max] of ``--runs`` runs; with
several ``--src`` checkouts the runs go in turn, so a slow spell falls on all alike.

Run: ``PYTHONPATH=src:. .venv/bin/python bench/build_memory.py --nodes 300000 --region ishigaki``
(``--src`` another checkout's ``src`` to measure it on the same regions in the same run).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from bench.stats import MIN_RUNS, ProcessRun, Spread, load_average, run_process

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
#: Real regions: their config and the data file whose absence skips them.
REGIONS: dict[str, tuple[Path, Path]] = {
    "ishigaki": (ROOT / "pipelines" / "ishigaki.yaml", DATA / "ishigaki"),
    "malta": (ROOT / "pipelines" / "malta.yaml", DATA / "bench" / "malta_osm_2016-11-09.osm.pbf")}

CRS = "EPSG:6677"  # JGD2011 / Japan Plane Rectangular CS IX (Tokyo)
SPACING_M = 50.0


def write_region(folder: Path, n_nodes: int, seed: int = 0) -> Path:
    """Write the synthetic region's files and config into ``folder``; return the config."""
    folder.mkdir(parents=True, exist_ok=True)
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


#: The #13 targets: seconds, and peak RSS in MiB where one is set.
TARGETS: dict[str, tuple[float, float | None]] = {
    "grid 1,000,000": (40.0, 2048.0), "grid 300,000": (12.0, None),
    "ishigaki": (2.5, None), "malta": (3.5, None)}


def run_build(config: Path, src: Path, build_root: Path) -> ProcessRun:
    """One ``kennai build --force`` of ``config`` with the code in ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src), "KENNAI_BUILD_ROOT": str(build_root)}
    run = run_process([sys.executable, "-m", "kennai", "build", str(config), "--force", "-q"],
                      env=env, cwd=str(config.parent))
    if run.returncode != 0:
        raise SystemExit(f"kennai build {config} failed ({run.returncode}):\n{run.stderr[-2000:]}")
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, action="append",
                    help="a synthetic grid of about this many nodes (repeatable)")
    ap.add_argument("--region", action="append", choices=sorted(REGIONS),
                    help="a real region (repeatable)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--src", type=Path, action="append",
                    help="a checkout's src folder to measure (repeatable; default: this one)")
    args = ap.parse_args()
    srcs = args.src or [ROOT / "src"]
    runs = max(args.runs, MIN_RUNS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        configs: dict[str, Path] = {}
        for n in args.nodes or ([] if args.region else [300_000]):
            configs[f"grid {n:,}"] = write_region(folder / f"grid{n}", n)
        for name in args.region or []:
            config, data = REGIONS[name]
            if not data.exists():
                print(f"{name}: skipped, {data} is absent")
                continue
            configs[name] = config
        print(f"kennai build --force as a child process; {runs} runs each, in turn; "
              f"load {load_average()}")
        for label, config in configs.items():
            figures: dict[Path, list[ProcessRun]] = {s: [] for s in srcs}
            for _ in range(runs):
                for k, src in enumerate(srcs):
                    figures[src].append(run_build(config, src, folder / "build" / str(k)))
            target = TARGETS.get(label)
            for src, done in figures.items():
                wall = Spread(tuple(r.seconds for r in done))
                rss = Spread(tuple(r.peak_rss_mb for r in done))
                goal = ""
                if target:
                    goal = f"  (#13 target < {target[0]:g} s" + (
                        f", < {target[1]:,.0f} MiB)" if target[1] else ")")
                print(f"{label} [{src}]: wall {wall.text(unit='s')}, "
                      f"peak RSS {rss.text(unit='MiB', digits=4)}{goal}; load {load_average()}")


if __name__ == "__main__":
    main()
