"""The web map page, the API description (``/docs``) and the browser libraries they load, all
from this server (no CDN), so both work on a machine with no internet."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

import kennai
from api.state import ServerState
from kennai import escape
from kennai.csp import protect_page

#: The page's own files (index.html, app.js, style.css).
PAGE_DIR = Path(kennai.__file__).resolve().parent / "web"
_INSTALL_HINT = ("MapLibre GL JS is not installed. Run: npm --prefix web ci   "
                 "(MapLibre GL JS がありません。リポジトリで npm --prefix web ci を実行してください)")


def mount_web(app: FastAPI, state: ServerState) -> None:
    """Serve the map page at ``/`` and MapLibre from ``web/node_modules``."""
    router = APIRouter(include_in_schema=False)
    dist = state.web_modules / "maplibre-gl" / "dist" if state.web_modules else None
    has_maplibre = dist is not None and (dist / "maplibre-gl.js").is_file()

    @router.get("/")
    def root() -> RedirectResponse:
        # 307: the landing page is the map.
        return RedirectResponse("/map/", status_code=307)

    @router.get("/map/")
    def page() -> HTMLResponse:
        if not has_maplibre:
            return HTMLResponse(f"<!doctype html><meta charset=utf-8><pre>{_INSTALL_HINT}</pre>",
                                status_code=503)
        return HTMLResponse(protect_page((PAGE_DIR / "index.html").read_text(encoding="utf-8")))

    if not has_maplibre:
        @router.get("/vendor/maplibre-gl/{name}")
        def missing_vendor(name: str) -> PlainTextResponse:
            return PlainTextResponse(_INSTALL_HINT, status_code=503)

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=PAGE_DIR), name="static")
    if has_maplibre:
        app.mount("/vendor/maplibre-gl", StaticFiles(directory=dist), name="maplibre")


SWAGGER_PATH = "/vendor/swagger-ui"
_SWAGGER_HINT = ("Swagger UI is not installed. Run: npm --prefix web ci   "
                 "(Swagger UI がありません。リポジトリで npm --prefix web ci を実行してください)")


def mount_docs(app: FastAPI, state: ServerState, *, openapi_url: str, docs_url: str = "/docs") -> None:
    """Serve Swagger UI at ``docs_url`` with its script and style from ``web/node_modules``
    (npm ``swagger-ui-dist``), not from a CDN: the API description reads offline too."""
    dist = state.web_modules / "swagger-ui-dist" if state.web_modules else None
    has_swagger = dist is not None and (dist / "swagger-ui-bundle.js").is_file()
    router = APIRouter(include_in_schema=False)

    @router.get(docs_url)
    def docs() -> HTMLResponse:
        if not has_swagger:
            return HTMLResponse(f"<!doctype html><meta charset=utf-8><pre>{_SWAGGER_HINT}</pre>",
                                status_code=503)
        # FastAPI writes the title into <title> as it is: the region's title goes in escaped.
        page = get_swagger_ui_html(openapi_url=openapi_url, title=escape.text(f"{app.title} — API"),
                                   swagger_js_url=f"{SWAGGER_PATH}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{SWAGGER_PATH}/swagger-ui.css",
                                   swagger_favicon_url=f"{SWAGGER_PATH}/favicon-32x32.png")
        # Its start-up script is inline: the page's policy allows exactly that script.
        return HTMLResponse(protect_page(bytes(page.body).decode("utf-8"), scripts=1))

    app.include_router(router)
    if has_swagger:
        assert dist is not None
        app.mount(SWAGGER_PATH, StaticFiles(directory=dist), name="swagger-ui")
