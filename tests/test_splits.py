"""Split detection of units (school districts, 自治会) by layer-2 plans."""

from __future__ import annotations

import csv
import json
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS

from kennai.config import PlanConfig, RegionConfig
from kennai.errors import InputError, KennaiError
from kennai.plans import plan_from_table, read_plan_upload
from kennai.region import Region
from kennai.splits import (
    SplitTolerances,
    analyse_splits,
    compare_plans,
    pieces_table,
    render_report,
    split_report_for_region,
    write_csv,
    write_gpkg,
    write_json,
    write_report,
)
from kennai.splits.overlay import OVERLAYS, disaggregate, overlay_for

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(),
                                  reason=f"real data not found at {SHARED} (../shared/data is absent)")
CRS_M = "EPSG:6676"  # 平面直角座標系 VIII (Shizuoka), metres
X0, Y0 = -15000.0, -126000.0  # near 焼津市 in that zone


def _gdf(names: list[str], geoms: list[shapely.Geometry], crs: str = CRS_M) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": names}, geometry=geoms, crs=crs)


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _grid_units() -> gpd.GeoDataFrame:
    """Four 1 km squares in a row: u0 … u3."""
    return _gdf([f"u{i}" for i in range(4)], [_box(i * 1000, 0, (i + 1) * 1000, 1000)
                                              for i in range(4)])


def _unit(report, name: str) -> dict:
    return next(u for u in report.to_dict()["units"] if u["name"] == name)


# --- basics -----------------------------------------------------------------------------------


def test_cut_unit_is_split_and_whole_units_are_not() -> None:
    units = _grid_units()
    # Area P covers u0 and 30 % of u1; Q the rest.
    plan = _gdf(["P", "Q"], [_box(0, 0, 1300, 1000), _box(1300, 0, 4000, 1000)])
    report = analyse_splits(units, plan)
    d = report.to_dict()
    assert d["summary"]["split_units"] == ["u1"]
    u1 = _unit(report, "u1")
    assert u1["split"] is True
    assert {p["area"]: p["area_share"] for p in u1["pieces"]} == pytest.approx({"P": 0.3, "Q": 0.7})
    assert u1["main_area"] == "Q"
    assert u1["effective_splits"] == pytest.approx(1 / (0.3**2 + 0.7**2) - 1)
    assert u1["uncertainty"] == pytest.approx(-(0.3 * math.log2(0.3) + 0.7 * math.log2(0.7)))
    assert not _unit(report, "u0")["split"] and not _unit(report, "u3")["split"]
    patterns = {a["name"]: a for a in d["areas"]}
    assert patterns["P"]["pattern"] == "C" and patterns["P"]["whole_units"] == ["u0"]
    assert patterns["P"]["partial_units"] == ["u1"]
    # Without population the alternative balances areas: u1 goes wholly to Q.
    assert patterns["P"]["before"] == pytest.approx(1.3e6) and patterns["P"]["after"] == 1e6
    assert d["alternative"]["assignment"]["u1"] == "Q"


def test_slivers_below_tolerances_are_ignored_but_kept() -> None:
    units = _grid_units()
    # The P|Q line runs 5 m inside u1 (0.5 %) and 0.5 m inside u2 (500 m² < 1000 m²).
    plan = _gdf(["P", "Q", "R"], [_box(0, 0, 1005, 1000), _box(1005, 0, 2000.5, 1000),
                                  _box(2000.5, 0, 4000, 1000)])
    report = analyse_splits(units, plan)
    assert report.summary["units_split"] == 0
    u1 = _unit(report, "u1")
    assert [p["area"] for p in u1["pieces"]] == ["Q"]
    (sliver,) = u1["slivers"]
    assert (sliver["area"], sliver["reason"]) == ("P", "area_share")
    assert [sliver["area_m2"], sliver["area_share"], sliver["mean_width_m"]] == pytest.approx(
        [5000.0, 0.005, 2 * 5000 / 2010], abs=0.01)
    assert report.summary["slivers_ignored"] == 2
    finer = analyse_splits(units, plan, tolerances=SplitTolerances(min_area_share=1e-4))
    assert finer.summary["split_units"] == ["u1"]
    assert _unit(finer, "u2")["slivers"][0]["reason"] == "area_m2"
    # Both lines count once the tolerances are loosened further.
    loose = analyse_splits(units, plan, tolerances=SplitTolerances(min_area_share=1e-4,
                                                                   min_area_m2=100))
    assert loose.summary["split_units"] == ["u1", "u2"]


