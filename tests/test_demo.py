"""The embedded demo region is exactly what the generator makes, and builds cleanly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import shapely

from kennai.demo import generate_demo
from kennai.region import Region
from tests.conftest import ROOT

COMMITTED = ROOT / "data" / "boundaries" / "demo"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    written = generate_demo(tmp_path)
    assert {p.name for p in written} == {p.name for p in COMMITTED.iterdir()}
    for path in written:
        assert _digest(path) == _digest(COMMITTED / path.name), path.name


def test_demo_region_layers(demo: Region) -> None:
    assert len(demo.layer("elementary")) == 4
    assert len(demo.layer("junior_high")) == 2
    assert 12 <= len(demo.layer("neighbourhood")) <= 18
    assert 15 <= len(demo.layer("places")) <= 25
    pop = demo.layer("population")
    assert pop["population_65plus"].notna().all()
    assert (pop["population_65plus"] <= pop["population"]).all()
    assert demo.network is not None and demo.network.n_nodes > 1000
    assert "motorway" not in set(demo.network.edge_highway)  # pedestrians do not use it
    assert demo.dem_path is not None
    assert not [f for f in demo.findings if f.level != "info"]
    # exactly one elementary district straddles the two junior-high districts
    es, jh = demo.layer("elementary"), demo.layer("junior_high")
    straddling = [n for n, g in zip(es["name"], es.geometry, strict=True)
                  if sum(shapely.intersection(g, h).area / g.area > 0.01 for h in jh.geometry) > 1]
    assert len(straddling) == 1
    assert set(demo.plan_names) == {"plan_junior_high", "plan_elementary"}
