"""The gathering-place register: list, add, edit and retire places (writes need the token).

The two POSTs take an ``Idempotency-Key`` header: a client that retries a write it never saw
answered (a timeout, a dropped connection) sends the same key and gets the first answer, and
the register holds the change once.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

import geopandas as gpd
import shapely
from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field, create_model

from api.errors import error_responses
from api.state import RegionName, ServerState, token_dependency
from kennai.geojson import to_feature_collection
from kennai.schedule import FREQUENCIES, FREQUENCY_PATTERN, TIME_PATTERN, WEEKDAYS_PATTERN

PlaceId = Annotated[str, Path(max_length=100, description="登録簿の ID (e.g. register:1)")]
_Text = Annotated[str | None, Field(default=None, max_length=2000)]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
    description="再送しても 1 件だけ登録するためのキー（UUID など） (a key that makes a retried "
                "write store one change: the retry gets the first answer)")]
#: Some character other than white space (names and who are stored stripped: white space as
#: Python's ``str.strip`` sees it, written out so every regex engine reads the same class).
VISIBLE = "[^" + "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "]"
_READ_ERRORS = error_responses(404, 422)
_WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlaceFields(_Body):
    """Fields of a place (the places schema)."""

    category: _Text = None
    address: _Text = None
    weekdays: _Text = Field(default=None, max_length=100, pattern=WEEKDAYS_PATTERN,
                            description="曜日 (e.g. 火・金, 月,水,金)")
    start_time: _Text = Field(default=None, max_length=5, pattern=TIME_PATTERN,
                              description="開始時刻 HH:MM")
    end_time: _Text = Field(default=None, max_length=5, pattern=TIME_PATTERN,
                            description="終了時刻 HH:MM (after the start)")
    schedule_note: _Text = None
    description: _Text = None
    frequency: Annotated[str | None, Field(default=None, max_length=20, pattern=FREQUENCY_PATTERN,
                                           description=("頻度: " + " / ".join(FREQUENCIES)
                                                        + " (how often it meets)"))] = None
    audience: _Text = Field(default=None, max_length=2000, description="対象 (who may come)")
    fee: _Text = Field(default=None, max_length=2000, description="参加費 (fee)")
    activity: _Text = Field(default=None, max_length=2000, description="活動内容 (activity)")
    contact: _Text = Field(default=None, max_length=2000, description="連絡先 (contact)")
    note: _Text = Field(default=None, max_length=2000, description="備考 (note)")


class PlaceNew(PlaceFields):
    """A new place: name, where (degrees) and who adds it."""

    name: str = Field(min_length=1, max_length=2000, pattern=VISIBLE, description="名称")
    lon: float = Field(ge=-180, le=180, description="経度 longitude (EPSG:4326)")
    lat: float = Field(ge=-90, le=90, description="緯度 latitude (EPSG:4326)")
    by: str = Field(min_length=1, max_length=200, pattern=VISIBLE, description="登録者 who adds it")


class PlaceEdit(PlaceFields):
    """Changes to a place; fields left out stay as they are (lon and lat go together)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "dependentRequired": {"lon": ["lat"], "lat": ["lon"]},
        "dependencies": {"lon": ["lat"], "lat": ["lon"]}})

    name: str | None = Field(default=None, min_length=1, max_length=2000, pattern=VISIBLE)
    # Left out, never null (the point stays): the default is not validated, a null is refused.
    lon: float = Field(default=cast(float, None), ge=-180, le=180)
    lat: float = Field(default=cast(float, None), ge=-90, le=90)
    by: str = Field(min_length=1, max_length=200, pattern=VISIBLE, description="変更者 who changes it")


class PlaceRetire(_Body):
    """Retiring a place: who and why."""

    by: str = Field(min_length=1, max_length=200, pattern=VISIBLE)
    reason: str = Field(default="", max_length=2000)


