"""Real cities end to end from their files as published: the zone from where the data lie,
Takamatsu's 65+ from the 推奨データセット table, and regional OSM files clipped to the city."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from kennai.build import build_region, clip_margin_m
from kennai.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data not found at {SHARED}")


def _kennai(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KENNAI_BUILD_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "kennai", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@needs_shared
@pytest.mark.parametrize(("config", "epsg"), [
    ("meguro", 6677), ("ube", 6671), ("yaizu", 6676), ("takamatsu", 6672), ("ishigaki", 6684)])
def test_info_reports_the_zone_where_the_data_lie(config: str, epsg: int, tmp_path: Path) -> None:
    done = _kennai("info", f"pipelines/{config}.yaml", "--json", root=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["crs"]["epsg"] == epsg
    assert not any(tmp_path.iterdir())  # info wrote nothing


@needs_shared
def test_takamatsu_population_and_65plus_as_published(tmp_path: Path) -> None:
    assert _kennai("build", "pipelines/takamatsu.yaml", root=tmp_path).returncode == 0
    info = json.loads(_kennai("info", "pipelines/takamatsu.yaml", "--json", root=tmp_path).stdout)
    pop = info["layers"]["population"]
    assert (pop["count"], pop["population"], pop["population_65plus"]) == (235, 418129.0, 120999.0)
    assert any(f["code"] == "straight_line_only" for f in info["findings"])
    acc = json.loads(_kennai("access", "pipelines/takamatsu.yaml", "--json", root=tmp_path).stdout)
    assert acc["method"] == "straight_line" and acc["base"] == "population"
    assert acc["population_65plus"] == 120999.0
    assert 0 < acc["coverage_65plus"]["500m"] < 1
    table = _kennai("access", "pipelines/takamatsu.yaml", root=tmp_path)
    assert "直線距離のみ" in table.stdout


@needs_shared
@pytest.mark.parametrize("config", ["malta_valletta", "ishigaki_town"])
def test_osm_files_are_clipped_to_the_outline(config: str, tmp_path: Path) -> None:
    cfg = load_config(ROOT / "pipelines" / f"{config}.yaml")
    region, _ = build_region(cfg, build_dir=tmp_path / config)
    outline = gpd.read_file(cfg.layers["outline"].sources[0].path).to_crs(region.crs)
    keep = shapely.union_all(outline.geometry.values).buffer(clip_margin_m())
    net = region.network
    assert net is not None and net.n_nodes > 100
    # Kept ways touch the clip polygon (a way crossing it is kept whole): most nodes lie inside,
    # and none far beyond it.
    inside = shapely.contains_xy(keep, net.node_xy[:, 0], net.node_xy[:, 1])
    assert inside.mean() > 0.9
    far = keep.buffer(2000.0)
    assert shapely.contains_xy(far, net.node_xy[:, 0], net.node_xy[:, 1]).mean() > 0.99
    xy = shapely.get_coordinates(region.layer("buildings").geometry.representative_point().values)
    assert shapely.contains_xy(far, xy[:, 0], xy[:, 1]).all()


def test_clip_margin_covers_the_longest_walk() -> None:
    """A 30-minute threshold keeps OSM data as far as the fastest (gentle downhill) walk goes."""
    from kennai.access import AccessOptions, parse_threshold

    assert clip_margin_m() == 1000.0  # the default thresholds: 1,000 m is the longest
    long = AccessOptions(thresholds=(parse_threshold("30min"),))
    assert clip_margin_m(long) > 30 * 60 * 0.8 * 1.15
