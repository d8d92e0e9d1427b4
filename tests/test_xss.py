"""Stored XSS: script payloads in every text field, every HTML output rendered in Chromium.

A small town is built whose region title, district names, place names, categories and notes
are script payloads; a plan with payload area names is uploaded and a place with payload text
is added through the API. Each HTML kennai writes or serves is then opened in headless
Chromium: the web map (a district clicked, the plan uploaded), the HTML treasure map (from the
CLI and from ``/treasure-map?format=html``, a popup opened), the 地区カルテ (CLI and API), the
split report, the exported site (its map page and a district page) and ``/docs``.

On every page: no payload runs (each one would set ``window.__xss`` or open a dialog), no
Content-Security-Policy violation is reported (nothing injected, and the page's own scripts
are the ones its policy allows), and the payload text is on the page as text. Every HTML
answer carries the security headers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from kennai.build import build_region
from kennai.config import load_config
from tests.live_server import live_server
from tests.test_site import needs_browser, needs_modules, static_server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "xss-token-not-secret"
pytestmark = [needs_browser, needs_modules]

#: Each payload, if it ran, would set window.__xss to its number or open a dialog.
TITLE = "</title><script>window.__xss=1</script>町"
WEST = '西"><img src=x onerror="window.__xss=2">小学校'
EAST = "東<script>window.__xss=3</script>小学校"
JUNIOR = "港</script><script>window.__xss=4</script>中学校"
PLACE = "${window.__xss=5}サロン`);window.__xss=6;(`"
PLACE_2 = "'-alert(7)-'<svg onload=alert(8)>体操"
CATEGORY = "<img src=x onerror=alert(9)>"
NOTE = "javascript:window.__xss=10"
AREA = "<iframe src=javascript:window.__xss=11></iframe>圏域"
REGISTERED = '<script>window.__xss=12</script>"登録"'
PAYLOAD_FIELDS = [TITLE, WEST, EAST, JUNIOR, PLACE, PLACE_2, CATEGORY, NOTE, AREA, REGISTERED]

_HOOKS = """
window.__xss = 0; window.__csp = []; window.__dialogs = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
"""


def _square(west: float, south: float, size: float) -> list[list[list[float]]]:
    return [[[west, south], [west + size, south], [west + size, south + size],
             [west, south + size], [west, south]]]


def _collection(features: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": g} for p, g in features]},
        ensure_ascii=False)


def _plan() -> bytes:
    """Two areas whose border cuts the west district, most of it in the payload-named one."""
    return _collection([
        ({"area": AREA}, {"type": "Polygon", "coordinates": [[
            [138.27, 34.84], [138.2775, 34.84], [138.2775, 34.85], [138.27, 34.85],
            [138.27, 34.84]]]}),
        ({"area": "二圏域"}, {"type": "Polygon", "coordinates": [[
            [138.2775, 34.84], [138.29, 34.84], [138.29, 34.85], [138.2775, 34.85],
            [138.2775, 34.84]]]}),
    ]).encode()


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The payload town, built where the CLI (``KENNAI_BUILD_ROOT``) finds it."""
    folder = tmp_path_factory.mktemp("xss")
    (folder / "elementary.geojson").write_text(_collection([
        ({"name": WEST}, {"type": "Polygon", "coordinates": _square(138.27, 34.84, 0.01)}),
        ({"name": EAST}, {"type": "Polygon", "coordinates": _square(138.28, 34.84, 0.01)}),
    ]), encoding="utf-8")
    (folder / "junior_high.geojson").write_text(_collection([
        ({"name": JUNIOR}, {"type": "Polygon", "coordinates": [[
            [138.27, 34.84], [138.29, 34.84], [138.29, 34.85], [138.27, 34.85], [138.27, 34.84]]]}),
    ]), encoding="utf-8")
    (folder / "population.geojson").write_text(_collection([
        ({"KEY_CODE": f"2299900100{i}", "S_NAME": name, "JINKO": 300 + i, "SETAI": 120,
          "JINKO_65": 90 + i}, {"type": "Polygon", "coordinates": _square(138.27 + i * 0.005,
                                                                           34.84, 0.005)})
        for i, name in enumerate(["一丁目", PLACE_2, "三丁目", "四丁目"])]), encoding="utf-8")
    (folder / "places.geojson").write_text(_collection([
        ({"name": PLACE, "category": CATEGORY, "description": NOTE, "address": NOTE},
         {"type": "Point", "coordinates": [138.275, 34.845]}),
        ({"name": PLACE_2, "category": "体操", "description": NOTE},
         {"type": "Point", "coordinates": [138.276, 34.846]}),
        ({"name": "公民館体操", "category": "体操"}, {"type": "Point", "coordinates": [138.285, 34.845]}),
    ]), encoding="utf-8")
    config = folder / "xss.yaml"
    config.write_text(
        f"name: xss\ntitle: {json.dumps(TITLE, ensure_ascii=False)}\ntitle_en: Payload town\n"
        "layers:\n"
        "  elementary: {path: elementary.geojson, name_column: name}\n"
        "  junior_high: {path: junior_high.geojson, name_column: name}\n"
        "  places: {path: places.geojson, category_column: category}\n"
        "  population: {path: population.geojson, population_column: JINKO,"
        " population_65plus_column: JINKO_65}\n"
        "plans:\n  - {name: jh, title: 中学校区案, from_layer: junior_high}\n", encoding="utf-8")
    builds = folder / "builds"
    build_region(load_config(config), build_dir=builds / "xss")
    return {"config": config, "builds": builds, "build": builds / "xss", "folder": folder}


