"""Treasure-map pages: no text box overlaps another, measured from matplotlib's text extents.

Every visible text of a rendered page (title, subtitle, list headers and cells, marker numbers,
legend, scale, labels, footer) is drawn and measured with ``Text.get_window_extent``; no two may
overlap and none may leave the page. Pages are A4 and A3, landscape and portrait, on the demo,
on a crowded copy of the demo (many places in one district), and on Yaizu when ../shared is
there (小学校区, 自治会 and a 第2層 plan's areas).
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
import shapely
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.text import Text

from kennai.build import build_region
from kennai.config import load_config
from kennai.errors import TreasureMapError
from kennai.maps.content import (
    district_page_url,
    district_places,
    region_category_styles,
    walk_label,
)
from kennai.maps.fonts import font_rc
from kennai.maps.request import TreasureMapRequest
from kennai.maps.sheet import MARKER_SCALE
from kennai.maps.treasure import render_treasure_map
from kennai.region import Region
from tests.conftest import needs_font

REPO = Path(__file__).resolve().parents[1]
PAGES = [(paper, orientation) for paper in ("A4", "A3") for orientation in ("landscape", "portrait")]




pytestmark = needs_font


def text_overlaps(fig: Figure, *, tolerance_px: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of visible texts whose drawn extents overlap, and texts that leave the page."""
    with mpl.rc_context(font_rc()):
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    page = fig.bbox
    bad = [(s, "<page edge>") for s, b in boxes
           if b.x0 < page.x0 - 1 or b.y0 < page.y0 - 1 or b.x1 > page.x1 + 1 or b.y1 > page.y1 + 1]
    for (sa, a), (sb, b) in itertools.combinations(boxes, 2):
        w = min(a.x1, b.x1) - max(a.x0, b.x0)
        h = min(a.y1, b.y1) - max(a.y0, b.y0)
        if w > tolerance_px and h > tolerance_px:
            bad.append((sa, sb))
    return bad


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible()]


def test_the_checker_finds_overlapping_and_clipped_text() -> None:
    fig = Figure(figsize=(4, 3))
    fig.text(0.5, 0.5, "曜日・時間", fontsize=12)
    fig.text(0.52, 0.5, "住所", fontsize=12)
    fig.text(0.1, 0.1, "ひとり", fontsize=12)
    assert text_overlaps(fig) == [("曜日・時間", "住所")]
    fig.text(0.98, 0.9, "はみ出す長い文字列", fontsize=12)
    assert ("はみ出す長い文字列", "<page edge>") in text_overlaps(fig)


@pytest.mark.parametrize(("paper", "orientation"), PAGES)
def test_demo_pages_have_no_overlapping_text(demo: Region, paper: str, orientation: str) -> None:
    for name in demo.layer("elementary")["name"].astype(str):
        fig = render_treasure_map(demo, layer="elementary", district=name, paper=paper,  # type: ignore[arg-type]
                                  orientation=orientation, qr_base="https://example.jp/kennai/")  # type: ignore[arg-type]
        assert text_overlaps(fig) == [], (paper, orientation, name)
        assert any(isinstance(a, AxesImage) for ax in fig.axes for a in ax.get_images()), "QR"


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory, demo: Region) -> tuple[Region, str]:
    """The demo with 36 more places packed into one district (a long list, close markers)."""
    folder = tmp_path_factory.mktemp("crowded")
    shape = demo.layer("elementary").geometry.iloc[0]
    name = str(demo.layer("elementary")["name"].iloc[0])
    rng = np.random.default_rng(7)
    pts = []
    minx, miny, maxx, maxy = shape.bounds
    while len(pts) < 36:  # clustered near the centre, so that markers need spreading
        x = (minx + maxx) / 2 + rng.normal(0, (maxx - minx) / 10)
        y = (miny + maxy) / 2 + rng.normal(0, (maxy - miny) / 10)
        if shape.contains(shapely.Point(x, y)):
            pts.append((x, y))
    import geopandas as gpd

    lonlat = gpd.GeoSeries(shapely.points(pts), crs=demo.crs).to_crs("EPSG:4326")
    src = REPO / "data" / "boundaries" / "demo" / "places.csv"
    with src.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    head = list(rows[0])
    for i, p in enumerate(lonlat):
        rows.append({**rows[i % len(rows)], "NO": str(100 + i), "名称": f"地域のつどい第{i + 1}会場",
                     "緯度": f"{p.y:.6f}", "経度": f"{p.x:.6f}",
                     "利用可能日時特記事項": "毎月第2・第4水曜（祝日は休み）"})
    places = folder / "places.csv"
    with places.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, head)
        writer.writeheader()
        writer.writerows(rows)
    raw = yaml.safe_load((REPO / "pipelines" / "demo.yaml").read_text(encoding="utf-8"))
    base = REPO / "pipelines"
    for layer in raw["layers"].values():
        layer["path"] = str((base / layer["path"]).resolve())
    for plan in raw["plans"]:
        plan["path"] = str((base / plan["path"]).resolve())
    raw["layers"]["places"]["path"] = str(places)
    raw["name"] = "crowded"
    cfg_path = folder / "crowded.yaml"
    cfg_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    region, _ = build_region(load_config(cfg_path), build_dir=folder / "build" / "crowded")
    return region, name


