"""JSON answers encoded once: the bytes, their gzip and an ETag, to be sent as they are.

An answer that depends only on one build's data (a coverage table, the gaps, the region) is kept
by the server per served build; keeping it encoded means a request costs a look-up and a send,
not a JSON encoding of a 200 KB FeatureCollection. The bytes are exactly what FastAPI sends for
the same value (pydantic's JSON serializer: compact, UTF-8, ``NaN`` and infinities as ``null``).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

#: Bodies shorter than this are sent as they are (gzip would save less than a packet).
GZIP_MIN_BYTES = 1024
#: gzip level: 6 (the zlib default) gets within a few per cent of 9 at a third of the time.
GZIP_LEVEL = 6

_ANY: TypeAdapter[Any] = TypeAdapter(Any)


@dataclass(frozen=True)
class EncodedJSON:
    """One answer, encoded: ``body`` (UTF-8 JSON), ``gzipped`` (``None`` for a small body) and
    ``etag`` (a quoted digest of the body, the same for the same bytes)."""

    body: bytes
    gzipped: bytes | None
    etag: str


def json_bytes(value: Any) -> bytes:
    """``value`` as the JSON bytes FastAPI sends for it."""
    return _ANY.dump_json(value)


def encode_json(value: Any) -> EncodedJSON:
    """``value`` as JSON bytes, gzipped when that pays, with its ETag."""
    body = json_bytes(value)
    gzipped = gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    return EncodedJSON(body, gzipped, f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"')


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header admits gzip (``gzip`` or ``*``, not ``q=0``)."""
    if not accept_encoding:
        return False
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def etag_matches(etag: str, if_none_match: str | None) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (or ``*``); weak tags match too."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False
