"""Split reports: which school districts / 自治会 a layer-2 plan cuts, for stored or uploaded plans.

An upload is checked at ``POST /regions/{region}/splits/upload``, a path of its own: under
``/plans/`` it would be shadowed by the stored plan ``/plans/{plan}``. It needs the token unless
the server lets uploads through (``kennai serve`` on a loopback address).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile

from api.errors import error_responses
from api.state import RegionName, ServerState, token_dependency
from kennai.config import DistrictKind
from kennai.errors import ApiError
from kennai.geojson import to_feature_collection
from kennai.i18n import t
from kennai.plan_store import read_region_plan
from kennai.splits import SplitReport, split_report_for_region

Units = Annotated[DistrictKind,
                  Query(description="分断を調べる区域 the units a plan should not cut")]
Pieces = Annotated[bool, Query(description="各区域の断片を GeoJSON で含める (add the unit × area pieces "
                                           "as GeoJSON: counted pieces and slivers, for the map)")]
UPLOAD_NAME = "upload"
_PIECE_COLUMNS = ["unit", "area", "area_m2", "area_share", "counted", "split", "reason"]
_CHUNK = 1 << 16


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "UploadTooLarge", t(f"ファイルが大きすぎます（上限 {limit:,} バイト）",
                                             f"the upload is larger than {limit:,} bytes"),
                    hint=t("圏域の面だけを含む小さなファイルにしてください",
                           "send a smaller file holding only the plan's areas"))


async def read_upload(request: Request, upload: UploadFile, limit: int) -> bytes:
    """An uploaded file's bytes, refusing a request that declares or sends more than ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _CHUNK:
        raise _too_large(limit)
    return await _read_limited(upload, limit)


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    """The uploaded bytes, refusing more than ``limit`` (never written to a path we choose
    from the request: :func:`kennai.plans.read_plan_upload` unpacks them in its own temp dir)."""
    chunks, size = [], 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def report_json(report: SplitReport, *, pieces: bool) -> dict[str, Any]:
    """The report's JSON, with its pieces as a FeatureCollection (EPSG:4326) when asked.

    Each piece says whether it ``counted`` and whether its unit is ``split`` by the plan, so the
    map can draw the counted pieces of split units strongly and the slivers faintly.
    """
    out = report.to_dict()
    if pieces:
        frame = report.pieces_frame()
        out["pieces_geojson"] = to_feature_collection(frame[[*_PIECE_COLUMNS,
                                                             frame.geometry.name]])
    return out


def splits_router(state: ServerState) -> APIRouter:
    """Routes ``/regions/{region}/plans/{plan}/splits`` and ``/regions/{region}/splits/upload``."""
    router = APIRouter(prefix="/regions/{region}", tags=["splits"])
    uploader = [Depends(token_dependency(state, unless_open_uploads=True))]

    @router.get("/plans/{plan}/splits", summary="案の分断レポート (split report of a stored plan)",
                responses=error_responses(404, 422))
    def plan_splits(region: RegionName, plan: Annotated[str, Path(max_length=100)],
                    units: Units = "elementary", pieces: Pieces = False) -> dict[str, Any]:
        reg = state.check_region(region)
        return report_json(split_report_for_region(reg, plan, units, store=state.plans),
                           pieces=pieces)

    @router.post("/splits/upload", dependencies=uploader,
                 summary="案をアップロードして分断を調べる (upload a plan: GeoJSON, zipped shapefile "
                         "(Shift_JIS included) or an assignment table CSV/xlsx of unit code or "
                         "name → area; returns its split report)",
                 description="A GeoJSON's geometries are checked before they are read: every ring "
                             "closed with 4 or more positions, every coordinate a finite number, "
                             "Polygon/MultiPolygon nesting as RFC 7946 says; a zip holds one "
                             "shapefile (.shp, .shx, .dbf, .prj); a .csv or .xlsx file is an "
                             "assignment table. Needs the token unless the server listens on a "
                             "loopback address only.",
                 responses=error_responses(400, 401, 403, 404, 413, 422))
    async def upload_plan(
        region: RegionName, request: Request,
        file: Annotated[UploadFile, File(description="GeoJSON・ZIP 圧縮したシェープファイル・割当表 "
                                                     "CSV / xlsx（単位のコードか名称 → 圏域）")],
        units: Units = "elementary",
        name_column: Annotated[str | None, Query(max_length=100)] = None,
        crs: Annotated[str | None, Query(
            max_length=100, description="ファイルに座標系がないとき（.prj のない ZIP）の座標系 "
                                        "(the CRS of a file that declares none, e.g. EPSG:6676)")
        ] = None,
        pieces: Pieces = False,
    ) -> dict[str, Any]:
        reg = state.check_region(region)
        data = await read_upload(request, file, state.max_upload_bytes)
        plan = read_region_plan(reg, data, filename=file.filename or "", name_column=name_column,
                                source_crs=crs)
        report = split_report_for_region(reg, UPLOAD_NAME, units, plan=plan)
        return report_json(report, pieces=pieces)

    return router
