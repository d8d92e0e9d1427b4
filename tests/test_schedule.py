"""A 通いの場's day, time and frequency: read strictly, checked in Japanese, kept in the register
(old registers gain the new fields), and "open at least weekly" as a coverage option."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from live_server import far_gap_spot
from typer.testing import CliRunner

from api import create_app
from kennai.access import select_places
from kennai.build import build_region
from kennai.cli import app
from kennai.config import load_config
from kennai.errors import InputError
from kennai.register import PlaceRegister
from kennai.schedule import (
    ScheduleValueError,
    is_weekly,
    parse_frequency,
    parse_time,
    parse_weekdays,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo.yaml"


def test_weekdays_times_and_frequencies_read_as_people_write_them() -> None:
    assert parse_weekdays("水・月") == "月,水"
    assert parse_weekdays("月曜日、金曜") == "月,金"
    assert parse_weekdays("月水金") == "月,水,金"
    assert parse_time("9:00") == "09:00" and parse_time("１３：３０".translate(
        str.maketrans("０１２３４５６７８９", "0123456789"))) == "13:30"
    assert parse_frequency("月1-3回") == "月1–3回"
    for bad, parse in (("祝", parse_weekdays), ("25:00", parse_time), ("毎日", parse_frequency)):
        with pytest.raises(ScheduleValueError) as info:
            parse(bad)
        assert info.value.text.ja and info.value.text.en
    assert is_weekly("週1回以上", "") and not is_weekly("月1–3回", "月,水")
    assert is_weekly(None, "月,水") and not is_weekly(float("nan"), float("nan"))


def _register(tmp_path: Path) -> PlaceRegister:
    return PlaceRegister(tmp_path / "r.sqlite", bounds=(138.0, 34.0, 139.0, 35.5))


def test_the_register_keeps_every_field_and_says_what_is_wrong_in_japanese(tmp_path: Path) -> None:
    reg = _register(tmp_path)
    place = reg.add({"name": "いきいきサロン", "category": "サロン", "lon": 138.3, "lat": 34.86,
                     "weekdays": "火・金", "start_time": "9:30", "end_time": "11:30",
                     "frequency": "週1回以上", "audience": "どなたでも", "fee": "100円",
                     "activity": "体操・お茶会", "contact": "054-000-0000", "note": "雨天中止"},
                    by="佐藤")
    assert (place["weekdays"], place["start_time"], place["frequency"], place["fee"]) == \
        ("火,金", "09:30", "週1回以上", "100円")
    for values, word in (({"frequency": "毎日"}, "頻度"), ({"weekdays": "祝日"}, "曜日"),
                         ({"start_time": "朝"}, "開始時刻"),
                         ({"start_time": "10:00", "end_time": "09:00"}, "終了")):
        with pytest.raises(InputError) as info:
            reg.add({"name": "x", "lon": 138.3, "lat": 34.86, **values}, by="佐藤")
        assert word in info.value.message.ja, info.value.message.ja
    with pytest.raises(InputError):  # ends before the start already stored
        reg.edit(place["place_id"], {"end_time": "09:00"}, by="鈴木")
    edited = reg.edit(place["place_id"], {"frequency": "月1-3回"}, by="鈴木")
    assert edited["frequency"] == "月1–3回"
    assert [h["action"] for h in reg.history(place["place_id"])] == ["add", "edit"]


def test_an_old_register_gains_the_new_fields(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    with sqlite3.connect(path) as conn:  # the first register version's table, with one place
        conn.executescript("""
            CREATE TABLE places (seq INTEGER PRIMARY KEY AUTOINCREMENT, place_id TEXT UNIQUE,
              name TEXT NOT NULL, category TEXT NOT NULL DEFAULT '', address TEXT NOT NULL DEFAULT '',
              weekdays TEXT NOT NULL DEFAULT '', start_time TEXT NOT NULL DEFAULT '',
              end_time TEXT NOT NULL DEFAULT '', schedule_note TEXT NOT NULL DEFAULT '',
              description TEXT NOT NULL DEFAULT '', lon REAL NOT NULL, lat REAL NOT NULL,
              created_at TEXT NOT NULL, created_by TEXT NOT NULL, updated_at TEXT NOT NULL,
              updated_by TEXT NOT NULL, retired_at TEXT, retired_by TEXT, retired_reason TEXT);
            INSERT INTO places (place_id, name, lon, lat, created_at, created_by, updated_at,
              updated_by) VALUES ('register:1', '旧サロン', 138.3, 34.86, 't', 'x', 't', 'x');
        """)
    reg = PlaceRegister(path)
    assert reg.get("register:1")["frequency"] == ""
    assert reg.edit("register:1", {"frequency": "不定期"}, by="x")["frequency"] == "不定期"


def test_weekly_keeps_places_open_every_week() -> None:
    places = gpd.GeoDataFrame(
        {"name": ["週", "月", "曜日あり", "不明"], "category": "サロン",
         "weekdays": ["", "火", "月,木", ""], "schedule_note": "",
         "frequency": ["週1回以上", "月1–3回", "", ""]},
        geometry=shapely.points([[0, 0]] * 4), crs="EPSG:6676")
    assert list(select_places(places, weekly=True)["name"]) == ["週", "曜日あり"]
    assert len(select_places(places)) == 4


def test_weekly_coverage_from_the_cli_and_the_api(tmp_path: Path) -> None:
    # A monthly サロン put in the demo's largest far gap: counted by default, not with --weekly.
    out = tmp_path / "demo"
    region, _ = build_region(load_config(DEMO), build_dir=out)
    district, spot = far_gap_spot(region.build_dir)
    register = tmp_path / "demo.register.sqlite"  # the demo's own register, beside its build
    PlaceRegister(register).add({"name": "月例サロン", "lon": spot.x, "lat": spot.y,
                                 "weekdays": "水", "frequency": "月1–3回"}, by="test")
    env = {"KENNAI_BUILD_ROOT": str(tmp_path)}
    every = CliRunner().invoke(app, ["access", str(DEMO), "--json"], env=env)  # rebuilds
    weekly = CliRunner().invoke(app, ["access", str(DEMO), "--weekly", "--json"], env=env)
    assert every.exit_code == 0 and weekly.exit_code == 0, weekly.output
    a, w = json.loads(every.stdout), json.loads(weekly.stdout)
    assert w["coverage"]["500m"] < a["coverage"]["500m"]  # the monthly place is left out
    client = TestClient(create_app(DEMO, build_dir=out, register_path=register))
    url = "/api/v1/regions/demo/access/coverage"
    params = {"layer": "elementary", "district": district}
    plain = client.get(url, params=params).json()[0]["coverage"]["500m"]
    only_weekly = client.get(url, params=params | {"weekly": "true"})
    assert only_weekly.status_code == 200
    assert only_weekly.json()[0]["coverage"]["500m"] < plain


def test_the_treasure_map_list_prints_how_often_and_when() -> None:
    from kennai.maps.content import schedule_text

    assert schedule_text({"frequency": "週1回以上", "weekdays": "火,金", "start_time": "09:30",
                          "end_time": "11:30", "schedule_note": "祝日休み"}) == \
        "週1回以上 火,金 09:30～11:30 祝日休み"
    assert schedule_text({"weekdays": "月", "frequency": float("nan")}) == "月"
