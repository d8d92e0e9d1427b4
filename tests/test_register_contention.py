"""The register under contention, over real HTTP: 20 writers × 50 adds against uvicorn on
loopback (the SQLite register in WAL mode), and retried POSTs with an ``Idempotency-Key``.

Each writer is one keep-alive HTTP/1.1 connection adding its places one after another, all 20
at once.
Every add must be acknowledged (201), every acknowledged place must be in the register exactly
once, and the slowest 1 % of the adds must still answer within :data:`P99_LIMIT_S`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.live_server import live_server

DEMO = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"
TOKEN = "contention-token-not-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WRITERS, ADDS = 20, 50
P99_LIMIT_S = 0.200


@pytest.fixture(scope="module")
def server(demo, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("contention")
    with live_server(DEMO, demo.build_dir, tmp / "register.sqlite", token=TOKEN) as url:
        yield url


def _point(demo) -> tuple[float, float]:
    west, south, east, north = demo.layer("elementary").to_crs("EPSG:4326").total_bounds
    return (west + east) / 2, (south + north) / 2


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                body: bytes) -> tuple[int, bytes]:
    """One POST on a kept-alive HTTP/1.1 connection: (status, body). A plain client, so what is
    timed is the server, not a client library's own work."""
    writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nAuthorization: Bearer " + TOKEN.encode()
                 + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    return status, await reader.readexactly(length)


async def _writer(url: str, writer: int, lon: float, lat: float) -> tuple[list[float], list[str]]:
    host, port = url.removeprefix("http://").split(":")
    reader, stream = await asyncio.open_connection(host, int(port))
    times, ids = [], []
    try:
        for n in range(ADDS):
            body = json.dumps({"name": f"writer {writer} place {n}", "lon": lon + writer * 1e-5,
                               "lat": lat + n * 1e-5, "by": f"writer {writer}"}).encode()
            started = time.perf_counter()
            status, answer = await _post(reader, stream, "/api/v1/regions/demo/register/places",
                                         body)
            times.append(time.perf_counter() - started)
            assert status == 201, answer
            ids.append(json.loads(answer)["place_id"])
    finally:
        stream.close()
    return times, ids


def test_twenty_writers_lose_and_duplicate_nothing(server: str, demo) -> None:
    lon, lat = _point(demo)
    # One add first, untimed: the server's first write opens its connection and warms up.
    warm = httpx.post(f"{server}/api/v1/regions/demo/register/places", headers=AUTH, timeout=30,
                      json={"name": "warm-up", "lon": lon, "lat": lat, "by": "test"})
    assert warm.status_code == 201, warm.text

    async def everyone() -> list[tuple[list[float], list[str]]]:
        return await asyncio.gather(*(_writer(server, w, lon, lat) for w in range(WRITERS)))

    started = time.perf_counter()
    results = asyncio.run(everyone())
    wall = time.perf_counter() - started
    times = np.array([t for ts, _ in results for t in ts])
    acked = [i for _, ids in results for i in ids]
    places = httpx.get(f"{server}/api/v1/regions/demo/register/places", timeout=30).json()["features"]
    places = [f for f in places if f["properties"]["name"] != "warm-up"]
    stored = [f["properties"]["place_id"] for f in places]
    names = [f["properties"]["name"] for f in places]
    p50, p99 = np.percentile(times, [50, 99])
    print(f"register contention: {len(times)} adds by {WRITERS} writers in {wall:.1f} s, "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {times.max() * 1000:.0f} ms")
    assert len(acked) == WRITERS * ADDS
    assert sorted(acked) == sorted(stored), "an acknowledged add is missing, or one was not asked for"
    assert len(set(names)) == len(names) == WRITERS * ADDS, "a place is stored twice"
    history = httpx.get(f"{server}/api/v1/regions/demo/register/places/{acked[-1]}/history",
                        timeout=30).json()
    assert [e["action"] for e in history] == ["add"]
    assert p99 < P99_LIMIT_S, f"p99 {p99 * 1000:.0f} ms"


def test_a_retried_post_stores_one_row(server: str, demo) -> None:
    lon, lat = _point(demo)
    url = f"{server}/api/v1/regions/demo/register/places"
    body = {"name": "再送テストのサロン", "lon": lon, "lat": lat, "by": "山田"}
    key = str(uuid.uuid4())
    with httpx.Client(headers=AUTH | {"Idempotency-Key": key}, timeout=30) as client:
        first = client.post(url, json=body)
        again = client.post(url, json=body)  # the client never saw the first answer: it retries
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()

    async def together(key: str) -> list[httpx.Response]:  # retries racing each other
        async with httpx.AsyncClient(headers=AUTH | {"Idempotency-Key": key}, timeout=30) as c:
            return await asyncio.gather(*(c.post(url, json=body | {"name": "同時の再送"})
                                          for _ in range(8)))

    raced = asyncio.run(together(str(uuid.uuid4())))
    assert {r.status_code for r in raced} == {201}
    assert len({r.json()["place_id"] for r in raced}) == 1
    names = [f["properties"]["name"] for f in httpx.get(url, timeout=30).json()["features"]]
    assert names.count("再送テストのサロン") == 1 and names.count("同時の再送") == 1
    # The same key for another change is refused, and changes nothing.
    with httpx.Client(headers=AUTH | {"Idempotency-Key": key}, timeout=30) as client:
        other = client.post(url, json=body | {"name": "別の場所"})
    assert other.status_code == 409 and other.json()["feature"] == "Idempotency-Key", other.text
    names = [f["properties"]["name"] for f in httpx.get(url, timeout=30).json()["features"]]
    assert "別の場所" not in names
    # A retried retire answers as the first one did instead of "already retired".
    place = first.json()["place_id"]
    retire = f"{url}/{place}/retire"
    with httpx.Client(headers=AUTH | {"Idempotency-Key": str(uuid.uuid4())}, timeout=30) as client:
        gone = client.post(retire, json={"by": "山田", "reason": "閉所"})
        gone_again = client.post(retire, json={"by": "山田", "reason": "閉所"})
    assert gone.status_code == gone_again.status_code == 200 and gone.json() == gone_again.json()
    without_key = httpx.post(retire, json={"by": "山田"}, headers=AUTH, timeout=30)
    assert without_key.status_code == 422  # a plain second retire is refused as before
