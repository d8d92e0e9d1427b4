"""Regions, their layers (paged GeoJSON), districts and plans."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from api.errors import error_responses
from api.responses import json_response
from api.snapshot import Snapshot
from api.state import RegionName, ServerState
from kennai.config import POLYGON_KINDS
from kennai.encoded_json import EncodedJSON
from kennai.errors import NotFoundError
from kennai.geojson import bounds_lonlat, to_feature_collection
from kennai.i18n import t
from kennai.plan_store import plan_polygons

Offset = Annotated[int, Query(ge=0, le=10_000_000, description="最初の地物の番号 (first feature)")]
#: The largest page of a layer (the web map asks for the places in one page of this size).
MAX_PAGE = 5000
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1 ページの地物数 (features per page)")]
Kind = Annotated[str, Path(description="レイヤの種類 layer kind (elementary, places …)",
                           max_length=100)]


def region_summary(state: ServerState) -> dict[str, Any]:
    """What the API says of the served region: names, CRS, bounds, layers, plans, network."""
    region = state.region
    meta = region.metadata
    return {
        "name": region.name,
        "title": region.config.title,
        "title_en": region.config.title_en,
        "crs": meta.get("crs"),
        "bounds": state.tiles.bounds(),
        "attribution": region.config.attribution,
        "layers": [{"kind": k, **{f: v for f, v in m.items() if f != "sources"}}
                   for k, m in meta.get("layers", {}).items()],
        "plans": [{"name": k, "title": m.get("title"), "areas": m.get("areas"), "stored": False}
                  for k, m in meta.get("plans", {}).items()]
                 + [p.to_dict() for p in state.plans.plans()],
        "network": meta.get("network"),
        "built_at": meta.get("built_at"),
    }


def layer_answer(snap: Snapshot, kind: str, *, offset: int = 0, limit: int = 1000
                 ) -> EncodedJSON:
    """``GET /regions/{region}/layers/{kind}``: a page of a layer as GeoJSON, kept encoded."""

    def answer() -> dict[str, Any]:
        gdf = snap.region.layer(kind)
        id_col = "place_id" if "place_id" in gdf.columns else "name" if kind in POLYGON_KINDS \
            else None
        return to_feature_collection(gdf, offset=offset, limit=limit, id_column=id_col)

    return snap.answer(("layer", kind, offset, limit), answer)


def _district_layer(state: ServerState, kind: str):
    if kind not in POLYGON_KINDS:
        raise NotFoundError(t(f"「{kind}」は区域のレイヤではありません", f"{kind!r} is not a district layer"),
                            feature=kind, hint=t(f"次のどれかです: {', '.join(POLYGON_KINDS)}",
                                                 f"use one of: {', '.join(POLYGON_KINDS)}"))
    return state.region.layer(kind)


def regions_router(state: ServerState) -> APIRouter:
    """Routes under ``/regions``: what the region holds, as JSON and GeoJSON (EPSG:4326)."""
    router = APIRouter(prefix="/regions", tags=["regions"], responses=error_responses(404, 422))

    @router.get("", summary="地域の一覧 (regions served)")
    def list_regions() -> list[dict[str, Any]]:
        return [region_summary(state)]

    @router.get("/{region}", summary="地域の概要 (a region: layers, plans, bounds)")
    def get_region(region: RegionName) -> dict[str, Any]:
        state.check_region(region)
        return region_summary(state)

    @router.get("/{region}/layers/{kind}", summary="レイヤの地物 (a layer as paged GeoJSON)",
                response_model=dict[str, Any])
    def get_layer(region: RegionName, kind: Kind, request: Request, offset: Offset = 0,
                  limit: Limit = 1000) -> Response:
        state.check_region(region)
        return json_response(layer_answer(state.snapshot, kind, offset=offset, limit=limit),
                             request)

    @router.get("/{region}/layers/{kind}/districts",
                summary="区域の一覧 (districts of a layer: names and extents)")
    def list_districts(region: RegionName, kind: Kind) -> list[dict[str, Any]]:
        state.check_region(region)
        gdf = _district_layer(state, kind)
        lonlat = gdf.to_crs("EPSG:4326")
        return [{"name": name, "bounds": [round(float(v), 6) for v in geom.bounds]}
                for name, geom in zip(lonlat["name"], lonlat.geometry, strict=True)]

    @router.get("/{region}/layers/{kind}/districts/{name}",
                summary="1 つの区域 (one district as GeoJSON)")
    def get_district(region: RegionName, kind: Kind,
                     name: Annotated[str, Path(max_length=200)]) -> dict[str, Any]:
        state.check_region(region)
        gdf = _district_layer(state, kind)
        match = gdf[gdf["name"] == name]
        if match.empty:
            raise NotFoundError(t(f"{kind} に「{name}」はありません", f"no district {name!r} in {kind}"),
                                feature=name, hint=t("区域の一覧で名称を確認してください",
                                                     "check the names in the district list"))
        out = to_feature_collection(match, id_column="name")
        out["bounds"] = bounds_lonlat(match)
        return out

    @router.get("/{region}/plans", summary="第2層圏域の案の一覧: 設定の案と保存した案 (layer-2 plans: "
                                          "the config's and the stored ones, with who and when)")
    def list_plans(region: RegionName) -> list[dict[str, Any]]:
        return region_summary(state)["plans"] if state.check_region(region) else []

    @router.get("/{region}/plans/{plan}", summary="案の圏域 (a plan's areas as GeoJSON)")
    def get_plan(region: RegionName, plan: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
        gdf = plan_polygons(state.check_region(region), plan, state.plans)
        return to_feature_collection(gdf[["name", "geometry"]], id_column="name")

    return router
