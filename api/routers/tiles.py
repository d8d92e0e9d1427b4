"""Vector tiles (MVT, XYZ) of every layer, with their TileJSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from api.state import RegionName, ServerState

MVT_TYPE = "application/vnd.mapbox-vector-tile"


def tiles_router(state: ServerState) -> APIRouter:
    """Routes ``/regions/{region}/tiles.json`` and ``…/tiles/{z}/{x}/{y}.mvt``."""
    router = APIRouter(prefix="/regions", tags=["tiles"])

    @router.get("/{region}/tiles.json", summary="TileJSON (vector tiles of every layer)")
    def tilejson(region: RegionName, request: Request) -> dict[str, Any]:
        reg = state.check_region(region)
        base = str(request.url_for("vector_tile", region=region, z=0, x=0, y=0))
        template = base.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
        return state.tiles.tilejson(template, name=reg.config.title,
                                    attribution=" / ".join(reg.config.attribution))

    @router.get("/{region}/tiles/{z}/{x}/{y}.mvt", name="vector_tile",
                summary="ベクトルタイル (one MVT tile; 204 when empty)",
                response_class=Response,
                responses={200: {"content": {MVT_TYPE: {}}}, 204: {"description": "empty tile"}})
    def vector_tile(region: RegionName,
                    z: Annotated[int, Path(ge=0, le=22)],
                    x: Annotated[int, Path(ge=0)],
                    y: Annotated[int, Path(ge=0)]) -> Response:
        state.check_region(region)
        data = state.tiles.tile(z, x, y)
        headers = {"Cache-Control": "public, max-age=3600", "ETag": f'"{state.tiles.version}"'}
        if not data:
            return Response(status_code=204, headers=headers)
        return Response(data, media_type=MVT_TYPE, headers=headers)

    return router