def test_population_is_area_weighted_from_small_areas() -> None:
    units = _grid_units().iloc[:2]
    plan = _gdf(["P", "Q"], [_box(0, 0, 1500, 1000), _box(1500, 0, 2000, 1000)])
    # u1 holds two small areas: west half 900 residents, east half 100.
    pop = gpd.GeoDataFrame({"population": [500.0, 900.0, 100.0]},
                           geometry=[_box(0, 0, 1000, 1000), _box(1000, 0, 1500, 1000),
                                     _box(1500, 0, 2000, 1000)], crs=CRS_M)
    report = analyse_splits(units, plan, population=pop)
    u1 = _unit(report, "u1")
    shares = {p["area"]: p["population_share"] for p in u1["pieces"]}
    assert shares == pytest.approx({"P": 0.9, "Q": 0.1})
    assert u1["population"] == pytest.approx(1000.0)
    assert report.summary["population_in_split_units"] == pytest.approx(1000.0)
    assert report.summary["population_in_split_units_share"] == pytest.approx(1000 / 1500)
    assert report.summary["measure"] == "population"
    # Effective splits use population shares.
    assert u1["effective_splits"] == pytest.approx(1 / (0.81 + 0.01) - 1)
    # Split-free: u1 goes to P (90 % of its residents) although the areas are equal.
    areas = {a["name"]: a for a in report.to_dict()["areas"]}
    assert areas["P"]["before"] == pytest.approx(1400.0) and areas["P"]["after"] == 1500.0
    assert areas["P"]["deviation_after"] == pytest.approx(1.0)


@pytest.mark.parametrize("gap", [0.0, 50.0])
def test_piece_population_matches_direct_area_weighting(gap: float) -> None:
    units = _grid_units()
    # With a gap the pieces do not cover their unit and every piece is weighted directly;
    # without, the largest piece gets "unit minus the others": both must agree.
    plan = _gdf(["P", "Q"], [_box(0, 0, 1700, 1000), _box(1700 + gap, 0, 4000, 1000)])
    pop = gpd.GeoDataFrame({"population": [120.0, 340.0, 560.0, 780.0, 90.0]},
                           geometry=[_box(x, 0, x + 800, 1000) for x in range(0, 4000, 800)],
                           crs=CRS_M)
    report = analyse_splits(units, plan, population=pop)
    direct = disaggregate(np.asarray(report.pieces.geometry.values), pop)[:, 0]
    assert report.pieces["population"].to_numpy() == pytest.approx(direct, rel=1e-9)
    assert report.units["population"].sum() == pytest.approx(1890.0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0, 5000), st.floats(0, 5000)), min_size=3, max_size=20,
                unique_by=lambda p: (round(p[0], -1), round(p[1], -1))),
       st.floats(0.1, 0.9), st.floats(0.1, 0.9))
def test_cached_overlay_gives_the_direct_areal_weighting(points: list[tuple[float, float]],
                                                         fx: float, fy: float) -> None:
    # Small areas: Voronoi cells; units: a 2 × 2 grid; plan: cut at (fx, fy). The overlay's
    # shortcuts (unit inside a small area, remainder of a tiled piece) must not change a digit.
    cells = _voronoi(points)
    pop = gpd.GeoDataFrame({"population": np.arange(1.0, len(cells) + 1) * 100,
                            "population_65plus": np.arange(1.0, len(cells) + 1) * 30},
                           geometry=cells, crs=CRS_M)
    units = _gdf(["a", "b", "c", "d"], [_box(0, 0, 2500, 2500), _box(2500, 0, 5000, 2500),
                                        _box(0, 2500, 2500, 5000), _box(2500, 2500, 5000, 5000)])
    plan = _gdf(["W", "E", "N"], [_box(-10, -10, fx * 5000, fy * 5000),
                                  _box(fx * 5000, -10, 5010, fy * 5000),
                                  _box(-10, fy * 5000, 5010, 5010)])
    report = analyse_splits(units, plan, population=pop)
    direct = disaggregate(np.asarray(report.pieces.geometry.values), pop)
    assert report.pieces["population"].to_numpy() == pytest.approx(direct[:, 0], rel=1e-9,
                                                                     abs=1e-6)
    assert report.pieces["population_65plus"].to_numpy() == pytest.approx(direct[:, 1],
                                                                           rel=1e-9, abs=1e-6)
    assert report.units["population"].sum() == pytest.approx(pop["population"].sum(), rel=1e-9)


def test_overlay_is_reused_per_units_layer_and_rebuilt_when_changed() -> None:
    units = _grid_units()
    pop = gpd.GeoDataFrame({"population": [100.0, 200.0, 300.0, 400.0]},
                           geometry=[_box(x, 0, x + 1000, 1000) for x in range(0, 4000, 1000)],
                           crs=CRS_M)
    calls = []

    def build():
        calls.append(1)
        from kennai.splits.overlay import Overlay
        return Overlay.build(np.asarray(units.geometry.values), pop)

    first = overlay_for(units, pop, build)
    assert overlay_for(units, pop, build) is first and len(calls) == 1
    # Two plans analysed against the same layers share one overlay.
    a = analyse_splits(units, _gdf(["P", "Q"], [_box(0, 0, 1300, 1000), _box(1300, 0, 4000, 1000)]),
                       population=pop)
    n = len(OVERLAYS)
    b = analyse_splits(units, _gdf(["P", "Q"], [_box(0, 0, 2600, 1000), _box(2600, 0, 4000, 1000)]),
                       population=pop)
    assert len(OVERLAYS) == n
    assert a.units["population"].tolist() == b.units["population"].tolist() == [100, 200, 300, 400]
    # A population changed in place is overlaid again, not served stale.
    pop.loc[1, "population"] = 1200.0
    c = analyse_splits(units, _gdf(["P"], [_box(0, 0, 4000, 1000)]), population=pop)
    assert c.units["population"].tolist() == [100, 1200, 300, 400]
    again = overlay_for(units, pop, build)
    assert again is not first and again.unit_values[1, 0] == 1200 and len(calls) == 1


