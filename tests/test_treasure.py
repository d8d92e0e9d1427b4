"""宝物マップ: numbering, place sets, page content (pixels), fonts, offline interactive twin."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pytest
import shapely
from pyproj import CRS

from kennai.config import RegionConfig
from kennai.errors import NotFoundError, TreasureMapError
from kennai.maps.content import (
    OSM_ATTRIBUTION,
    address_prefix,
    attributions,
    category_styles,
    district_places,
    order_places,
    region_category_styles,
)
from kennai.maps.fonts import japanese_font
from kennai.maps.interactive import render_interactive_html, write_interactive_map
from kennai.maps.layout import char_em, spread_labels, wrap_text
from kennai.maps.treasure import render_treasure_map, write_atlas, write_treasure_map
from kennai.region import Region
from kennai.roads import road_class
from tests.conftest import needs_font

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ARTIFACTS = REPO / "tests" / "artifacts"
CRS_JP = CRS.from_epsg(6676)




# --------------------------------------------------------------------------- pure helpers


def test_order_places_is_a_short_tour_from_the_north_west() -> None:
    rng = np.random.default_rng(3)
    line = np.column_stack([np.arange(12) * 100.0, -np.arange(12) * 30.0])
    order = order_places(line[rng.permutation(12)])
    assert sorted(order.tolist()) == list(range(12))
    xy = line[rng.permutation(12)]
    toured = xy[order_places(xy)]
    assert np.all(np.diff(toured[:, 0]) > 0), "points on a line are numbered along the line"
    pts = rng.uniform(0, 1000, (25, 2))
    tour = pts[order_places(pts)]
    length = np.hypot(*np.diff(tour, axis=0).T).sum()
    assert length < np.hypot(*np.diff(pts, axis=0).T).sum()  # shorter than the input order
    assert order_places(np.empty((0, 2))).tolist() == []


def test_spread_labels_separates_close_and_coincident_markers_only() -> None:
    anchors = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 0.0], [500.0, 500.0], [1.0, 1.0]])
    pos = spread_labels(anchors, min_distance=20.0)
    for i, j in itertools.combinations(range(len(pos)), 2):
        assert np.hypot(*(pos[i] - pos[j])) >= 20.0 * 0.98
    assert np.allclose(pos[3], anchors[3]), "a lone marker stays on its place"
    assert np.allclose(spread_labels(anchors, min_distance=20.0), pos), "deterministic"


def test_wrap_text_fits_width_keeps_numbers_and_text() -> None:
    text = "利右衛門地区コミュニティ防災センター 高新田2172-1 【開館時間】9:00～21:30"
    for width in (4.0, 6.5, 9.0, 15.0):
        lines = wrap_text(text, width)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        for line in lines:
            assert sum(char_em(c) for c in line) <= width + 1e-9 or len(line) <= 8
    assert "2172-1" in wrap_text("高新田2172-1", 5.5)
    assert not any(line.startswith(("）", "、", "ー")) for line in wrap_text("ああ（いい）、ー" * 4, 5))


def test_address_prefix_and_styles() -> None:
    assert address_prefix(["静岡県焼津市本町5-6-1", "静岡県焼津市小川2724-1"]) == "静岡県焼津市"
    assert address_prefix(["みなと町本町4-1", "みなと町栄町1-9"]) == "みなと町"
    assert address_prefix(["東京都", ""]) == ""
    styles = category_styles(["サロン", "体操", "サロン", "カフェ"])
    assert list(styles) == ["サロン", "体操", "カフェ"]
    assert len({(s.colour, s.marker) for s in styles.values()}) == 3
    assert road_class(np.array(["primary", "residential", "footway", "tertiary"])).tolist() == [
        "major", "minor", "path", "medium"]
    # One table for the tiles and the print maps, in OSM's hierarchy; unknown values are streets.
    assert road_class(["secondary", "secondary_link", "connector", None, "steps"]).tolist() == [
        "major", "major", "minor", "minor", "path"]


def test_map_request_checks_itself_and_reads_the_format_from_the_file_name() -> None:
    from kennai.maps.request import TreasureMapRequest, file_format

    assert [file_format(Path(f"a.{s}")) for s in ("pdf", "PNG", "svg", "html", "htm")] == [
        "pdf", "png", "svg", "html", "html"]
    assert file_format(Path("all.pdf"), atlas=True) == "pdf"
    assert file_format(Path("all.html"), atlas=True) == "html"  # an index and a page each
    for name, atlas in (("a.jpg", False), ("all.png", True), ("all.svg", True)):
        with pytest.raises(TreasureMapError):
            file_format(Path(name), atlas=atlas)
    req = TreasureMapRequest(district="東小学校", fmt="html", walk_minutes=10)
    assert req.needs_access and req.uses_access
    assert not TreasureMapRequest(district="東小学校").uses_access
    assert TreasureMapRequest(district="東小学校", fmt="html").uses_access
    for bad in ({}, {"district": "東", "fmt": "gif"}, {"all_districts": True, "fmt": "svg"},
                {"district": "東", "paper": "B5"}, {"district": "東", "orientation": "up"},
                {"district": "東", "walk_minutes": 0}):
        with pytest.raises(TreasureMapError):
            TreasureMapRequest(**bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- a small region


def _toy_region(tmp_path: Path) -> Region:
    """Two square districts, places inside, on the shared edge, coincident, and outside."""
    cfg = RegionConfig(
        name="toy", title="テスト町", attribution=["出典：テスト町オープンデータ"],
        layers={"elementary": {"path": str(tmp_path / "e.geojson"), "title": "小学校区"},
                "places": {"path": str(tmp_path / "p.csv")},
                "network": {"path": str(tmp_path / "town.osm")}})
    districts = gpd.GeoDataFrame({"name": ["東小学校", "西小学校"]},
                                 geometry=[shapely.box(0, 0, 1000, 1000),
                                           shapely.box(-1000, 0, 0, 1000)], crs=CRS_JP)
    xy = [(500, 500), (510, 505), (510, 505), (900, 100), (200, 800), (-500, 500), (3000, 3000)]
    cats = ["サロン", "体操教室", "サロン", "カフェ", "サロン", "サロン", "カフェ"]
    places = gpd.GeoDataFrame({
        "place_id": [f"p{i}" for i in range(len(xy))],
        "name": [f"場所{i}いきいきサロン" for i in range(len(xy))],
        "category": cats, "address": [f"テスト町本町{i}-1" for i in range(len(xy))],
        "weekdays": ["月"] * len(xy), "start_time": ["10:00"] * len(xy),
        "end_time": ["12:00"] * len(xy), "schedule_note": ["毎週"] * len(xy),
        "description": [""] * len(xy)}, geometry=shapely.points(xy), crs=CRS_JP)
    return Region(cfg, CRS_JP, [], {}, _layers={"elementary": districts, "places": places})


def test_district_places_numbered_inside_only(tmp_path: Path) -> None:
    region = _toy_region(tmp_path)
    east = district_places(region, layer="elementary", district="東小学校")
    assert set(east["place_id"]) == {"p0", "p1", "p2", "p3", "p4"}
    assert east["number"].tolist() == list(range(1, 6))
    west = district_places(region, layer="elementary", district="西小学校")
    assert set(west["place_id"]) == {"p5"}
    only = district_places(region, layer="elementary", district="東小学校", categories=["カフェ"])
    assert only["place_id"].tolist() == ["p3"]
    with pytest.raises(NotFoundError):
        district_places(region, layer="elementary", district="ない小学校")
    with pytest.raises(NotFoundError):
        district_places(region, layer="elementary", district="東小学校", categories=["ない種別"])
    with pytest.raises(NotFoundError):
        district_places(region, layer="places", district="東小学校")


def test_attributions_credit_osm_once(tmp_path: Path) -> None:
    credits = attributions(_toy_region(tmp_path))
    assert credits == ["出典：テスト町オープンデータ", OSM_ATTRIBUTION]


def _png_pixels(path: Path) -> np.ndarray:
    return mpl.image.imread(path)[..., :3]


def _colour_share(img: np.ndarray, colour: str, tol: float = 0.08) -> float:
    rgb = np.array(mpl.colors.to_rgb(colour))
    return float((np.abs(img - rgb).max(axis=-1) < tol).mean())


@needs_font
def test_page_is_drawn_with_markers_outline_and_shading(tmp_path: Path) -> None:
    region = _toy_region(tmp_path)
    shade = gpd.GeoDataFrame(geometry=[shapely.box(100, 100, 600, 600)], crs=CRS_JP)
    out = write_treasure_map(region, tmp_path / "east.png", layer="elementary", district="東小学校",
                             shade=shade, shade_label="徒歩10分圏", dpi=60)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    img = _png_pixels(out)
    assert img.std() > 0.05, "the page is not blank"
    styles = region_category_styles(region)
    for cat in ("サロン", "体操教室", "カフェ"):
        assert _colour_share(img, styles[cat].colour) > 1e-4, cat
    assert _colour_share(img, "#B2182B") > 1e-3, "district outline"
    assert _colour_share(img, "#4DAF4A", tol=0.3) > 1e-3, "shading"
    fig = render_treasure_map(region, layer="elementary", district="東小学校", paper="A3",
                              orientation="portrait")
    assert tuple(np.round(fig.get_size_inches() * 25.4)) == (297, 420)
    with pytest.raises(TreasureMapError):
        write_treasure_map(region, tmp_path / "east.jpg", layer="elementary", district="東小学校")
    with pytest.raises(TreasureMapError):
        render_treasure_map(region, layer="elementary", district="東小学校", paper="B5")
    assert not (tmp_path / "east.jpg").exists()


@needs_font
def test_pdf_embeds_the_japanese_font_and_atlas_has_a_page_per_district(tmp_path: Path) -> None:
    region = _toy_region(tmp_path)
    pdf = write_atlas(region, tmp_path / "atlas.pdf", layer="elementary",
                      title="{district}のたからもの")
    data = pdf.read_bytes()
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") + \
        len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 2
    font = japanese_font()
    assert font.name.replace(" ", "").encode() in data
    assert b"/FontFile2" in data or b"/CharProcs" in data, "the font is embedded"
    if shutil.which("pdffonts"):
        listing = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                                 check=True).stdout
        rows = [r for r in listing.splitlines()[2:] if font.name.replace(" ", "") in r]
        assert rows and all(" yes " in r for r in rows)
    with pytest.raises(TreasureMapError):
        write_atlas(region, tmp_path / "atlas.png", layer="elementary")


def test_interactive_page_has_no_external_assets(tmp_path: Path) -> None:
    region = _toy_region(tmp_path)
    page = render_interactive_html(region, layer="elementary", district="東小学校",
                                   minutes={"p0": 4.2})
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", page)
    assert page.count("data-kennai-number=") == 5
    assert "約4 分" in page and "L.map(" in page


def _chromium_markers(html_path: Path) -> tuple[list[str], list[str], str]:
    """Open a page in headless Chromium with every non-file request blocked."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    blocked: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox", "--enable-unsafe-swiftshader"])
        page = browser.new_page(viewport={"width": 1000, "height": 700})

        def route(r: object) -> None:
            if r.request.url.startswith("file:"):  # type: ignore[attr-defined]
                r.continue_()  # type: ignore[attr-defined]
            else:
                blocked.append(r.request.url)  # type: ignore[attr-defined]
                r.abort()  # type: ignore[attr-defined]

        page.route("**/*", route)
        page.goto(html_path.resolve().as_uri())
        page.wait_for_selector(".leaflet-marker-pane [data-kennai-number]", timeout=15000)
        numbers = page.eval_on_selector_all(".leaflet-marker-pane [data-kennai-number]",
                                            "els => els.map(e => e.textContent)")
        page.click("#kn-panel li:nth-child(1)")
        page.wait_for_selector(".leaflet-popup-content", timeout=5000)
        popup = page.inner_text(".leaflet-popup-content")
        page.wait_for_timeout(400)  # let the popup fade in before the screenshot
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{html_path.stem}_browser.png"))
        browser.close()
    return numbers, blocked, popup


