"""Borders: two adjacent invented towns batched apart walk as far as the two as one region.

The demo generator's towns tile the land and share one street lattice; each town's street
file reaches beyond its line. Batched apart, each town gets the other's places within reach;
the joint region holds both towns' files. Every resident within the largest threshold of a
place must then have the same walking distance, and every district the same coverage, to 1e-9;
without the neighbours' places the coverage of the town that has neighbours near it differs
(so the test can fail).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from kennai.access import AccessResults, load_access
from kennai.batch import read_manifest, run_batch
from kennai.build import build_region
from kennai.config import load_config
from kennai.demo.towns import generate_towns, layout, write_joint
from kennai.region import Region, open_region

pytestmark = pytest.mark.slow
LARGEST_M = 1000.0


def _shares(region: Region, results: AccessResults, districts: gpd.GeoDataFrame
            ) -> dict[tuple[str, float], float]:
    """Unrounded share of the on-network population within each distance, per district."""
    res = results.residents
    ok = res[res["status"] == "ok"]
    out = {}
    for name, poly in zip(districts["name"], districts.geometry, strict=True):
        inside = ok[ok.geometry.intersects(poly)]
        for th in (250.0, 500.0, 800.0, 1000.0):
            near = inside["distance_m"].to_numpy(float) <= th
            out[(str(name), th)] = float(inside["population"].to_numpy()[near].sum()
                                         / inside["population"].sum())
    return out


def _distances(results: AccessResults) -> dict[tuple[float, float], float]:
    xy = np.round(np.column_stack([results.residents.geometry.x, results.residents.geometry.y]), 3)
    return {(float(x), float(y)): float(d) for (x, y), d in
            zip(xy, results.residents["distance_m"].to_numpy(float), strict=True)}


@pytest.fixture(scope="module")
def towns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("border")
    generate_towns(2, root)
    return root


def test_two_towns_batched_apart_equal_one_region(towns: Path) -> None:
    a, b = layout(2)
    assert a.rect[2] == b.rect[0]  # they share a border
    out = towns / "out"
    result = run_batch(read_manifest(towns / "manifest.csv"), out, workers=2)
    assert result.exit_code == 0, result.failures
    joint_cfg = load_config(write_joint([a, b], towns, "joint"))
    joint, _ = build_region(joint_cfg, build_dir=towns / "joint-build" / "joint")
    joint_results = load_access(joint.build_dir)
    joint_shares = _shares(joint, joint_results, joint.layer("elementary"))
    joint_dist = _distances(joint_results)
    got_neighbours = 0
    for town in (a, b):
        # The batch's own build (reopened, not rebuilt: its config has the neighbours' places).
        region = open_region(load_config(towns / f"{town.name}.yaml"),
                             build_dir=out / "regions" / town.name)
        results = load_access(region.build_dir)
        got_neighbours += int(region.layer("places")["place_id"].str.startswith(
            ("90001/", "90002/")).sum())
        shares = _shares(region, results, region.layer("elementary"))
        assert shares.keys() <= joint_shares.keys()
        for key, value in shares.items():
            assert value == pytest.approx(joint_shares[key], abs=1e-9), key
        for xy, d in _distances(results).items():
            if d <= LARGEST_M or joint_dist[xy] <= LARGEST_M:
                assert d == pytest.approx(joint_dist[xy], abs=1e-9), xy
    assert got_neighbours > 0  # the border really mattered to one of them


def test_without_neighbours_places_the_border_town_differs(towns: Path) -> None:
    """The same town built alone (no neighbours' places) walks farther at the border."""
    a, b = layout(2)
    joint = load_access(towns / "joint-build" / "joint")
    joint_dist = _distances(joint)
    differ = 0
    for town in (a, b):
        alone, _ = build_region(load_config(towns / f"{town.name}.yaml"),
                                build_dir=towns / "alone" / town.name)
        for xy, d in _distances(load_access(alone.build_dir)).items():
            differ += abs(d - joint_dist[xy]) > 1e-6 and min(d, joint_dist[xy]) <= LARGEST_M
    assert differ > 0
