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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from live_server import chromium_page, open_map

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


def _serve(config: Path, build_dir: Path, cwd: Path):
    """Serve a built region with uvicorn on a free loopback port; yield its URL."""
    port = _free_port()
    code = (f"from pathlib import Path; from api import create_app; from api.server import serve; "
            f"app = create_app({str(config)!r}, build_dir=Path({str(build_dir)!r}),"
            f" register_path=Path({str(cwd / 'r.sqlite')!r}), token='t', open_uploads=True); "
            f"serve(app, host='127.0.0.1', port={port}, log_level='warning')")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=cwd)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("the server did not start")
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """Build Yaizu into a temp folder and serve it."""
    if not (DATA / "yaizu").is_dir():
        pytest.skip("needs ../shared/data/yaizu (real data)")
    from kennai.build import build_region
    from kennai.config import load_config

    tmp = tmp_path_factory.mktemp("serve")
    build_region(load_config(ROOT / "pipelines" / "yaizu.yaml"), build_dir=tmp / "b")
    yield from _serve(ROOT / "pipelines" / "yaizu.yaml", tmp / "b", tmp)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory):
    """Build the demo town with its access results and serve it."""
    from kennai.access import ACCESS_DIR, run_access_for_build
    from kennai.build import build_region
    from kennai.config import load_config

    config = ROOT / "pipelines" / "demo.yaml"
    tmp = tmp_path_factory.mktemp("demo")
    region, _ = build_region(load_config(config), build_dir=tmp / "b")
    if not (tmp / "b" / ACCESS_DIR / "access.json").is_file():
        run_access_for_build(region, tmp / "b")
    yield from _serve(config, tmp / "b", tmp)


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


@contextmanager
def _map_page(url: str) -> Iterator[Any]:
    """Headless Chromium on the web map at ``url``, once the page says it is ready."""
    with chromium_page() as page:
        open_map(page, url, timeout_ms=30_000)
        yield page


@pytest.mark.realdata
@pytest.mark.skipif(not (DATA / "yaizu").is_dir(), reason="needs ../shared/data/yaizu (real data)")
def test_web_map_draws_toggles_and_clicks(server: str) -> None:
    import geopandas as gpd

    shp = (DATA / "yaizu" / "boundaries" / "original_shapefiles" / "elementary_school_districts"
           / "小学校区.shp")
    districts = gpd.read_file(shp).to_crs("EPSG:6676")
    name_col = "SAFIELD001"
    point = districts.loc[districts[name_col] == DISTRICT].geometry.representative_point()
    lon, lat = point.to_crs("EPSG:4326").iloc[0].coords[0]

    with _map_page(f"{server}/map/") as page:
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
        page.wait_for_function("() => document.getElementById('panel').dataset.name !== undefined")
        panel = page.locator("#panel")
        assert panel.get_attribute("data-layer") == "elementary"
        assert panel.get_attribute("data-name") == DISTRICT
        assert DISTRICT in panel.inner_text() and "小学校区" in panel.inner_text()
        page.click("#lang")
        assert "Elementary school districts" in panel.inner_text()
        page.screenshot(path=str(ARTIFACTS / "page_clicked_en.png"))


#: Counted pieces of split units (#d50000 at 60 %) over the district fill.
SPLIT_FILL = (211, 92, 82)


def _zipped_junior_high() -> bytes:
    import zipfile

    folder = DATA / "yaizu" / "boundaries" / "original_shapefiles" / "junior_high_school_districts"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # the city's own Shift_JIS shapefile
        for part in folder.glob("中学校区.*"):
            zf.write(part, part.name)
    return buf.getvalue()


