"""Several kinds of destination: food shops and bus stops beside the gathering places (Ishigaki)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from kennai.access import (
    PLACES_KIND,
    AccessOptions,
    coverage_table,
    destination_kinds,
    load_access,
    read_destinations,
    results_for,
)
from kennai.build import build_region
from kennai.config import RegionConfig, load_config
from kennai.errors import NotFoundError
from kennai.region import Region

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data not found at {SHARED}")


@pytest.fixture(scope="module")
def ishigaki(tmp_path_factory: pytest.TempPathFactory) -> Region:
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED}")
    cfg = load_config(REPO / "pipelines" / "ishigaki.yaml")
    region, _ = build_region(cfg, build_dir=tmp_path_factory.mktemp("ishigaki") / "ishigaki")
    return region


def test_destination_names_are_checked() -> None:
    base = {"name": "x", "title": "X", "layers": {}}
    cfg = RegionConfig.model_validate({**base, "destinations": {
        "food": {"title": "食料品店", "path": "shops.csv", "category": "店"}}})
    assert cfg.destinations["food"].sources[0].category == "店"
    assert Path("shops.csv") in cfg.input_files()
    for bad in ("places", "Food!"):
        with pytest.raises(ValidationError):
            RegionConfig.model_validate({**base, "destinations": {bad: {"path": "a.csv"}}})


@needs_shared
def test_ishigaki_food_shops_and_bus_stops_beside_the_gathering_places(ishigaki: Region) -> None:
    assert destination_kinds(ishigaki) == [PLACES_KIND, "food", "bus"]
    assert ishigaki.build_dir is not None
    build = Path(ishigaki.build_dir)
    places = load_access(build)
    food, bus = load_access(build, kind="food"), load_access(build, kind="bus")
    shops = read_destinations(ishigaki, "food")
    stops = read_destinations(ishigaki, "bus")
    assert len(shops) and set(shops["category"]) <= {"shop=supermarket", "shop=convenience"}
    assert len(stops) and set(stops["category"]) == {"highway=bus_stop"}
    assert stops["place_id"].str.startswith("osm:n").all(), "bus stops are OSM nodes"
    assert food.info["places"] == len(shops) and bus.info["places"] == len(stops)
    for kind in (food, bus):
        # The same residents, walked to other destinations: same people, other distances.
        assert len(kind.residents) == len(places.residents)
        assert kind.coverage["region"][0]["population"] == places.coverage["region"][0]["population"]
        assert kind.coverage["region"][0]["coverage"] != places.coverage["region"][0]["coverage"]
        assert kind.suggestions is None
    meta = json.loads((build / "metadata.json").read_text(encoding="utf-8"))["access"]
    assert meta["kinds"]["food"]["coverage"] == food.coverage["region"][0]["coverage"]
    with pytest.raises(NotFoundError):
        results_for(ishigaki, AccessOptions(), kind="clinic")


@needs_shared
def test_destinations_leave_the_gathering_places_results_unchanged(
        ishigaki: Region, tmp_path: Path) -> None:
    cfg = ishigaki.config.model_copy(update={"destinations": {}})
    plain, _ = build_region(cfg, build_dir=tmp_path / "plain")
    assert ishigaki.build_dir is not None and plain.build_dir is not None
    ours = json.loads((Path(ishigaki.build_dir) / "access" / "access.json").read_text("utf-8"))
    before = json.loads((Path(plain.build_dir) / "access" / "access.json").read_text("utf-8"))
    assert ours == before
    assert not (Path(plain.build_dir) / "access-food").exists()


@needs_shared
def test_cli_api_and_karte_take_the_kind(ishigaki: Region, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from api import create_app
    from kennai.cli import app

    assert ishigaki.build_dir is not None
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("KENNAI_BUILD_ROOT", str(Path(ishigaki.build_dir).parent))
    runner = CliRunner()
    stored = load_access(Path(ishigaki.build_dir), kind="food")
    res = runner.invoke(app, ["access", "pipelines/ishigaki.yaml", "--kind", "food", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == coverage_table(stored, region_name=ishigaki.config.title)[0]
    res = runner.invoke(app, ["access", "pipelines/ishigaki.yaml", "--kind", "clinic", "--json"])
    assert isinstance(res.exception, NotFoundError) and "clinic" in str(res.exception)
    client = TestClient(create_app(REPO / "pipelines" / "ishigaki.yaml",
                                   build_dir=ishigaki.build_dir, register_path=tmp_path / "r.sqlite"))
    for kind in ("places", "food", "bus"):
        got = client.get("/api/v1/regions/ishigaki/access", params={"kind": kind})
        assert got.status_code == 200
        want = load_access(Path(ishigaki.build_dir), kind=kind).coverage["region"]
        assert got.json()["region"] == want
    assert client.get("/api/v1/regions/ishigaki/access", params={"kind": "clinic"}).status_code == 404
    assert client.get("/api/v1/regions/ishigaki/access/coverage",
                      params={"kind": "clinic"}).status_code == 404
    out = tmp_path / "karte.pdf"
    res = runner.invoke(app, ["karte", "pipelines/ishigaki.yaml", "--layer", "region", "-o", str(out)])
    assert res.exit_code == 0, res.output
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True,
                              text=True, check=True).stdout
        head = next(ln for ln in text.splitlines() if "集いの場（" in ln)
        assert "食料品店（" in head and "バス停（" in head, "the kinds side by side"
        row = next(ln for ln in text.splitlines() if ln.strip().startswith("500m"))
        shares = [f"{k.coverage['region'][0]['coverage']['500m']:.0%}"
                  for k in (load_access(Path(ishigaki.build_dir)), stored,
                            load_access(Path(ishigaki.build_dir), kind="bus"))]
        assert row.split()[1:4] == shares
