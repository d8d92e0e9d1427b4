"""Generate the demo town's files: one fixed seed, every call writes the same bytes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kennai.demo.frame import local_frame
from kennai.demo.layers import (
    ELEMENTARY,
    JICHIKAI,
    JUNIOR_HIGH,
    PLAN_ELEMENTARY,
    district_layers,
    population_rows,
)
from kennai.demo.osm import town_osm
from kennai.demo.places import SITE_COLUMNS, facility_sites, place_sites, site_rows
from kennai.demo.terrain import build_geo
from kennai.demo.write import readme_text, write_csv, write_dem, write_geojson

SEED = 20240531
DEFAULT_OUT = Path(__file__).resolve().parents[3] / "data" / "boundaries" / "demo"


def generate_demo(out_dir: Path) -> list[Path]:
    """Write the demo town's files to ``out_dir`` and return their paths.

    The files are those named in ``pipelines/demo.yaml``; every call writes the same bytes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    frame = local_frame()
    geo = build_geo(rng)
    osm, streets, buildings = town_osm(geo, rng)
    town = out_dir / "town.osm"
    town.write_text(osm.xml(frame), encoding="utf-8")
    written = [town, write_dem(out_dir / "dem.tif", geo, frame)]

    layers = district_layers(geo, rng)
    for name, rows, geoms in (
        ("elementary", [{"code": c, "name": n} for c, n in ELEMENTARY], layers.elementary),
        ("junior_high", [{"code": c, "name": n} for c, n, _ in JUNIOR_HIGH], layers.junior_high),
        ("jichikai", [{"code": f"N{i:02d}", "name": n} for i, (n, _, _) in enumerate(JICHIKAI, 1)],
         layers.jichikai),
        ("small_areas", population_rows(layers, buildings, rng), [a[3] for a in layers.small_areas]),
    ):
        written.append(write_geojson(out_dir / f"{name}.geojson", rows, geoms, frame))

    used: set[int] = set()
    points, info = place_sites(buildings, used)
    written.append(write_csv(out_dir / "places.csv", SITE_COLUMNS,
                             site_rows(frame, layers, points, info, rng)))
    sites, site_info = facility_sites(geo, streets, buildings, used)
    written.append(write_csv(out_dir / "public_facilities.csv", SITE_COLUMNS,
                             site_rows(frame, layers, sites, site_info, rng)))

    written.append(write_geojson(out_dir / "plan_junior_high.geojson",
                                 [{"area": area} for _, _, area in JUNIOR_HIGH],
                                 layers.junior_high, frame))
    written.append(write_csv(out_dir / "plan_elementary.csv", ("小学校区", "圏域"),
                             [list(r) for r in PLAN_ELEMENTARY]))
    readme = out_dir / "README.md"
    readme.write_text(readme_text([p.name for p in written]), encoding="utf-8")
    written.append(readme)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m kennai.demo [OUT_DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m kennai.demo",
                                     description="みなと町（架空のデモ地域）のデータを生成します。")
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUT,
                        help="出力フォルダ（既定: data/boundaries/demo）")
    args = parser.parse_args(argv)
    for path in generate_demo(args.out_dir):
        print(path)

