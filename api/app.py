"""The app factory: one built region served as JSON/GeoJSON, vector tiles and a web map.

``create_app`` opens the build (it does not build: ``kennai serve`` does that first), prepares
the tile set and the gathering-place register, and wires the routers under ``/api/v1``.
Every error answer has one flat JSON shape in Japanese and English (``error, message,
message_ja, hint, hint_ja, path, feature``): a :class:`~kennai.errors.KennaiError` (its
``to_dict()``, 4xx), a refused token or upload, a request FastAPI finds invalid (422, naming the
parameter, with the raw errors under ``detail``) and Starlette's own 404/405.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.routers.access import access_router
from api.routers.maps import maps_router
from api.routers.regions import region_summary, regions_router
from api.routers.register import register_router
from api.routers.results import results_router
from api.routers.splits import splits_router
from api.routers.tiles import tiles_router
from api.routers.web import mount_docs, mount_web
from api.state import DEFAULT_MAX_UPLOAD_BYTES, ServerState
from kennai import __version__
from kennai.access import ACCESS_DIR, load_access
from kennai.batch.serving import ResultsSource, results_source
from kennai.config import load_config
from kennai.errors import ApiError, KennaiError, http_status
from kennai.i18n import Text, t
from kennai.raster_tiles import SurfaceTiles
from kennai.region import open_region
from kennai.register import PlaceRegister, RegisterLocation, default_register_path, register_location
from kennai.tiles import region_tile_set

API_PREFIX = "/api/v1"
#: Where ``npm --prefix web ci`` puts MapLibre GL JS (the repository's ``web/``).
DEFAULT_WEB_MODULES = Path(__file__).resolve().parents[1] / "web" / "node_modules"


async def _kennai_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KennaiError)
    headers = exc.headers if isinstance(exc, ApiError) else None
    return JSONResponse(exc.to_dict(), status_code=http_status(exc), headers=headers)


def _error_body(error: str, message: Text, *, hint: Text | None = None,
                feature: str | None = None) -> dict[str, Any]:
    """The flat error body every answer shares (the shape of ``KennaiError.to_dict()``)."""
    return {"error": error, "message": message.en, "message_ja": message.ja, "path": None,
            "feature": feature, "hint": hint.en if hint else None,
            "hint_ja": hint.ja if hint else None}


#: Japanese for the commonest validation failures (pydantic error type → text; ``ctx`` fills it).
_VALIDATION_JA = {
    "missing": "必須です",
    "greater_than": "{gt} より大きい値にしてください",
    "greater_than_equal": "{ge} 以上にしてください",
    "less_than": "{lt} より小さい値にしてください",
    "less_than_equal": "{le} 以下にしてください",
    "string_too_long": "{max_length} 文字以内にしてください",
    "string_too_short": "{min_length} 文字以上にしてください",
    "literal_error": "次のどれかにしてください: {expected}",
    "enum": "次のどれかにしてください: {expected}",
    "extra_forbidden": "この項目は使えません",
    "int_parsing": "整数にしてください",
    "float_parsing": "数値にしてください",
    "bool_parsing": "true か false にしてください",
    "json_invalid": "JSON として読めません",
}


def _where(loc: Sequence[Any]) -> str:
    """A validation error's location as the client wrote it: ``query.limit``, ``body.lon``."""
    return ".".join(str(part) for part in loc) or "request"


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's request validation in the flat shape, naming the first bad parameter; the raw
    errors stay under ``detail``."""
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
    body = _error_body("RequestValidationError", message, feature=where,
                       hint=t("API の説明（/docs）でパラメータを確認してください",
                              "check the parameters in the API description (/docs)"))
    return JSONResponse(body | {"detail": jsonable_encoder(errors)}, status_code=422)


async def _http_error(_: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method …) in the flat shape."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    ja = {404: "見つかりません", 405: "このメソッドは使えません"}.get(exc.status_code, "要求を処理できません")
    body = _error_body("HTTPError", t(ja, detail))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def create_app(
    config_path: str | Path,
    *,
    build_dir: Path | None = None,
    register_path: RegisterLocation | None = None,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    web_modules: Path | None = None,
    results: ResultsSource | None = None,
) -> FastAPI:
    """Build the FastAPI app for a region that has been built.

    Parameters
    ----------
    config_path
        The region's YAML config.
    build_dir
        The build to serve (default ``build/<region>/`` under the working directory).
    register_path
        The register: a SQLite file, or a ``postgresql://`` URL for PostgreSQL + PostGIS
        (default :func:`kennai.register.default_register_path`).
    token
        The bearer token writes need (default: the ``KENNAI_TOKEN`` environment variable; with
        neither, writes are refused).
    max_upload_bytes
        Largest plan upload accepted.
    web_modules
        The ``node_modules`` folder holding ``maplibre-gl`` (default: the repository's
        ``web/node_modules``, or ``KENNAI_WEB_MODULES``).
    results
        A batch's results (:mod:`kennai.batch.serving`; default: ``KENNAI_RESULTS``, a batch
        folder or a ``postgresql://`` URL): the region list, coverage and gaps are read there.

    Raises
    ------
    KennaiError
        When the config cannot be read or the region has not been built.
    """
    config = load_config(config_path)
    region = open_region(config, build_dir=build_dir)
    assert region.build_dir is not None
    stored = region.build_dir / ACCESS_DIR / "access.json"
    access = load_access(region.build_dir) if stored.is_file() else None
    surface = SurfaceTiles(access.surface_path) if access is not None and access.surface_path \
        and access.surface_path.is_file() else None
    tiles = region_tile_set(region, access=access)
    where = register_location(register_path) if register_path is not None \
        else default_register_path(config, build_dir)
    register = PlaceRegister(where, bounds=_padded(tiles.bounds()))
    env_modules = os.environ.get("KENNAI_WEB_MODULES")
    state = ServerState(
        region=region, tiles=tiles, register=register,
        token=token if token is not None else os.environ.get("KENNAI_TOKEN") or None,
        max_upload_bytes=max_upload_bytes, access=access, surface=surface,
        web_modules=web_modules or (Path(env_modules) if env_modules else DEFAULT_WEB_MODULES))
    app = FastAPI(title=f"kennai 圏内 — {config.title}", version=__version__,
                  description="通いの場への徒歩アクセス・第2層圏域の分断チェック・地図の API "
                              "(walkable access, layer-2 split checks and maps)",
                  docs_url=None, redoc_url=None, openapi_url=f"{API_PREFIX}/openapi.json")
    app.state.kennai = state
    _handle_errors(app)

    @app.get(f"{API_PREFIX}/health", tags=["meta"], summary="稼働確認 (health check)")
    def health() -> dict[str, str]:
        return {"status": "ok", "region": region.name, "version": __version__}

    env_results = os.environ.get("KENNAI_RESULTS")
    if results is None and env_results:
        results = results_source(env_results)
    if results is not None:  # registered first: its routes answer before the one-region ones
        app.include_router(results_router(results, served=lambda: region_summary(state)),
                           prefix=API_PREFIX)
    for factory in (regions_router, tiles_router, register_router, splits_router, access_router,
                    maps_router):
        app.include_router(factory(state), prefix=API_PREFIX)
    mount_web(app, state)
    mount_docs(app, state, openapi_url=f"{API_PREFIX}/openapi.json")
    return app


def _handle_errors(app: FastAPI) -> None:
    """Every error answer in the one flat shape (see the module docstring)."""
    app.add_exception_handler(KennaiError, _kennai_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def create_results_app(results: ResultsSource | str | Path) -> FastAPI:
    """The API of a batch's results alone: every region's summary, coverage and gaps.

    ``results`` is a source, a batch output folder or a ``postgresql://`` URL
    (:func:`kennai.batch.serving.results_source`).
    """
    source = results if not isinstance(results, str | Path) else results_source(results)
    app = FastAPI(title="kennai 圏内 — batch results", version=__version__,
                  description="多数の地域の徒歩アクセス集計 (walkable access of many regions)",
                  docs_url=None, redoc_url=None, openapi_url=f"{API_PREFIX}/openapi.json")
    _handle_errors(app)

    @app.get(f"{API_PREFIX}/health", tags=["meta"], summary="稼働確認 (health check)")
    def health() -> dict[str, Any]:
        return {"status": "ok", "regions": len(source.regions()), "version": __version__}

    app.include_router(results_router(source), prefix=API_PREFIX)
    return app


def _padded(bounds: list[float], margin: float = 0.05) -> tuple[float, float, float, float]:
    """The region's extent in degrees widened by ``margin`` degrees (about 5 km)."""
    west, south, east, north = bounds
    return (west - margin, south - margin, east + margin, north + margin)
