"""A built region served by a real uvicorn on a free loopback port, for tests over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(config: Path, build_dir: Path, register: Path, *, token: str | None = None,
                open_uploads: bool = False, max_upload_bytes: int = 20 * 1024 * 1024,
                cwd: Path | None = None) -> Iterator[str]:
    """Run ``create_app(config, …)`` under uvicorn on 127.0.0.1; yield its base URL."""
    port = free_port()
    code = (f"from pathlib import Path; from api import create_app; from api.server import serve; "
            f"app = create_app({str(config)!r}, build_dir=Path({str(build_dir)!r}), "
            f"register_path=Path({str(register)!r}), token={token!r}, "
            f"open_uploads={open_uploads!r}, max_upload_bytes={max_upload_bytes!r}); "
            f"serve(app, host='127.0.0.1', port={port}, log_level='warning')")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=cwd or register.parent)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not listen within 60 s") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


#: Debian's Chromium and the flags it needs here (root: no sandbox; WebGL through SwiftShader).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--enable-unsafe-swiftshader"]


@contextmanager
def chromium_page(*, width: int = 1200, height: int = 800) -> Iterator[Any]:
    """A fresh page in headless Chromium (playwright), closed with its browser afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def open_map(page: Any, url: str, *, timeout_ms: int = 60_000) -> None:
    """Load the web map at ``url`` and wait until it says it is ready (or failed: then fail)."""
    page.goto(url)
    page.wait_for_function("() => window.kennai && (window.kennai.ready || window.kennai.error)",
                           timeout=timeout_ms)
    error = page.evaluate("() => window.kennai.error")
    assert error is None, error


def far_gap_spot(build_dir: Path) -> tuple[str, Any]:
    """The district of a build's first gap out of reach ("far") and a lon/lat point inside it:
    where a place added by a test must change that district's coverage."""
    import geopandas as gpd

    from kennai.access import load_access

    gaps = load_access(build_dir).gaps
    assert gaps is not None and len(gaps), f"{build_dir} has no gaps"
    gap = gaps[gaps["reach"] == "far"].iloc[0]
    spot = gpd.GeoSeries([gap.geometry.representative_point()], crs=gaps.crs).to_crs(4326).iloc[0]
    return str(gap["district"]), spot
