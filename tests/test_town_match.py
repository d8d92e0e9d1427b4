"""Placing a 通いの場 by its address: the 町丁・字 it is in, however the address is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient

from api import create_app
from kennai.build import build_region
from kennai.config import load_config
from kennai.errors import NotFoundError
from kennai.town_match import match_town, normalise

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo.yaml"
SHARED = ROOT.parent / "shared" / "data"


def test_spellings_of_one_town_are_one() -> None:
    assert normalise("本町五丁目") == normalise("本町５丁目") == "本町5丁目"
    assert normalise("鰯ヶ島") == normalise("鰯ケ島") == normalise("鰯が島")
    assert normalise("駅北十二丁目3") == "駅北12丁目3"


@pytest.fixture(scope="module")
def demo_built(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("towns") / "demo"
    region, _ = build_region(load_config(DEMO), build_dir=out)
    return region, out


def test_demo_places_match_the_town_their_point_is_in(demo_built) -> None:
    region, _ = demo_built
    towns = region.layer("population")
    places = region.layer("places")
    checked = 0
    for address, point in zip(places["address"], places.geometry, strict=True):
        if not isinstance(address, str) or not address:
            continue
        got = match_town(region, address)
        inside = towns[towns.geometry.contains(point)]["name"].tolist()
        if inside:  # the published address and point agree on the town
            assert got.town in inside, (address, got.town, inside)
            checked += 1
        town = shapely.union_all(towns[towns["name"] == got.town].to_crs(4326).geometry.values)
        assert town.contains(shapely.Point(got.lon, got.lat))
    assert checked >= 5
    with pytest.raises(NotFoundError):
        match_town(region, "東京都千代田区丸の内1-1")


def test_the_api_matches_an_address_and_says_when_it_cannot(demo_built, tmp_path: Path) -> None:
    _, out = demo_built
    client = TestClient(create_app(DEMO, build_dir=out, register_path=tmp_path / "r.sqlite"))
    url = "/api/v1/regions/demo/towns/match"
    ok = client.get(url, params={"address": "みなと町丘の上二丁目5"})
    assert ok.status_code == 200 and ok.json()["town"] == "丘の上二丁目"
    missing = client.get(url, params={"address": "どこでもない"})
    assert missing.status_code == 404 and "町丁" in missing.json()["message_ja"]


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED / "yaizu").is_dir(), reason=f"Yaizu data not found at {SHARED}")
def test_yaizu_addresses_as_the_city_writes_them(tmp_path: Path) -> None:
    region, _ = build_region(load_config(ROOT / "pipelines" / "yaizu.yaml"),
                             build_dir=tmp_path / "yaizu")
    assert match_town(region, "静岡県焼津市本町5-6-1").town == "本町５丁目"
    assert match_town(region, "焼津市駅北一丁目3").town == "駅北１丁目"
    assert match_town(region, "焼津市鰯ヶ島136-1").town == "鰯ケ島"
    assert match_town(region, "焼津市焼津2724").town == "焼津"