def test_65plus_unknown_is_null_not_zero() -> None:
    units = _grid_units().iloc[:2]
    plan = _gdf(["P", "Q"], [_box(0, 0, 1500, 1000), _box(1500, 0, 2000, 1000)])
    geoms = [_box(0, 0, 1000, 1000), _box(1000, 0, 1500, 1000), _box(1500, 0, 2000, 1000)]
    # Without a 65+ column: every 65+ figure is null, the keys are there.
    report = analyse_splits(units, plan, population=gpd.GeoDataFrame(
        {"population": [500.0, 900.0, 100.0]}, geometry=geoms, crs=CRS_M))
    d = report.to_dict()
    assert d["has_population_65plus"] is False
    u1 = _unit(report, "u1")
    assert u1["population_65plus"] is None
    assert all(p["population_65plus"] is None and p["population_65plus_share"] is None
               for p in u1["pieces"])
    assert d["summary"]["population_65plus_in_split_units"] is None
    assert d["summary"]["population_65plus_in_split_units_share"] is None
    assert "population_65plus" not in pieces_columns(report)
    assert "65歳以上" not in render_report(report)
    # One secret (unknown) small area: the units and pieces touching it are unknown, others not.
    report = analyse_splits(units, plan, population=gpd.GeoDataFrame(
        {"population": [500.0, 900.0, 100.0], "population_65plus": [150.0, np.nan, 40.0]},
        geometry=geoms, crs=CRS_M))
    assert report.has_population_65plus
    assert _unit(report, "u0")["population_65plus"] == pytest.approx(150.0)
    pieces = {p["area"]: p for p in _unit(report, "u1")["pieces"]}
    assert pieces["P"]["population_65plus"] is None and pieces["Q"]["population_65plus"] == 40.0
    assert report.summary["population_65plus_in_split_units"] is None


def pieces_columns(report) -> list[str]:
    from kennai.splits import pieces_table

    return list(pieces_table(report).columns)


def test_piece_with_too_few_residents_does_not_count() -> None:
    units = _grid_units().iloc[:2]
    plan = _gdf(["P", "Q"], [_box(0, 0, 1500, 1000), _box(1500, 0, 2000, 1000)])
    pop = gpd.GeoDataFrame({"population": [500.0, 800.0, 5.0]},
                           geometry=[_box(0, 0, 1000, 1000), _box(1000, 0, 1500, 1000),
                                     _box(1500, 0, 2000, 1000)], crs=CRS_M)
    report = analyse_splits(units, plan, population=pop)
    assert report.summary["units_split"] == 0
    assert _unit(report, "u1")["slivers"][0]["reason"] == "population"


def test_population_points_count_once() -> None:
    units = _grid_units().iloc[:2]
    plan = _gdf(["P", "Q"], [_box(0, 0, 1500, 1000), _box(1500, 0, 2000, 1000)])
    pts = gpd.GeoDataFrame({"population": [30.0, 70.0, 11.0]},
                           geometry=shapely.points([(X0 + 1200, Y0 + 500), (X0 + 1800, Y0 + 500),
                                                    (X0 + 1000, Y0 + 500)]), crs=CRS_M)
    report = analyse_splits(units, plan, population=pts)
    total = report.units["population"].sum()
    assert total == pytest.approx(111.0)  # the point on the u0|u1 boundary counts once
    u1 = _unit(report, "u1")
    assert {p["area"]: p["population"] for p in u1["pieces"]}["Q"] == pytest.approx(70.0)


def test_pattern_a_and_b() -> None:
    units = _grid_units()
    whole = analyse_splits(units, _gdf(["市全体"], [_box(-10, -10, 4010, 1010)]))
    assert whole.to_dict()["areas"][0]["pattern"] == "A"
    pairs = analyse_splits(units, _gdf(["P", "Q", "空"], [_box(0, 0, 2000, 1000),
                                                          _box(2000, 0, 4000, 1000),
                                                          _box(9000, 0, 9500, 500)]))
    assert [a["pattern"] for a in pairs.to_dict()["areas"]] == ["B", "B", "-"]
    assert pairs.summary["patterns"] == {"A": 0, "B": 2, "M": 0, "C": 0, "-": 1}


