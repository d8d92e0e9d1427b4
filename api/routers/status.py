"""Whether the server is bringing its results up to date (「更新中…」) and which build it serves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.state import ServerState


def status_router(state: ServerState) -> APIRouter:
    """The route ``/status``."""
    router = APIRouter(tags=["meta"])

    @router.get("/status", summary="更新中かどうか (whether results are being rebuilt after an edit, "
                                   "the build served and the last rebuild error)")
    def status() -> dict[str, Any]:
        return state.updater.status()

    return router