def test_interactive_page_shows_markers_offline_in_chromium(tmp_path: Path) -> None:
    region = _toy_region(tmp_path)
    out = write_interactive_map(region, tmp_path / "toy.html", layer="elementary",
                                district="東小学校", minutes={"p0": 4.2})
    numbers, blocked, popup = _chromium_markers(out)
    assert sorted(numbers, key=int) == ["1", "2", "3", "4", "5"]
    assert blocked == []
    places = district_places(region, layer="elementary", district="東小学校")
    assert popup.startswith(f"1. {places['name'].iloc[0]}")


# --------------------------------------------------------------------------- real data


def _built(config: str, data_dir: Path) -> Region:
    from kennai.build import build_region
    from kennai.config import load_config

    if not data_dir.exists():
        pytest.skip(f"{data_dir} is absent")
    region, _ = build_region(load_config(REPO / "pipelines" / config),
                             build_dir=REPO / "build" / Path(config).stem)
    return region


def _pdf_to_png(pdf: Path, png: Path) -> np.ndarray:
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm is not installed (apt-get install -y poppler-utils)")
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-singlefile", str(pdf),
                    str(png.with_suffix(""))], check=True)
    return _png_pixels(png)


@pytest.mark.realdata
@needs_font
@pytest.mark.skipif(not (SHARED / "yaizu").exists(), reason="../shared/data/yaizu is absent")
def test_yaizu_every_district_lists_exactly_its_places() -> None:
    region = _built("yaizu.yaml", SHARED / "yaizu")
    districts = region.layer("elementary")
    places = region.layer("places")
    assert len(districts) == 13
    seen: list[str] = []
    for name, shape in zip(districts["name"], districts.geometry, strict=True):
        listed = district_places(region, layer="elementary", district=name)
        expected = set(places["place_id"][shapely.covered_by(places.geometry.values, shape)])
        assert set(listed["place_id"]) == expected, name
        assert listed["number"].tolist() == list(range(1, len(listed) + 1))
        seen += listed["place_id"].tolist()
    inside_any = shapely.covered_by(places.geometry.values, shapely.union_all(districts.geometry))
    assert sorted(seen) == sorted(places["place_id"][inside_any]) and len(seen) == 28


