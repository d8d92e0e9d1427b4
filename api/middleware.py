"""Two guards in front of every route: strict JSON bodies and the security headers.

* :class:`StrictJSON` reads a JSON body before any route does and refuses ``NaN``,
  ``Infinity``, ``-Infinity`` and numbers too large for a float (``1e999``), which Python's
  ``json`` accepts but JSON does not; and a JSON body larger than the limit (413). The route then
  reads the same bytes.
* :class:`SecurityHeaders` puts ``X-Content-Type-Options: nosniff`` on every answer and, on
  every HTML answer, ``X-Frame-Options``, ``Referrer-Policy`` and the Content Security Policy
  of :mod:`kennai.csp`: the one the page declares in its ``<meta>`` (with the hashes of the
  scripts its writer put there) or the shared policy, which allows no inline script.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from kennai.csp import HTML_HEADERS, header_policy
from kennai.i18n import t

#: Largest JSON body accepted (a register change is a few kilobytes).
MAX_JSON_BYTES = 256 * 1024
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class _NotFiniteError(ValueError):
    pass


def _constant(name: str) -> float:
    raise _NotFiniteError(name)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFiniteError(text)
    return value


def _is_json(scope: Scope) -> bool:
    for key, value in scope.get("headers", ()):
        if key == b"content-type":
            kind = value.split(b";")[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return False


class StrictJSON:
    """Refuse JSON bodies with non-finite numbers (422) or over ``limit`` bytes (413)."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_JSON_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send, 413, "BodyTooLarge", t(
                    f"JSON の本文が大きすぎます（上限 {self.limit:,} バイト）",
                    f"the JSON body is larger than {self.limit:,} bytes"),
                    drain=message.get("more_body", False))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            json.loads(body, parse_constant=_constant, parse_float=_finite)
        except _NotFiniteError as exc:
            await self._refuse(scope, receive, send, 422, "RequestValidationError", t(
                f"JSON に有限でない数（{exc}）があります", f"the JSON holds a non-finite number ({exc})"),
                feature="body")
            return
        except (ValueError, RecursionError):
            pass  # not JSON at all: the route's own validation names the problem (422)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, error: str,
                      message: Any, *, feature: str | None = None, drain: bool = False) -> None:
        if drain:  # read the rest, so the client sees the answer rather than a reset
            more = True
            while more:
                got = await receive()
                more = got["type"] == "http.request" and got.get("more_body", False)
        body = error_body(error, message, feature=feature, hint=t(
            "数は有限の値で、本文は小さく送ってください（API の説明は /docs）",
            "send finite numbers in a small body (the API is described at /docs)"))
        await JSONResponse(body, status_code=status)(scope, receive, send)


class SecurityHeaders:
    """``nosniff`` on every answer; frame, referrer and script policy on every HTML answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def guarded(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if headers.get("content-type", "").startswith("text/html"):
                    start = message  # held until the page is read: its policy is in it
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                page = b"".join(chunks)
                headers = MutableHeaders(scope=start)
                for name, value in HTML_HEADERS.items():
                    headers[name] = value
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = header_policy(
                        page.decode("utf-8", "replace"))
                await send(start)
                await send({"type": "http.response.body", "body": page, "more_body": False})
            else:
                await send(message)

        await self.app(scope, receive, guarded)
