"""The gathering-place register: who/when, transactions, validation, the build's source."""

from __future__ import annotations

from pathlib import Path

import pytest

from kennai.errors import InputError, NotFoundError
from kennai.register import PlaceRegister, register_places

BOUNDS = (138.2, 34.7, 138.4, 34.95)


@pytest.fixture
def register(tmp_path: Path) -> PlaceRegister:
    return PlaceRegister(tmp_path / "register.sqlite", bounds=BOUNDS)


def test_add_edit_retire_with_who_and_when(register: PlaceRegister) -> None:
    place = register.add({"name": " 縁側カフェ ", "category": "居場所", "lon": 138.3, "lat": 34.85},
                         by="山田")
    assert place["place_id"] == "register:1" and place["name"] == "縁側カフェ"
    assert place["created_by"] == "山田" and place["created_at"].endswith("+00:00")
    edited = register.edit("register:1", {"weekdays": "火"}, by="佐藤")
    assert edited["weekdays"] == "火" and edited["updated_by"] == "佐藤"
    assert edited["created_by"] == "山田"
    register.retire("register:1", by="山田", reason="閉店")
    assert register.list_places() == []
    kept = register.list_places(include_retired=True)[0]
    assert kept["retired_reason"] == "閉店"
    assert [e["action"] for e in register.history("register:1")] == ["add", "edit", "retire"]
    assert register.revision() == 3


def test_failed_change_leaves_nothing(register: PlaceRegister) -> None:
    register.add({"name": "a", "lon": 138.3, "lat": 34.85}, by="x")
    register.retire("register:1", by="x")
    with pytest.raises(InputError):
        register.edit("register:1", {"name": "b"}, by="x")
    with pytest.raises(InputError):
        register.retire("register:1", by="x")
    assert register.get("register:1")["name"] == "a"
    assert register.revision() == 2


@pytest.mark.parametrize("values", [
    {"lon": 138.3, "lat": 34.85},                           # no name
    {"name": "a", "lon": 138.3},                            # no lat
    {"name": "a", "lon": 139.7, "lat": 35.7},               # outside the region
    {"name": "a", "lon": float("nan"), "lat": 34.85},       # not a number
    {"name": "a", "lon": 138.3, "lat": 34.85, "path": "/etc/passwd"},  # unknown field
    {"name": "a" * 2001, "lon": 138.3, "lat": 34.85},       # too long
])
def test_bad_places_are_refused(register: PlaceRegister, values: dict) -> None:
    with pytest.raises(InputError):
        register.add(values, by="x")
    assert register.revision() == 0


def test_who_is_required(register: PlaceRegister) -> None:
    with pytest.raises(InputError):
        register.add({"name": "a", "lon": 138.3, "lat": 34.85}, by="  ")
    with pytest.raises(NotFoundError):
        register.edit("register:9", {"name": "b"}, by="x")


def test_register_places_is_a_places_source(register: PlaceRegister) -> None:
    register.add({"name": "a", "category": "サロン", "lon": 138.3, "lat": 34.85}, by="x")
    register.add({"name": "b", "lon": 138.31, "lat": 34.86}, by="x")
    register.retire("register:2", by="x")
    gdf = register_places(register.path, crs="EPSG:6676")
    assert gdf.columns.tolist() == ["place_id", "name", "category", "address", "weekdays",
                                    "start_time", "end_time", "schedule_note", "description",
                                    "geometry", "source_file"]
    assert gdf["place_id"].tolist() == ["register:1"] and gdf.crs.to_epsg() == 6676
    assert abs(gdf.geometry.iloc[0].x) < 200_000  # metres in plane zone VIII, not degrees
    reopened = PlaceRegister(register.path)
    assert reopened.get("register:1")["category"] == "サロン"


def test_missing_register_is_empty(tmp_path: Path) -> None:
    gdf = register_places(tmp_path / "none.sqlite")
    assert gdf.empty and gdf.crs.to_epsg() == 4326 and not (tmp_path / "none.sqlite").exists()
