"""The app factory: one built region served as JSON/GeoJSON, vector tiles and a web map.

``create_app`` opens the build (it does not build: ``kennai serve`` does that first), prepares
the tile set and the gathering-place register, and wires the routers under ``/api/v1``.
Every error answer has one flat JSON shape in Japanese and English (:mod:`api.errors`); JSON
bodies are read strictly and every answer carries the security headers (:mod:`api.middleware`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.middleware import SecurityHeaders, StrictJSON
from api.routers.access import access_router, warm_access
from api.routers.maps import maps_router
from api.routers.plans import plans_router
from api.routers.regions import MAX_PAGE, layer_answer, region_summary, regions_router
from api.routers.register import register_router
from api.routers.results import results_router
from api.routers.splits import splits_router
from api.routers.status import status_router
from api.routers.tiles import tiles_router
from api.routers.towns import towns_router
from api.routers.web import mount_docs, mount_web
from api.snapshot import Snapshot, Updater, load_snapshot
from api.state import DEFAULT_MAX_UPLOAD_BYTES, ServerState
from kennai import __version__
from kennai.batch.serving import ResultsSource, results_source
from kennai.config import load_config
from kennai.plan_store import PlanStore, default_plan_store_path
from kennai.register import PlaceRegister, RegisterLocation, default_register_path, register_location

API_PREFIX = "/api/v1"
#: Where ``npm --prefix web ci`` puts MapLibre GL JS (the repository's ``web/``).
DEFAULT_WEB_MODULES = Path(__file__).resolve().parents[1] / "web" / "node_modules"


def create_app(
    config_path: str | Path,
    *,
    build_dir: Path | None = None,
    register_path: RegisterLocation | None = None,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    web_modules: Path | None = None,
    open_uploads: bool = False,
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
    open_uploads
        Let plan uploads through without the token. ``kennai serve`` sets it only when it
        listens on a loopback address (only this machine can reach it); anywhere else an
        upload, which makes the server parse a file, needs the token like a write.
    results
        A batch's results (:mod:`kennai.batch.serving`; default: ``KENNAI_RESULTS``, a batch
        folder or a ``postgresql://`` URL): the region list, coverage and gaps are read there.

    Raises
    ------
    KennaiError
        When the config cannot be read or the region has not been built.
    """
    config = load_config(config_path)
    snapshot = load_snapshot(config, build_dir, warm=warm_answers)
    region = snapshot.region
    where = register_location(register_path) if register_path is not None \
        else default_register_path(config, build_dir)
    register = PlaceRegister(where, bounds=_padded(snapshot.tiles.bounds()))
    env_modules = os.environ.get("KENNAI_WEB_MODULES")
    state = ServerState(
        updater=Updater(config, build_dir, where, snapshot, warm=warm_answers), register=register,
        plans=PlanStore(default_plan_store_path(config, build_dir)),
        token=token if token is not None else os.environ.get("KENNAI_TOKEN") or None,
        max_upload_bytes=max_upload_bytes, open_uploads=open_uploads,
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
    for factory in (regions_router, tiles_router, register_router, splits_router, plans_router,
                    access_router, maps_router, status_router, towns_router):
        app.include_router(factory(state), prefix=API_PREFIX)
    mount_web(app, state)
    mount_docs(app, state, openapi_url=f"{API_PREFIX}/openapi.json")
    return app


def warm_answers(snapshot: Snapshot) -> None:
    """What every page load of the map asks for, made as soon as a snapshot is loaded: the
    places layer and the access answers with their defaults."""
    if snapshot.region.has_layer("places"):
        layer_answer(snapshot, "places", limit=MAX_PAGE)
    warm_access(snapshot)


def _handle_errors(app: FastAPI) -> None:
    """Every error answer in the one flat shape (:mod:`api.errors`), strict JSON bodies and the
    security headers, for both apps."""
    install_error_handlers(app)
    app.add_middleware(StrictJSON)
    app.add_middleware(SecurityHeaders)


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