@pytest.mark.realdata
@needs_font
@pytest.mark.skipif(not (SHARED / "yaizu").exists(), reason="../shared/data/yaizu is absent")
def test_yaizu_pdf_page_shows_basemap_outline_and_markers() -> None:
    region = _built("yaizu.yaml", SHARED / "yaizu")
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = write_treasure_map(region, ARTIFACTS / "yaizu_焼津東小学校.pdf", layer="elementary",
                             district="焼津東小学校")
    img = _pdf_to_png(pdf, ARTIFACTS / "yaizu_焼津東小学校.png")
    assert img.std() > 0.05
    styles = region_category_styles(region)
    listed = district_places(region, layer="elementary", district="焼津東小学校")
    for cat in set(listed["category"]):
        assert _colour_share(img, styles[cat].colour) > 1e-4, cat
    assert _colour_share(img, "#B2182B") > 1e-3, "district outline"
    assert _colour_share(img, "#B8B2A7", tol=0.04) > 1e-4, "road casings of the basemap"


@pytest.mark.realdata
@needs_font
@pytest.mark.skipif(not (REPO / "data" / "boundaries" / "demo" / "town.osm").exists(),
                    reason="the demo region has not been generated")
def test_demo_pages_with_coverage_shading_and_osm_basemap() -> None:
    from kennai.access.surface import access_results, place_minutes, walk_area
    from kennai.maps.basemap import load_basemap

    region = _built("demo.yaml", REPO / "data" / "boundaries" / "demo")
    base = load_basemap(region)
    assert base.osm and not base.roads.empty and not base.buildings.empty
    results = access_results(region)
    area = walk_area(region, results, minutes=10)
    assert area.crs == region.crs and area.area.sum() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = write_atlas(region, ARTIFACTS / "demo_atlas.pdf", layer="elementary", shade=area,
                      shade_label="徒歩10分圏", basemap=base)
    img = _pdf_to_png(pdf, ARTIFACTS / "demo_page1.png")
    assert _colour_share(img, "#4DAF4A", tol=0.35) > 1e-3, "coverage shading"
    assert "© OpenStreetMap contributors" in attributions(region, base)
    first = region.layer("elementary").iloc[0]
    listed = district_places(region, layer="elementary", district=first["name"])
    minutes = place_minutes(results, first.geometry)
    assert minutes and all(0 <= v < 120 for v in minutes.values())
    html = write_interactive_map(region, ARTIFACTS / "demo_district1.html", layer="elementary",
                                 district=first["name"], shade=area, minutes=minutes, basemap=base)
    numbers, blocked, _ = _chromium_markers(html)
    assert sorted(numbers, key=int) == [str(n) for n in listed["number"]]
    assert blocked == []


