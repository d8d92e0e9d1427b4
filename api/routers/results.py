"""Regions, coverage and gaps of many regions, read from a batch's results (folder or PostGIS).

Mounted by :func:`api.create_results_app` (``kennai serve DIR``) and, ahead of the one-region
routes, by :func:`api.create_app` when a results source is configured, so that the region list,
coverage and gaps come from there. Everything is read through
:class:`kennai.batch.serving.ResultsSource`; this module only selects and serialises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.state import RegionName
from kennai.batch.serving import ResultsSource
from kennai.errors import NotFoundError
from kennai.geojson import to_feature_collection
from kennai.i18n import t

LayerName = Annotated[str, Query(max_length=100, description="区域のレイヤ (elementary, junior_high, "
                                                            "neighbourhood) または案の名前 (a plan)")]
District = Annotated[str | None, Query(max_length=200, description="区域名 (one district)")]


def results_router(source: ResultsSource,
                   served: Callable[[], dict[str, Any]] | None = None) -> APIRouter:
    """Routes ``/regions``, ``/regions/{region}`` and its ``access/coverage`` and ``access/gaps``.

    ``served`` gives the summary of the region a one-region app serves (its bounds, layers …):
    it comes first in the list, merged with its batch entry, so the web map still finds it.
    """
    router = APIRouter(prefix="/regions", tags=["batch results"])

    def entries() -> list[dict[str, Any]]:
        listed = source.regions()
        if served is None:
            return listed
        own = served()
        mine = [e for e in listed if e["name"] == own["name"]]
        return [{**(mine[0] if mine else {}), **own}, *[e for e in listed if e["name"] != own["name"]]]

    @router.get("", summary="地域の一覧 (regions of the batch, with their summary)")
    def list_regions() -> list[dict[str, Any]]:
        return entries()

    @router.get("/{region}", summary="地域の概要 (a region's summary row)")
    def get_region(region: RegionName) -> dict[str, Any]:
        for entry in entries():
            if region in (entry["name"], entry.get("municipality")):
                return entry
        raise NotFoundError(t(f"地域「{region}」はありません", f"no region {region!r}"), feature=region,
                            hint=t("/api/v1/regions で一覧を確認してください",
                                   "see the list at /api/v1/regions"))

    @router.get("/{region}/access/coverage",
                summary="区域ごとの徒歩圏カバー率 (coverage per district, as the batch computed it)")
    def coverage(region: RegionName, layer: LayerName = "elementary",
                 district: District = None) -> list[dict[str, Any]]:
        return source.coverage(region, layer, district)

    @router.get("/{region}/access/gaps",
                summary="徒歩圏外の人口が多い所 (the batch's gap polygons; with a district, those "
                        "touching it)")
    def gaps(region: RegionName, layer: LayerName = "elementary", district: District = None,
             limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> dict[str, Any]:
        frame = source.gaps(region, layer=layer, district=district)
        out = to_feature_collection(frame, limit=limit, id_column="rank" if len(frame) else None)
        if district is not None:
            out["district"] = district
        return out

    return router
