"""JSON answers kept encoded: the same bytes FastAPI would send, their gzip and ETag, and a kept
answer made once however many requests ask for it at the same moment."""

from __future__ import annotations

import gzip
import json
import math
import threading
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.snapshot import Snapshot
from kennai.encoded_json import (
    GZIP_MIN_BYTES,
    accepts_gzip,
    encode_json,
    etag_matches,
    json_bytes,
)
from kennai.errors import NotFoundError
from kennai.i18n import t

VALUES: list[Any] = [
    {"type": "FeatureCollection", "numberMatched": 3, "limit": None, "ok": True,
     "features": [{"id": 1, "properties": {"name": "焼津東小学校", "share": 0.1, "big": 2 ** 53 + 1,
                                           "nan": math.nan, "inf": math.inf, "ninf": -math.inf},
                   "geometry": {"type": "Point", "coordinates": [138.3185712, 34.8671234]}}]},
    [{"name": "a\"b\\c\n\u2028", "population": 12, "coverage": {"500m": 0.123456789012345678}}],
    {"empty": [], "nested": {"deep": [[1.5e-7, -0.0, 1e300]]}},
]


def test_json_bytes_are_what_fastapi_sends() -> None:
    app = FastAPI()

    @app.get("/{i}")
    def value(i: int) -> Any:
        return VALUES[i]

    client = TestClient(app)
    for i, v in enumerate(VALUES):
        assert json_bytes(v) == client.get(f"/{i}").content
    assert json.loads(json_bytes(VALUES[0]))["features"][0]["properties"]["nan"] is None


def test_encoded_answer_gzip_and_etag() -> None:
    big = encode_json({"rows": list(range(1000))})
    assert big.gzipped is not None and gzip.decompress(big.gzipped) == big.body
    assert big.etag == encode_json({"rows": list(range(1000))}).etag  # same bytes, same tag
    assert big.etag != encode_json({"rows": list(range(999))}).etag
    small = encode_json({"ok": 1})
    assert len(small.body) < GZIP_MIN_BYTES and small.gzipped is None
    assert accepts_gzip("gzip, deflate, br") and accepts_gzip("br;q=1.0, gzip;q=0.5")
    assert accepts_gzip("*") and not accepts_gzip("identity") and not accepts_gzip(None)
    assert not accepts_gzip("gzip;q=0") and not accepts_gzip("gzip;q=0.0, deflate")
    assert etag_matches(big.etag, big.etag) and etag_matches(big.etag, f'"x", W/{big.etag}')
    assert etag_matches(big.etag, "*") and not etag_matches(big.etag, '"x"')
    assert not etag_matches(big.etag, None)


def _snapshot() -> Snapshot:
    return Snapshot(region=None, tiles=None, access=None, surface=None, version=None)  # type: ignore[arg-type]


def test_a_burst_of_first_requests_makes_an_answer_once() -> None:
    snap = _snapshot()
    calls: list[int] = []

    def make() -> dict[str, int]:
        calls.append(1)
        time.sleep(0.2)
        return {"n": 1}

    got: list[bytes] = []
    threads = [threading.Thread(target=lambda: got.append(snap.answer("k", make).body))
               for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert calls == [1] and got == [b'{"n":1}'] * 16


def test_a_refusal_is_kept_and_a_crash_is_not() -> None:
    snap = _snapshot()
    calls: list[str] = []

    def refuse() -> Any:
        calls.append("refuse")
        raise NotFoundError(t("区域はありません", "no such district"))

    def crash() -> Any:
        calls.append("crash")
        raise RuntimeError("bug")

    for _ in range(2):
        with pytest.raises(NotFoundError):
            snap.answer("refused", refuse)
        with pytest.raises(RuntimeError):
            snap.answer("crashed", crash)
    assert calls == ["refuse", "crash", "crash"]  # a crash is tried again, never kept
    assert snap.answer("crashed", lambda: [1]).body == b"[1]"
