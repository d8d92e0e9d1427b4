"""The JSON answers kept per served snapshot (gaps, suggestions, coverage) are never stale: after
a register edit the server answers as a freshly started one on the new build would."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from live_server import far_gap_spot

from api import create_app
from kennai.build import build_region
from kennai.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo.yaml"
TOKEN = "cache-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "/api/v1/regions/demo/access"


def _answers(client: TestClient, district: str) -> dict[str, object]:
    return {
        "gaps": client.get(f"{BASE}/gaps", params={"threshold": 500}).json(),
        "district_gaps": client.get(f"{BASE}/gaps", params={"district": district}).json(),
        "suggestions": client.get(f"{BASE}/suggestions", params={"k": 3}).json(),
        "coverage": client.get(f"{BASE}/coverage", params={"weekly": True}).json(),
    }


def test_cached_json_follows_a_register_edit(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    region, _ = build_region(load_config(DEMO), build_dir=out)
    district, spot = far_gap_spot(region.build_dir)
    register = tmp_path / "r.sqlite"
    client = TestClient(create_app(DEMO, build_dir=out, token=TOKEN, register_path=register))
    before = _answers(client, district)
    assert _answers(client, district) == before  # the kept answers are the computed ones
    added = client.post("/api/v1/regions/demo/register/places", headers=AUTH,
                        json={"name": "新しいサロン", "category": "サロン", "lon": spot.x,
                              "lat": spot.y, "weekdays": "水", "frequency": "週1回以上",
                              "by": "コーディネーター"})
    assert added.status_code == 201, added.text
    end = time.monotonic() + 180
    while client.get("/api/v1/status").json()["updating"]:
        assert time.monotonic() < end, "the rebuild did not finish"
        time.sleep(0.2)
    after = _answers(client, district)
    assert after["gaps"] != before["gaps"]  # the new place covers part of the gap it was put in
    fresh = TestClient(create_app(DEMO, build_dir=out, token=TOKEN, register_path=register))
    assert after == _answers(fresh, district)
