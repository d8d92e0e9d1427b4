"""The coordinator's workbench, driven in headless Chromium against a live server on loopback.

A place is added through the register form with its weekdays, hours and frequency; it reaches
the district's treasure-map list with its schedule, an edit changes the list and retiring it
takes it out, and its history shows all three. The district's coverage changes without a
restart. Suggestions, the plan comparison, the basemap and the legend are checked from the
page. With ``KENNAI_GUIDE_IMAGES=1`` the screenshots of docs/guide.ja.md are written to
docs/img/guide/ (otherwise to tests/artifacts/).
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from live_server import CHROMIUM, chromium_page, far_gap_spot, live_server, open_map

from kennai.build import build_region
from kennai.config import load_config
from kennai.region import open_region

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo.yaml"
DATA = ROOT.parent / "shared" / "data"
MAPLIBRE = ROOT / "web" / "node_modules" / "maplibre-gl" / "dist" / "maplibre-gl.js"
TOKEN = "workbench-token"
TABLE = ROOT / "data" / "boundaries" / "demo" / "plan_elementary.csv"
AREAS = ROOT / "data" / "boundaries" / "demo" / "plan_junior_high.geojson"
SHOTS = (ROOT / "docs" / "img" / "guide" if os.environ.get("KENNAI_GUIDE_IMAGES")
         else Path(__file__).resolve().parent / "artifacts")

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs Debian chromium at /usr/bin/chromium"),
    pytest.mark.skipif(sync_playwright is None, reason="needs playwright (pip install playwright)"),
    pytest.mark.skipif(not MAPLIBRE.is_file(), reason="needs MapLibre GL JS (npm --prefix web ci)"),
]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as res:
        body = res.read()
    return json.loads(body) if body[:1] in b"[{" else body.decode("utf-8")


@contextmanager
def _page(url: str) -> Iterator[Any]:
    with chromium_page(width=1280, height=860) as page:
        page.on("dialog", lambda d: d.accept("会場の閉鎖"))
        open_map(page, url)
        yield page


def _click_at(page: Any, lon: float, lat: float) -> None:
    x, y = page.evaluate(f"(() => {{ const p = window.kennai.map.project([{lon}, {lat}]);"
                         f" return [p.x, p.y]; }})()")
    box = page.locator("#map canvas").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def _idle(page: Any) -> None:
    page.evaluate("() => new Promise(r => { const m = window.kennai.map;"
                  " if (m.loaded() && !m.isMoving()) { m.once('idle', r); m.triggerRepaint(); }"
                  " else m.once('idle', r); })")


_DONE = "Number(document.getElementById('update-status').dataset.done || 0)"


def _updates(page: Any) -> int:
    """How many writes the page has seen rebuilt so far (the banner's ``data-done``)."""
    return int(page.evaluate(f"() => {_DONE}"))


def _wait_updated(page: Any, seen: int) -> None:
    """Wait until the write made after ``seen`` updates is rebuilt and served; an earlier
    update's 「更新しました」 must not count (it did, and an edit was checked too early)."""
    page.wait_for_function(f"() => {_DONE} > {seen}", timeout=180_000)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The demo served live; tests open the build's current version themselves (edits rebuild
    it, and old versions are pruned)."""
    tmp = tmp_path_factory.mktemp("workbench")
    build_region(load_config(DEMO), build_dir=tmp / "b")
    with live_server(DEMO, tmp / "b", tmp / "r.sqlite", token=TOKEN, cwd=tmp) as url:
        yield url, tmp / "b"


def _treasure_list(url: str, district: str) -> str:
    q = urllib.parse.urlencode({"district": district, "format": "html"})
    return _get(f"{url}/api/v1/regions/demo/treasure-map?{q}")


def test_a_place_added_edited_and_retired_in_the_browser(demo: tuple[str, Path]) -> None:
    url, build = demo
    region = open_region(load_config(DEMO), build_dir=build)
    district, spot = far_gap_spot(region.build_dir)
    cov_url = (f"{url}/api/v1/regions/demo/access/coverage?"
               + urllib.parse.urlencode({"layer": "elementary", "district": district}))
    before = _get(cov_url)[0]["coverage"]["500m"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with _page(f"{url}/map/") as page:
        page.evaluate(f"window.kennai.map.jumpTo({{center: [{spot.x}, {spot.y}], zoom: 15}})")
        _idle(page)
        page.fill("#token", TOKEN)
        page.fill("#who", "コーディネーター")
        page.click("#add-place")
        _click_at(page, spot.x, spot.y)
        page.fill("#place-form input[name=name]", "ひだまりサロン")
        page.fill("#place-form input[name=category]", "サロン")
        for day in ("火", "金"):
            page.check(f"#weekdays input[value={day}]")
        page.fill("#place-form input[name=start_time]", "09:30")
        page.fill("#place-form input[name=end_time]", "11:30")
        page.select_option("#place-form select[name=frequency]", "週1回以上")
        page.fill("#place-form input[name=fee]", "100円")
        page.screenshot(path=str(SHOTS / "02-register.png"))
        seen = _updates(page)
        page.dblclick("#place-save")  # a double click stores one place
        _wait_updated(page, seen)
        places = _get(f"{url}/api/v1/regions/demo/register/places")["features"]
        assert [f["properties"]["name"] for f in places] == ["ひだまりサロン"]
        listed = _treasure_list(url, district)
        assert "ひだまりサロン" in listed and "週1回以上 火,金 09:30～11:30" in listed
        after = _get(cov_url)[0]["coverage"]["500m"]
        assert after > before  # no restart: the served coverage follows the register

        _idle(page)
        _click_at(page, spot.x, spot.y)
        page.wait_for_selector("#place-edit")
        page.click("#place-edit")
        page.fill("#place-form input[name=end_time]", "12:00")
        seen = _updates(page)
        page.click("#place-save")
        _wait_updated(page, seen)
        assert "週1回以上 火,金 09:30～12:00" in _treasure_list(url, district)

        _idle(page)
        _click_at(page, spot.x, spot.y)
        page.wait_for_selector("#place-history li")
        assert page.locator("#place-history li").count() == 2
        seen = _updates(page)
        page.click("#place-retire")
        _wait_updated(page, seen)
        assert "ひだまりサロン" not in _treasure_list(url, district)
        pid = places[0]["properties"]["place_id"]
        history = _get(f"{url}/api/v1/regions/demo/register/places/{pid}/history")
        assert [e["action"] for e in history] == ["add", "edit", "retire"]


def test_suggestions_comparison_basemap_and_legend(demo: tuple[str, Path]) -> None:
    url, build = demo
    region = open_region(load_config(DEMO), build_dir=build)
    districts = region.layer("elementary").to_crs(4326)
    centre = districts.geometry.iloc[0].representative_point()
    with _page(f"{url}/map/") as page:
        names = page.evaluate("window.kennai.map.queryRenderedFeatures({layers: ['place-names']})"
                              ".map(f => f.properties.name)")
        assert names, "place names drawn"
        water = page.evaluate("window.kennai.map.queryRenderedFeatures({layers: ['water-fill']})"
                              ".length")
        assert water > 0, "water drawn"
        assert page.locator("#legend div").count() >= 6
        page.screenshot(path=str(SHOTS / "01-map.png"))
        _click_at(page, centre.x, centre.y)
        page.wait_for_selector("#coverage-table")
        page.check("#weekly")
        page.wait_for_selector("#coverage-table")
        page.screenshot(path=str(SHOTS / "03-coverage.png"))
        _click_at(page, centre.x, centre.y)
        page.wait_for_selector("#coverage-table")
        page.click("#suggest-button")
        page.wait_for_selector("#suggestions li", timeout=60_000)
        assert page.locator("#suggestions li").count() >= 1
        page.screenshot(path=str(SHOTS / "04-suggestions.png"))
        # Two plans uploaded and kept through the page (an assignment table and polygons),
        # then compared side by side.
        page.fill("#token", TOKEN)
        page.fill("#who", "担当")
        for name, title, path, column in (("up-table", "割当表の案", TABLE, ""),
                                          ("up-areas", "面の案", AREAS, "area")):
            page.set_input_files("#plan-file", str(path))
            page.fill("#name-column", column)
            page.fill("#plan-name", name)
            page.fill("#plan-title", title)
            page.click("#save-plan")
            page.wait_for_function(f"() => document.getElementById('upload-status').textContent"
                                   f".includes('{name}')")
        page.select_option("#compare-a", "up-table")
        page.select_option("#compare-b", "up-areas")
        page.click("#compare-button")
        page.wait_for_selector("#compare-table, #compare-result .error")
        assert page.locator("#compare-result .error").count() == 0, \
            page.locator("#compare-result").inner_text()
        header = page.locator("#compare-table tr").first.inner_text()
        assert "割当表の案" in header and "面の案" in header  # the plans' titles, not their names
        cells = page.locator("#compare-table tr").nth(2).inner_text()
        assert "/" in cells  # units split under each plan
        assert page.evaluate("window.kennai.map.getLayoutProperty('compare-line', 'visibility')") \
            == "visible"
        _idle(page)
        page.screenshot(path=str(SHOTS / "05-compare.png"))


@pytest.mark.realdata
@pytest.mark.skipif(not (DATA / "yaizu").is_dir(), reason="needs ../shared/data/yaizu (real data)")
def test_yaizu_map_names_its_towns(tmp_path: Path) -> None:
    config = ROOT / "pipelines" / "yaizu.yaml"
    build_region(load_config(config), build_dir=tmp_path / "b")
    with live_server(config, tmp_path / "b", tmp_path / "r.sqlite", cwd=tmp_path) as url, \
            _page(f"{url}/map/") as page:
        page.evaluate("window.kennai.map.jumpTo({center: [138.318, 34.866], zoom: 14})")
        _idle(page)
        names = page.evaluate("window.kennai.map.queryRenderedFeatures({layers: ['place-names']})"
                              ".map(f => f.properties.name)")
        assert any("本町" in n or "栄町" in n for n in names), names