@pytest.mark.parametrize(("paper", "orientation"), PAGES)
def test_a_district_with_many_places_has_no_overlapping_text(
        crowded: tuple[Region, str], paper: str, orientation: str) -> None:
    region, name = crowded
    assert len(district_places(region, layer="elementary", district=name)) >= 36
    fig = render_treasure_map(region, layer="elementary", district=name, paper=paper,  # type: ignore[arg-type]
                              orientation=orientation)  # type: ignore[arg-type]
    assert text_overlaps(fig) == [], (paper, orientation)
    numbers = {int(s) for s in _texts(fig) if s.isdigit()}
    assert set(range(1, 37)) <= numbers, "every marker keeps its number"
    if paper == "A3":
        assert _texts(fig).count("名称") == 2, "A3 sets a long list in two columns"


def _markers(fig: Figure) -> tuple[dict[int, np.ndarray], dict[int, Text], dict[int, np.ndarray],
                                   dict[int, np.ndarray], dict[int, float]]:
    """Marker centres, number texts, leader lines, anchors and marker sizes (points², as
    scattered) by place number, positions in display px, found by the artists' gids."""
    from matplotlib.collections import PathCollection
    from matplotlib.lines import Line2D

    with mpl.rc_context(font_rc()):
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
    ax = next(a for a in fig.axes if any(str(c.get_gid()).startswith("marker-")
                                         for c in a.collections))

    def px(xy: np.ndarray) -> np.ndarray:
        return np.asarray(ax.transData.transform(np.atleast_2d(xy)))

    def num(gid: object) -> int:
        return int(str(gid).rsplit("-", 1)[1])

    marker, anchor, leader, numbers, sizes = {}, {}, {}, {}, {}
    for c in ax.findobj(PathCollection):
        gid = str(c.get_gid())
        if gid.startswith("marker-"):
            marker[num(gid)] = px(c.get_offsets())[0]
            sizes[num(gid)] = float(c.get_sizes()[0])
        elif gid.startswith("anchor-"):
            anchor[num(gid)] = px(c.get_offsets())[0]
    for ln in ax.findobj(Line2D):
        if str(ln.get_gid()).startswith("leader-"):
            leader[num(ln.get_gid())] = px(np.column_stack(ln.get_data()))
    for tx in ax.texts:
        if str(tx.get_gid()).startswith("number-"):
            numbers[num(tx.get_gid())] = tx
    return marker, numbers, leader, anchor, sizes


