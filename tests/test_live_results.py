"""Results follow the data: after a register edit the server rebuilds in the background and
swaps to the new results without a restart, while readers see the old results or the new ones,
never a mixture, and never an error."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from live_server import far_gap_spot

from api import create_app
from kennai.build import build_region
from kennai.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo.yaml"
TOKEN = "live-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _wait_idle(client: TestClient, timeout: float = 180.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = client.get("/api/v1/status").json()
        if not status["updating"]:
            return status
        time.sleep(0.2)
    raise AssertionError("the rebuild did not finish")


def test_an_edit_changes_the_served_coverage_without_a_restart(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    region, _ = build_region(load_config(DEMO), build_dir=out)
    district, spot = far_gap_spot(region.build_dir)
    app = create_app(DEMO, build_dir=out, token=TOKEN, register_path=tmp_path / "r.sqlite")
    client = TestClient(app)
    url = "/api/v1/regions/demo/access/coverage"
    params = {"layer": "elementary", "district": district}
    before = client.get(url, params=params).json()[0]["coverage"]["500m"]
    places_before = client.get("/api/v1/regions/demo/access").json()["info"]["places"]

    seen: list[tuple[int, float | None, int | None]] = []
    stop = threading.Event()

    def read() -> None:
        reader = TestClient(app)
        while not stop.is_set():
            cov = reader.get(url, params=params)
            summary = reader.get("/api/v1/regions/demo/access")
            seen.append((cov.status_code if cov.status_code != 200 else summary.status_code,
                         cov.json()[0]["coverage"]["500m"] if cov.status_code == 200 else None,
                         summary.json()["info"]["places"] if summary.status_code == 200 else None))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        added = client.post("/api/v1/regions/demo/register/places", headers=AUTH,
                            json={"name": "新しいサロン", "category": "サロン", "lon": spot.x,
                                  "lat": spot.y, "weekdays": "水", "frequency": "週1回以上",
                                  "by": "コーディネーター"})
        assert added.status_code == 201, added.text
        assert client.get("/api/v1/status").json()["updating"] is True  # 「更新中…」
        status = _wait_idle(client)
        time.sleep(0.3)
    finally:
        stop.set()
        for r in readers:
            r.join()
    assert status["last_error"] is None
    after = client.get(url, params=params).json()[0]["coverage"]["500m"]
    assert after > before  # the new place covers part of the gap it was put in
    assert client.get("/api/v1/regions/demo/access").json()["info"]["places"] == places_before + 1
    assert seen and {code for code, _, _ in seen} == {200}
    assert {cov for _, cov, _ in seen} <= {before, after}
    assert {n for _, _, n in seen} <= {places_before, places_before + 1}
    listed = client.get("/api/v1/regions/demo/register/places").json()
    assert [f["properties"]["frequency"] for f in listed["features"]] == ["週1回以上"]


def test_a_build_made_elsewhere_is_picked_up(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    build_region(load_config(DEMO), build_dir=out)
    client = TestClient(create_app(DEMO, build_dir=out, register_path=tmp_path / "r.sqlite"))
    first = client.get("/api/v1/status").json()["version"]
    build_region(load_config(DEMO), build_dir=out, force=True)  # `kennai build --force` meanwhile
    time.sleep(1.1)
    assert client.get("/api/v1/regions/demo").status_code == 200
    assert client.get("/api/v1/status").json()["version"] != first
