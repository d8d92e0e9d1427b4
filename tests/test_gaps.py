"""Gaps that mean something: split at district lines, named, bounded, ranked by 65+.

The synthetic cases are residents placed by hand beside two square districts; the real case is
焼津市 on its 路線価 centre-line network, where a gap once was a 3,000 ha polygon of 100,008
people.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from kennai import access
from kennai.access.coverage import OUTSIDE_NAME

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CRS_M = CRS.from_epsg(6676)

#: Two districts side by side, west [0, 1500) and east [1500, 3000), 1 km tall (the line is
#: inside a 1 km gap block, so only the district splits there).
DISTRICTS = gpd.GeoDataFrame({"name": ["西", "東"]},
                             geometry=[shapely.box(0, 0, 1500, 1000),
                                       shapely.box(1500, 0, 3000, 1000)], crs=CRS_M)


def results_for(xy: list[tuple[float, float]], pop: list[float], p65: list[float] | None = None,
                distance: list[float] | None = None) -> access.AccessResults:
    """Access results of residents at ``xy``, all far (2 km) unless ``distance`` says."""
    n = len(xy)
    frame = pd.DataFrame({"population": pop,
                          "population_65plus": p65 if p65 is not None else [np.nan] * n,
                          "unit_id": "", "source": "b", "status": "ok", "place_id": "",
                          "distance_m": distance or [2000.0] * n, "time_min": 40.0,
                          "straight_m": 2000.0})
    gdf = gpd.GeoDataFrame(frame, geometry=shapely.points(np.array(xy, float)), crs=CRS_M)
    return access.AccessResults(gdf, gpd.GeoDataFrame(geometry=[], crs=CRS_M),
                                access.AccessOptions())


def test_a_gap_stops_at_a_district_line_and_carries_its_name():
    # A row of touching cells from x=1350 to x=1650: one gap without districts, two with.
    xy = [(1350.0, 500.0), (1450.0, 500.0), (1550.0, 500.0), (1650.0, 500.0)]
    res = results_for(xy, [1.0, 2.0, 3.0, 4.0], p65=[1.0, 1.0, 1.0, 1.0])
    whole = access.gap_polygons(res, threshold_m=500, cell_m=100)
    assert len(whole) == 1 and whole["district"].isna().all()
    split = access.gap_polygons(res, threshold_m=500, cell_m=100, districts=DISTRICTS)
    assert sorted(split["district"]) == ["東", "西"]
    assert split["population"].sum() == pytest.approx(10.0)  # nobody lost at the line
    for name, geom in zip(split["district"], split.geometry, strict=True):
        shape = DISTRICTS.set_index("name").geometry[name]
        assert geom.difference(shape).area == pytest.approx(0.0, abs=1e-6)
    east = split[split["district"] == "東"].iloc[0]
    assert east["population"] == 7.0 and east["area_ha"] == 2.0


def test_a_gap_is_a_neighbourhood_not_a_town():
    # A 3 km line of far residents: one gap without a bound, pieces of ≤ 2 thresholds with it.
    xs = np.arange(50.0, 3000.0, 100.0)
    res = results_for([(x, 2500.0) for x in xs], [1.0] * len(xs))
    gaps = access.gap_polygons(res, threshold_m=500, cell_m=100)
    assert len(gaps) == 3 and gaps["population"].sum() == len(xs)
    for geom in gaps.geometry:
        x0, y0, x1, y1 = geom.bounds
        assert x1 - x0 <= 1000 + 1e-9 and y1 - y0 <= 1000 + 1e-9
    # the blocks are fixed to the grid, so they do not move when a resident is added
    more = results_for([(x, 2500.0) for x in xs] + [(3050.0, 2500.0)], [1.0] * (len(xs) + 1))
    again = access.gap_polygons(more, threshold_m=500, cell_m=100)
    kept = [g for g in again.geometry if g.bounds[0] < 3000]
    assert sorted(shapely.to_wkt(g) for g in kept) == sorted(shapely.to_wkt(g) for g in gaps.geometry)


def test_gaps_rank_by_65plus_across_the_region_and_within_each_district():
    # West: a big young gap and a small old one; east: one gap. Separate cells, far apart.
    xy = [(100.0, 100.0), (700.0, 700.0), (2500.0, 500.0)]
    res = results_for(xy, [50.0, 10.0, 20.0], p65=[2.0, 9.0, 5.0])
    gaps = access.gap_polygons(res, threshold_m=500, cell_m=100, districts=DISTRICTS)
    assert list(gaps["population_65plus"]) == [9.0, 5.0, 2.0]
    assert list(gaps["rank"]) == [1, 2, 3]
    assert list(zip(gaps["district"], gaps["district_rank"], strict=True)) == [
        ("西", 1), ("東", 1), ("西", 2)]


def test_residents_in_no_district_make_gaps_of_their_own_and_unreachable_stays_apart():
    xy = [(500.0, 1500.0), (550.0, 500.0), (650.0, 500.0)]
    res = results_for(xy, [4.0, 1.0, 1.0], distance=[2000.0, 2000.0, np.inf])
    gaps = access.gap_polygons(res, threshold_m=500, cell_m=100, districts=DISTRICTS)
    assert set(gaps["district"]) == {OUTSIDE_NAME, "西"}
    west = gaps[gaps["district"] == "西"]
    assert sorted(west["reach"]) == ["far", "unreachable"]  # touching cells, kept apart
    outside = gaps[gaps["district"] == OUTSIDE_NAME].iloc[0]
    assert not outside.geometry.intersection(shapely.union_all(DISTRICTS.geometry)).area


def test_a_district_s_gaps_are_its_own_and_carry_its_name(demo):
    results = access.results_for(demo, access.AccessOptions())
    layer = "elementary"
    name = str(demo.layer(layer)["name"].iloc[0])
    picked = access.district_gaps(demo, results, layer=layer, district=name, threshold_m=250)
    assert len(picked.gaps) and set(picked.gaps["district"]) == {name}
    assert list(picked.gaps["district_rank"]) == list(picked.gaps["rank"])


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED / "yaizu").is_dir(), reason=f"Yaizu data not found at {SHARED}")
def test_yaizu_rosenka_gaps_stay_inside_their_school_district(tmp_path):
    from kennai.build import build_region
    from kennai.config import load_config

    cfg = load_config(ROOT / "pipelines" / "yaizu_rosenka.yaml")
    region, _ = build_region(cfg, build_dir=tmp_path / "yr")
    results = access.results_for(region, access.AccessOptions())
    gaps = access.region_gaps(region, results)
    schools = region.layer("elementary").to_crs(gaps.crs).dissolve("name").geometry
    assert len(gaps) and gaps["district"].notna().all()
    assert set(gaps["district"]) <= {*schools.index, OUTSIDE_NAME}
    for name, geom in zip(gaps["district"], gaps.geometry, strict=True):
        if name != OUTSIDE_NAME:
            assert geom.difference(schools[name]).area <= 1e-3 * geom.area, name
    side = 2 * results.options.gap_threshold_m
    assert gaps["area_ha"].max() <= side * side / 1e4  # no gap is a town
    res = results.residents
    far = res[(res["status"] == "ok") & ~(res["distance_m"] <= results.options.gap_threshold_m)]
    assert gaps["population"].sum() == pytest.approx(far["population"].sum(), rel=1e-6)
    # the build stores the same gaps the library gives
    stored = access.load_access(region.build_dir).gaps
    assert stored is not None and list(stored["district"]) == list(gaps["district"])
