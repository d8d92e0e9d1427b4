"""A batch loaded into PostGIS and served from there (and from its folder) by a live server.

The throwaway PostGIS is the session's ``postgis_server`` (tests/pg_server.py); the API runs
with uvicorn on a loopback port, started by ``kennai serve`` as a user starts it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pg_server import free_port, postgis_why_not

from api import create_app
from kennai.batch.outputs import read_dataset
from kennai.batch.serving import PostGISResults
from kennai.demo.towns import generate_towns

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(postgis_why_not() is not None, reason=str(postgis_why_not()))]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, postgis_server: str) -> Path:
    """Two invented towns batched and loaded into PostGIS with ``--to``."""
    root = tmp_path_factory.mktemp("pgbatch")
    manifest = generate_towns(2, root / "towns")
    out = root / "out"
    run = subprocess.run([sys.executable, "-m", "kennai", "batch", "--manifest", str(manifest),
                          "--workers", "2", "-o", str(out), "--to", postgis_server, "--json"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["loaded"] == 2
    return out


def _serving(target: str) -> Any:
    return _serving_args(target)


@contextmanager
def _serving_args(target: str, *args: str) -> Iterator[str]:
    """``kennai serve TARGET ARGS`` on a free loopback port until the block ends; its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kennai", "serve", target, *args,
                             "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _district_row(out: Path, code: str) -> dict:
    rows = read_dataset(out, "districts", municipality=code)
    elementary = rows[rows["layer"] == "layer:elementary"]
    return json.loads(elementary["row_json"].iloc[0])


def test_schema_is_indexed_by_municipality_and_district(batch: Path, postgis_server: str) -> None:
    import psycopg

    with psycopg.connect(postgis_server) as conn:
        indexes = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'kennai'").fetchall()}
        counts = conn.execute("SELECT count(DISTINCT municipality), count(*) FROM kennai.districts"
                              ).fetchone()
        srid = conn.execute("SELECT DISTINCT ST_SRID(geom) FROM kennai.districts "
                            "WHERE geom IS NOT NULL").fetchall()
    assert {"districts_municipality_district", "districts_geom", "gaps_municipality"} <= indexes
    assert counts[0] == 2 and counts[1] == len(read_dataset(batch, "districts"))
    assert srid == [(4326,)]


def test_served_from_postgis_regions_and_one_district(batch: Path, postgis_server: str) -> None:
    expected = _district_row(batch, "90001")
    with _serving(postgis_server) as base:
        regions = httpx.get(f"{base}/api/v1/regions", timeout=10).json()
        assert [r["name"] for r in regions] == ["town001", "town002"]
        assert regions[0]["municipality"] == "90001"
        got = httpx.get(f"{base}/api/v1/regions/town001/access/coverage",
                        params={"layer": "elementary", "district": expected["name"]}, timeout=10)
        assert got.status_code == 200 and got.json() == [expected]
        missing = httpx.get(f"{base}/api/v1/regions/nowhere/access/coverage", timeout=10)
        assert missing.status_code == 404 and missing.json()["feature"] == "nowhere"
        gaps = httpx.get(f"{base}/api/v1/regions/90002/access/gaps", timeout=10).json()
        assert gaps["type"] == "FeatureCollection"
        assert len(gaps["features"]) == len(read_dataset(batch, "gaps", municipality="90002"))


def test_served_from_the_batch_folder(batch: Path) -> None:
    expected = _district_row(batch, "90002")
    with _serving(str(batch)) as base:
        assert [r["name"] for r in httpx.get(f"{base}/api/v1/regions", timeout=10).json()] == \
            ["town001", "town002"]
        got = httpx.get(f"{base}/api/v1/regions/town002/access/coverage",
                        params={"district": expected["name"]}, timeout=10).json()
        assert got == [expected]


def test_one_region_app_reads_regions_and_coverage_from_postgis(batch: Path, postgis_server: str,
                                                                tmp_path: Path) -> None:
    config = batch.parent / "towns" / "town001.yaml"
    app = create_app(config, build_dir=batch / "regions" / "town001",
                     register_path=tmp_path / "register.sqlite",
                     results=PostGISResults(postgis_server))
    client = TestClient(app)
    listed = client.get("/api/v1/regions").json()
    assert [r["name"] for r in listed] == ["town001", "town002"]
    # The served region comes first with what the web map needs (bounds, layers) and its batch row.
    assert listed[0]["bounds"] and listed[0]["layers"] and listed[0]["municipality"] == "90001"
    expected = _district_row(batch, "90002")
    got = client.get("/api/v1/regions/town002/access/coverage",
                     params={"district": expected["name"]})
    assert got.json() == [expected]
    assert client.get("/api/v1/regions/town001/layers/elementary").status_code == 200


def test_serve_folder_with_one_region_map(batch: Path) -> None:
    """``kennai serve DIR --region NAME``: that region's layers and tiles, every region's results."""
    expected = _district_row(batch, "90002")
    with _serving_args(str(batch), "--region", "town001") as base:
        listed = httpx.get(f"{base}/api/v1/regions", timeout=10).json()
        assert [r["name"] for r in listed] == ["town001", "town002"] and listed[0]["bounds"]
        assert httpx.get(f"{base}/api/v1/regions/town001/tiles.json", timeout=10).status_code == 200
        got = httpx.get(f"{base}/api/v1/regions/town002/access/coverage",
                        params={"district": expected["name"]}, timeout=10).json()
        assert got == [expected]
