"""The exported static site and the offline /docs, in a real headless Chromium, with every request
that leaves loopback refused.

The site is served by ``python -m http.server`` on a free loopback port (as a city would serve
it from any static host); the page must draw the map from its PMTiles, show a district's
coverage on a click and link the district's treasure map, which must answer 200.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from kennai.access import ACCESS_DIR, load_access, run_access_for_build
from kennai.region import Region
from kennai.site import export_site
from tests.conftest import needs_font

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "web" / "node_modules"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

needs_modules = pytest.mark.skipif(
    not (MODULES / "pmtiles" / "dist" / "pmtiles.js").is_file()
    or not (MODULES / "maplibre-gl" / "dist" / "maplibre-gl.js").is_file(),
    reason="needs maplibre-gl and pmtiles (npm --prefix web ci)")
_NO_BROWSER = ("needs Debian chromium at /usr/bin/chromium" if not CHROMIUM.is_file() else
               "needs playwright (pip install playwright)" if sync_playwright is None else None)
needs_browser = pytest.mark.skipif(_NO_BROWSER is not None, reason=_NO_BROWSER or "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if proc.poll() is not None:
                pytest.fail("the server did not start")
            time.sleep(0.1)
    pytest.fail("the server did not answer in 30 s")


@contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """``python -m http.server`` on loopback serving ``folder``; stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "--directory", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def offline_page(url: str, *, wait: str) -> Iterator[tuple[Any, list[str]]]:
    """Chromium on ``url`` with every request off loopback refused; yields (page, refused)."""
    refused: list[str] = []
    assert sync_playwright is not None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--enable-unsafe-swiftshader"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})

            def route(r: Any) -> None:
                host = urlparse(r.request.url).hostname
                if host in ("127.0.0.1", "localhost"):
                    r.continue_()
                else:
                    refused.append(r.request.url)
                    r.abort()
            page.route("**/*", route)
            page.goto(url)
            page.wait_for_function(wait, timeout=60_000)
            yield page, refused
        finally:
            browser.close()


def pixels(page: Any, name: str) -> Any:
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    png = page.locator("#map canvas").screenshot(path=str(ARTIFACTS / name))
    return Image.open(io.BytesIO(png)).convert("RGB")


def wait_idle(page: Any) -> None:
    page.evaluate("() => new Promise(r => { const m = window.kennai.map;"
                  " if (m.loaded() && !m.isMoving()) { m.once('idle', r); m.triggerRepaint(); }"
                  " else m.once('idle', r); })")


def exported(region: Region, out: Path) -> Path:
    """The region's site (its access results computed when the build has none)."""
    assert region.build_dir is not None
    if not (region.build_dir / ACCESS_DIR / "access.json").is_file():
        run_access_for_build(region, region.build_dir)
    report = export_site(region, out, web_modules=MODULES, results=load_access(region.build_dir),
                         max_mb=200)
    size = report.to_dict()
    (out.parent / "size.json").write_text(json.dumps(size))
    print(f"site of {region.name}: {size}")
    return out


def check_site(site: Path, region: Region, shot: str) -> None:
    """Serve ``site`` offline; the map draws, a district click shows coverage, its PDF answers."""
    layer = "elementary"
    name = str(region.layer(layer)["name"].iloc[0])
    point = region.layer(layer).loc[region.layer(layer)["name"] == name].geometry
    lon, lat = point.representative_point().to_crs("EPSG:4326").iloc[0].coords[0]
    with static_server(site) as url, offline_page(
            f"{url}/index.html", wait="() => window.kennai && (window.kennai.ready || window.kennai.error)"
    ) as (page, refused):
        assert page.evaluate("window.kennai.error") is None
        page.evaluate(f"window.kennai.map.jumpTo({{center: [{lon}, {lat}], zoom: 14}})")
        wait_idle(page)
        image = pixels(page, shot)
        assert len(set(image.get_flattened_data())) > 100, "the map canvas looks blank"
        x, y = page.evaluate(f"(() => {{ const p = window.kennai.map.project([{lon}, {lat}]);"
                             " return [Math.round(p.x), Math.round(p.y)]; })()")
        # The district fill, drawn from the PMTiles, covers the district's inner point.
        rendered = page.evaluate(f"window.kennai.map.queryRenderedFeatures([{x}, {y}],"
                                 " {layers: ['elementary-fill']}).map(f => f.properties.name)")
        assert name in rendered
        box = page.locator("#map canvas").bounding_box()
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_function("() => document.getElementById('coverage') !== null", timeout=30_000)
        panel = page.locator("#panel")
        assert panel.get_attribute("data-name") == name
        assert page.locator("#coverage-table tr").count() > 1
        href = page.locator("#district-pdf").get_attribute("href")
        assert href and href.endswith(".pdf")
        with urllib.request.urlopen(f"{url}/{href}") as res:
            assert res.status == 200 and res.read(5) == b"%PDF-"
        page_href = page.locator("#district-page").get_attribute("href")
        with urllib.request.urlopen(f"{url}/{page_href}") as res:
            assert res.status == 200 and name in res.read().decode("utf-8")
        assert not refused, refused


