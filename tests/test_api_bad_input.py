"""Bad input to the API over real HTTP (uvicorn on loopback): never a 500, always the flat error
body, and the connection it came on still serves the next request.

Each request goes over one kept-alive socket written by hand (so a body can lie about its
length, be chunked, or hold bytes no client library would send), followed on the same socket
by a health check that must answer 200.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.live_server import live_server

DEMO = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"
TOKEN = "bad-input-token-not-secret"
FLAT = {"error", "message", "message_ja", "hint", "hint_ja", "path", "feature"}
PLACES = "/api/v1/regions/demo/register/places"
UPLOAD = "/api/v1/regions/demo/splits/upload"
MAX_UPLOAD = 100_000


@pytest.fixture(scope="module")
def server(demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo town, with uploads needing the token (as on an address others reach)."""
    tmp = tmp_path_factory.mktemp("bad_api")
    with live_server(DEMO, demo.build_dir, tmp / "register.sqlite", token=TOKEN,
                     max_upload_bytes=MAX_UPLOAD) as url:
        yield url


@contextmanager
def _connection(url: str) -> Iterator[socket.socket]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        yield sock


def _read(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-answer"
        body += chunk
    return status, headers, body[:length]


def _exchange(url: str, method: str, path: str, body: bytes = b"", *,
              headers: dict[str, str] | None = None, raw_head: bytes | None = None
              ) -> tuple[int, dict[str, object]]:
    """Send one request, then a health check on the same socket; the first answer's status and
    JSON body (asserted flat when it is an error)."""
    with _connection(url) as sock:
        if raw_head is None:
            head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            for name, value in (headers or {}).items():
                head += f"{name}: {value}\r\n"
            if "Content-Length" not in (headers or {}) and "Transfer-Encoding" not in (headers or {}):
                head += f"Content-Length: {len(body)}\r\n"
            raw_head = (head + "\r\n").encode()
        sock.sendall(raw_head + body)
        status, answer_headers, answer = _read(sock)
        assert status < 500, (status, answer[:500])
        parsed = json.loads(answer) if answer_headers.get("content-type", "").startswith(
            "application/json") else {}
        if status >= 400:
            assert set(parsed) >= FLAT, parsed
            assert parsed["message"] and parsed["message_ja"], parsed
        if answer_headers.get("connection", "").lower() != "close":
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            again, _, health = _read(sock)
            assert again == 200 and json.loads(health)["status"] == "ok"
    return status, parsed


def _json_headers(**extra: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}", **extra}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
@pytest.mark.parametrize("where", ["lon", "lat"])
def test_non_finite_numbers_in_bodies(server: str, number: str, where: str) -> None:
    values = {"name": "縁側カフェ", "lon": "138.2", "lat": "35.05", "by": "山田"}
    text = ", ".join(f'"{k}": {number if k == where else json.dumps(v) if k in ("name", "by") else v}'
                     for k, v in values.items())
    status, body = _exchange(server, "POST", PLACES, ("{" + text + "}").encode(),
                             headers=_json_headers())
    assert status == 422 and body["feature"] == "body" and number.lstrip("-") in body["message"]
    status, body = _exchange(server, "PATCH", f"{PLACES}/register:1",
                             f'{{"{where}": {number}, "by": "x"}}'.encode(), headers=_json_headers())
    assert status == 422, body


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b'{"name": "x"', "application/json", 422),                     # truncated
    (b"", "application/json", 422),                                 # empty
    (b'{"name": "\xff"}', "application/json", 400),                 # not UTF-8
    (b'{"name": "x", "lon": 138.2, "lat": 35.05, "by": "y"}', "text/plain", 422),
    (b"<place/>", "application/xml", 422),
    (b"name=x&lon=1", "application/x-www-form-urlencoded", 422),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),     # nesting too deep
    (b'{"name": "x", "lon": "east", "lat": 35.05, "by": "y"}', "application/json", 422),
    (b'{"name": "x", "lon": 138.2, "lat": 35.05, "by": "y", "evil": 1}', "application/json", 422),
    (b'["not", "an", "object"]', "application/json", 422),
])
def test_malformed_register_bodies(server: str, body: bytes, content_type: str, status: int
                                   ) -> None:
    got, answer = _exchange(server, "POST", PLACES, body, headers=_json_headers() | {
        "Content-Type": content_type})
    assert got == status, answer


def test_oversized_bodies(server: str) -> None:
    big = json.dumps({"name": "x" * 400_000, "lon": 138.2, "lat": 35.05, "by": "y"}).encode()
    status, body = _exchange(server, "POST", PLACES, big, headers=_json_headers())
    assert status == 413 and body["error"] == "BodyTooLarge"
    # Chunked, with no length announced: refused once it passes the limit.
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in [big[i:i + 50_000]
                                                                      for i in range(0, len(big), 50_000)])
    status, body = _exchange(server, "POST", PLACES, chunks + b"0\r\n\r\n", headers=_json_headers(
        **{"Transfer-Encoding": "chunked"}))
    assert status == 413
    plan = _plan_file(b"x" * (MAX_UPLOAD + 1000))
    status, body = _exchange(server, "POST", UPLOAD, plan[1], headers=_auth(plan[0]))
    assert status == 413 and body["error"] == "UploadTooLarge"


