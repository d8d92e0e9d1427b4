"""Site suggestions: candidates of allowed kinds only, not places already there, from the CLI
and the API alike, for the region or one district."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import create_app
from kennai import access
from kennai.access.candidates import SAME_PLACE_M, candidate_points
from kennai.build import build_region
from kennai.candidate_kinds import DEFAULT_ALLOWED, candidate_kind
from kennai.cli import app
from kennai.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
needs_yaizu = pytest.mark.skipif(not (SHARED / "yaizu").is_dir(),
                                 reason=f"Yaizu data not found at {SHARED}")

#: Words that mark a site where no サロン can meet (what the allow-list must leave out).
NOT_A_HALL = ("駐車場", "倉庫", "車庫", "艇庫", "詰所", "テニス", "グラウンド", "野球場", "競技場",
              "プール", "トイレ")


@pytest.mark.parametrize(("name", "category", "kind"), [
    ("避難地倉庫（大富小学校）", "地域防災課", "storage"),  # storage, though it names a school
    ("焼津駅北口駐車場", "道路課", "parking"),
    ("消防団第１分団車庫・詰所", "地域防災課", "garage"),
    ("漁船員テニス場", "スポーツ課", "sports"),
    ("宮島会館", "住宅・公共建築課", "hall"),  # the department is no housing estate
    ("鍛冶島公会堂", "", "hall"),
    ("養護老人ホーム慈恵園", "地域福祉課", "welfare"),
    ("焼津図書館", "図書課", "library"),
    ("北町空き店舗", "", "shop"),
    ("八幡神社", "", "religious"),
    ("ふれあいギャラリー", "文化振興課", "other"),
])
def test_candidate_kinds_come_from_the_name_first(name: str, category: str, kind: str) -> None:
    assert candidate_kind(name, category) == kind


@pytest.fixture(scope="module")
def demo_built(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("suggest") / "demo"
    region, _ = build_region(load_config(ROOT / "pipelines" / "demo.yaml"), build_dir=out)
    return region, out


def test_demo_suggestions_are_allowed_kinds_and_new_places(demo_built) -> None:
    region, _ = demo_built
    results = access.results_for(region, access.AccessOptions())
    got = access.suggest_sites(region, results, k=10)
    assert len(got) and set(got["kind"]) <= set(DEFAULT_ALLOWED)
    assert not got["name"].str.contains("公園").any()  # parks are not on the default list
    places = results.places.to_crs(got.crs)
    assert all(places.distance(g).min() > SAME_PLACE_M for g in got.geometry)
    assert got["added_population"].is_monotonic_decreasing
    assert (got["threshold_m"] == results.options.gap_threshold_m).all()
    streets = access.suggest_sites(region, results, k=3, allow=["street"])
    assert len(streets) and set(streets["source"]) == {"network_nodes"}


def test_district_suggestions_lie_in_the_district_and_count_its_own_people(demo_built) -> None:
    region, _ = demo_built
    results = access.results_for(region, access.AccessOptions())
    whole = access.suggest_sites(region, results, k=20)
    for name in region.layer("elementary")["name"]:
        got = access.district_suggestions(region, results, district=str(name), k=20)
        shape = shapely.union_all(region.layer("elementary").to_crs(got.crs)
                                  .query("name == @name").geometry.values)
        assert all(shape.contains(g) for g in got.geometry)
        assert (got["district"] == name).all()
        if len(got):  # a district's first pick adds no more than the same site region-wide
            first = got.iloc[0]
            same = whole[whole["candidate_id"] == first["candidate_id"]]
            assert same.empty or first["added_population"] <= same["added_population"].max() + 1e-9


def test_suggest_cli_and_api_agree_and_refuse_unknown_kinds(demo_built) -> None:
    region, out = demo_built
    cfg = ROOT / "pipelines" / "demo.yaml"
    name = str(region.layer("elementary")["name"].iloc[0])
    env = {"KENNAI_BUILD_ROOT": str(out.parent)}
    cli = CliRunner().invoke(app, ["suggest", str(cfg), "--district", name, "--json", "-k", "3"],
                             env=env)
    assert cli.exit_code == 0, cli.output
    rows = json.loads(cli.stdout)
    client = TestClient(create_app(cfg, build_dir=out, register_path=out.parent / "r.sqlite"))
    api = client.get("/api/v1/regions/demo/access/suggestions", params={"district": name, "k": 3})
    assert api.status_code == 200
    assert [f["properties"]["name"] for f in api.json()["features"]] == [r["name"] for r in rows]
    assert all({"name", "category", "added_population", "added_population_65plus"} <= r.keys()
               for r in rows)
    bad = subprocess.run([sys.executable, "-m", "kennai", "suggest", str(cfg), "--allow", "hall,castle"],
                         capture_output=True, text=True, env=os.environ | env, timeout=300)
    assert bad.returncode == 2 and "castle" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert client.get("/api/v1/regions/demo/access/suggestions",
                      params={"allow": "castle"}).status_code in (400, 422)
    assert client.get("/api/v1/regions/demo/access/suggestions",
                      params={"district": "どこにもない"}).status_code == 404


@pytest.mark.realdata
@needs_yaizu
def test_yaizu_suggestions_are_no_parking_lot_shed_garage_or_court(tmp_path: Path) -> None:
    region, _ = build_region(load_config(ROOT / "pipelines" / "yaizu.yaml"), build_dir=tmp_path / "yaizu")
    results = access.results_for(region, access.AccessOptions())
    pool = candidate_points(region, results, allow=DEFAULT_ALLOWED)
    assert len(pool) > 50  # the halls, schools and welfare sites of the real list remain
    assert not pool["name"].str.contains("|".join(NOT_A_HALL)).any()
    run = CliRunner().invoke(app, ["suggest", str(ROOT / "pipelines" / "yaizu.yaml"),
                                   "--district", "焼津東小学校", "--json"],
                             env={"KENNAI_BUILD_ROOT": str(tmp_path)})
    assert run.exit_code == 0, run.output
    rows = json.loads(run.stdout)
    assert rows and all(r["name"] and r["category"] is not None and r["added_population"] > 0
                        for r in rows)
    assert not any(word in r["name"] for r in rows for word in NOT_A_HALL)