@pytest.mark.realdata
@needs_font
@pytest.mark.skipif(not (REPO / "data" / "boundaries" / "demo" / "town.osm").exists(),
                    reason="the demo region has not been generated")
def test_cli_treasure_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from kennai.cli import app

    monkeypatch.chdir(REPO)
    region = _built("demo.yaml", REPO / "data" / "boundaries" / "demo")
    name = region.layer("elementary")["name"].iloc[1]
    runner = CliRunner()
    out = tmp_path / "page.png"
    res = runner.invoke(app, ["treasure-map", "pipelines/demo.yaml", "--district", name,
                              "--coverage", "--minutes", "5", "--title", "わたしたちの宝物",
                              "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert _png_pixels(out).std() > 0.05
    res = runner.invoke(app, ["treasure-map", "pipelines/demo.yaml", "--all", "-o",
                              str(tmp_path / "all.png")])  # an atlas is a PDF or HTML pages
    assert res.exit_code != 0 and not (tmp_path / "all.png").exists()


@pytest.mark.realdata
@pytest.mark.skipif(not (REPO / "data" / "boundaries" / "demo" / "town.osm").exists(),
                    reason="the demo region has not been generated")
def test_cli_interactive_map_with_coverage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--coverage -o x.html``: the shaded walking area and the popup times, no crash."""
    from typer.testing import CliRunner

    from kennai.cli import app

    monkeypatch.chdir(REPO)
    region = _built("demo.yaml", REPO / "data" / "boundaries" / "demo")
    name = region.layer("elementary")["name"].iloc[0]
    out = tmp_path / "x.html"
    res = CliRunner().invoke(app, ["treasure-map", "pipelines/demo.yaml", "--layer", "elementary",
                                   "--district", name, "--coverage", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    listed = district_places(region, layer="elementary", district=name)
    assert page.count("data-kennai-number=") == len(listed)
    assert '"fillColor": "#4DAF4A", "fillOpacity": 0.28' in page, "the walking area is shaded"
    assert "分（中央値）" in page, "the popups give walking times"
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", page)


@pytest.mark.realdata
@pytest.mark.skipif(not (REPO / "data" / "boundaries" / "demo" / "town.osm").exists(),
                    reason="the demo region has not been generated")
def test_cli_and_api_make_the_same_request_and_options(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The two doors translate the same input into the same request, hence the same map."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from api import create_app
    from kennai.cli import app
    from kennai.maps import request as map_request

    monkeypatch.chdir(REPO)
    region = _built("demo.yaml", REPO / "data" / "boundaries" / "demo")
    name = region.layer("elementary")["name"].iloc[1]
    seen: list[tuple[map_request.TreasureMapRequest, map_request.MapOptions]] = []

    def record(_region: Region, request: map_request.TreasureMapRequest,
               options: map_request.MapOptions, *, path: Path | None = None,
               progress: object = None) -> bytes | Path:
        seen.append((request, options))
        return Path(path) if path is not None else b"map"

    monkeypatch.setattr(map_request, "render_map", record)
    client = TestClient(create_app(REPO / "pipelines" / "demo.yaml", build_dir=region.build_dir,
                                   register_path=tmp_path / "r.sqlite"))
    runner = CliRunner()
    for fmt, walk in (("pdf", 10.0), ("png", None), ("html", 5.0), ("html", None)):
        args = ["treasure-map", "pipelines/demo.yaml", "--district", name, "--paper", "A3",
                "-o", str(tmp_path / f"page.{fmt}")]
        if walk is not None:
            args += ["--coverage", "--minutes", f"{walk:g}"]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        params: dict[str, str | float] = {"district": name, "format": fmt, "paper": "A3"}
        if walk is not None:
            params["walk_minutes"] = walk
        assert client.get("/api/v1/regions/demo/treasure-map", params=params).status_code == 200
        (cli_req, cli_opt), (api_req, api_opt) = seen[-2:]
        assert cli_req == api_req
        assert cli_req.fmt == fmt and cli_req.walk_minutes == walk
        assert cli_opt.shade_label == api_opt.shade_label
        assert cli_opt.minutes == api_opt.minutes
        assert (cli_opt.minutes is not None) == (fmt == "html")
        for a, b in ((cli_opt.shade, api_opt.shade), (cli_opt.unserved, api_opt.unserved)):
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert a.crs == b.crs and a.geometry.iloc[0].equals(b.geometry.iloc[0])
        assert (cli_opt.shade is not None) == (walk is not None)
        # Where there are no street data: hatched on paper, greyed in the HTML twin.
        assert (cli_opt.unserved is not None) == (walk is not None)
    assert len(seen) == 8


@needs_font
def test_treasure_map_bytes_for_the_api(tmp_path: Path) -> None:
    from kennai.maps.treasure import treasure_map_bytes

    region = _toy_region(tmp_path)
    assert treasure_map_bytes(region, layer="elementary", district="西小学校").startswith(b"%PDF")
    svg = treasure_map_bytes(region, layer="elementary", district="西小学校", fmt="svg")
    assert b"<svg" in svg
    with pytest.raises(TreasureMapError):
        treasure_map_bytes(region, layer="elementary", district="西小学校", fmt="gif")


@pytest.mark.realdata
def test_no_network_area_marks_what_the_street_data_do_not_cover() -> None:
    """Yaizu's walk network covers only 800 m around the station: the rest is 'no data'."""
    from kennai.access.surface import access_results, no_network_area

    region = _built("yaizu.yaml", SHARED / "yaizu")
    gone = no_network_area(region, access_results(region)).geometry.iloc[0]
    es = region.layer("elementary").set_index("name").geometry
    assert gone.intersection(es["焼津西小学校"]).area / es["焼津西小学校"].area > 0.8
    assert gone.intersection(es["焼津東小学校"]).area / es["焼津東小学校"].area < 0.5
    demo = _built("demo.yaml", REPO / "data" / "boundaries" / "demo")
    assert no_network_area(demo, access_results(demo)).area.sum() / demo.outline.area < 0.05
