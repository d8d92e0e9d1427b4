"""Kept JSON answers sent as they are: their bytes (gzipped when the client takes gzip), with an
ETag, and 304 when the client already has them."""

from __future__ import annotations

from fastapi import Request, Response

from kennai.encoded_json import EncodedJSON, accepts_gzip, etag_matches

JSON_TYPE = "application/json"


def json_response(answer: EncodedJSON, request: Request) -> Response:
    """The response for a kept answer to ``request``."""
    headers = {"ETag": answer.etag, "Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
    if etag_matches(answer.etag, request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    if answer.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
        return Response(answer.gzipped, media_type=JSON_TYPE, headers=headers)
    return Response(answer.body, media_type=JSON_TYPE, headers=headers)
