"""`kennai serve`: build the region when needed, then serve the API, tiles and web map."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kennai.cli import ConfigArg, _progress, _say, app
from kennai.config import load_config
from kennai.i18n import t


@app.command()
def serve(
    config: ConfigArg,
    host: Annotated[str, typer.Option("--host", help="待ち受けるアドレス (bind address)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="ポート (port)")] = 8000,
    register: Annotated[Path | None, typer.Option(
        "--register", help="通いの場の登録簿 SQLite (register file; default "
                           "build/<region>.register.sqlite or KENNAI_REGISTER)")] = None,
) -> None:
    """API・タイル・ウェブ地図を配信 (serve the API, vector tiles and the web map)."""
    import uvicorn

    from kennai.region import build_region

    cfg = load_config(config)
    with _progress(True) as progress:
        _, rebuilt = build_region(cfg, progress=progress)
    if rebuilt:
        _say(t("地域を build しました", "built the region"))
    try:
        from api import create_app
    except ImportError:
        raise typer.BadParameter("the 'api' package is not importable: install kennai with "
                                 "pip install -e . from the repository") from None
    application = create_app(config, register_path=register)
    _say(t(f"地図: http://{host}:{port}/map/  API 文書: http://{host}:{port}/docs",
           f"map: http://{host}:{port}/map/  API docs: http://{host}:{port}/docs"))
    uvicorn.run(application, host=host, port=port, log_level="info")
