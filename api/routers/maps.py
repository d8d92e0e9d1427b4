"""宝物マップ: one district's printable treasure map (PDF/PNG/SVG) or its offline HTML map.

Drawn by :mod:`kennai.maps` (one page, Japanese font embedded; the HTML page needs no
network). Rendering takes a second or two, so it runs in the thread pool, one map at a time.
"""

from __future__ import annotations

import threading
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response

from api.errors import error_responses
from api.state import RegionName, ServerState
from kennai.config import DistrictKind
from kennai.escape import SAFE_URL_PATTERN

Format = Literal["pdf", "png", "svg", "html"]
MEDIA_TYPES = {"pdf": "application/pdf", "png": "image/png", "svg": "image/svg+xml",
               "html": "text/html; charset=utf-8"}


def maps_router(state: ServerState) -> APIRouter:
    """Route ``/regions/{region}/treasure-map`` and ``/regions/{region}/karte``."""
    router = APIRouter(prefix="/regions/{region}", tags=["maps"],
                       responses=error_responses(404, 422))
    lock = threading.Lock()

    @router.get("/treasure-map", summary="宝物マップ (one district's treasure map: PDF, PNG, SVG or "
                                         "an offline HTML map)", response_class=Response,
                responses={200: {"content": {m.split(";")[0]: {} for m in MEDIA_TYPES.values()}}})
    def treasure_map(
        region: RegionName,
        district: Annotated[str, Query(min_length=1, max_length=200, description="区域名")],
        layer: Annotated[DistrictKind,
                         Query(description="区域のレイヤ")] = "elementary",
        format: Annotated[Format, Query(description="pdf / png / svg / html")] = "pdf",
        paper: Annotated[Literal["A4", "A3"], Query()] = "A4",
        orientation: Annotated[Literal["landscape", "portrait"], Query()] = "landscape",
        walk_minutes: Annotated[float | None, Query(gt=0, le=60, description=(
            "この分数で歩ける範囲を塗る (shade the area within this walk; needs access results)"))] = None,
        plan: Annotated[str | None, Query(max_length=100, description=(
            "第2層の計画の圏域を区域にする (a plan's areas as the districts, instead of layer)"))] = None,
        qr_base: Annotated[str | None, Query(max_length=500, description=(
            "公開サイトのアドレス: 区域のページへの QR コード (exported site's address: http(s):// "
            "or a relative path)"), json_schema_extra={"pattern": SAFE_URL_PATTERN})] = None,
    ) -> Response:
        from kennai.maps.request import TreasureMapRequest, map_options, render_map

        reg = state.check_region(region)
        request = TreasureMapRequest(layer=f"plan:{plan}" if plan else layer, district=district,
                                     fmt=format, paper=paper, orientation=orientation,
                                     walk_minutes=walk_minutes, qr_base=qr_base)
        results = state.require_access(region) if request.needs_access else state.access
        options = map_options(reg, request, results=results)
        with lock:
            body = render_map(reg, request, options)
        filename = quote(f"{district}の宝物マップ.{format}")
        return Response(body, media_type=MEDIA_TYPES[format], headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{filename}",
            "Cache-Control": "no-store"})

    @router.get("/karte", summary="地区カルテ (district profiles: one page per district, PDF or "
                                   "HTML)", response_class=Response,
                responses={200: {"content": {"application/pdf": {}, "text/html": {}}}})
    def karte(
        region: RegionName,
        layer: Annotated[DistrictKind, Query(description="区域のレイヤ")] = "elementary",
        district: Annotated[str | None, Query(min_length=1, max_length=200, description=(
            "区域名（省略すると全区域） (a district; every district when omitted)"))] = None,
        format: Annotated[Literal["pdf", "html"], Query(description="pdf / html")] = "pdf",
    ) -> Response:
        from kennai.maps.karte import karte_profiles
        from kennai.maps.karte_render import karte_bytes

        reg = state.check_region(region)
        profiles = karte_profiles(reg, layer=layer, district=district,
                                  all_districts=district is None)
        with lock:
            body = karte_bytes(profiles, format)
        filename = quote(f"{district or reg.config.title}の地区カルテ.{format}")
        return Response(body, media_type=MEDIA_TYPES[format], headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{filename}",
            "Cache-Control": "no-store"})

    return router
