"""The web map page and the browser libraries it loads, all from this server (no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

import kennai
from api.state import ServerState

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
        return RedirectResponse("/map/")

    @router.get("/map/")
    def page() -> HTMLResponse:
        if not has_maplibre:
            return HTMLResponse(f"<!doctype html><meta charset=utf-8><pre>{_INSTALL_HINT}</pre>",
                                status_code=503)
        return HTMLResponse((PAGE_DIR / "index.html").read_text(encoding="utf-8"))

    if not has_maplibre:
        @router.get("/vendor/maplibre-gl/{name}")
        def missing_vendor(name: str) -> PlainTextResponse:
            return PlainTextResponse(_INSTALL_HINT, status_code=503)

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=PAGE_DIR), name="static")
    if has_maplibre:
        app.mount("/vendor/maplibre-gl", StaticFiles(directory=dist), name="maplibre")
