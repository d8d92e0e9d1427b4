"""Plans people bring are kept, and an assignment table is the same plan as its polygons.

The demo's 案B is an assignment table (小学校区 → 圏域); its polygons are made here by dissolving
the 小学校区 it names, and an xlsx twin of the table is written here with openpyxl (the file is
made for the test, in the layout the CSV has: a header row, then one unit per row).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import create_app
from kennai.build import build_region
from kennai.cli import app
from kennai.config import load_config
from kennai.errors import ConfigError, NotFoundError, PlanExistsError
from kennai.plan_store import PlanStore

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo.yaml"
TABLE = ROOT / "data" / "boundaries" / "demo" / "plan_elementary.csv"
TOKEN = "plan-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def demo_built(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("plans") / "demo"
    region, _ = build_region(load_config(DEMO), build_dir=out)
    return region, out


def _splits(report: dict) -> tuple:
    """What a split report says, without floating-point noise: per unit split or not and the
    areas it falls in, and the counts."""
    s = report["summary"]
    units = sorted((u["name"], u["split"], tuple(sorted(p["area"] for p in u["pieces"])))
                   for u in report["units"])
    return units, s["units_split"], s["patterns"], round(s["effective_splits"], 6)


def test_the_store_keeps_who_and_when_and_refuses_clashes(tmp_path: Path) -> None:
    store = PlanStore(tmp_path / "p.sqlite")
    areas = gpd.GeoDataFrame({"name": ["北", "南"]},
                             geometry=gpd.GeoSeries.from_wkt(["POLYGON((0 0,1 0,1 1,0 1,0 0))",
                                                              "POLYGON((1 0,2 0,2 1,1 1,1 0))"]),
                             crs="EPSG:6676")
    first = store.add("plan-1", areas, who="佐藤", title="試案", source="a.geojson")
    assert (first.created_by, first.areas, first.title) == ("佐藤", 2, "試案")
    with pytest.raises(PlanExistsError):
        store.add("plan-1", areas, who="佐藤")
    with pytest.raises(PlanExistsError):  # the region's own plan names are taken too
        store.add("junior_high", areas, who="佐藤", taken=("junior_high",))
    with pytest.raises(ConfigError):
        store.add("Plan 1", areas, who="佐藤")
    with pytest.raises(ConfigError):
        store.add("plan-2", areas, who="  ")
    back = store.get("plan-1").to_crs("EPSG:6676")
    assert list(back["name"]) == ["北", "南"]
    assert back.geometry.area.round(6).tolist() == [1.0, 1.0]
    renamed = store.rename("plan-1", "plan-2", who="鈴木")
    assert renamed.updated_by == "鈴木" and renamed.created_by == "佐藤"
    assert store.names() == ["plan-2"]
    store.delete("plan-2", who="鈴木")
    with pytest.raises(NotFoundError):
        store.delete("plan-2", who="鈴木")


def test_plans_add_from_the_cli_gives_the_config_plan_s_splits(demo_built) -> None:
    _region, out = demo_built
    env = {"KENNAI_BUILD_ROOT": str(out.parent)}
    run = CliRunner().invoke(app, ["plans", "add", str(DEMO), str(TABLE), "--name", "b-cli",
                                   "--who", "テスト"], env=env)
    assert run.exit_code == 0, run.output
    listed = json.loads(CliRunner().invoke(app, ["plans", "list", str(DEMO), "--json"],
                                           env=env).stdout)
    assert [p["name"] for p in listed if p["stored"]] == ["b-cli"]
    for units in ("elementary", "neighbourhood"):
        ours = CliRunner().invoke(app, ["splits", str(DEMO), "--plan", "b-cli", "--units", units,
                                        "--json"], env=env)
        theirs = CliRunner().invoke(app, ["splits", str(DEMO), "--plan", "plan_elementary",
                                          "--units", units, "--json"], env=env)
        assert _splits(json.loads(ours.stdout)) == _splits(json.loads(theirs.stdout))
    CliRunner().invoke(app, ["plans", "delete", str(DEMO), "b-cli", "--who", "テスト"], env=env)


def test_an_uploaded_assignment_table_splits_as_its_polygons(demo_built, tmp_path: Path) -> None:
    region, out = demo_built
    client = TestClient(create_app(DEMO, build_dir=out, token=TOKEN,
                                   register_path=tmp_path / "r.sqlite"))
    table = pd.read_csv(TABLE, encoding="utf-8-sig")
    polygons = region.layer("elementary").merge(table, left_on="name", right_on="小学校区")
    polygons = polygons.dissolve("圏域", as_index=False)[["圏域", "geometry"]].rename(
        columns={"圏域": "name"}).to_crs("EPSG:4326")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["NO", "小学校区", "圏域"])
    for i, row in enumerate(table.itertuples(index=False), start=1):
        sheet.append([i, row[0], row[1]])
    xlsx = tmp_path / "assign.xlsx"
    book.save(xlsx)
    files = {"csv": ("assign.csv", TABLE.read_bytes()),
             "xlsx": ("assign.xlsx", xlsx.read_bytes()),
             "geojson": ("areas.geojson", polygons.to_json().encode())}
    url = "/api/v1/regions/demo/splits/upload"
    for units in ("elementary", "neighbourhood"):
        got = {k: client.post(url, params={"units": units}, files={"file": f}, headers=AUTH)
               for k, f in files.items()}
        assert {k: r.status_code for k, r in got.items()} == dict.fromkeys(files, 200), \
            {k: r.text[:300] for k, r in got.items()}
        assert _splits(got["csv"].json()) == _splits(got["geojson"].json()) \
            == _splits(got["xlsx"].json())
    bad = client.post(url, files={"file": ("x.csv", "列1,列2\nどこ,ここ\n".encode())}, headers=AUTH)
    assert bad.status_code == 422 and "upload" in bad.text


def test_plans_are_stored_listed_renamed_and_deleted_through_the_api(demo_built,
                                                                     tmp_path: Path) -> None:
    _region, out = demo_built
    client = TestClient(create_app(DEMO, build_dir=out, token=TOKEN,
                                   register_path=tmp_path / "r.sqlite"))
    base = "/api/v1/regions/demo/plans"
    form = {"name": "api-plan", "who": "担当A", "title": "南北の案"}
    upload = {"file": ("assign.csv", TABLE.read_bytes())}
    assert client.post(base, data=form, files=upload).status_code == 401  # no token
    made = client.post(base, data=form, files=upload, headers=AUTH)
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "担当A" and made.json()["areas"] == 2
    assert client.post(base, data=form, files=upload, headers=AUTH).status_code == 409
    listed = client.get(base).json()
    assert {p["name"] for p in listed} >= {"plan_elementary", "plan_junior_high", "api-plan"}
    stored = client.get(f"{base}/api-plan/splits", params={"units": "neighbourhood"}).json()
    own = client.get(f"{base}/plan_elementary/splits", params={"units": "neighbourhood"}).json()
    assert _splits(stored) == _splits(own)
    moved = client.patch(f"{base}/api-plan", json={"name": "api-plan-2", "who": "担当B"},
                         headers=AUTH)
    assert moved.status_code == 200 and moved.json()["updated_by"] == "担当B"
    assert client.get(f"{base}/api-plan/splits").status_code == 404
    assert client.delete(f"{base}/api-plan-2", params={"who": "担当B"}, headers=AUTH).status_code == 204
    assert client.delete(f"{base}/api-plan-2", params={"who": "担当B"}, headers=AUTH).status_code == 404
