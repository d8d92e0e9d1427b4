"""The register in a real PostgreSQL + PostGIS: the same behaviour as SQLite, and concurrency.

The throwaway cluster of the session is tests/pg_server.py's ``postgis_server`` fixture
(``initdb`` in a temporary folder, a free loopback port, ``fsync`` off). The behaviour suite of
test_register.py is collected again here against it; the tests below add what only a
database server has: the PostGIS column and index, two editors at once, a lock timeout.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed "
                                                '(pip install "kennai[postgis]")')

# The backend-agnostic behaviour suite, run again here on PostGIS (fixtures overridden below).
from pg_server import free_port, postgis_why_not  # noqa: E402
from test_register import (  # noqa: E402
    BOUNDS,
    test_add_edit_retire_with_who_and_when,  # noqa: F401
    test_bad_places_are_refused,  # noqa: F401
    test_failed_change_leaves_nothing,  # noqa: F401
    test_fingerprint_changes_with_every_change,  # noqa: F401
    test_idempotency_key_replays_the_first_answer,  # noqa: F401
    test_register_places_is_a_places_source,  # noqa: F401
    test_who_is_required,  # noqa: F401
)

from kennai.errors import ConfigError, InputError, RegisterConflictError  # noqa: E402
from kennai.register import (  # noqa: E402
    PlaceRegister,
    PostGISRegister,
    register_fingerprint,
)

pytestmark = pytest.mark.skipif(postgis_why_not() is not None, reason=str(postgis_why_not()))


@pytest.fixture
def location(postgis_server: str) -> str:
    """The session database, emptied (ids restart at 1 as in a new SQLite file)."""
    PlaceRegister(postgis_server)  # the tables, on first use
    with psycopg.connect(postgis_server, autocommit=True) as conn:
        conn.execute("TRUNCATE place_events, places RESTART IDENTITY")
    return postgis_server


@pytest.fixture
def register(location: str) -> PlaceRegister:
    return PlaceRegister(location, bounds=BOUNDS)


def test_url_opens_postgis_with_a_point_column_and_gist_index(register: PlaceRegister,
                                                              location: str) -> None:
    assert isinstance(register, PostGISRegister)
    register.add({"name": "a", "lon": 138.3, "lat": 34.85}, by="x")
    with psycopg.connect(location) as conn:
        column = conn.execute("SELECT type, srid FROM geometry_columns WHERE f_table_name = "
                              "'places' AND f_geometry_column = 'geom'").fetchone()
        index = conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'places' "
                             "AND indexdef ILIKE '%USING gist (geom)%'").fetchone()
        near = conn.execute("SELECT place_id, ST_AsText(geom) FROM places WHERE ST_DWithin("
                            "geom::geography, ST_SetSRID(ST_MakePoint(138.301, 34.85), 4326)"
                            "::geography, 200)").fetchall()
    assert column == ("POINT", 4326) and index is not None
    assert near == [("register:1", "POINT(138.3 34.85)")]  # ~92 m away, in metres on the sphere


def _wait_for_waiters(url: str, n: int) -> None:
    """Until ``n`` register connections wait on a lock (so the race really happens)."""
    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name "
                                   "= 'kennai-register' AND wait_event_type = 'Lock'").fetchone()[0]
            if waiting >= n:
                return
            time.sleep(0.02)
    raise AssertionError(f"{n} editors never waited on the place's lock")


def _race(url: str, changes: list) -> list:
    """Run ``changes`` in threads while another session holds the place's row, then let go."""
    results: list = [None] * len(changes)

    def run(i: int) -> None:
        try:
            results[i] = changes[i]()
        except Exception as exc:  # collected and checked by the test
            results[i] = exc

    with psycopg.connect(url) as holder:
        holder.execute("SELECT 1 FROM places WHERE place_id = 'register:1' FOR UPDATE")
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(changes))]
        for th in threads:
            th.start()
        _wait_for_waiters(url, len(changes))
        holder.rollback()
    for th in threads:
        th.join(15)
    return results


def test_two_editors_of_one_place_lose_nothing(register: PlaceRegister, location: str) -> None:
    register.add({"name": "縁側カフェ", "lon": 138.3, "lat": 34.85}, by="山田")
    other = PlaceRegister(location, bounds=BOUNDS)  # a second server process, say
    results = _race(location, [
        lambda: register.edit("register:1", {"weekdays": "火", "name": "縁側カフェ A"}, by="佐藤"),
        lambda: other.edit("register:1", {"address": "焼津市本町", "name": "縁側カフェ B"}, by="鈴木"),
    ])
    assert all(isinstance(r, dict) for r in results), results
    place = register.get("register:1")
    history = register.history("register:1")
    assert [e["action"] for e in history] == ["add", "edit", "edit"]
    assert {e["by"] for e in history[1:]} == {"佐藤", "鈴木"}
    # Both edits are kept; where they touch the same field, the later committed one wins.
    assert place["weekdays"] == "火" and place["address"] == "焼津市本町"
    assert place["name"] == history[-1]["data"]["name"]
    assert register.revision() == 3


def test_retiring_twice_at_once_retires_once(register: PlaceRegister, location: str) -> None:
    register.add({"name": "a", "lon": 138.3, "lat": 34.85}, by="x")
    results = _race(location, [lambda: register.retire("register:1", by="山田", reason="閉店"),
                               lambda: register.retire("register:1", by="佐藤", reason="移転")])
    done = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, InputError)]
    assert len(done) == 1 and len(refused) == 1, results
    assert "already retired" in str(refused[0])
    assert [e["action"] for e in register.history("register:1")] == ["add", "retire"]
    assert register.get("register:1")["retired_by"] == done[0]["retired_by"]