def _cli(town: dict[str, Path], *args: str) -> None:
    env = dict(os.environ, KENNAI_BUILD_ROOT=str(town["builds"]),
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    done = subprocess.run([sys.executable, "-m", "kennai", *args], env=env, cwd=town["folder"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def server(town: dict[str, Path]) -> Iterator[str]:
    # The register where a build looks for it, so the next build reads the payload place.
    with live_server(town["config"], town["build"], town["builds"] / "xss.register.sqlite",
                     token=TOKEN, open_uploads=True) as url:
        west, south = 138.2755, 34.8455
        res = httpx.post(f"{url}/api/v1/regions/xss/register/places", headers={
            "Authorization": f"Bearer {TOKEN}"}, json={
            "name": REGISTERED, "category": CATEGORY, "schedule_note": PLACE, "description": NOTE,
            "lon": west, "lat": south, "by": EAST}, timeout=30)
        assert res.status_code == 201, res.text
        yield url


@contextmanager
def _browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--enable-unsafe-swiftshader"])
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def _page(browser: Any, url: str, *, wait: str | None = None) -> Iterator[Any]:
    """``url`` with the payload hooks; on leaving, asserts nothing ran and nothing was blocked."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.add_init_script(_HOOKS)
    page.goto(url)
    if wait:
        page.wait_for_function(wait, timeout=60_000)
    try:
        yield page
        page.wait_for_timeout(300)  # an onerror of a broken image fires after load
        ran = page.evaluate("window.__xss")
        blocked = page.evaluate("window.__csp")
        assert ran == 0, f"{url}: payload {ran} ran"
        assert not dialogs, f"{url}: dialogs {dialogs}"
        assert not blocked, f"{url}: policy violations {blocked}"
    finally:
        page.close()


def _shows(page: Any, *texts: str) -> None:
    shown = page.inner_text("body")
    for text in texts:
        assert text in shown, f"{text!r} is not shown as text"


def _wait_current(server: str) -> None:
    """Until the server has rebuilt after the API write and picked up the CLI's build."""
    deadline = time.monotonic() + 180
    while httpx.get(f"{server}/api/v1/status", timeout=30).json()["updating"]:
        assert time.monotonic() < deadline, "the server did not finish rebuilding"
        time.sleep(0.3)
    time.sleep(1.2)  # the build pointer is looked at about once a second
    httpx.get(f"{server}/api/v1/regions", timeout=30)


def _headers_ok(url: str) -> None:
    res = httpx.get(url, timeout=60)
    assert res.status_code == 200, res.text[:300]
    assert res.headers["content-type"].startswith("text/html")
    policy = res.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy.split(
        "script-src")[1].split(";")[0]
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["x-frame-options"] == "DENY"


def test_web_map_and_docs(server: str) -> None:
    for path in ("/map/", "/docs"):
        _headers_ok(server + path)
    with _browser() as browser:
        with _page(browser, f"{server}/map/",
                   wait="() => window.kennai && (window.kennai.ready || window.kennai.error)") as page:
            assert page.evaluate("window.kennai.error") is None
            _shows(page, TITLE)
            # A district clicked: its payload name in the panel, as text.
            page.evaluate("window.kennai.map.jumpTo({center: [138.2725, 34.8475], zoom: 15})")
            page.evaluate("() => new Promise(r => { const m = window.kennai.map;"
                          " m.once('idle', r); m.triggerRepaint(); })")
            box = page.locator("#map canvas").bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_function("() => document.getElementById('panel').dataset.name",
                                   timeout=30_000)
            name = page.locator("#panel").get_attribute("data-name")
            assert name in (WEST, PLACE, PLACE_2, REGISTERED), name
            _shows(page, name)
            # The plan upload: split units and the payload area named in the report, as text.
            page.set_input_files("#plan-file", files=[{
                "name": "plan.geojson", "mimeType": "application/geo+json", "buffer": _plan()}])
            page.fill("#name-column", "area")
            page.click("#upload-button")
            page.wait_for_function("() => document.getElementById('panel').dataset.layer === 'splits'",
                                   timeout=60_000)
            _shows(page, WEST, AREA)
        with _page(browser, f"{server}/docs", wait="() => document.querySelector('.swagger-ui .title')"
                   ) as page:
            page.wait_for_selector(".opblock", timeout=30_000)  # the operations are listed
            _shows(page, TITLE)
            assert TITLE in page.title()


def test_treasure_map_karte_and_report(server: str, town: dict[str, Path]) -> None:
    api = f"{server}/api/v1/regions/xss"
    out = town["folder"] / "out"
    out.mkdir(exist_ok=True)
    _cli(town, "build", str(town["config"]))  # picks up the place added through the API
    _cli(town, "treasure-map", str(town["config"]), "--district", WEST, "-o", str(out / "map.html"))
    _cli(town, "karte", str(town["config"]), "--all", "-o", str(out / "karte.html"))
    _cli(town, "splits", str(town["config"]), "--plan", "jh", "--report", str(out / "report.html"))
    served = {
        "treasure": f"{api}/treasure-map?district={quote(WEST)}&format=html",
        "karte": f"{api}/karte?format=html",
    }
    _wait_current(server)  # the server follows the register and the build the CLI just made
    for url in served.values():
        _headers_ok(url)
    with _browser() as browser:
        for url, registered in ((served["treasure"], True), ((out / "map.html").as_uri(), True)):
            with _page(browser, url, wait="() => document.querySelector('.leaflet-marker-icon')"
                       ) as page:
                _shows(page, TITLE, WEST, PLACE, PLACE_2, *([REGISTERED] if registered else []))
                assert page.locator(".leaflet-marker-icon").count() == 2 + registered
                row = page.locator("#kn-panel li", has_text=PLACE)
                row.click()  # the list opens the marker's popup: name, category, note as text
                page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
                popup = page.inner_text(".leaflet-popup-content")
                assert PLACE in popup and CATEGORY in popup and NOTE in popup, popup
                for i in range(page.locator(".leaflet-marker-icon").count()):  # the tooltips
                    page.locator(".leaflet-marker-icon").nth(i).dispatch_event("mouseover")
                tips = page.locator(".leaflet-tooltip").all_inner_texts()
                assert any(PLACE in tip for tip in tips), tips
        for url in (served["karte"], (out / "karte.html").as_uri()):
            with _page(browser, url) as page:
                _shows(page, WEST, EAST, PLACE)
        with _page(browser, (out / "report.html").as_uri()) as page:
            _shows(page, WEST)
    # A javascript: address is refused as a QR base, from the API and from the CLI.
    refused = httpx.get(f"{api}/treasure-map", params={
        "district": WEST, "format": "html", "qr_base": "javascript:alert(1)//"}, timeout=60)
    assert refused.status_code == 422, refused.text


def test_exported_site(town: dict[str, Path]) -> None:
    site = town["folder"] / "site"
    _cli(town, "export-site", str(town["config"]), "-o", str(site), "--maps", "none")
    pages = [site / "index.html", *sorted((site / "districts").rglob("*.html"))]
    assert len(pages) >= 4
    for page_file in pages:
        assert '<meta http-equiv="Content-Security-Policy"' in page_file.read_text(encoding="utf-8")
    with static_server(site) as url, _browser() as browser:
        with _page(browser, f"{url}/index.html",
                   wait="() => window.kennai && (window.kennai.ready || window.kennai.error)") as page:
            assert page.evaluate("window.kennai.error") is None
            _shows(page, TITLE)
        for district in sorted((site / "districts" / "elementary").glob("*.html")):
            with _page(browser, f"{url}/districts/elementary/{district.name}") as page:
                _shows(page, TITLE)
                assert page.locator("h1").inner_text() in (WEST, EAST)