def test_pattern_a_needs_every_unit_covered() -> None:
    units = _grid_units()
    # One area holding u0–u2 wholly but not u3: not the whole municipality.
    three = analyse_splits(units, _gdf(["市全体?"], [_box(-10, -10, 3000, 1010)]))
    assert three.to_dict()["areas"][0]["pattern"] == "B"
    assert three.summary["patterns"]["A"] == 0 and three.summary["uncovered_units"] == ["u3"]
    warning = render_report(three)
    assert "どの圏域にも入らない区域が 1 件あります: u3" in warning
    assert "1 unit(s) lie in no plan area: u3" in render_report(three, fmt="html", lang="en")
    # Every unit touched, but half of u3 outside the plan: still not A.
    half = analyse_splits(units, _gdf(["市全体?"], [_box(-10, -10, 3500, 1010)]))
    assert half.to_dict()["areas"][0]["pattern"] == "B"
    assert half.summary["uncovered_units"] == [] and half.summary["partly_uncovered_units"] == ["u3"]
    assert "u3" in half.coverage_warning()
    # A gap under the tolerances (0.5 % of u3) is digitising noise: A, and no warning.
    near = analyse_splits(units, _gdf(["市全体"], [_box(-10, -10, 3995, 1010)]))
    assert near.to_dict()["areas"][0]["pattern"] == "A"
    assert near.coverage_warning() is None and "注意" not in render_report(near)


def test_pieces_frame_in_degrees_with_split_flags() -> None:
    units = _grid_units()
    report = analyse_splits(units, _gdf(["P", "Q"], [_box(0, 0, 1300, 1000),
                                                     _box(1300, 0, 4000, 1000)]))
    frame = report.pieces_frame()
    assert frame.crs.to_epsg() == 4326 and len(frame) == len(report.pieces)
    assert "unit_index" not in frame.columns and frame["reason"].map(type).eq(str).all()
    assert set(frame.loc[frame["split"], "unit"]) == {"u1"}
    assert frame["split"].sum() == 2  # u1's two pieces
    table = pieces_table(report)
    assert table["unit_split"].tolist() == table["unit"].eq("u1").tolist()


def test_unit_outside_the_plan_is_reported() -> None:
    units = _grid_units()
    report = analyse_splits(units, _gdf(["P"], [_box(0, 0, 2500, 1000)]))
    u3 = _unit(report, "u3")
    assert u3["n_pieces"] == 0 and u3["main_area"] is None and u3["uncovered_share"] == 1.0
    assert _unit(report, "u2")["uncovered_share"] == pytest.approx(0.5)
    assert report.summary["units_not_covered"] == 1


def test_alternative_plan_splits_nothing() -> None:
    units = _grid_units()
    plan = _gdf(["P", "Q"], [_box(0, 0, 1300, 1000), _box(1300, 0, 4000, 1000)])
    report = analyse_splits(units, plan)
    again = analyse_splits(units, report.alternative_plan())
    assert again.summary["units_split"] == 0
    assert again.to_dict()["alternative"]["assignment"] == report.to_dict()["alternative"]["assignment"]


def test_bad_inputs_raise_kennai_errors() -> None:
    units = _grid_units()
    with pytest.raises(InputError):
        analyse_splits(units.rename(columns={"name": "x"}), units)
    with pytest.raises(InputError):
        analyse_splits(units, units.iloc[:0])
    with pytest.raises(InputError):
        SplitTolerances(min_area_share=0.7)
    with pytest.raises(InputError):
        analyse_splits(units, units, population=units)  # no population column


# --- properties --------------------------------------------------------------------------------

_seeds = st.lists(st.tuples(st.floats(0, 5000), st.floats(0, 5000)), min_size=2, max_size=25,
                  unique_by=lambda p: (round(p[0], -1), round(p[1], -1)))


def _voronoi(points: list[tuple[float, float]]) -> list[shapely.Geometry]:
    frame = _box(0, 0, 5000, 5000)
    seeds = shapely.multipoints([(X0 + x, Y0 + y) for x, y in points])
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame))
    return [c for c in shapely.intersection(cells, frame) if c.area > 0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_seeds)
def test_plan_equal_to_units_splits_nothing(points: list[tuple[float, float]]) -> None:
    cells = _voronoi(points)
    units = _gdf([f"u{i}" for i in range(len(cells))], cells)
    plan = _gdf([f"area{i}" for i in range(len(cells))], cells)
    report = analyse_splits(units, plan)
    assert report.summary["units_split"] == 0
    assert report.summary["effective_splits"] == 0
    assert set(report.areas["pattern"]) <= {"A", "M"}  # each area is one whole unit: 一致
    assert (report.units["main_area"].to_numpy() == plan["name"].to_numpy()).all()


_angle = st.floats(0, math.pi, exclude_max=True)


@settings(max_examples=40, deadline=None)
@given(w=st.floats(200, 5000), h=st.floats(200, 5000), angle=_angle, frac=st.floats(0.15, 0.85))
def test_straight_cut_splits_with_shares_summing_to_one(w: float, h: float, angle: float,
                                                         frac: float) -> None:
    unit = _box(0, 0, w, h)
    # A line through the point at ``frac`` along the diagonal, at any angle.
    cx, cy = X0 + frac * w, Y0 + frac * h
    dx, dy = math.cos(angle), math.sin(angle)
    far = 10 * (w + h)
    line = shapely.LineString([(cx - 3 * far * dx, cy - 3 * far * dy),
                               (cx + 3 * far * dx, cy + 3 * far * dy)])
    big = shapely.box(cx - far, cy - far, cx + far, cy + far)
    halves = list(shapely.get_parts(shapely.ops.split(big, line)))
    assert len(halves) == 2
    expected = [shapely.intersection(unit, h_).area / unit.area for h_ in halves]
    if min(expected) < 0.05:  # a cut near a corner: not a "large" piece
        return
    report = analyse_splits(_gdf(["u"], [unit]), _gdf(["L", "R"], halves))
    u = _unit(report, "u")
    assert u["split"] is True and len(u["pieces"]) == 2
    shares = {p["area"]: p["area_share"] for p in u["pieces"]}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-6)
    assert [shares["L"], shares["R"]] == pytest.approx(expected, abs=1e-6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_seeds, st.floats(0.2, 0.8), st.sampled_from(["EPSG:4326", "EPSG:3857", "EPSG:32653"]))
