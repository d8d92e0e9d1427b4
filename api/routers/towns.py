"""Which 町丁・字 an address is in: to place a new 通いの場 by its address, not only by a click."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.errors import error_responses
from api.state import RegionName, ServerState
from kennai.town_match import match_town


def towns_router(state: ServerState) -> APIRouter:
    """The route ``/regions/{region}/towns/match``."""
    router = APIRouter(prefix="/regions/{region}/towns", tags=["register"],
                       responses=error_responses(404, 422))

    @router.get("/match", summary="住所から町丁・字を探す (the town an address is in, with a point "
                                  "inside it to start the new place from)",
                )
    def match(region: RegionName,
              address: Annotated[str, Query(min_length=1, max_length=300,
                                            description="住所 (e.g. 焼津市本町5-6-1)")]
              ) -> dict[str, Any]:
        return asdict(match_town(state.check_region(region), address))

    return router