@pytest.fixture(scope="module")
def demo_site(demo: Region, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(demo, tmp_path_factory.mktemp("site") / "site")


@needs_modules
def test_site_holds_tables_tiles_and_maps(demo_site: Path, demo: Region) -> None:
    summary = json.loads((demo_site / "data" / "region.json").read_text(encoding="utf-8"))
    assert summary["name"] == demo.name and summary["legend"] is not None
    assert (demo_site / "tiles" / "region.pmtiles").read_bytes()[:7] == b"PMTiles"
    assert (demo_site / "tiles" / "access.pmtiles").read_bytes()[:7] == b"PMTiles"
    names = list(dict.fromkeys(demo.layer("elementary")["name"].astype(str)))
    index = json.loads((demo_site / "data" / "coverage" / "elementary.json").read_text("utf-8"))
    assert index["names"] == names and set(names) <= set(index["coverage"])
    assert (demo_site / "data" / "coverage" / "elementary.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    for i in range(1, len(names) + 1):
        assert (demo_site / "maps" / "elementary" / f"{i}.pdf").read_bytes()[:5] == b"%PDF-"
    assert (demo_site / "maps" / "elementary" / "atlas.pdf").is_file()
    for plan in demo.plan_names:
        assert (demo_site / "data" / "splits" / f"{plan}.json").is_file()
    # Nothing in the site reaches for the internet.
    for page in [demo_site / "index.html", *(demo_site / "districts").rglob("*.html")]:
        assert "https://" not in page.read_text(encoding="utf-8")


@needs_modules
def test_site_over_budget_is_refused(demo: Region, tmp_path: Path) -> None:
    from kennai.errors import OutputError

    assert demo.build_dir is not None
    with pytest.raises(OutputError, match="MB"):
        export_site(demo, tmp_path / "s", web_modules=MODULES, results=None, max_mb=0.5,
                    map_layers=())
    assert not (tmp_path / "s").exists()


@needs_modules
@needs_font
def test_site_maps_carry_qr_codes_to_their_pages(demo: Region, demo_site: Path,
                                                 tmp_path: Path) -> None:
    """With the address it will be served from, every map of the site gets a QR code (an image
    the maps without it lack); an address a QR code must not lead to is refused first."""
    from kennai.errors import TreasureMapError

    assert demo.build_dir is not None
    with pytest.raises(TreasureMapError, match="qr-base"):
        export_site(demo, tmp_path / "bad", web_modules=MODULES, results=None,
                    qr_base="javascript:alert(1)")
    assert not (tmp_path / "bad").exists()
    site = tmp_path / "qr"
    export_site(demo, site, web_modules=MODULES, results=load_access(demo.build_dir), maxzoom=12,
                qr_base="https://example.jp/kennai/")

    def images(pdf: Path) -> int:
        return len(re.findall(rb"/Subtype\s*/Image", pdf.read_bytes()))

    for pdf in sorted((site / "maps" / "elementary").glob("[0-9]*.pdf")):
        assert images(pdf) == images(demo_site / "maps" / "elementary" / pdf.name) + 1, pdf.name


@needs_modules
@needs_browser
def test_demo_site_offline_in_chromium(demo_site: Path, demo: Region) -> None:
    check_site(demo_site, demo, "site_demo.png")


@pytest.mark.realdata
@needs_modules
@needs_browser
def test_yaizu_site_offline_in_chromium(yaizu: Region, tmp_path_factory: pytest.TempPathFactory
                                        ) -> None:
    site = exported(yaizu, tmp_path_factory.mktemp("yaizu_site") / "site")
    check_site(site, yaizu, "site_yaizu.png")


@pytest.mark.skipif(not (MODULES / "swagger-ui-dist" / "swagger-ui-bundle.js").is_file(),
                    reason="needs swagger-ui-dist (npm --prefix web ci)")
@needs_browser
def test_docs_render_offline_in_chromium(demo: Region, tmp_path: Path) -> None:
    assert demo.build_dir is not None
    port = free_port()
    code = (f"from pathlib import Path; from api import create_app; from api.server import serve; "
            f"app = create_app({str(ROOT / 'pipelines' / 'demo.yaml')!r}, "
            f"build_dir=Path({str(demo.build_dir)!r}), register_path=Path({str(tmp_path / 'r.sqlite')!r}),"
            f" web_modules=Path({str(MODULES)!r})); "
            f"serve(app, host='127.0.0.1', port={port}, log_level='warning')")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path)
    try:
        wait_for_port(port, proc)
        with offline_page(f"http://127.0.0.1:{port}/docs",
                          wait="() => document.querySelectorAll('.opblock').length > 5") as (page, refused):
            ops = page.locator(".opblock-summary-path").all_inner_texts()
            assert any("/api/v1/regions" in op for op in ops)
            assert not refused, refused
            page.screenshot(path=str(ARTIFACTS / "docs_offline.png"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
