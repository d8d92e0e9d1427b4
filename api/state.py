"""What every router needs: the region, its tiles, the register and the server settings."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kennai.errors import NotFoundError
from kennai.i18n import t
from kennai.region import Region
from kennai.register import PlaceRegister
from kennai.tiles import TileSet

#: Default upload limit: a city's district shapefile is well under this.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@dataclass
class ServerState:
    """The server's region and services, shared by every request."""

    region: Region
    tiles: TileSet
    register: PlaceRegister
    token: str | None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    web_modules: Path | None = None

    def check_region(self, name: str) -> Region:
        """The region when ``name`` is its name; otherwise :class:`NotFoundError`."""
        if name != self.region.name:
            raise NotFoundError(t(f"地域「{name}」はこのサーバーにありません",
                                  f"this server has no region {name!r}"), feature=name,
                                hint=t(f"地域は {self.region.name} です",
                                       f"the region is {self.region.name}"))
        return self.region


RegionName = Annotated[str, PathParam(description="地域名 region name (e.g. yaizu)",
                                      max_length=100)]

_bearer = HTTPBearer(auto_error=False, description="KENNAI_TOKEN の値 (the server's write token)")


def token_dependency(state: ServerState):
    """A dependency that lets a request through only with the server's bearer token."""

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if not state.token:
            raise HTTPException(403, detail={
                "error": "WritesDisabled",
                "message": "writes are disabled: the server was started without KENNAI_TOKEN",
                "message_ja": "書き込みは無効です（KENNAI_TOKEN を設定してサーバーを起動してください）"})
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), state.token.encode()):
            raise HTTPException(401, detail={
                "error": "Unauthorized", "message": "a valid bearer token is required",
                "message_ja": "正しいトークンが必要です"},
                headers={"WWW-Authenticate": "Bearer"})

    return require_token
