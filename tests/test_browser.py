"""The web map in a real headless Chromium, against a live uvicorn server on loopback.

Loads the page for Yaizu, checks the map canvas is drawn (many colours, the district fill at a
district's projected centre), toggles a layer, clicks a district and reads the panel.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
MAPLIBRE = ROOT / "web" / "node_modules" / "maplibre-gl" / "dist" / "maplibre-gl.js"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not (DATA / "yaizu").is_dir(), reason="needs ../shared/data/yaizu (real data)"),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs Debian chromium at /usr/bin/chromium "
                       "(apt-get install -y chromium fonts-noto-cjk)"),
    pytest.mark.skipif(sync_playwright is None, reason="needs playwright (pip install playwright)"),
    pytest.mark.skipif(not MAPLIBRE.is_file(), reason="needs MapLibre GL JS (npm --prefix web ci)"),
]
#: The district fill (#a5d6a7 at 45 %) over the background (#f4f1ea).
DISTRICT_FILL = (208, 229, 204)
DISTRICT = "焼津東小学校"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """Build Yaizu into a temp folder and serve it with uvicorn on a free loopback port."""
    tmp = tmp_path_factory.mktemp("serve")
    port = _free_port()
    config = str(ROOT / "pipelines" / "yaizu.yaml")
    code = (f"import uvicorn; from pathlib import Path; from api import create_app; "
            f"app = create_app({config!r}, build_dir=Path({str(tmp / 'b')!r}),"
            f" register_path=Path({str(tmp / 'r.sqlite')!r}), token='t'); "
            f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning')")
    from kennai.config import load_config
    from kennai.region import build_region

    build_region(load_config(ROOT / "pipelines" / "yaizu.yaml"), build_dir=tmp / "b")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("the server did not start")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _pixels(page, name: str):
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    png = page.locator("#map canvas").screenshot(path=str(ARTIFACTS / name))
    return Image.open(io.BytesIO(png)).convert("RGB")


def _dominant(image, x: int, y: int, half: int = 40) -> tuple[int, ...]:
    """The most common colour around (x, y): the fill, not the label or roads drawn on it."""
    from collections import Counter

    box = image.crop((x - half, y - half, x + half, y + half))
    return Counter(box.get_flattened_data()).most_common(1)[0][0]


def _near(colour: tuple[int, ...], expected: tuple[int, ...], tol: int = 14) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(colour, expected, strict=True))


def _wait_idle(page) -> None:
    page.evaluate("() => new Promise(r => { const m = window.kennai.map;"
                  " if (m.loaded() && !m.isMoving()) { m.once('idle', r); m.triggerRepaint(); }"
                  " else m.once('idle', r); })")


def test_web_map_draws_toggles_and_clicks(server: str) -> None:
    import geopandas as gpd

    shp = (DATA / "yaizu" / "boundaries" / "original_shapefiles" / "elementary_school_districts"
           / "小学校区.shp")
    districts = gpd.read_file(shp).to_crs("EPSG:6676")
    name_col = "SAFIELD001"
    point = districts.loc[districts[name_col] == DISTRICT].geometry.representative_point()
    lon, lat = point.to_crs("EPSG:4326").iloc[0].coords[0]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--enable-unsafe-swiftshader"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(f"{server}/map/")
            page.wait_for_function("window.kennai && (window.kennai.ready || window.kennai.error)",
                                   timeout=30_000)
            assert page.evaluate("window.kennai.error") is None
            # Look closely at the district so labels and markers do not cover its centre.
            page.evaluate(f"window.kennai.map.jumpTo({{center: [{lon}, {lat}], zoom: 14}})")
            _wait_idle(page)
            x, y = page.evaluate(f"(() => {{ const p = window.kennai.map.project([{lon}, {lat}]);"
                                 " return [Math.round(p.x), Math.round(p.y)]; })()")
            image = _pixels(page, "map_drawn.png")
            assert len(set(image.get_flattened_data())) > 200, "the map canvas looks blank"
            assert _near(_dominant(image, x, y), DISTRICT_FILL), _dominant(image, x, y)

            page.click("#toggle-elementary")
            _wait_idle(page)
            hidden = _dominant(_pixels(page, "map_elementary_off.png"), x, y)
            assert not _near(hidden, DISTRICT_FILL), hidden
            page.click("#toggle-elementary")
            _wait_idle(page)

            box = page.locator("#map canvas").bounding_box()
            # Click beside the label (labels are not clickable, the fill under them is).
            page.mouse.click(box["x"] + x + 30, box["y"] + y + 30)
            page.wait_for_function("document.getElementById('panel').dataset.name !== undefined")
            panel = page.locator("#panel")
            assert panel.get_attribute("data-layer") == "elementary"
            assert panel.get_attribute("data-name") == DISTRICT
            assert DISTRICT in panel.inner_text() and "小学校区" in panel.inner_text()
            page.click("#lang")
            assert "Elementary school districts" in panel.inner_text()
            page.screenshot(path=str(ARTIFACTS / "page_clicked_en.png"))
        finally:
            browser.close()
