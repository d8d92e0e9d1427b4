"""Every error answer of the API, in one flat JSON shape, and how the OpenAPI document states them.

The body is the shape of :meth:`kennai.errors.KennaiError.to_dict` (``error, message,
message_ja, hint, hint_ja, path, feature``): a :class:`~kennai.errors.KennaiError` with the
status of :data:`kennai.errors.HTTP_STATUS`, a request FastAPI finds invalid (422, naming the
parameter, with the raw errors under ``detail``), Starlette's own 400/404/405 and, last, an
unexpected failure (500, one line, no trace). Every handler serialises whatever the request
held: a NaN or a byte string in a validation error's ``input`` becomes text, so an error answer
can never itself fail and reset the connection.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from kennai.errors import ApiError, KennaiError, http_status
from kennai.i18n import Text, t

_log = logging.getLogger("kennai.api")
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class ErrorBody(BaseModel):
    """The one shape of every error answer (Japanese and English)."""

    error: str = Field(description="誤りの種類 (the error's kind, e.g. NotFoundError)")
    message: str = Field(description="what went wrong (English)")
    message_ja: str = Field(description="何が起きたか（日本語）")
    hint: str | None = Field(description="what to do about it (English)")
    hint_ja: str | None = Field(description="どうすればよいか（日本語）")
    path: str | None = Field(description="the file concerned (\"upload\" for an uploaded file)")
    feature: str | None = Field(description="the parameter, feature or row concerned")
    detail: list[dict[str, Any]] | None = Field(
        default=None, description="422 only: every validation error as FastAPI reports it")


#: What each error status means here (the OpenAPI description of the answer).
_MEANING = {
    400: "読めない要求 (malformed request: a broken multipart body)",
    401: "トークンが必要 (a valid bearer token is required)",
    403: "書き込みは無効 (the server was started without KENNAI_TOKEN)",
    404: "見つからない (no such region, layer, district, plan or place)",
    409: "競合 (another editor holds the place, or the Idempotency-Key is in use)",
    413: "大きすぎる (the body is larger than the server accepts)",
    415: "形式が違う (the body is not JSON where JSON is required)",
    422: "内容が正しくない (a parameter, body or uploaded file is not valid)",
    503: "準備中 (the region has not been built, or a server component is missing)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can answer, all as :class:`ErrorBody`."""
    return {code: {"model": ErrorBody, "description": _MEANING[code]} for code in codes}


def error_body(error: str, message: Text, *, hint: Text | None = None,
               feature: str | None = None) -> dict[str, Any]:
    """The flat error body every answer shares (the shape of ``KennaiError.to_dict()``)."""
    return {"error": error, "message": message.en, "message_ja": message.ja, "path": None,
            "feature": feature, "hint": hint.en if hint else None,
            "hint_ja": hint.ja if hint else None}


def plain(value: Any) -> Any:
    """``value`` as JSON can hold it: non-finite floats, bytes and other objects become text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, bytes):
        return value[:200].decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)[:200]


def _answer(body: dict[str, Any], status: int, headers: dict[str, str] | None = None
            ) -> JSONResponse:
    return JSONResponse(plain(body), status_code=status, headers=headers)


async def _kennai_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KennaiError)
    headers = exc.headers if isinstance(exc, ApiError) else None
    return _answer(exc.to_dict(), http_status(exc), headers)


#: Japanese for the commonest validation failures (pydantic error type → text; ``ctx`` fills it).
_VALIDATION_JA = {
    "missing": "必須です",
    "greater_than": "{gt} より大きい値にしてください",
    "greater_than_equal": "{ge} 以上にしてください",
    "less_than": "{lt} より小さい値にしてください",
    "less_than_equal": "{le} 以下にしてください",
    "string_too_long": "{max_length} 文字以内にしてください",
    "string_too_short": "{min_length} 文字以上にしてください",
    "string_pattern_mismatch": "形式が正しくありません（{pattern}）",
    "literal_error": "次のどれかにしてください: {expected}",
    "enum": "次のどれかにしてください: {expected}",
    "extra_forbidden": "この項目は使えません",
    "int_parsing": "整数にしてください",
    "float_parsing": "数値にしてください",
    "finite_number": "有限の数にしてください（NaN・Infinity は使えません）",
    "bool_parsing": "true か false にしてください",
    "json_invalid": "JSON として読めません",
    "model_attributes_type": "JSON のオブジェクトにしてください",
    "dict_type": "JSON のオブジェクトにしてください",
    "string_type": "文字列にしてください",
}


def _where(loc: Sequence[Any]) -> str:
    """A validation error's location as the client wrote it: ``query.limit``, ``body.lon``."""
    return ".".join(str(part) for part in loc) or "request"


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's request validation in the flat shape, naming the first bad parameter; the raw
    errors stay under ``detail`` (made plain: they hold the client's own values)."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first: dict[str, Any] = errors[0] if errors else {"loc": (), "msg": "invalid request",
                                                        "type": ""}
    where = _where(first.get("loc", ()))
    ctx = {k: str(v) for k, v in (first.get("ctx") or {}).items()}
    try:
        reason_ja = _VALIDATION_JA[first.get("type", "")].format(**ctx)
    except (KeyError, IndexError):
        reason_ja = "値が正しくありません"
    more = len(errors) - 1
    message = t(f"「{where}」: {reason_ja}" + (f"（ほか {more} 件）" if more else ""),
                f"{where!r}: {first.get('msg', 'invalid')}" + (f" (and {more} more)" if more else ""))
    body = error_body("RequestValidationError", message, feature=where,
                      hint=t("API の説明（/docs）でパラメータを確認してください",
                             "check the parameters in the API description (/docs)"))
    detail = [{k: v for k, v in e.items() if k != "url"} for e in errors]
    return _answer(body | {"detail": detail}, 422)


def _path_pattern(template: str) -> re.Pattern[str]:
    """``/regions/{region}/tiles/{z}.mvt`` → a pattern matching the paths it describes."""
    parts = re.split(r"\{[^}/]+\}", template)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "$")


def allowed_methods(request: Request) -> list[str]:
    """Every method the API description lists for this request's path (what ``Allow`` must
    say), not only those of the first route that matched it; empty for an undescribed path."""
    app = request.app
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "allow_table", None)
    if table is None:
        table = [(_path_pattern(path), {m.upper() for m in item if m in _METHODS})
                 for path, item in app.openapi().get("paths", {}).items()]
        app.state.allow_table = table
    path = request.url.path
    return sorted(set().union(*(methods for pattern, methods in table if pattern.match(path))))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method, broken body) in the flat shape."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (described := allowed_methods(request)):
        headers["Allow"] = ", ".join(described)
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    ja = {400: "要求を読めません", 404: "見つかりません",
          405: "このメソッドは使えません"}.get(exc.status_code, "要求を処理できません")
    return _answer(error_body("HTTPError", t(ja, detail)), exc.status_code, headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A failure no handler foresaw: logged with its trace, answered in one line (500)."""
    _log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _answer(error_body("InternalError", t(
        f"サーバー内部の誤りです（{type(exc).__name__}）",
        f"internal server error ({type(exc).__name__})"),
        hint=t("この要求と時刻を管理者に知らせてください",
               "tell the administrator the request and the time")), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` in the flat shape."""
    app.add_exception_handler(KennaiError, _kennai_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