@pytest.mark.realdata
@pytest.mark.skipif(not (DATA / "yaizu").is_dir(), reason="needs ../shared/data/yaizu (real data)")
def test_split_pieces_highlighted_and_plan_upload(server: str) -> None:
    import httpx
    import shapely

    report = httpx.get(f"{server}/api/v1/regions/yaizu/plans/junior_high/splits",
                       params={"pieces": True}, timeout=30).json()
    strong = [f for f in report["pieces_geojson"]["features"]
              if f["properties"]["counted"] and f["properties"]["split"]]
    assert strong, "the stored junior-high plan splits no elementary district"
    biggest = max(strong, key=lambda f: f["properties"]["area_m2"])
    lon, lat = shapely.geometry.shape(biggest["geometry"]).representative_point().coords[0]

    with _map_page(f"{server}/map/") as page:
        page.select_option("#plan-select", "junior_high")
        page.wait_for_function("() => document.getElementById('panel').dataset.layer === 'splits'",
                               timeout=30_000)
        split_units = page.locator("#panel").get_attribute("data-split-units").split(",")
        assert {"焼津東小学校", "焼津西小学校"} <= set(split_units)
        page.evaluate(f"window.kennai.map.jumpTo({{center: [{lon}, {lat}], zoom: 14}})")
        _wait_idle(page)
        x, y = page.evaluate(f"(() => {{ const p = window.kennai.map.project([{lon}, {lat}]);"
                             " return [Math.round(p.x), Math.round(p.y)]; })()")
        colour = _dominant(_pixels(page, "map_split_pieces.png"), x, y, half=20)
        assert _near(colour, SPLIT_FILL, tol=30), colour

        page.select_option("#plan-select", "")
        _wait_idle(page)
        cleared = _dominant(_pixels(page, "map_split_cleared.png"), x, y, half=20)
        assert not _near(cleared, SPLIT_FILL, tol=30), cleared
        page.set_input_files("#plan-file", files=[{
            "name": "中学校区.zip", "mimeType": "application/zip", "buffer": _zipped_junior_high()}])
        page.click("#upload-button")
        page.wait_for_function("() => document.getElementById('panel').dataset.name === '中学校区.zip'",
                               timeout=30_000)
        listed = page.locator("#split-units").inner_text()
        assert "焼津東小学校" in listed and "焼津西小学校" in listed
        _wait_idle(page)  # the uploaded plan's pieces are drawn like the stored plan's
        colour = _dominant(_pixels(page, "map_uploaded_pieces.png"), x, y, half=20)
        assert _near(colour, SPLIT_FILL, tol=30), colour
        page.screenshot(path=str(ARTIFACTS / "page_uploaded_plan.png"))


def test_district_coverage_gaps_and_walking_minutes(demo_server: str) -> None:
    import httpx
    import shapely

    api = f"{demo_server}/api/v1/regions/demo"
    rows = httpx.get(f"{api}/access/coverage", params={"layer": "elementary"}, timeout=30).json()
    name = max(rows, key=lambda r: r["population"])["name"]
    district = httpx.get(f"{api}/layers/elementary/districts/{name}", timeout=30).json()
    lon, lat = shapely.geometry.shape(district["features"][0]["geometry"]).representative_point().coords[0]

    with _map_page(f"{demo_server}/map/") as page:
        assert page.locator("#access-legend").inner_text().startswith("0〜5分")
        page.evaluate(f"window.kennai.map.jumpTo({{center: [{lon}, {lat}], zoom: 15}})")
        _wait_idle(page)
        x, y = page.evaluate(f"(() => {{ const p = window.kennai.map.project([{lon}, {lat}]);"
                             " return [Math.round(p.x), Math.round(p.y)]; })()")
        before = _dominant(_pixels(page, "demo_access_off.png"), x, y, half=20)
        page.click("#toggle-access")  # the walking-minutes raster tiles
        _wait_idle(page)
        after = _dominant(_pixels(page, "demo_access_on.png"), x, y, half=20)
        assert after != before, after

        box = page.locator("#map canvas").bounding_box()
        page.mouse.click(box["x"] + x + 25, box["y"] + y + 25)
        page.wait_for_selector("#coverage-table", timeout=30_000)
        panel = page.locator("#panel")
        assert panel.get_attribute("data-name") == name
        text = panel.inner_text()
        assert "徒歩圏カバー率" in text and "500m" in text and "65歳以上" in text
        expected = f"{100 * rows[[r['name'] for r in rows].index(name)]['coverage']['500m']:.1f}%"
        assert expected in text
        # Every share states its base: the demo's streets reach everyone, or the note says whom.
        row = rows[[r["name"] for r in rows].index(name)]
        base = page.locator("#coverage-base").inner_text()
        assert base == f"割合はネットワーク上の住民（{100 * row['base_share']:.1f}%）のうちの数字です"
        page.screenshot(path=str(ARTIFACTS / "demo_district_coverage.png"))