@pytest.mark.parametrize("paper", ["A4", "A3"])
def test_close_markers_are_offset_with_leader_lines_and_stay_readable(
        crowded: tuple[Region, str], paper: str) -> None:
    """36 places packed near one point: every marker is drawn apart from the others (no two
    closer than a marker's width), each one moved off its place is tied to it by a leader line
    from a small dot on the place, and each number sits on its own marker at a legible size."""
    region, name = crowded
    fig = render_treasure_map(region, layer="elementary", district=name, paper=paper)  # type: ignore[arg-type]
    marker, numbers, leader, anchor, sizes = _markers(fig)
    places = district_places(region, layer="elementary", district=name)
    assert sorted(marker) == sorted(numbers) == sorted(int(n) for n in places["number"])
    styles = region_category_styles(region)
    shapes = {int(n): styles[str(c)].marker for n, c in zip(places["number"], places["category"],
                                                            strict=True)}
    # The nominal marker width (a circle's diameter; other shapes are scaled by area), in px.
    widths = {k: np.sqrt(sizes[k] / MARKER_SCALE[shapes[k]]) * fig.dpi / 72 for k in sizes}
    diameter = min(widths.values())
    assert max(widths.values()) - diameter < 0.01, "one marker size per page"
    centres = np.array([marker[k] for k in sorted(marker)])
    gaps = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() >= diameter * 0.98, "two markers overlap"
    assert len(leader) >= 10, "a crowd of places needs leader lines"
    assert sorted(leader) == sorted(anchor)
    for k, line in leader.items():
        assert np.allclose(line[0], anchor[k], atol=1) and np.allclose(line[-1], marker[k], atol=1)
    with mpl.rc_context(font_rc()):
        renderer = FigureCanvasAgg(fig).get_renderer()
        for k, text in numbers.items():
            box = text.get_window_extent(renderer)
            assert box.width < diameter and box.height < diameter, f"{k} overflows its marker"
            assert np.hypot(*(np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
                              - marker[k])) < diameter / 3, f"{k} is off its marker"
            assert text.get_fontsize() >= 6.5, f"{k} is too small to read"


def test_a3_list_is_larger_than_a4(demo: Region) -> None:
    name = str(demo.layer("elementary")["name"].iloc[0])
    sizes = {}
    for paper in ("A4", "A3"):
        fig = render_treasure_map(demo, layer="elementary", district=name, paper=paper)  # type: ignore[arg-type]
        sizes[paper] = max(t.get_fontsize() for t in fig.findobj(Text) if t.get_text() == "名称")
    assert sizes["A3"] > sizes["A4"]


def test_walk_label_and_qr_urls(demo: Region) -> None:
    from kennai.access import AccessOptions

    assert walk_label(10, AccessOptions()) == "徒歩10分圏（高齢者の歩行速度 0.8 m/s で10分）"
    assert "1.3 m/s" in walk_label(5, AccessOptions(profile="adult"))
    assert "歩行速度 1 m/s" in walk_label(5, AccessOptions(speed_mps=1.0))
    assert district_page_url("https://x.jp/site/", layer="elementary", district="東", number=3) == \
        "https://x.jp/site/districts/elementary/3.html"
    assert district_page_url("https://x.jp/{layer}/{district}", layer="plan:a", district="東",
                             number=1) == "https://x.jp/plan%3Aa/%E6%9D%B1"
    with pytest.raises(TreasureMapError):
        TreasureMapRequest(district="x", qr_base="javascript:alert(1)")


@pytest.mark.realdata
@pytest.mark.parametrize(("paper", "orientation"), PAGES)
def test_yaizu_pages_have_no_overlapping_text(yaizu: Region, paper: str, orientation: str) -> None:
    cases = [("elementary", "焼津東小学校"), ("elementary", "大井川南小学校"),
             ("neighbourhood", "焼津第7自治会"), ("plan:junior_high", "焼津中学校")]
    for layer, name in cases:
        fig = render_treasure_map(yaizu, layer=layer, district=name, paper=paper,  # type: ignore[arg-type]
                                  orientation=orientation, qr_base="https://example.jp/")  # type: ignore[arg-type]
        assert text_overlaps(fig) == [], (paper, orientation, layer, name)