def test_shares_are_invariant_to_the_input_crs(points: list[tuple[float, float]], frac: float,
                                               other: str) -> None:
    cells = _voronoi(points)
    units = _gdf([f"u{i}" for i in range(len(cells))], cells)
    plan = _gdf(["W", "E"], [_box(-10, -10, frac * 5000, 5010), _box(frac * 5000, -10, 5010, 5010)])
    base = pieces_by_key(analyse_splits(units, plan))
    moved = pieces_by_key(analyse_splits(units.to_crs(other), plan.to_crs("EPSG:4326")))
    assert set(base) == set(moved)
    for key, share in base.items():
        assert moved[key] == pytest.approx(share, abs=2e-4)


def pieces_by_key(report) -> dict[tuple[str, str], float]:
    p = report.pieces[report.pieces["area_share"] > 1e-3]
    return dict(zip(zip(p["unit"], p["area"], strict=True), p["area_share"], strict=True))


# --- outputs -----------------------------------------------------------------------------------


def _example_report():
    units = _grid_units()
    plan = _gdf(["P", "Q"], [_box(0, 0, 1300, 1000), _box(1300, 0, 4000, 1000)])
    pop = gpd.GeoDataFrame({"population": [100.0, 200.0, 300.0, 400.0]},
                           geometry=list(units.geometry), crs=CRS_M)
    return analyse_splits(units, plan, population=pop, units_layer="elementary",
                          plan_name="draft")


