"""The gathering-place register: who/when, transactions, validation, the build's source.

The behaviour tests here take a ``location`` and a ``register`` fixture; they run on SQLite
here and are collected again against a live PostgreSQL + PostGIS in test_register_postgis.py,
which overrides both fixtures (one suite, two stores).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kennai.errors import InputError, NotFoundError
from kennai.register import (
    PlaceRegister,
    RegisterLocation,
    SQLiteRegister,
    default_register_path,
    register_fingerprint,
    register_location,
    register_places,
)

BOUNDS = (138.2, 34.7, 138.4, 34.95)


@pytest.fixture
def location(tmp_path: Path) -> RegisterLocation:
    return tmp_path / "register.sqlite"


@pytest.fixture
def register(location: RegisterLocation) -> PlaceRegister:
    return PlaceRegister(location, bounds=BOUNDS)


def test_add_edit_retire_with_who_and_when(register: PlaceRegister) -> None:
    place = register.add({"name": " 縁側カフェ ", "category": "居場所", "lon": 138.3, "lat": 34.85},
                         by="山田")
    assert place["place_id"] == "register:1" and place["name"] == "縁側カフェ"
    assert place["created_by"] == "山田" and place["created_at"].endswith("+00:00")
    assert (place["lon"], place["lat"]) == (138.3, 34.85)
    edited = register.edit("register:1", {"weekdays": "火", "lon": 138.31, "lat": 34.86}, by="佐藤")
    assert edited["weekdays"] == "火" and edited["updated_by"] == "佐藤"
    assert edited["created_by"] == "山田" and (edited["lon"], edited["lat"]) == (138.31, 34.86)
    register.retire("register:1", by="山田", reason="閉店")
    assert register.list_places() == []
    kept = register.list_places(include_retired=True)[0]
    assert kept["retired_reason"] == "閉店" and kept["retired_at"].endswith("+00:00")
    history = register.history("register:1")
    assert [e["action"] for e in history] == ["add", "edit", "retire"]
    assert history[1]["by"] == "佐藤" and history[1]["data"] == {"weekdays": "火", "lon": 138.31,
                                                                 "lat": 34.86}
    assert history[2]["data"] == {"reason": "閉店"} and history[0]["at"].endswith("+00:00")
    assert register.revision() == 3


def test_edit_that_gives_no_field_logs_nothing(register: PlaceRegister) -> None:
    place = register.add({"name": "a", "category": "サロン", "lon": 138.3, "lat": 34.85}, by="x")
    for changes in ({}, {"name": None, "lon": None, "lat": None}):
        assert register.edit(place["place_id"], changes, by="y") == place
    assert [e["action"] for e in register.history(place["place_id"])] == ["add"]
    edited = register.edit(place["place_id"], {"category": "体操"}, by="y")
    assert edited["category"] == "体操" and edited["updated_by"] == "y"
    assert [e["action"] for e in register.history(place["place_id"])] == ["add", "edit"]
    assert register.revision() == 2


def test_bad_values_name_no_server_file(register: PlaceRegister) -> None:
    with pytest.raises(InputError) as exc:
        register.add({"name": "沖", "lon": 0.0, "lat": 0.0}, by="x")
    assert exc.value.path is None and exc.value.feature == "lon/lat"
    assert str(register.location) not in exc.value.format("en")


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
    assert register.revision() == 0 and register.list_places(include_retired=True) == []


def test_who_is_required(register: PlaceRegister) -> None:
    with pytest.raises(InputError):
        register.add({"name": "a", "lon": 138.3, "lat": 34.85}, by="  ")
    with pytest.raises(NotFoundError):
        register.edit("register:9", {"name": "b"}, by="x")
    with pytest.raises(NotFoundError):
        register.history("register:9")


def test_register_places_is_a_places_source(register: PlaceRegister,
                                            location: RegisterLocation) -> None:
    register.add({"name": "a", "category": "サロン", "lon": 138.3, "lat": 34.85}, by="x")
    register.add({"name": "b", "lon": 138.31, "lat": 34.86}, by="x")
    register.retire("register:2", by="x")
    gdf = register_places(location, crs="EPSG:6676")
    assert gdf.columns.tolist() == ["place_id", "name", "category", "address", "weekdays",
                                    "start_time", "end_time", "schedule_note", "description",
                                    "frequency", "audience", "fee", "activity", "contact", "note",
                                    "geometry", "source_file"]
    assert gdf["place_id"].tolist() == ["register:1"] and gdf.crs.to_epsg() == 6676
    assert abs(gdf.geometry.iloc[0].x) < 200_000  # metres in plane zone VIII, not degrees
    reopened = PlaceRegister(location)
    assert reopened.get("register:1")["category"] == "サロン"
    frame = reopened.to_frame(include_retired=True)
    assert frame["place_id"].tolist() == ["register:1", "register:2"]
    assert frame.geometry.iloc[1].x == pytest.approx(138.31)


def test_fingerprint_changes_with_every_change(register: PlaceRegister,
                                               location: RegisterLocation) -> None:
    seen = {register_fingerprint(location)}
    register.add({"name": "a", "lon": 138.3, "lat": 34.85}, by="x")
    seen.add(register_fingerprint(location))
    register.edit("register:1", {"name": "a"}, by="x")  # same value: still a change, logged
    seen.add(register_fingerprint(location))
    assert len(seen) == 3
    assert register_fingerprint(location) == register_fingerprint(location)  # reading keeps it


def test_missing_register_is_empty(tmp_path: Path) -> None:
    gdf = register_places(tmp_path / "none.sqlite")
    assert gdf.empty and gdf.crs.to_epsg() == 4326 and not (tmp_path / "none.sqlite").exists()
    assert register_fingerprint(tmp_path / "none.sqlite") == "none"


def test_location_picks_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(PlaceRegister(tmp_path / "r.sqlite"), SQLiteRegister)
    url = "postgresql://kennai@127.0.0.1:5432/kennai"
    assert register_location(url) == url  # a URL never goes through Path (it would fold "//")
    assert register_location(str(tmp_path / "r.sqlite")) == tmp_path / "r.sqlite"
    monkeypatch.setenv("KENNAI_REGISTER", url)
    assert default_register_path(None, tmp_path / "build") == url  # type: ignore[arg-type]


def test_idempotency_key_replays_the_first_answer(register: PlaceRegister) -> None:
    """A retried write with the same key returns the first answer and stores nothing more; the
    key for another change is refused (nothing changes); racing retries store one place."""
    from concurrent.futures import ThreadPoolExecutor

    from kennai.errors import RegisterConflictError

    place = {"name": "再送サロン", "lon": 138.276, "lat": 34.846}
    first = register.add(place, by="山田", idempotency_key="k-1")
    assert register.add(place, by="山田", idempotency_key="k-1") == first
    with pytest.raises(RegisterConflictError):
        register.add(place | {"name": "別"}, by="山田", idempotency_key="k-1")
    gone = register.retire(first["place_id"], by="山田", reason="閉所", idempotency_key="k-2")
    assert register.retire(first["place_id"], by="山田", reason="閉所", idempotency_key="k-2") == gone
    with ThreadPoolExecutor(6) as pool:
        raced = list(pool.map(lambda _: register.add(place | {"name": "同時"}, by="佐藤",
                                                     idempotency_key="k-3"), range(6)))
    assert len({r["place_id"] for r in raced}) == 1
    names = [p["name"] for p in register.list_places(include_retired=True)]
    assert names.count("再送サロン") == 1 and names.count("同時") == 1 and "別" not in names
    with pytest.raises(InputError):
        register.add(place, by="山田", idempotency_key="x" * 201)