def _plan_file(data: bytes, name: str = "plan.geojson") -> tuple[str, bytes]:
    boundary = "kennai-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/geo+json\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def _auth(content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}"}


def _feature(geometry: object) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "一圏域"}, "geometry": geometry}]}).encode()


_RING = [[138.14, 35.04], [138.15, 35.04], [138.15, 35.05], [138.14, 35.05], [138.14, 35.04]]


@pytest.mark.parametrize(("data", "says"), [
    (_feature({"type": "Polygon", "coordinates": [_RING[:-1]]}), "not closed"),
    (_feature({"type": "Polygon", "coordinates": [_RING]}).replace(b"138.15", b"NaN", 1), "NaN"),
    (_feature({"type": "Polygon", "coordinates": [_RING]}).replace(b"35.05", b"Infinity", 1),
     "infinite"),
    (_feature({"type": "Polygon", "coordinates": _RING}), "nested wrongly"),
    (_feature({"type": "MultiPolygon", "coordinates": [_RING]}), "nested wrongly"),
    (_feature({"type": "Polygon", "coordinates": [[_RING[0], _RING[1], _RING[0]]]}), "too few"),
    (_feature({"type": "Polygon", "coordinates": [[["a", "b"], [1, 2], [3, 4], ["a", "b"]]]}),
     "nested wrongly"),
    (_feature({"type": "Blob", "coordinates": []}), "unknown geometry type"),
    (_feature({"type": "Polygon"}), "no coordinates"),
    (_feature("POLYGON((0 0, 1 0, 1 1, 0 0))"), "is an object"),
    (b'{"type": "FeatureCollection", "features": [42]}', "a feature is an object"),
    (b"[" * 50_000 + b"]" * 50_000, None),
    (b"\x00\x01 not a plan", None),
    (b"PK\x03\x04 a broken zip", None),
    (b'{"type": "FeatureCollection", "features": []}', None),
])
def test_bad_plan_uploads(server: str, data: bytes, says: str | None) -> None:
    content_type, body = _plan_file(data)
    status, answer = _exchange(server, "POST", UPLOAD, body, headers=_auth(content_type))
    assert status == 422, answer
    assert answer["path"] == "upload" and "/tmp" not in json.dumps(answer)
    if says is not None:
        assert says in str(answer["message"]) and answer["feature"] == "feature 1", answer


def test_upload_needs_the_token_here(server: str) -> None:
    content_type, body = _plan_file(_feature({"type": "Polygon", "coordinates": [_RING]}))
    status, answer = _exchange(server, "POST", UPLOAD, body, headers={"Content-Type": content_type})
    assert status == 401 and answer["error"] == "Unauthorized"
    status, answer = _exchange(server, "POST", UPLOAD, body, headers={
        "Content-Type": content_type, "Authorization": "Bearer wrong"})
    assert status == 401
    status, answer = _exchange(server, "POST", UPLOAD, b"not multipart", headers=_auth("text/plain"))
    assert status == 422 and answer["feature"] == "body.file"
    broken = b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end"
    status, answer = _exchange(server, "POST", UPLOAD, broken,
                               headers=_auth("multipart/form-data; boundary=x"))
    assert status in (400, 422), answer


def test_writes_without_the_token(server: str) -> None:
    body = json.dumps({"name": "x", "lon": 138.2, "lat": 35.05, "by": "y"}).encode()
    for headers in ({"Content-Type": "application/json"},
                    {"Content-Type": "application/json", "Authorization": "Bearer nope"},
                    {"Content-Type": "application/json", "Authorization": "Basic eDp5"}):
        status, answer = _exchange(server, "POST", PLACES, body, headers=headers)
        assert status == 401 and answer["error"] == "Unauthorized"


def test_methods_paths_and_headers(server: str) -> None:
    status, _ = _exchange(server, "DELETE", PLACES)
    assert status == 405
    status, _ = _exchange(server, "GET", "/api/v1/regions/demo/layers/" + "x" * 5000)
    assert status in (404, 422)
    status, _ = _exchange(server, "GET", "/api/v1/regions/demo/access/nearest?lon=nan&lat=35")
    assert status == 422
    status, _ = _exchange(server, "GET", "/api/v1/regions/demo/access/gaps?threshold=inf")
    assert status == 422
    status, _ = _exchange(server, "GET", "/api/v1/regions/%00/layers/elementary")
    assert status == 404
    key = "é" * 10  # not visible ASCII: refused as a header value the schema does not allow
    status, _ = _exchange(server, "POST", PLACES, b"{}", headers=_json_headers(
        **{"Idempotency-Key": key.encode("utf-8").decode("latin-1")}))
    assert status == 422


def test_error_bodies_always_serialise() -> None:
    """What a client sent may be anything a validation error echoes back: it becomes text."""
    from api.errors import plain

    echoed = {"input": [float("nan"), float("inf"), -float("inf"), b"\xff\xfe", {1: object()}],
              "ctx": {"ge": 0.5, "error": ValueError("x")}}
    text = json.dumps(plain(echoed), allow_nan=False)
    assert json.loads(text)["input"][:3] == ["nan", "inf", "-inf"]


def test_serve_lets_uploads_through_on_loopback_only() -> None:
    from kennai.cli.app import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.jp", ""))
