"""The gathering-place register: list, add, edit and retire places (writes need the token)."""

from __future__ import annotations

from typing import Annotated, Any

import geopandas as gpd
import shapely
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.state import RegionName, ServerState, token_dependency
from kennai.geojson import to_feature_collection
from kennai.schedule import FREQUENCIES

PlaceId = Annotated[str, Path(max_length=100, description="登録簿の ID (e.g. register:1)")]
_Text = Annotated[str | None, Field(default=None, max_length=2000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlaceFields(_Body):
    """Fields of a place (the places schema)."""

    category: _Text = None
    address: _Text = None
    weekdays: _Text = Field(default=None, max_length=2000, description="曜日 (e.g. 火・金)")
    start_time: _Text = None
    end_time: _Text = None
    schedule_note: _Text = None
    description: _Text = None
    frequency: Annotated[str | None, Field(default=None, max_length=20, description=(
        "頻度: " + " / ".join(FREQUENCIES) + " (how often it meets)"))] = None
    audience: _Text = Field(default=None, max_length=2000, description="対象 (who may come)")
    fee: _Text = Field(default=None, max_length=2000, description="参加費 (fee)")
    activity: _Text = Field(default=None, max_length=2000, description="活動内容 (activity)")
    contact: _Text = Field(default=None, max_length=2000, description="連絡先 (contact)")
    note: _Text = Field(default=None, max_length=2000, description="備考 (note)")


class PlaceNew(PlaceFields):
    """A new place: name, where (degrees) and who adds it."""

    name: str = Field(min_length=1, max_length=2000, description="名称")
    lon: float = Field(ge=-180, le=180, description="経度 longitude (EPSG:4326)")
    lat: float = Field(ge=-90, le=90, description="緯度 latitude (EPSG:4326)")
    by: str = Field(min_length=1, max_length=200, description="登録者 who adds it")


class PlaceEdit(PlaceFields):
    """Changes to a place; fields left out stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=2000)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    by: str = Field(min_length=1, max_length=200, description="変更者 who changes it")


class PlaceRetire(_Body):
    """Retiring a place: who and why."""

    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)


def _feature_collection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    geoms = shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]) if rows else []
    gdf = gpd.GeoDataFrame(rows or None, geometry=list(geoms), crs="EPSG:4326")
    return to_feature_collection(gdf, id_column="place_id" if rows else None)


def register_router(state: ServerState) -> APIRouter:
    """Routes under ``/regions/{region}/register/places``."""
    router = APIRouter(prefix="/regions/{region}/register", tags=["register"])
    writer = [Depends(token_dependency(state))]

    @router.get("/places", summary="登録簿の場所 (register places as GeoJSON)")
    def list_places(region: RegionName, include_retired: Annotated[bool, Query()] = False
                    ) -> dict[str, Any]:
        state.check_region(region)
        return _feature_collection(state.register.list_places(include_retired=include_retired))

    @router.get("/places/{place_id}", summary="1 件の場所 (one place)")
    def get_place(region: RegionName, place_id: PlaceId) -> dict[str, Any]:
        state.check_region(region)
        return state.register.get(place_id)

    @router.get("/places/{place_id}/history", summary="変更履歴 (who changed what, when)")
    def history(region: RegionName, place_id: PlaceId) -> list[dict[str, Any]]:
        state.check_region(region)
        return state.register.history(place_id)

    @router.post("/places", status_code=201, dependencies=writer,
                 summary="場所を追加 (add a place; needs the token)")
    def add_place(region: RegionName, body: PlaceNew) -> dict[str, Any]:
        state.check_region(region)
        values = body.model_dump(exclude={"by"}, exclude_none=True)
        place = state.register.add(values, by=body.by)
        state.updater.request()  # the results follow the register, without a restart
        return place

    @router.patch("/places/{place_id}", dependencies=writer,
                  summary="場所を編集 (edit a place; needs the token)")
    def edit_place(region: RegionName, place_id: PlaceId, body: PlaceEdit) -> dict[str, Any]:
        state.check_region(region)
        place = state.register.edit(place_id, body.model_dump(exclude={"by"}, exclude_none=True),
                                    by=body.by)
        state.updater.request()
        return place

    @router.post("/places/{place_id}/retire", dependencies=writer,
                 summary="場所を廃止 (retire a place; needs the token)")
    def retire_place(region: RegionName, place_id: PlaceId, body: PlaceRetire) -> dict[str, Any]:
        state.check_region(region)
        place = state.register.retire(place_id, by=body.by, reason=body.reason)
        state.updater.request()
        return place

    return router
