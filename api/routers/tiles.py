"""Vector tiles (MVT, XYZ) of every layer, with their TileJSON.

Tiles in the memory cache are answered on the event loop (no thread hop: a hit costs a dict
look-up); misses are rendered in the thread pool so the loop never blocks on shapely. Every tile
carries the tile set's version as ETag, and a matching ``If-None-Match`` gets 304.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Header, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from api.errors import error_responses
from api.responses import json_response
from api.state import RegionName, ServerState
from kennai.encoded_json import etag_matches

MVT_TYPE = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "public, max-age=3600"

Zoom = Annotated[int, Path(ge=0, le=22)]
TileIndex = Annotated[int, Path(ge=0, le=2 ** 22)]


def tile_response(data: bytes, *, etag: str, media_type: str, if_none_match: str | None) -> Response:
    """A tile's response: 304 when the client has this version, 204 when empty, else the bytes."""
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if etag_matches(etag, if_none_match):
        return Response(status_code=304, headers=headers)
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


class _TileSource(Protocol):
    def cached(self, z: int, x: int, y: int) -> bytes | None: ...
    def tile(self, z: int, x: int, y: int) -> bytes: ...


async def serve_tile(source: _TileSource, z: int, x: int, y: int, *, etag: str, media_type: str,
                     if_none_match: str | None) -> Response:
    """A cache hit is answered on the event loop; only a miss renders, in the thread pool."""
    data = source.cached(z, x, y)
    if data is None:
        data = await run_in_threadpool(source.tile, z, x, y)
    return tile_response(data, etag=etag, media_type=media_type, if_none_match=if_none_match)


def tiles_router(state: ServerState) -> APIRouter:
    """Routes ``/regions/{region}/tiles.json`` and ``…/tiles/{z}/{x}/{y}.mvt``."""
    router = APIRouter(prefix="/regions", tags=["tiles"], responses=error_responses(404, 422))
    etag = f'"{state.tiles.version}"'

    @router.get("/{region}/tiles.json", summary="TileJSON (vector tiles of every layer)",
                response_model=dict[str, Any])
    def tilejson(region: RegionName, request: Request) -> Response:
        state.check_region(region)
        snap = state.snapshot
        base = str(request.url_for("vector_tile", region=region, z=0, x=0, y=0))
        template = base.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
        config = snap.region.config
        return json_response(snap.answer(("tilejson", template), lambda: snap.tiles.tilejson(
            template, name=config.title, attribution=" / ".join(config.attribution))), request)

    @router.get("/{region}/tiles/{z}/{x}/{y}.mvt", name="vector_tile",
                summary="ベクトルタイル (one MVT tile; 204 when empty)",
                response_class=Response,
                responses={200: {"content": {MVT_TYPE: {}}}, 204: {"description": "empty tile"},
                           304: {"description": "not modified (ETag)"}})
    async def vector_tile(region: RegionName, z: Zoom, x: TileIndex, y: TileIndex,
                          if_none_match: Annotated[str | None, Header(max_length=1000)] = None
                          ) -> Response:
        state.check_region(region)
        return await serve_tile(state.tiles, z, x, y, etag=etag, media_type=MVT_TYPE,
                                if_none_match=if_none_match)

    return router
