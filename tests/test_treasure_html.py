"""The treasure map's HTML twin takes every option of the printed page, and the atlas too.

The ``kennai treasure-map`` options are read from the command itself, so an option added to the
printed map and not tried here fails the test until the twin is shown to take it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kennai.maps.content import district_names, district_places
from kennai.region import Region
from tests.conftest import needs_font

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "pipelines" / "demo.yaml"
_EXTERNAL = re.compile(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//")
#: Options that only printed pages have a use for (none: the PNG resolution is no CLI option).
PRINT_ONLY: set[str] = set()


def _options() -> set[str]:
    """The long names of every ``kennai treasure-map`` option."""
    from kennai.cli import app

    command = typer.main.get_command(app).commands["treasure-map"]  # type: ignore[attr-defined]
    return {o for p in command.params for o in p.opts if o.startswith("--")} - {"--help"}


@pytest.fixture
def built_demo(demo: Region, monkeypatch: pytest.MonkeyPatch) -> Region:
    assert demo.build_dir is not None
    monkeypatch.setenv("KENNAI_BUILD_ROOT", str(Path(demo.build_dir).parent))
    return demo


def _run(*args: str) -> None:
    from kennai.cli import app

    res = CliRunner().invoke(app, ["treasure-map", str(DEMO), *args])
    assert res.exit_code == 0, res.output


def test_the_html_twin_takes_every_option_of_the_printed_map(built_demo: Region,
                                                              tmp_path: Path) -> None:
    demo = built_demo
    used: set[str] = set()

    def run(*args: str) -> str:
        used.update(a for a in args if a.startswith("--"))
        out = tmp_path / "m.html"
        _run(*args, "-o", str(out))
        used.add("--output")
        page = out.read_text(encoding="utf-8")
        assert not _EXTERNAL.search(page), "the page reaches for the network"
        return page

    name = district_names(demo, "elementary")[0]
    places = district_places(demo, layer="elementary", district=name)
    category = str(places["category"].value_counts().index[-1])  # the rarest: a real filter
    page = run("--layer", "elementary", "--district", name, "--paper", "A3", "--orientation",
               "portrait", "--categories", category, "--coverage", "--minutes", "15",
               "--title", "<b>地図</b>", "--qr-base", "https://example.jp/k/")
    assert "@page{size:A3 portrait" in page, "the browser prints on the chosen sheet"
    assert page.count("data-kennai-number=") == int((places["category"] == category).sum())
    assert "徒歩15分圏" in page and "分（中央値）" in page
    assert "&lt;b&gt;地図&lt;/b&gt;" in page and "<b>地図</b>" not in page
    assert 'href="https://example.jp/k/districts/elementary/1.html"' in page
    area = district_names(demo, "plan:plan_junior_high")[0]
    page = run("--plan", "plan_junior_high", "--district", area)
    assert area in page and "@page{size:A4 landscape" in page
    # The atlas: an index and a page per district, titles with {district} filled in.
    out = tmp_path / "atlas.html"
    used.update(("--all", "--title", "--quiet"))
    _run("--layer", "elementary", "--all", "--title", "{district}のつどい", "--quiet", "-o", str(out))
    names = district_names(demo, "elementary")
    index = out.read_text(encoding="utf-8")
    pages = sorted((tmp_path / "atlas").glob("*.html"), key=lambda p: int(p.stem))
    assert [p.name for p in pages] == [f"{i}.html" for i in range(1, len(names) + 1)]
    for i, (district, p) in enumerate(zip(names, pages, strict=True)):
        assert f'href="atlas/{i + 1}.html">{district}</a>' in index
        text = p.read_text(encoding="utf-8")
        assert f"{district}のつどい" in text and not _EXTERNAL.search(text)
    assert _options() - PRINT_ONLY <= used, f"not tried in HTML: {_options() - used}"


@needs_font
def test_a_plan_atlas_has_a_page_per_area(built_demo: Region, tmp_path: Path) -> None:
    """``--plan P --all`` (a 第2層 plan's areas as the districts) made every page."""
    out = tmp_path / "plan.pdf"
    _run("--plan", "plan_junior_high", "--all", "-o", str(out))
    pages = len(re.findall(rb"/Type\s*/Page\b", out.read_bytes()))
    assert pages == len(district_names(built_demo, "plan:plan_junior_high")) > 1


@pytest.mark.realdata
def test_yaizu_twin_greys_where_there_are_no_street_data(yaizu: Region, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Yaizu's walk network covers the station area only: the twin says so as the paper does."""
    from kennai.cli import app

    assert yaizu.build_dir is not None
    monkeypatch.setenv("KENNAI_BUILD_ROOT", str(Path(yaizu.build_dir).parent))
    out = tmp_path / "m.html"
    res = CliRunner().invoke(app, ["treasure-map", str(REPO / "pipelines" / "yaizu.yaml"),
                                   "--layer", "neighbourhood", "--district", "焼津第2自治会",
                                   "--coverage", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert 'class="kn-unserved"' in page and "道路データなし（未評価）" in page
    assert '"fillColor": "#9E9E9E"' in page