@pytest.mark.realdata
def test_cli_yaizu_html_with_coverage(yaizu: Region, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``kennai treasure-map pipelines/yaizu.yaml --layer elementary --district 焼津東小学校
    --coverage -o m.html`` works, and so do the plan, the QR link and A3 through the twin."""
    from typer.testing import CliRunner

    from kennai.cli import app

    assert yaizu.build_dir is not None
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("KENNAI_BUILD_ROOT", str(Path(yaizu.build_dir).parent))
    out = tmp_path / "m.html"
    runner = CliRunner()
    res = runner.invoke(app, ["treasure-map", "pipelines/yaizu.yaml", "--layer", "elementary",
                              "--district", "焼津東小学校", "--coverage", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert "焼津東小学校" in page and "高齢者の歩行速度 0.8 m/s で10分" in page
    res = runner.invoke(app, ["treasure-map", "pipelines/yaizu.yaml", "--plan", "junior_high",
                              "--district", "焼津中学校", "--paper", "A3", "--qr-base",
                              "https://example.jp/k/", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert 'href="https://example.jp/k/districts/plan%3Ajunior_high/' in page


def test_api_treasure_map_takes_the_plan_and_the_qr_base(demo: Region, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api import create_app

    client = TestClient(create_app(REPO / "pipelines" / "demo.yaml", build_dir=demo.build_dir,
                                   register_path=tmp_path / "r.sqlite"))
    area = str(demo.plan("plan_junior_high")["name"].iloc[0])
    url = "/api/v1/regions/demo/treasure-map"
    res = client.get(url, params={"district": area, "plan": "plan_junior_high", "format": "html",
                                  "qr_base": "https://example.jp/k/", "walk_minutes": 10})
    assert res.status_code == 200, res.text
    assert 'href="https://example.jp/k/districts/plan%3Aplan_junior_high/1.html"' in res.text
    assert "高齢者の歩行速度 0.8 m/s で10分" in res.text
    res = client.get(url, params={"district": area, "plan": "plan_junior_high", "paper": "A3"})
    assert res.status_code == 200 and res.content.startswith(b"%PDF")
    assert client.get(url, params={"district": area, "plan": "nothing"}).status_code == 404
    assert client.get(url, params={"district": area, "plan": "plan_junior_high",
                                   "qr_base": "javascript:alert(1)"}).status_code in (400, 422)


def _drop_after_a_full_draw(fig: Figure, labels: list[Text], removed: list[str]) -> None:
    """The former :func:`kennai.maps.sheet.drop_colliding_labels`, the reference: the page
    drawn in full (rasterised) at 50 dpi, then the same rule; ``removed`` gets what it drops."""
    dpi = fig.dpi
    fig.set_dpi(50)
    try:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        optional = set(map(id, labels))
        fixed = [t.get_window_extent(renderer) for t in fig.findobj(Text)
                 if id(t) not in optional and t.get_visible() and t.get_text().strip()]
        kept: list[object] = []
        for label in labels:
            box = label.get_window_extent(renderer)
            if any(box.overlaps(other) for other in (*fixed, *kept)):
                removed.append(label.get_text())
                label.remove()
            else:
                kept.append(box)
    finally:
        fig.set_dpi(dpi)


def _same_labels_as_a_full_draw(region: Region, cases: list[tuple[str, str, str, str]],
                                monkeypatch: pytest.MonkeyPatch) -> int:
    """Render each case with the layout-only measure and with the reference; the pages must
    keep the same texts at the same places. Returns how many labels the reference dropped."""
    import kennai.maps.treasure as treasure

    removed: list[str] = []
    for layer, name, paper, orientation in cases:
        args = {"layer": layer, "district": name, "paper": paper, "orientation": orientation}
        new = render_treasure_map(region, **args)  # type: ignore[arg-type]
        with monkeypatch.context() as patch:
            patch.setattr(treasure, "drop_colliding_labels",
                          lambda fig, labels: _drop_after_a_full_draw(fig, labels, removed))
            ref = render_treasure_map(region, **args)  # type: ignore[arg-type]

        def placed(fig: Figure) -> list[tuple[str, tuple[float, ...]]]:
            return [(t.get_text(), tuple(np.round(t.get_position(), 6))) for t in fig.findobj(Text)
                    if t.get_visible()]

        assert placed(new) == placed(ref), (layer, name, paper, orientation)
    return len(removed)


def test_labels_give_way_exactly_as_after_a_full_draw(demo: Region,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Measuring the texts from a layout drawn without painting drops the same labels as the
    full draw it replaced (every district of the demo, A4 landscape and A3 portrait)."""
    names = demo.layer("elementary")["name"].astype(str)
    cases = [("elementary", n, p, o) for n in names for p, o in (("A4", "landscape"),
                                                                  ("A3", "portrait"))]
    assert _same_labels_as_a_full_draw(demo, cases, monkeypatch) > 0  # some labels give way


@pytest.mark.realdata
def test_yaizu_labels_give_way_exactly_as_after_a_full_draw(
        yaizu: Region, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [("elementary", "焼津東小学校", "A4", "landscape"),
             ("elementary", "大井川南小学校", "A3", "portrait"),
             ("neighbourhood", "焼津第7自治会", "A4", "portrait"),
             ("plan:junior_high", "焼津中学校", "A4", "landscape")]
    assert _same_labels_as_a_full_draw(yaizu, cases, monkeypatch) > 0