def test_an_edit_waiting_too_long_is_a_clear_conflict(location: str) -> None:
    register = PostGISRegister(location, bounds=BOUNDS, lock_timeout=0.2)
    register.add({"name": "a", "lon": 138.3, "lat": 34.85}, by="x")
    with psycopg.connect(location) as holder:
        holder.execute("SELECT 1 FROM places WHERE place_id = 'register:1' FOR UPDATE")
        with pytest.raises(RegisterConflictError, match="someone else is changing"):
            register.edit("register:1", {"name": "b"}, by="y")
    assert register.get("register:1")["name"] == "a" and register.revision() == 1


def test_opening_the_register_does_not_wait_for_an_editor(register: PlaceRegister,
                                                         location: str) -> None:
    # A server starting, or a build reading the places, opens the register while someone edits;
    # DDL on a current schema would take the table's exclusive lock and wait (CI saw a deadlock).
    register.add({"name": "a", "lon": 138.3, "lat": 34.85}, by="x")
    with psycopg.connect(location) as holder:
        holder.execute("SELECT 1 FROM places WHERE place_id = 'register:1' FOR UPDATE")
        started = time.monotonic()
        reader = PostGISRegister(location, bounds=BOUNDS, lock_timeout=0.5)
        assert [p["place_id"] for p in reader.list_places()] == ["register:1"]
        assert time.monotonic() - started < 0.5


def test_a_register_missing_a_later_column_gains_it(location: str) -> None:
    with psycopg.connect(location, autocommit=True) as conn:
        conn.execute("ALTER TABLE places DROP COLUMN note")
    register = PostGISRegister(location, bounds=BOUNDS)
    place = register.add({"name": "a", "lon": 138.3, "lat": 34.85, "note": "雨天中止"}, by="x")
    assert register.get(place["place_id"])["note"] == "雨天中止"


def test_fingerprint_is_revision_and_last_change(register: PlaceRegister, location: str) -> None:
    assert register_fingerprint(location) == "postgresql:0:-"
    place = register.add({"name": "a", "lon": 138.3, "lat": 34.85}, by="x")
    assert register_fingerprint(location) == f"postgresql:1:{place['created_at']}"


def test_unreachable_server_is_a_config_error_without_the_password() -> None:
    url = f"postgresql://kennai:s3cret@127.0.0.1:{free_port()}/kennai"
    with pytest.raises(ConfigError) as caught:
        PlaceRegister(url)
    assert "cannot connect" in str(caught.value) and "s3cret" not in str(caught.value)
    assert caught.value.path == url.replace("s3cret", "***")


def test_the_api_serves_a_postgis_register_across_restarts(location: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from test_api import write_tiny_region

    from api import create_app

    config, build_dir = write_tiny_region(tmp_path / "tiny")
    auth = {"Authorization": "Bearer t"}
    places = "/api/v1/regions/tiny/register/places"

    def start() -> TestClient:  # a server (re)start on the same database
        return TestClient(create_app(config, build_dir=build_dir, register_path=location, token="t",
                                     web_modules=tmp_path / "none"))

    added = start().post(places, json={"name": "縁側カフェ", "lon": 138.276, "lat": 34.846,
                                       "by": "山田"}, headers=auth)
    assert added.status_code == 201 and added.json()["place_id"] == "register:1"
    client = start()
    listed = client.get(places).json()
    assert [f["id"] for f in listed["features"]] == ["register:1"]
    assert listed["features"][0]["geometry"]["coordinates"] == pytest.approx([138.276, 34.846])
    assert client.patch(f"{places}/register:1", json={"name": "x", "by": "y"},
                        headers=auth).status_code == 200
    assert client.post(places, json={"name": "遠く", "lon": 139.7, "lat": 35.7, "by": "x"},
                       headers=auth).status_code == 422


def _region_hashes_the_register() -> bool:
    import inspect

    from kennai.build import input_hashes
    return "register_fingerprint" in inspect.getsource(input_hashes)


@pytest.mark.skipif(not _region_hashes_the_register(),
                    reason="kennai.region.input_hashes does not record register_fingerprint(...) "
                           "yet, so a build cannot take a postgresql:// register")
def test_a_build_reads_the_postgis_register_and_rebuilds_on_change(
        location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_api import write_tiny_region

    from kennai.build import build_region
    from kennai.config import load_config

    monkeypatch.setenv("KENNAI_REGISTER", location)
    config, build_dir = write_tiny_region(tmp_path / "tiny")
    cfg = load_config(config)
    assert not build_region(cfg, build_dir=build_dir)[1]  # nothing changed: not rebuilt
    register = PlaceRegister(location)
    register.add({"name": "田中さんの縁側サロン", "lon": 138.276, "lat": 34.846}, by="x")
    region, rebuilt = build_region(cfg, build_dir=build_dir)
    assert rebuilt and "田中さんの縁側サロン" in set(region.layer("places")["name"])
    register.retire("register:1", by="x")
    region, rebuilt = build_region(cfg, build_dir=build_dir)
    assert rebuilt and "田中さんの縁側サロン" not in set(region.layer("places")["name"])