def _within(model: type[BaseModel], bounds: tuple[float, float, float, float] | None,
            *, optional: bool) -> type[BaseModel]:
    """``model`` with ``lon``/``lat`` limited to the register's extent, so the API description
    states the rule the register enforces (a point outside the region is refused)."""
    if bounds is None:
        return model
    west, south, east, north = (round(v, 6) for v in bounds)
    default = None if optional else ...
    return create_model(
        model.__name__, __base__=model, __doc__=model.__doc__,
        lon=(float, Field(default, ge=west, le=east, description=(
            f"経度 longitude (EPSG:4326), within the region: {west} to {east}"))),
        lat=(float, Field(default, ge=south, le=north, description=(
            f"緯度 latitude (EPSG:4326), within the region: {south} to {north}"))))


def _feature_collection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    geoms = shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]) if rows else []
    gdf = gpd.GeoDataFrame(rows or None, geometry=list(geoms), crs="EPSG:4326")
    return to_feature_collection(gdf, id_column="place_id" if rows else None)


def register_router(state: ServerState) -> APIRouter:
    """Routes under ``/regions/{region}/register/places``."""
    router = APIRouter(prefix="/regions/{region}/register", tags=["register"])
    writer = [Depends(token_dependency(state))]
    bounds = state.register.bounds
    new_place = _within(PlaceNew, bounds, optional=False)
    place_edit = _within(PlaceEdit, bounds, optional=True)

    @router.get("/places", summary="登録簿の場所 (register places as GeoJSON)",
                responses=_READ_ERRORS)
    def list_places(region: RegionName, include_retired: Annotated[bool, Query()] = False
                    ) -> dict[str, Any]:
        state.check_region(region)
        return _feature_collection(state.register.list_places(include_retired=include_retired))

    @router.get("/places/{place_id}", summary="1 件の場所 (one place)", responses=_READ_ERRORS)
    def get_place(region: RegionName, place_id: PlaceId) -> dict[str, Any]:
        state.check_region(region)
        return state.register.get(place_id)

    @router.get("/places/{place_id}/history", summary="変更履歴 (who changed what, when)",
                responses=_READ_ERRORS)
    def history(region: RegionName, place_id: PlaceId) -> list[dict[str, Any]]:
        state.check_region(region)
        return state.register.history(place_id)

    # Writes are async and hand only the register call to the server's writer thread: one
    # thread hop per write, in arrival order.
    async def add_place(region: RegionName, body: PlaceNew,
                        idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        state.check_region(region)
        values = body.model_dump(exclude={"by"}, exclude_none=True)
        place = await state.write(state.register.add, values, by=body.by,
                                  idempotency_key=idempotency_key)
        state.updater.request()  # the results follow the register, without a restart
        return place

    async def edit_place(region: RegionName, place_id: PlaceId, body: PlaceEdit
                         ) -> dict[str, Any]:
        state.check_region(region)
        place = await state.write(state.register.edit, place_id,
                                  body.model_dump(exclude={"by"}, exclude_none=True), by=body.by)
        state.updater.request()
        return place

    # The bodies as this server checks them: lon/lat within the region's extent.
    add_place.__annotations__["body"] = new_place
    edit_place.__annotations__["body"] = place_edit
    router.post("/places", status_code=201, dependencies=writer, responses=_WRITE_ERRORS,
                summary="場所を追加 (add a place; needs the token)",
                description="The point must lie within the region's extent (about 5 km around "
                            "it), as the body's lon/lat limits say.")(add_place)
    router.patch("/places/{place_id}", dependencies=writer, responses=_WRITE_ERRORS,
                 summary="場所を編集 (edit a place; needs the token)",
                 description="lon and lat are given together or not at all.")(edit_place)

    @router.post("/places/{place_id}/retire", dependencies=writer, responses=_WRITE_ERRORS,
                 summary="場所を廃止 (retire a place; needs the token)")
    async def retire_place(region: RegionName, place_id: PlaceId, body: PlaceRetire,
                           idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        state.check_region(region)
        place = await state.write(state.register.retire, place_id, by=body.by,
                                  reason=body.reason, idempotency_key=idempotency_key)
        state.updater.request()
        return place

    return router
