"""Honest figures where data are missing: every coverage row states its base, residents off the
network are a warning with their share, unreachable residents are counted apart from far ones,
and a region without a network gets straight-line coverage labelled as such."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import yaml
from pyproj import CRS

from kennai.access import AccessOptions, AccessResults, coverage_table, gap_polygons
from kennai.build import build_region
from kennai.config import load_config
from kennai.coverage_base import base_note
from kennai.region import Region

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
needs_yaizu = pytest.mark.skipif(not (SHARED / "yaizu").is_dir(),
                                 reason=f"Yaizu data not found at {SHARED}")


def _results(status: list[str], distance: list[float], population: list[float]) -> AccessResults:
    crs = CRS.from_epsg(6676)
    n = len(status)
    residents = gpd.GeoDataFrame({
        "population": population, "population_65plus": [p / 2 for p in population],
        "status": status, "distance_m": distance,
        "time_min": [d / 0.8 / 60 for d in distance], "straight_m": [100.0] * n,
    }, geometry=shapely.points(np.arange(n, dtype=float), np.zeros(n)), crs=crs)
    places = gpd.GeoDataFrame({"place_id": ["p"]}, geometry=[shapely.Point(0, 0)], crs=crs)
    return AccessResults(residents, places, AccessOptions(), {"method": "network"})


def test_rows_state_their_base_and_count_unreachable_apart() -> None:
    # 10 on the network and near, 20 on a part with no place, 30 far, 40 off the network.
    res = _results(["ok", "ok", "ok", "no_network"], [100.0, np.inf, 5000.0, np.inf],
                   [10.0, 20.0, 30.0, 40.0])
    row = coverage_table(res)[0]
    assert row["method"] == "network" and row["base"] == "population_on_network"
    assert row["base_share"] == pytest.approx(0.6)
    assert row["unreachable_population"] == 20.0
    assert row["unreachable_population_65plus"] == 10.0
    assert row["no_network_population"] == 40.0
    assert row["coverage"]["500m"] == pytest.approx(10 / 60, abs=1e-4)
    assert row["population_beyond_worst"] == 50.0  # far and unreachable: neither is within reach
    assert base_note(row).ja == "ネットワーク上の住民 60% のうち "


def test_unreachable_residents_are_gaps_of_their_own() -> None:
    """Far and unreachable residents next to each other stay two gaps, told apart by ``reach``."""
    res = _results(["ok", "ok", "ok", "ok"], [100.0, 900.0, np.inf, np.inf], [5.0, 30.0, 20.0, 1.0])
    gaps = gap_polygons(res)
    assert list(gaps["reach"]) == ["far", "unreachable"]
    assert list(gaps["population"]) == [30.0, 21.0] and list(gaps["rank"]) == [1, 2]
    assert gaps.loc[1, "population_65plus"] == 10.5


def test_a_full_network_needs_no_note() -> None:
    row = coverage_table(_results(["ok", "ok"], [100.0, 200.0], [5.0, 5.0]))[0]
    assert row["base_share"] == 1.0 and base_note(row).get() == ""


@needs_yaizu
def test_yaizu_warns_about_residents_off_the_network(yaizu: Region) -> None:
    region_rows = [f for f in yaizu.findings if f.code == "off_network" and f.feature is None]
    assert len(region_rows) == 1 and region_rows[0].level == "warning"
    share = region_rows[0].to_dict()["share_off_network"]
    assert share == pytest.approx(0.92, abs=0.01)
    districts = {f.feature: f.to_dict()["share_off_network"] for f in yaizu.findings
                 if f.code == "off_network" and f.layer == "elementary"}
    assert districts["小川小学校"] == 1.0 and "焼津東小学校" in districts


@needs_yaizu
def test_yaizu_info_json_and_access_table_say_which_base(yaizu: Region, tmp_path: Path) -> None:
    env = {**os.environ, "KENNAI_BUILD_ROOT": str(Path(yaizu.build_dir).parent)}
    info = subprocess.run([sys.executable, "-m", "kennai", "info", "pipelines/yaizu.yaml", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    findings = json.loads(info.stdout)["findings"]
    whole = [f for f in findings if f["code"] == "off_network" and f["feature"] is None]
    assert whole and whole[0]["share_off_network"] == pytest.approx(0.92, abs=0.01)
    table = subprocess.run([sys.executable, "-m", "kennai", "access", "pipelines/yaizu.yaml",
                            "--by", "elementary"], cwd=ROOT, env={**env, "COLUMNS": "140"},
                           capture_output=True, text=True, check=True)
    assert "割合はネットワーク上の住民のうちの数字です" in table.stdout


def test_a_region_without_network_gets_straight_line_coverage(tmp_path: Path) -> None:
    """The demo town without its network: straight-line coverage, labelled, stored by the build."""
    cfg = yaml.safe_load((ROOT / "pipelines" / "demo.yaml").read_text(encoding="utf-8"))
    base = ROOT / "pipelines"
    for layer in cfg["layers"].values():
        for key in ("path",):
            if key in layer:
                layer[key] = str((base / layer[key]).resolve())
        for src in layer.get("sources", []):
            src["path"] = str((base / src["path"]).resolve())
    for plan in cfg.get("plans", []):
        if "path" in plan:
            plan["path"] = str((base / plan["path"]).resolve())
    for kind in ("network", "dem", "buildings"):
        cfg["layers"].pop(kind, None)
    cfg["name"] = "nonet"
    path = tmp_path / "nonet.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    region, _ = build_region(load_config(path), build_dir=tmp_path / "build" / "nonet")
    assert [f.code for f in region.findings if f.code == "straight_line_only"]
    stored = json.loads((tmp_path / "build" / "nonet" / "access" / "access.json").read_text())
    row = stored["coverage"]["region"][0]
    assert row["method"] == "straight_line" and row["base"] == "population"
    assert 0 < row["coverage"]["500m"] <= 1
    assert row["coverage"]["500m"] == row["straight_line_coverage"]["500m"]
    assert row["population_65plus"] is not None and row["coverage_65plus"]["500m"] is not None
