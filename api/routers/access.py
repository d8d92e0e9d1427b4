"""Walkable access: coverage tables, gaps by district, the walk from a clicked point, and PNG
tiles of the walking-minutes surface with their legend.

Everything is read from the results ``kennai build`` stored (``kennai.access.load_access``)
and summarised by :mod:`kennai.access`; this module only selects and serialises.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from api.errors import error_responses
from api.responses import json_response
from api.routers.tiles import TileIndex, Zoom, serve_tile
from api.snapshot import Snapshot
from api.state import RegionName, ServerState
from kennai.access import (
    PLACES_KIND,
    AccessResults,
    check_kind,
    coverage_table,
    district_gaps,
    district_suggestions,
    region_gaps,
    resolve_polygons,
    results_for,
)
from kennai.candidate_kinds import KINDS_BY_KEY
from kennai.encoded_json import EncodedJSON
from kennai.errors import NotFoundError
from kennai.geojson import to_feature_collection
from kennai.i18n import t
from kennai.raster_tiles import PNG_TYPE, SurfaceTiles

LayerName = Annotated[str, Query(max_length=100, description="区域のレイヤ (elementary, junior_high, "
                                                            "neighbourhood) または案の名前 (a plan)")]
District = Annotated[str | None, Query(max_length=200, description="区域名 (one district)")]
Kind = Annotated[str, Query(max_length=100, description=(
    "行き先の種類: places（集いの場）または設定の destinations の名前 (kind of destination: places, "
    "or a name under the config's destinations, e.g. food, bus)"))]


Weekly = Annotated[bool, Query(description="週1回以上開いている場所だけで数える "
                                          "(count only places open at least weekly)")]


#: A comma-separated list of candidate kinds (the allow-list of site suggestions).
_KINDS_PATTERN = f"^({'|'.join(KINDS_BY_KEY)})(,({'|'.join(KINDS_BY_KEY)}))*$"


def _no_district(layer: str, district: str) -> NotFoundError:
    return NotFoundError(t(f"{layer} に「{district}」はありません", f"no district {district!r} in {layer}"),
                         feature=district, hint=t("区域の一覧で名称を確認してください",
                                                  "check the names in the district list"))


def _rows_for(rows: list[dict[str, Any]], district: str | None, layer: str) -> list[dict[str, Any]]:
    if district is None:
        return rows
    match = [r for r in rows if r["name"] == district]
    if not match:
        raise _no_district(layer, district)
    return match


def coverage_answer(snap: Snapshot, results: AccessResults, *, kind: str = PLACES_KIND,
                    weekly: bool = False, layer: str = "elementary",
                    district: str | None = None) -> EncodedJSON:
    """``GET …/access/coverage``: the coverage rows of a layer (or one district), kept encoded."""

    def table() -> list[dict[str, Any]]:
        key, polygons = resolve_polygons(snap.region, layer)
        rows = results.coverage.get(key)
        return rows if rows is not None else coverage_table(results, polygons)

    return snap.answer(("coverage", kind, weekly, layer, district), lambda: _rows_for(
        snap.memo(("coverage", kind, weekly, layer), table), district, layer))


def gaps_answer(snap: Snapshot, results: AccessResults, *, layer: str = "elementary",
                district: str | None = None, threshold: float = 500.0,
                limit: int = 1000) -> EncodedJSON:
    """``GET …/access/gaps``: the gap polygons (of the region, or of one district's residents)."""

    def answer() -> dict[str, Any]:
        out_bounds = None
        if district is None:
            frame = region_gaps(snap.region, results, threshold_m=float(threshold))
        else:
            picked = district_gaps(snap.region, results, layer=layer, district=district,
                                   threshold_m=float(threshold))
            frame, out_bounds = picked.gaps, picked.bounds
        out = to_feature_collection(frame, limit=limit, id_column="rank" if len(frame) else None)
        out["threshold_m"] = float(threshold)
        if out_bounds is not None:
            out["district"] = district
            out["bounds"] = out_bounds
        return out

    return snap.answer(("gaps", layer if district is not None else None, district,
                        float(threshold), limit), answer)


def suggestions_answer(snap: Snapshot, results: AccessResults, *, layer: str = "elementary",
                       district: str | None = None, k: int = 5, threshold: float = 500.0,
                       allow: str | None = None) -> EncodedJSON:
    """``GET …/access/suggestions``: the candidate sites that would bring the most residents."""

    def answer() -> dict[str, Any]:
        frame = district_suggestions(snap.region, results, layer=layer, district=district, k=k,
                                     threshold_m=float(threshold),
                                     allow=allow.split(",") if allow else None)
        out = to_feature_collection(frame, id_column="rank" if len(frame) else None)
        out["threshold_m"] = float(threshold)
        out["district"] = district
        return out

    return snap.answer(("suggestions", layer, district, k, float(threshold), allow), answer)


def summary_answer(snap: Snapshot, results: AccessResults, *, kind: str = PLACES_KIND
                   ) -> EncodedJSON:
    """``GET …/access``: the options and totals of one kind of destination."""
    return snap.answer(("summary", kind), lambda: {
        "options": results.options.to_dict(), "info": results.info,
        "region": results.coverage.get("region", []),
        "layers": sorted(k for k in results.coverage if k != "region"),
        "surface": snap.surface is not None})


def warm_access(snap: Snapshot) -> None:
    """Make the access answers a page load asks for with their defaults (summary, coverage,
    gaps, suggestions, legend) for a snapshot just loaded, so first requests find them kept."""
    if snap.access is None:
        return
    summary_answer(snap, snap.access)
    coverage_answer(snap, snap.access)
    gaps_answer(snap, snap.access)
    suggestions_answer(snap, snap.access)
    if snap.surface is not None:
        legend_answer(snap, snap.surface)


def legend_answer(snap: Snapshot, surface: SurfaceTiles) -> EncodedJSON:
    """``GET …/access/legend``: the classes of the walking-minutes tiles."""
    return snap.answer(("legend",), surface.legend)


def access_router(state: ServerState) -> APIRouter:
    """Routes under ``/regions/{region}/access``."""
    router = APIRouter(prefix="/regions/{region}/access", tags=["access"],
                       responses=error_responses(404, 422))

    def served(region: str) -> tuple[Snapshot, AccessResults]:
        """The snapshot served now and its access results (both of one version)."""
        snap = state.snapshot
        state.require_access(region)
        return snap, snap.access if snap.access is not None else state.require_access(region)

    def results_of(region: str, kind: str, weekly: bool = False) -> tuple[Snapshot, AccessResults]:
        """The snapshot and the stored results of one kind of destination (the gathering
        places by default), or, with ``weekly``, those of the places open at least weekly
        (computed once per snapshot)."""
        snap, results = served(region)
        if kind == PLACES_KIND and not weekly:
            return snap, results
        if kind != PLACES_KIND:
            check_kind(snap.region, kind)
        options = replace(results.options, weekly=weekly)
        return snap, snap.memo(("results", kind, weekly),
                               lambda: results_for(snap.region, options, kind=kind))

    @router.get("", summary="アクセス計算の概要 (access results: options and totals)",
                response_model=dict[str, Any])
    def summary(region: RegionName, request: Request, kind: Kind = PLACES_KIND) -> Response:
        snap, results = results_of(region, kind)
        return json_response(summary_answer(snap, results, kind=kind), request)

    @router.get("/coverage", summary="区域ごとの徒歩圏カバー率 (coverage per district: population, "
                                     "65+, shares within thresholds, no-network population)",
                response_model=list[dict[str, Any]])
    def coverage(region: RegionName, request: Request, layer: LayerName = "elementary",
                 district: District = None, kind: Kind = PLACES_KIND,
                 weekly: Weekly = False) -> Response:
        snap, results = results_of(region, kind, weekly)
        return json_response(coverage_answer(snap, results, kind=kind, weekly=weekly,
                                             layer=layer, district=district), request)

    @router.get("/gaps", summary="徒歩圏外の人口が多い所 (gap polygons as GeoJSON; with a district, "
                                 "the gaps of its own residents)", response_model=dict[str, Any])
    def gaps(region: RegionName, request: Request, layer: LayerName = "elementary",
             district: District = None,
             threshold: Annotated[float, Query(ge=50, le=5000, description="徒歩距離 m")] = 500.0,
             limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> Response:
        snap, results = served(region)
        return json_response(gaps_answer(snap, results, layer=layer, district=district,
                                         threshold=threshold, limit=limit), request)

    @router.get("/suggestions", summary="新しい通いの場の候補地 (site suggestions: the candidates "
                                        "that would bring the most residents, 65+ first, within reach)",
                response_model=dict[str, Any])
    def suggestions(region: RegionName, request: Request, layer: LayerName = "elementary",
                    district: District = None,
                    k: Annotated[int, Query(ge=1, le=50, description="提案の数")] = 5,
                    threshold: Annotated[float, Query(ge=50, le=5000, description="徒歩距離 m")] = 500.0,
                    allow: Annotated[str | None, Query(
                        max_length=200, pattern=_KINDS_PATTERN,
                        description="候補地の種類（カンマ区切り: hall,welfare,school,library,shop,"
                                    "religious,street …） (candidate kinds)")] = None
                    ) -> Response:
        snap, results = served(region)
        return json_response(suggestions_answer(snap, results, layer=layer, district=district,
                                                k=k, threshold=threshold, allow=allow), request)

    @router.get("/nearest", summary="クリックした地点から最寄りの通いの場まで歩く (nearest place, "
                                    "walking metres and minutes from a point)")
    def nearest(region: RegionName,
                lon: Annotated[float, Query(ge=-180, le=180)],
                lat: Annotated[float, Query(ge=-90, le=90)]) -> dict[str, Any]:
        return state.point_router(region).route(lon, lat)

    @router.get("/legend", summary="歩行時間タイルの凡例 (legend of the walking-minutes tiles)",
                response_model=dict[str, Any])
    def legend(region: RegionName, request: Request) -> Response:
        state.require_surface(region)
        snap = state.snapshot  # the surface of the very snapshot whose answers keep the legend
        surface = snap.surface if snap.surface is not None else state.require_surface(region)
        return json_response(legend_answer(snap, surface), request)

    @router.get("/tiles/{z}/{x}/{y}.png", name="access_tile",
                summary="歩行時間のラスタタイル (PNG tile of walking minutes; 204 when empty)",
                response_class=Response,
                responses={200: {"content": {PNG_TYPE: {}}}, 204: {"description": "empty tile"},
                           304: {"description": "not modified (ETag)"}})
    async def access_tile(region: RegionName, z: Zoom, x: TileIndex, y: TileIndex,
                          if_none_match: Annotated[str | None, Header(max_length=1000)] = None
                          ) -> Response:
        surface = state.require_surface(region)
        return await serve_tile(surface, z, x, y, etag=f'"{surface.version}"', media_type=PNG_TYPE,
                                if_none_match=if_none_match)

    return router