def test_writers(tmp_path: Path) -> None:
    report = _example_report()
    data = json.loads(write_json(report, tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["summary"]["units_split"] == 1 and len(data["units"]) == 4
    raw = write_csv(report, tmp_path / "r.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(rows) == len(report.pieces)
    assert {r["unit"] for r in rows if r["unit_split"] == "True"} == {"u1"}
    gpkg = write_gpkg(report, tmp_path / "r.gpkg")
    layers = {row[0] for row in pyogrio.list_layers(gpkg)}
    assert layers == {"pieces", "alternative"}
    pieces = pyogrio.read_dataframe(gpkg, layer="pieces")
    assert pieces.crs.to_epsg() == 4326 and len(pieces) == len(report.pieces)
    assert abs(pieces.total_bounds[0]) < 180
    md = write_report(report, tmp_path / "r.md").read_text(encoding="utf-8")
    assert "分断" in md and "u1" in md and "| u1 | Q |" in md
    html = write_report(report, tmp_path / "r.html", lang="en").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Split units" in html and 'lang="en"' in html
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_failed_write_leaves_no_half_file(tmp_path: Path) -> None:
    report = _example_report()
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")
    report.summary["bad"] = object()  # not JSON-serialisable
    with pytest.raises(TypeError):
        write_json(report, target)
    assert target.read_text(encoding="utf-8") == "old"


def _memory_region(units: gpd.GeoDataFrame, plans: dict[str, gpd.GeoDataFrame]) -> Region:
    config = RegionConfig.model_validate({"name": "t", "title": "t",
                                          "layers": {"elementary": {"path": "x.geojson"}}})
    return Region(config, CRS.from_user_input(CRS_M), [], {}, _layers={"elementary": units},
                  _plans=plans)


def test_compare_plans_side_by_side(tmp_path: Path) -> None:
    units = _grid_units()
    region = _memory_region(units, {
        "cut": _gdf(["P", "Q"], [_box(0, 0, 1300, 1000), _box(1300, 0, 4000, 1000)]),
        "clean": _gdf(["P", "Q"], [_box(0, 0, 2000, 1000), _box(2000, 0, 4000, 1000)]),
    })
    comparison = compare_plans(region, ["cut", "clean"], "elementary")
    table = comparison.table()
    assert table["units_split"].tolist() == [1, 0]
    d = comparison.to_dict()
    u1 = next(u for u in d["units"] if u["name"] == "u1")
    assert u1["plans"]["cut"] == {"split": True, "areas": ["Q", "P"]}
    assert u1["plans"]["clean"]["split"] is False
    text = render_report(comparison)
    assert "Q / P" in text
    raw = write_csv(comparison, tmp_path / "c.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"units_split" in raw
    with pytest.raises(KennaiError):
        compare_plans(region, ["cut"], "elementary")
    with pytest.raises(KennaiError):
        split_report_for_region(region, "nope", "elementary")


# --- uploaded plans ----------------------------------------------------------------------------


def test_read_plan_upload_geojson_bytes_and_zipped_shift_jis(tmp_path: Path) -> None:
    plan = _gdf(["第1圏域", "第2圏域", "第2圏域"],
                [_box(0, 0, 1300, 1000), _box(1300, 0, 3000, 1000), _box(3000, 0, 4000, 1000)])
    crs = CRS.from_user_input(CRS_M)
    geojson = plan.rename(columns={"name": "圏域名"}).to_crs("EPSG:4326").to_json().encode()
    got = read_plan_upload(geojson, name_column="圏域名", crs=crs)
    assert sorted(got["name"]) == ["第1圏域", "第2圏域"] and got.crs == crs
    assert got.area.sum() == pytest.approx(4e6, rel=1e-6)
    # A Shift_JIS shapefile in a zip, no name column given: found from the values (…中学校).
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    plan.assign(name=["焼津中学校", "大村中学校", "大村中学校"]).rename(
        columns={"name": "item2"}).to_file(shp_dir / "plan.shp", encoding="cp932")
    (shp_dir / "plan.cpg").unlink(missing_ok=True)
    archive = tmp_path / "plan.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f.name)
    got = read_plan_upload(archive, name_column=None, crs=crs)
    assert sorted(got["name"]) == ["大村中学校", "焼津中学校"]
    report = analyse_splits(_grid_units(), got)
    assert report.summary["split_units"] == ["u1"]
    with pytest.raises(InputError):
        read_plan_upload(b"not a plan", name_column=None, crs=crs)


# --- real data: 焼津市 -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yaizu_elementary(yaizu: Region):
    return split_report_for_region(yaizu, "junior_high", "elementary")


@pytest.mark.realdata
@needs_shared
def test_yaizu_junior_high_splits_exactly_two_elementary_districts(yaizu_elementary) -> None:
    d = yaizu_elementary.to_dict()
    assert sorted(d["summary"]["split_units"]) == ["焼津東小学校", "焼津西小学校"]
    assert len(d["units"]) == 13
    east = {p["area"]: p for p in _unit(yaizu_elementary, "焼津東小学校")["pieces"]}
    west = {p["area"]: p for p in _unit(yaizu_elementary, "焼津西小学校")["pieces"]}
    assert east["焼津中学校"]["area_share"] == pytest.approx(0.81, abs=0.01)
    assert east["大村中学校"]["area_share"] == pytest.approx(0.19, abs=0.01)
    assert west["大村中学校"]["area_share"] == pytest.approx(0.83, abs=0.01)
    assert west["焼津中学校"]["area_share"] == pytest.approx(0.17, abs=0.01)
    for pieces in (east, west):
        shares = [p["population_share"] for p in pieces.values()]
        assert all(s is not None and 0.05 < s < 0.95 for s in shares)
        assert sum(shares) == pytest.approx(1.0, abs=0.01)
    ogawa = _unit(yaizu_elementary, "小川小学校")
    assert ogawa["split"] is False
    minato = next(s for s in ogawa["slivers"] if s["area"] == "港中学校")
    assert minato["area_share"] == pytest.approx(0.004, abs=0.001)
    # Many sub-m² slivers elsewhere, none of them counted.
    tiny = yaizu_elementary.pieces[yaizu_elementary.pieces["area_m2"] < 1]
    assert len(tiny) >= 10 and not tiny["counted"].any()
    s = d["summary"]
    assert s["population_in_split_units"] > 0 and s["patterns"]["C"] == 2
    # The census total is the units' total plus the people outside every unit (none lost).
    assert s["population_total"] + s["population_outside_units"] == pytest.approx(139_462, abs=1)
    # 焼津市's census layer has no 65+ count: every 65+ figure is null, not zero.
    assert d["has_population_65plus"] is False and s["population_65plus_in_split_units"] is None
    assert all(p["population_65plus"] is None for p in east.values())
    assert {a["name"] for a in d["areas"] if a["pattern"] == "C"} == {"焼津中学校", "大村中学校"}


@pytest.mark.realdata
@needs_shared
def test_yaizu_neighbourhoods_cut_by_junior_high_lines(yaizu: Region) -> None:
    report = split_report_for_region(yaizu, "junior_high", "neighbourhood")
    d = report.to_dict()
    assert len(d["units"]) == 35
    split = [u for u in d["units"] if u["split"]]
    assert 0 < len(split) == d["summary"]["units_split"]
    for u in split:
        assert len(u["pieces"]) >= 2
        assert all(p["area_share"] >= 0.01 and p["population"] >= 10 for p in u["pieces"])
    # 焼津第5自治会 lies about 62 % / 37 % across the 焼津中 | 大村中 line.
    assert "焼津第5自治会" in d["summary"]["split_units"]


@pytest.mark.realdata
@needs_shared
def test_yaizu_assignment_table_of_small_areas_gives_the_same_answer_as_its_polygons(
        yaizu: Region, tmp_path: Path) -> None:
    # The table: each census small area (KEY_CODE) → the junior-high district holding its
    # representative point.
    small = yaizu.layer("population")
    junior = yaizu.layer("junior_high")
    points = gpd.GeoDataFrame(geometry=small.geometry.representative_point(), crs=small.crs)
    joined = gpd.sjoin(points, junior[["name", "geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    table = pd.DataFrame({"KEY_CODE": small["unit_id"], "圏域": joined["name"]}).dropna()
    assert len(table) == len(small)
    path = tmp_path / "plan_small_areas.csv"
    table.to_csv(path, index=False, encoding="utf-8-sig")
    config = PlanConfig(name="jh_table", path=path, units="population", unit_column="KEY_CODE",
                        area_column="圏域")
    from_table, findings = plan_from_table(config, {"population": small}, yaizu.crs)
    assert len(from_table) == 9 and findings == []
    # The same plan drawn as polygons, as a planner would upload it (GeoJSON, lon/lat).
    polygons = small.assign(圏域=table["圏域"].to_numpy()).dissolve(by="圏域", as_index=False)
    upload = tmp_path / "plan_small_areas.geojson"
    polygons[["圏域", "geometry"]].to_crs("EPSG:4326").to_file(upload, driver="GeoJSON")
    from_polygons = read_plan_upload(upload, name_column="圏域", crs=yaizu.crs)
    by_table = split_report_for_region(yaizu, "jh_table", "elementary", plan=from_table)
    by_polygons = split_report_for_region(yaizu, "jh_polygons", "elementary", plan=from_polygons)
    assert by_table.summary["split_units"] == by_polygons.summary["split_units"]
    # Small areas do not nest in school districts, so this plan cuts more than the districts do.
    assert {"焼津東小学校", "焼津西小学校"} <= set(by_table.summary["split_units"])
    for name in by_table.summary["split_units"]:
        a = {p["area"]: p for p in _unit(by_table, name)["pieces"]}
        b = {p["area"]: p for p in _unit(by_polygons, name)["pieces"]}
        assert set(a) == set(b)
        for area in a:
            assert a[area]["area_share"] == pytest.approx(b[area]["area_share"], abs=1e-4)
            assert a[area]["population_share"] == pytest.approx(b[area]["population_share"],
                                                                abs=1e-4)


@pytest.mark.realdata
@needs_shared
def test_cli_splits_json_contract(yaizu: Region, monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kennai.cli import app

    monkeypatch.chdir(tmp_path)  # the CLI builds into ./build/
    config = Path(__file__).resolve().parents[1] / "pipelines" / "yaizu.yaml"
    result = CliRunner().invoke(app, ["splits", str(config), "--plan", "junior_high", "--units",
                                      "elementary", "--json", "--csv", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert {"units", "summary"} <= set(data)
    for unit in data["units"]:
        assert {"name", "split", "pieces"} <= set(unit)
        for piece in unit["pieces"]:
            assert {"area", "area_share", "population_share"} <= set(piece)
    assert sorted(u["name"] for u in data["units"] if u["split"]) == ["焼津東小学校", "焼津西小学校"]
    compare = CliRunner().invoke(app, ["plans", "compare", str(config), "junior_high"])
    assert compare.exit_code != 0  # one plan cannot be compared
    assert np.isfinite(data["summary"]["effective_splits"])


def test_cli_refuses_output_names_that_hide_their_format(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kennai.cli import app
    from kennai.errors import OutputError

    config = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"
    for option, name in (("--gpkg", "out.txt"), ("--csv", "out.xlsx"), ("--report", "out.pdf")):
        res = CliRunner().invoke(app, ["splits", str(config), "--plan", "p", option,
                                       str(tmp_path / name)])
        assert isinstance(res.exception, OutputError), (option, res.output)
        assert option in res.exception.format("en") and not (tmp_path / name).exists()
    res = CliRunner().invoke(app, ["plans", "compare", str(config), "a", "b", "--csv",
                                   str(tmp_path / "c.txt")])
    assert isinstance(res.exception, OutputError)


DEMO_DATA = Path(__file__).resolve().parents[1] / "data" / "boundaries" / "demo"


@pytest.mark.skipif(not (DEMO_DATA / "plan_junior_high.geojson").is_file(),
                    reason="the demo region's data (data/boundaries/demo) is absent")
def test_cli_warns_when_a_plan_leaves_units_uncovered(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from kennai.cli import app

    plan = gpd.read_file(DEMO_DATA / "plan_junior_high.geojson")
    plan.iloc[:1].to_file(tmp_path / "one_area.geojson", driver="GeoJSON")
    text = (Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("../data/boundaries/demo/plan_junior_high.geojson",
                        str(tmp_path / "one_area.geojson"))
    (tmp_path / "demo.yaml").write_text(text.replace("../data/", f"{DEMO_DATA.parents[1]}/"),
                                        encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the CLI builds into ./build/
    monkeypatch.delenv("KENNAI_BUILD_ROOT", raising=False)
    res = CliRunner().invoke(app, ["splits", "demo.yaml", "--plan", "plan_junior_high",
                                   "--report", "r.md"])
    assert res.exit_code == 0, res.output
    as_json = CliRunner().invoke(app, ["splits", "demo.yaml", "--plan", "plan_junior_high",
                                       "--json"])
    summary = json.loads(as_json.stdout[as_json.stdout.index("{"):])["summary"]
    left_out = summary["uncovered_units"] + summary["partly_uncovered_units"]
    assert summary["units_not_covered"] >= 1 and summary["patterns"]["A"] == 0
    output = "".join(res.output.split())  # rich wraps long lines
    report = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "A:1" not in output and "注意" in output and "注意" in report
    for name in left_out:
        assert name in output and name in report


# --- the demo region: residents aged 65+ ------------------------------------------------------

DEMO_SMALL_AREAS = (Path(__file__).resolve().parents[1] / "data" / "boundaries" / "demo"
                    / "small_areas.geojson")


def _areal(target: shapely.Geometry, small: gpd.GeoDataFrame, column: str) -> float:
    """Independent areal weighting: Σ count · area(target ∩ small area) / area(small area)."""
    return float(sum(row[column] * shapely.intersection(target, row.geometry).area / row.geometry.area
                     for _, row in small.iterrows()))


def test_demo_plan_splits_one_district_with_65plus_from_the_small_areas(demo: Region,
                                                                       tmp_path: Path) -> None:
    report = split_report_for_region(demo, "plan_junior_high", "elementary")
    d = report.to_dict()
    assert d["has_population_65plus"] is True
    assert d["summary"]["split_units"] == ["川向小学校"]
    # The census-style file read independently of kennai's layer reader.
    small = gpd.read_file(DEMO_SMALL_AREAS).to_crs(report.crs)
    plan = demo.plan("plan_junior_high").to_crs(report.crs)
    units = demo.layer("elementary").to_crs(report.crs).set_index("name")
    for u in d["units"]:
        geom = units.loc[u["name"]].geometry
        assert u["population_65plus"] == pytest.approx(_areal(geom, small, "JINKO_65"), abs=0.1)
        assert u["population"] == pytest.approx(_areal(geom, small, "JINKO"), abs=0.1)
    kawamukai = _unit(report, "川向小学校")
    pieces = kawamukai["pieces"]
    assert len(pieces) == 2 and not kawamukai["slivers"]
    for p in pieces:
        area = plan.loc[plan["name"] == p["area"]].union_all()
        expected = _areal(shapely.intersection(units.loc["川向小学校"].geometry, area), small,
                          "JINKO_65")
        assert p["population_65plus"] == pytest.approx(expected, abs=0.1)
        assert p["population_65plus_share"] == pytest.approx(
            expected / kawamukai["population_65plus"], abs=1e-5)
    assert sum(p["population_65plus"] for p in pieces) == pytest.approx(
        kawamukai["population_65plus"], abs=0.2)
    assert sum(p["population_65plus_share"] for p in pieces) == pytest.approx(1.0, abs=1e-5)
    s = d["summary"]
    assert s["population_65plus_in_split_units"] == pytest.approx(kawamukai["population_65plus"],
                                                                  abs=0.1)
    total = sum(u["population_65plus"] for u in d["units"])
    assert s["population_65plus_total"] == pytest.approx(total, abs=0.5)
    assert s["population_65plus_in_split_units_share"] == pytest.approx(
        kawamukai["population_65plus"] / total, abs=1e-5)
    # Per plan area: 65+ under the plan and under the split-free alternative.
    by_area = {a["name"]: a for a in d["areas"]}
    assert sum(a["population_65plus"] for a in by_area.values()) == pytest.approx(total, abs=0.5)
    assert sum(a["population_65plus_after"] for a in by_area.values()) == pytest.approx(total,
                                                                                       abs=0.5)
    # Shown in the CSV and the report.
    rows = list(csv.DictReader(write_csv(report, tmp_path / "d.csv").read_text(
        encoding="utf-8-sig").splitlines()))
    assert {"population_65plus", "population_65plus_share"} <= set(rows[0])
    md = render_report(report)
    assert "65 歳以上" in md and "65歳以上の割合" in md
    assert "aged 65+" in render_report(report, fmt="html", lang="en")


def test_demo_plans_compared_share_one_overlay(demo: Region) -> None:
    comparison = compare_plans(demo, ["plan_junior_high", "plan_elementary"], "elementary")
    table = comparison.table()
    assert table["population_65plus_in_split_units"].tolist()[1] == 0.0  # whole districts
    first, second = comparison.reports
    assert first.units["population_65plus"].tolist() == second.units["population_65plus"].tolist()
    assert "65歳以上" in render_report(comparison)


def test_an_area_that_is_one_whole_unit_is_a_match_not_b() -> None:
    # The guidance (図５－２) keeps B for an area of several 小学校区; one whole unit is 「一致」.
    units = _grid_units()
    plan = analyse_splits(units, _gdf(["一校", "三校"], [_box(-10, -10, 1000, 1010),
                                                       _box(1000, -10, 4010, 1010)]))
    assert [a["pattern"] for a in plan.to_dict()["areas"]] == ["M", "B"]
    assert plan.summary["patterns"]["M"] == 1 and plan.summary["patterns"]["B"] == 1
    text = render_report(plan)
    assert "一致: 1つの区域と同じ" in text and "いくつかの小学校区の集合体" in text
