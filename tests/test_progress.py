"""Progress of long steps: counts reach the callback, bars with counts reach a terminal, and
nothing is shown (and no output changes) with ``--json``, ``--quiet`` or a non-terminal.

The CLI's stderr console is replaced by a rich Console forced to be a terminal and writing to
a buffer, so the real bars are drawn and read back as text.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import matplotlib as mpl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from kennai.build import build_region
from kennai.config import load_config
from kennai.progress import counted, no_progress, terminal_progress, within
from kennai.region import Region
from tests.conftest import needs_font

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "pipelines" / "demo.yaml"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

Call = tuple[str, "int | None", "int | None"]


class Recorder:
    """A progress callback that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def __call__(self, what: str, done: int | None = None, total: int | None = None, /) -> None:
        self.calls.append((what, done, total))

    def totals(self) -> dict[str, tuple[int, int]]:
        """The last (done, total) of every counted stage."""
        return {w: (d, n) for w, d, n in self.calls if d is not None and n is not None}


def _terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=120, color_system=None), buf


def _shown(buf: io.StringIO) -> str:
    return _ANSI.sub("", buf.getvalue()).replace("\r", "\n")


def test_counted_and_within_report_every_step() -> None:
    rec = Recorder()
    assert list(counted(within(rec, "food"), "pages", ["a", "b", "c"])) == ["a", "b", "c"]
    assert rec.calls == [("food: pages", i, 3) for i in range(4)]
    assert list(counted(rec, "none", [])) == [] and len(rec.calls) == 4, "no stage for no work"


def test_terminal_bars_show_counts_and_nothing_off_a_terminal() -> None:
    console, buf = _terminal()
    with terminal_progress(console) as progress:
        progress("読み込み")
        for i in range(7):
            progress("ページ", i + 1, 7)
    shown = _shown(buf)
    assert "読み込み" in shown and "ページ" in shown and "7/7" in shown
    plain = io.StringIO()
    with terminal_progress(Console(file=plain)) as progress:  # a file is no terminal
        progress("ページ", 1, 7)
    assert progress is no_progress and plain.getvalue() == ""
    with terminal_progress(console, enabled=False) as progress:
        assert progress is no_progress


def test_build_counts_its_stages(demo: Region, tmp_path: Path) -> None:
    config = load_config(DEMO)
    rec = Recorder()
    build_region(config, build_dir=tmp_path / "demo", force=True, progress=rec)
    totals = rec.totals()
    sources = sum(len(lc.sources) for k, lc in config.layers.items()
                  if k not in ("network", "dem") and not any(s.is_osm for s in lc.sources))
    reading = next(w for w in totals if "レイヤの読み込み" in w or "reading layers" in w)
    assert totals[reading] == (sources, sources)
    coverage = next(w for w in totals if "カバー率" in w or "coverage per" in w)
    assert totals[coverage][0] == totals[coverage][1] >= 2
    assert all(d == n for d, n in totals.values()), "every counted stage ends complete"
    stages = [w for w, _, _ in rec.calls]
    assert stages.index(reading) < stages.index(coverage)


@needs_font
def test_atlas_counts_its_pages(demo: Region, tmp_path: Path) -> None:
    from kennai.maps.request import TreasureMapRequest, map_options, render_map

    rec = Recorder()
    request = TreasureMapRequest(layer="elementary", all_districts=True)
    render_map(demo, request, map_options(demo, request, results=None),
               path=tmp_path / "atlas.pdf", progress=rec)
    pages = len(demo.layer("elementary"))
    assert [(d, n) for _, d, n in rec.calls] == [(i, pages) for i in range(pages + 1)]


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, demo: Region) -> io.StringIO:
    """The CLI's stderr as a terminal writing into a buffer; the demo's build as the region's."""
    import importlib

    # ``kennai.cli.app`` the attribute is the Typer app; the module is in sys.modules.
    cli_app = importlib.import_module("kennai.cli.app")
    console, buf = _terminal()
    monkeypatch.setattr(cli_app, "err", console)
    assert demo.build_dir is not None
    monkeypatch.setenv("KENNAI_BUILD_ROOT", str(Path(demo.build_dir).parent))
    return buf


@needs_font
def test_cli_karte_and_atlas_show_counts_and_quiet_changes_nothing(
        terminal: io.StringIO, demo: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kennai.cli import app

    # The same bytes with and without bars: fix the page's date and its SVG ids (else random).
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setitem(mpl.rcParams, "svg.hashsalt", "kennai")

    runner = CliRunner()
    pages = len(demo.layer("elementary"))
    res = runner.invoke(app, ["karte", str(DEMO), "--layer", "elementary", "--all",
                              "-o", str(tmp_path / "a.html")])
    assert res.exit_code == 0, res.output
    shown = _shown(terminal)
    assert "地区カルテのページ" in shown and f"{pages}/{pages}" in shown
    terminal.truncate(0)
    terminal.seek(0)
    res = runner.invoke(app, ["karte", str(DEMO), "--layer", "elementary", "--all", "--quiet",
                              "-o", str(tmp_path / "b.html")])
    assert res.exit_code == 0, res.output
    assert "地区カルテのページ" not in _shown(terminal)
    assert not re.search(r"\d+/\d+", _shown(terminal)), "no counts with --quiet"
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    res = runner.invoke(app, ["treasure-map", str(DEMO), "--layer", "elementary", "--all",
                              "-o", str(tmp_path / "atlas.pdf")])
    assert res.exit_code == 0, res.output
    assert "地図帳 elementary" in _shown(terminal) and f"{pages}/{pages}" in _shown(terminal)


@pytest.mark.skipif(not (REPO / "web" / "node_modules" / "pmtiles").is_dir(),
                    reason="needs maplibre-gl and pmtiles (npm --prefix web ci)")
def test_cli_json_and_quiet_are_silent_on_a_terminal(terminal: io.StringIO, tmp_path: Path) -> None:
    from kennai.cli import app

    runner = CliRunner()
    site = ["export-site", str(DEMO), "--maps", "none", "--maxzoom", "14"]
    res = runner.invoke(app, [*site, "-o", str(tmp_path / "s1")])
    assert res.exit_code == 0, res.output
    shown = _shown(terminal)
    tiles = re.findall(r"ベクトルタイル\D*(\d+)/(\d+)", shown)  # every frame drawn
    assert tiles and tiles[-1][0] == tiles[-1][1] != "0", shown
    terminal.truncate(0)
    terminal.seek(0)
    res = runner.invoke(app, [*site, "--json", "-o", str(tmp_path / "s2")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["files"] > 10 and terminal.getvalue() == ""
    res = runner.invoke(app, ["export", str(DEMO), "--layer", "gaps", "--quiet",
                              "-o", str(tmp_path / "g.gpkg")])
    assert res.exit_code == 0, res.output
    assert not re.search(r"\d+/\d+", _shown(terminal)), "--quiet: the result line alone"
    res = runner.invoke(app, ["export", str(DEMO), "--layer", "gaps", "-o", str(tmp_path / "g.csv")])
    assert res.exit_code == 0, res.output
    rows = len((tmp_path / "g.csv").read_text(encoding="utf-8-sig").splitlines()) - 1
    assert "書き出し g.csv" in _shown(terminal) and f"{rows}/{rows}" in _shown(terminal)
