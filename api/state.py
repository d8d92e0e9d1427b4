"""What every router needs: the region, its tiles, the register and the server settings."""

from __future__ import annotations

import asyncio
import functools
import hmac
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.snapshot import Snapshot, Updater
from kennai.access import AccessResults, PointRouter
from kennai.errors import ApiError, NotFoundError
from kennai.i18n import t
from kennai.plan_store import PlanStore
from kennai.raster_tiles import SurfaceTiles
from kennai.region import Region
from kennai.register import PlaceRegister
from kennai.tiles import TileSet

_T = TypeVar("_T")

#: Default upload limit: a city's district shapefile is well under this.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@dataclass
class ServerState:
    """The server's region and services, shared by every request.

    The region, tiles, access results and surface are those of the current build version
    (:class:`api.snapshot.Updater` swaps them whole after an edit or a rebuild); a handler
    that needs two of them consistent reads :attr:`snapshot` once.
    """

    updater: Updater
    register: PlaceRegister
    token: str | None
    plans: PlanStore
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    web_modules: Path | None = None
    open_uploads: bool = False
    #: Register writes, one at a time in arrival order (a queue, not 20 threads on one lock).
    _writes: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="kennai-register"),
        repr=False)

    @property
    def snapshot(self) -> Snapshot:
        return self.updater.current()

    @property
    def region(self) -> Region:
        return self.snapshot.region

    @property
    def tiles(self) -> TileSet:
        return self.snapshot.tiles

    @property
    def access(self) -> AccessResults | None:
        return self.snapshot.access

    @property
    def surface(self) -> SurfaceTiles | None:
        return self.snapshot.surface

    async def write(self, change: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run a register change on the writer thread; wait for it without blocking the loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writes, functools.partial(change, *args, **kwargs))

    def check_region(self, name: str) -> Region:
        """The region when ``name`` is its name; otherwise :class:`NotFoundError`."""
        if name != self.region.name:
            raise NotFoundError(t(f"地域「{name}」はこのサーバーにありません",
                                  f"this server has no region {name!r}"), feature=name,
                                hint=t(f"地域は {self.region.name} です",
                                       f"the region is {self.region.name}"))
        return self.region

    def require_access(self, name: str) -> AccessResults:
        """The region's stored access results; :class:`NotFoundError` when it has none."""
        self.check_region(name)
        if self.access is None:
            raise NotFoundError(t("この地域にはアクセスの計算結果がありません",
                                  "this region has no access results"), feature="access",
                                hint=t("歩行ネットワークと通いの場のある設定で kennai build を実行し、"
                                       "サーバーを再起動してください",
                                       "run kennai build with a network and places, then restart"))
        return self.access

    def point_router(self, name: str) -> PointRouter:
        """The router for clicked points (made on first use: two Dijkstra runs)."""
        self.require_access(name)
        router = self.snapshot.point_router()
        assert router is not None
        return router

    def require_surface(self, name: str) -> SurfaceTiles:
        """The walking-minutes surface tiles; :class:`NotFoundError` when there is no surface."""
        self.require_access(name)
        if self.surface is None:
            raise NotFoundError(t("歩行時間の面（GeoTIFF）がありません",
                                  "there is no walking-minutes raster"),
                                feature="access/surface",
                                hint=t("kennai build でアクセスを計算し直してください",
                                       "run kennai build again to compute it"))
        return self.surface


RegionName = Annotated[str, PathParam(description="地域名 region name (e.g. yaizu)",
                                      max_length=100)]

_bearer = HTTPBearer(auto_error=False, description="KENNAI_TOKEN の値 (the server's write token)")


def token_dependency(state: ServerState, *, unless_open_uploads: bool = False):
    """A dependency that lets a request through only with the server's bearer token (or, with
    ``unless_open_uploads``, without it when the server lets uploads through: loopback only)."""

    async def require_token(  # async: a comparison, not worth a thread-pool hop per write
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if unless_open_uploads and state.open_uploads:
            return
        if not state.token:
            raise ApiError(403, "WritesDisabled", t(
                "書き込みは無効です（サーバーが KENNAI_TOKEN なしで起動されています）",
                "writes are disabled: the server was started without KENNAI_TOKEN"),
                hint=t("KENNAI_TOKEN を設定してサーバーを起動し直すよう管理者に依頼してください",
                       "ask the administrator to restart the server with KENNAI_TOKEN set"))
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), state.token.encode()):
            raise ApiError(401, "Unauthorized", t("正しいトークンが必要です",
                                                  "a valid bearer token is required"),
                           hint=t("Authorization: Bearer <トークン> ヘッダーを付けてください",
                                  "send the header Authorization: Bearer <token>"),
                           headers={"WWW-Authenticate": "Bearer"})

    return require_token
