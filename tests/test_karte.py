"""地区カルテ: one page per district, its figures read back from the rendered PDF text."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kennai.access import AccessOptions, coverage_table, results_for
from kennai.errors import NotFoundError, TreasureMapError
from kennai.maps.karte import karte_profiles
from kennai.maps.karte_render import karte_html, write_karte
from kennai.region import Region

REPO = Path(__file__).resolve().parents[1]
needs_pdftotext = pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler) absent")


def _pages(pdf: Path) -> list[str]:
    """The text of each page of a PDF, as poppler extracts it."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.split("\f")[:-1]


def _figure(page: str, label: str) -> list[str]:
    line = next(ln for ln in page.splitlines() if ln.strip().startswith(label))
    return line.split()[1:]


def _access_rows(region: Region, layer: str) -> dict[str, dict[str, object]]:
    """The access table ``kennai access --by <layer>`` prints, by district name."""
    results = results_for(region, AccessOptions())
    return {str(r["name"]): r for r in coverage_table(results, region.layer(layer))}


@needs_pdftotext
def test_yaizu_karte_has_a_page_per_district_with_the_access_tables_population(
        yaizu: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from kennai.cli import app

    assert yaizu.build_dir is not None
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("KENNAI_BUILD_ROOT", str(Path(yaizu.build_dir).parent))
    out = tmp_path / "karte.pdf"
    res = CliRunner().invoke(app, ["karte", "pipelines/yaizu.yaml", "--layer", "elementary",
                                   "--all", "-o", str(out)])
    assert res.exit_code == 0, res.output
    pages = _pages(out)
    names = list(dict.fromkeys(yaizu.layer("elementary")["name"].astype(str)))
    assert len(names) == 13 and len(pages) == 13
    rows = _access_rows(yaizu, "elementary")
    city = coverage_table(results_for(yaizu, AccessOptions()), region_name="焼津市")[0]
    for name, page in zip(names, pages, strict=True):
        assert f"{name} 地区カルテ" in page
        district_pop, city_pop = _figure(page, "人口（人）")
        assert district_pop == f"{rows[name]['population']:,.0f}", name
        assert city_pop == f"{city['population']:,.0f}"
        assert "第2層の圏域" in page and "中学校区を第2層圏域とする案" in page
    split = [p for p in pages if "分割あり" in p]
    assert len(split) == 2, "焼津西・焼津東 are split by the 中学校区 plan"
    assert all(n in "".join(split) for n in ("焼津西小学校", "焼津東小学校"))


def test_karte_coverage_and_html_follow_the_tables(yaizu: Region) -> None:
    name = "焼津東小学校"
    (profile,) = karte_profiles(yaizu, layer="elementary", district=name)
    row = _access_rows(yaizu, "elementary")[name]
    assert profile.population == row["population"]
    assert profile.coverage[0].kind == "places"
    assert profile.coverage[0].coverage == row["coverage"]
    html = karte_html([profile])
    assert f'data-district="{name}"' in html and "<svg" in html
    assert f"{row['population']:,.0f}" in html
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", html)
    # The shares are of the 87 % on the station network, and the page says so.
    assert f"ネットワーク上の住民 {row['base_share']:.0%} のうち" in html
    assert "道路に沿って計算" in html


def test_karte_of_a_region_without_network_says_straight_line(tmp_path: Path) -> None:
    """Takamatsu as published (points, no network): one page, labelled straight-line only."""
    from kennai.build import build_region
    from kennai.config import load_config

    root = Path(__file__).resolve().parents[1]
    if not (root.parent / "shared" / "data" / "takamatsu").is_dir():
        pytest.skip("../shared/data/takamatsu is absent")
    region, _ = build_region(load_config(root / "pipelines" / "takamatsu.yaml"),
                             build_dir=tmp_path / "takamatsu")
    (profile,) = karte_profiles(region, layer="region")
    html = karte_html([profile])
    assert profile.population == 418129.0 and profile.coverage[0].straight_line
    assert "直線距離だけで計算" in html and "道路に沿って計算" not in html


def test_karte_html_escapes_district_text(demo: Region) -> None:
    name = str(demo.layer("elementary")["name"].iloc[0])
    (profile,) = karte_profiles(demo, layer="elementary", district=name)
    profile.places.append({"number": 99, "name": "<script>x</script>", "category": "a&b",
                           "x": 0.0, "y": 0.0})
    html = karte_html([profile])
    assert "<script>x" not in html and "&lt;script&gt;x" in html and "a&amp;b" in html


def test_karte_requests_fail_in_one_line(demo: Region, tmp_path: Path) -> None:
    with pytest.raises(TreasureMapError):
        karte_profiles(demo, layer="elementary")
    with pytest.raises(NotFoundError):
        karte_profiles(demo, layer="elementary", district="どこにもない区域")
    with pytest.raises(NotFoundError):
        karte_profiles(demo, layer="places", all_districts=True)
    profiles = karte_profiles(demo, layer="elementary", all_districts=True)
    with pytest.raises(TreasureMapError):
        write_karte(profiles, tmp_path / "k.docx")
    pdf = write_karte(profiles, tmp_path / "k.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        assert len(_pages(pdf)) == len(profiles)
    assert re.search(r"\d", (write_karte(profiles, tmp_path / "k.html")).read_text("utf-8"))


def test_api_karte_answers_pdf_and_html(demo: Region, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api import create_app

    client = TestClient(create_app(REPO / "pipelines" / "demo.yaml", build_dir=demo.build_dir,
                                   register_path=tmp_path / "r.sqlite"))
    name = str(demo.layer("elementary")["name"].iloc[0])
    res = client.get("/api/v1/regions/demo/karte", params={"district": name, "format": "html"})
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/html")
    assert f'data-district="{name}"' in res.text
    res = client.get("/api/v1/regions/demo/karte", params={"layer": "elementary"})
    assert res.status_code == 200 and res.content.startswith(b"%PDF")
    assert client.get("/api/v1/regions/demo/karte",
                      params={"district": "どこにもない区域"}).status_code == 404
