"""Stored layer-2 plans: keep an uploaded one, rename or delete it (writes need the token).

The list of a region's plans (its own and stored) and their areas are in
:mod:`api.routers.regions`; the split reports of any of them under ``…/plans/{plan}/splits``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from api.errors import error_responses
from api.routers.register import VISIBLE
from api.routers.splits import read_upload
from api.state import RegionName, ServerState, token_dependency
from kennai.config import NAME_RE
from kennai.plan_store import read_region_plan

PlanName = Annotated[str, Path(max_length=100, pattern=NAME_RE.pattern,
                               description="案の名前 (plan name)")]
_Who = Annotated[str, Field(min_length=1, max_length=100, pattern=VISIBLE,
                           description="変更した人 (who)")]


class PlanRename(BaseModel):
    """A new name (and title) for a stored plan, and who renames it."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(max_length=100, pattern=NAME_RE.pattern)]
    title: Annotated[str | None, Field(max_length=200)] = None
    who: _Who


def plans_router(state: ServerState) -> APIRouter:
    """Routes ``POST /regions/{region}/plans`` and ``PATCH|DELETE /regions/{region}/plans/{plan}``."""
    router = APIRouter(prefix="/regions/{region}/plans", tags=["plans"],
                       responses=error_responses(400, 401, 403, 404, 409, 422))
    writer = [Depends(token_dependency(state))]

    @router.post("", status_code=201, dependencies=writer, responses=error_responses(413),
                 summary="案を保存 (store a plan: GeoJSON, zipped shapefile, or an assignment "
                         "table CSV/xlsx of unit code or name → area; needs the token)")
    async def store_plan(
        region: RegionName, request: Request,
        file: Annotated[UploadFile, File(description="GeoJSON・ZIP・CSV・xlsx")],
        name: Annotated[str, Form(max_length=100, pattern=NAME_RE.pattern)],
        who: Annotated[str, Form(min_length=1, max_length=100, pattern=VISIBLE)],
        title: Annotated[str | None, Form(max_length=200)] = None,
        name_column: Annotated[str | None, Query(max_length=100)] = None,
        crs: Annotated[str | None, Query(max_length=100)] = None,
    ) -> dict[str, Any]:
        reg = state.check_region(region)
        data = await read_upload(request, file, state.max_upload_bytes)
        plan = read_region_plan(reg, data, filename=file.filename or "", name_column=name_column,
                                source_crs=crs)
        stored = state.plans.add(name, plan, who=who, title=title, source=file.filename or "",
                                 taken=tuple(reg.plan_names))
        return stored.to_dict()

    @router.patch("/{plan}", dependencies=writer,
                  summary="保存した案の名前を変える (rename a stored plan; needs the token)")
    def rename_plan(region: RegionName, plan: PlanName, body: PlanRename) -> dict[str, Any]:
        reg = state.check_region(region)
        return state.plans.rename(plan, body.name, who=body.who, title=body.title,
                                  taken=tuple(reg.plan_names)).to_dict()

    @router.delete("/{plan}", status_code=204, dependencies=writer,
                   summary="保存した案を削除 (delete a stored plan; needs the token)")
    def delete_plan(region: RegionName, plan: PlanName,
                    who: Annotated[str, Query(min_length=1, max_length=100, pattern=VISIBLE)]
                    ) -> None:
        state.check_region(region)
        state.plans.delete(plan, who=who)

    return router
