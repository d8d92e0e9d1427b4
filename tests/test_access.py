"""The walkable-access engine: exact distances (checked against networkx), speed and slope,
coverage with "no network", gaps, site suggestion, storage and the `kennai access` command."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from pyproj import CRS
from rasterio.transform import from_origin
from scipy.sparse import csr_matrix

from kennai import access
from kennai.errors import ConfigError, EmptyLayerError
from kennai.graph import SPEEDS, build_graph, csr_from_edges, tobler_factor
from kennai.network import WalkNetwork
from kennai.residents import resident_locations
from kennai.snapping import Snap, snap_to_edges

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ISHIGAKI = SHARED / "ishigaki" / "network" / "ishigaki_city_osm_2024-04-11.osm.pbf"
DEMO_DATA = ROOT / "data" / "boundaries" / "demo"
CRS_M = CRS.from_epsg(6676)

needs_ishigaki = pytest.mark.skipif(not ISHIGAKI.is_file(), reason=f"Ishigaki PBF not found at {ISHIGAKI}")
needs_yaizu = pytest.mark.skipif(not (SHARED / "yaizu").is_dir(), reason=f"Yaizu data not found at {SHARED}")
needs_demo = pytest.mark.skipif(not (DEMO_DATA / "town.osm").is_file(),
                                reason=f"demo data not generated yet at {DEMO_DATA}")


# --------------------------------------------------------------------------- helpers


def make_network(lines: list[list[tuple[float, float]]], node_ids: list[tuple[int, int]],
                 highway: list[str] | None = None) -> WalkNetwork:
    """A network from explicit polylines and their end node ids (ids are 0..n-1)."""
    n = max(max(p) for p in node_ids) + 1
    xy = np.zeros((n, 2))
    for line, (u, v) in zip(lines, node_ids, strict=True):
        xy[u], xy[v] = line[0], line[-1]
    geoms = np.asarray([shapely.LineString(line) for line in lines], dtype=object)
    return WalkNetwork.from_geometry(CRS_M, np.arange(n), xy, np.array([u for u, _ in node_ids]),
                       np.array([v for _, v in node_ids]), shapely.length(geoms),
                       np.asarray(highway or ["footway"] * len(lines), dtype=object), geoms)


def grid_network(size: int, spacing: float, rng: np.random.Generator) -> WalkNetwork:
    """A jittered grid with a few extra parallel edges (curved) and a detached part."""
    ij = np.array([(i, j) for j in range(size) for i in range(size)])
    xy = ij * spacing + rng.uniform(-spacing / 5, spacing / 5, size=ij.shape)
    idx = lambda i, j: j * size + i  # noqa: E731
    lines, ends = [], []
    for j in range(size):
        for i in range(size):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < size and j + dj < size and rng.random() > 0.1:
                    a, b = idx(i, j), idx(i + di, j + dj)
                    lines.append([tuple(xy[a]), tuple(xy[b])])
                    ends.append((a, b))
    for k in rng.choice(len(lines), size=len(lines) // 8, replace=False):
        (a, b), (p, q) = ends[k], lines[k]
        mid = ((p[0] + q[0]) / 2 + spacing / 3, (p[1] + q[1]) / 2 + spacing / 3)
        lines.append([p, mid, q])
        ends.append((a, b))
    n = size * size
    far = [(xy[:, 0].max() + 5000, 0.0), (xy[:, 0].max() + 5100, 0.0)]
    lines.append(far)
    ends.append((n, n + 1))
    return make_network(lines, ends)


def networkx_distances(net: WalkNetwork, points: Snap, places: Snap) -> np.ndarray:
    """Independent check: split every edge at the snapped points in a networkx MultiGraph and
    run networkx's multi-source Dijkstra from the places."""
    g = nx.MultiGraph()
    g.add_nodes_from(("n", i) for i in range(net.n_nodes))
    on_edge: dict[int, list[tuple[float, tuple[str, int]]]] = defaultdict(list)
    for kind, snap in (("r", points), ("p", places)):
        for j in np.flatnonzero(snap.ok):
            on_edge[int(snap.edge[j])].append((float(snap.along_m[j]), (kind, int(j))))
            g.add_edge((kind, int(j)), ("on", kind, int(j)), weight=float(snap.perp_m[j]))
    for e in range(net.n_edges):
        stops = sorted(on_edge.get(e, []))
        chain = [("n", int(net.edge_u[e]))] + [("on", *key) for _, key in stops] + [
            ("n", int(net.edge_v[e]))]
        pos = [0.0] + [a for a, _ in stops] + [float(net.edge_length[e])]
        for k in range(len(chain) - 1):
            g.add_edge(chain[k], chain[k + 1], weight=pos[k + 1] - pos[k])
    sources = {("p", int(k)) for k in np.flatnonzero(places.ok)}
    got = nx.multi_source_dijkstra_path_length(g, sources, weight="weight")
    return np.array([got.get(("r", j), np.inf) if points.ok[j] else np.inf
                     for j in range(len(points.edge))])


def fake_results(rows: pd.DataFrame, **opts: object) -> access.AccessResults:
    gdf = gpd.GeoDataFrame(rows.drop(columns=["x", "y"]),
                           geometry=shapely.points(rows[["x", "y"]].to_numpy(float)), crs=CRS_M)
    return access.AccessResults(gdf, gpd.GeoDataFrame(geometry=[], crs=CRS_M),
                                access.AccessOptions(**opts))


# --------------------------------------------------------------------------- graph


def test_parallel_edges_keep_the_minimum_not_the_sum():
    m = csr_from_edges(np.array([0, 0, 0, 1]), np.array([1, 1, 1, 2]),
                       np.array([80.0, 50.0, 70.0, 0.0]), 3)
    assert m[0, 1] == 50.0  # scipy's own constructor would give 200
    assert csr_matrix((np.array([80.0, 50.0]), (np.array([0, 0]), np.array([1, 1]))),
                      shape=(3, 3))[0, 1] == 130.0
    assert m.nnz == 2  # the zero-cost edge stays an edge


def test_the_graph_of_many_parallel_edges_is_the_sorted_minimum_of_each_pair() -> None:
    """The one-key sort keeps, for each (u, v), the least weight, in row then column order: the
    CSR arrays a sort of (u, v, weight) gives, on random pairs with many repeats."""
    rng = np.random.default_rng(7)
    n = 500
    u, v = rng.integers(0, n, 20_000), rng.integers(0, n, 20_000)
    w = rng.integers(0, 50, 20_000).astype(float)
    m = csr_from_edges(u, v, w, n)
    order = np.lexsort((w, v, u))
    uu, vv, ww = u[order], v[order], w[order]
    first = np.concatenate([[True], (uu[1:] != uu[:-1]) | (vv[1:] != vv[:-1])])
    assert np.array_equal(m.indices, vv[first]) and np.array_equal(m.data, ww[first])
    assert np.array_equal(m.indptr, np.concatenate([[0], np.cumsum(np.bincount(uu[first],
                                                                               minlength=n))]))
    assert csr_from_edges(np.zeros(0, int), np.zeros(0, int), np.zeros(0), 3).nnz == 0


def test_speed_profiles_and_steps():
    net = make_network([[(0, 0), (100, 0)], [(100, 0), (100, 50)]], [(0, 1), (1, 2)],
                       highway=["footway", "steps"])
    elderly = build_graph(net, weight="time")
    adult = build_graph(net, weight="time", profile="adult")
    assert elderly.cost_fwd[0] == pytest.approx(100 / SPEEDS["elderly"])
    assert adult.cost_fwd[0] == pytest.approx(100 / 1.3)
    slow = build_graph(net, weight="time", steps_factor=2.0)
    assert slow.cost_fwd[1] == pytest.approx(2 * elderly.cost_fwd[1])
    assert slow.cost_fwd[0] == pytest.approx(elderly.cost_fwd[0])
    with pytest.raises(ConfigError):
        build_graph(net, weight="time", profile="runner")


def test_tobler_uphill_slower_than_downhill_and_flat_is_reference():
    assert tobler_factor(np.array([0.0]))[0] == pytest.approx(1.0)
    up, down = tobler_factor(np.array([0.1, -0.1]))
    assert up < down < 1.2 and up < 1.0


def _ramp_dem(path: Path, slope: float) -> Path:
    """A DEM rising eastward by ``slope`` (metres per metre), 10 m pixels, in CRS_M."""
    x = np.arange(-50, 1050, 10.0) + 5
    z = np.tile(x * slope, (20, 1)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1,
                       dtype="float32", crs=CRS_M.to_wkt(),
                       transform=from_origin(-50, 100, 10, 10)) as ds:
        ds.write(z, 1)
    return path


def test_slope_makes_uphill_walks_longer(tmp_path):
    # A place at the top (x=1000) and one at the bottom (x=0); the resident in the middle
    # reaches the bottom one faster although both are 500 m away.
    net = make_network([[(0, 50), (500, 50)], [(500, 50), (1000, 50)]], [(0, 1), (1, 2)])
    dem = _ramp_dem(tmp_path / "dem.tif", 0.08)
    hill = build_graph(net, weight="time", dem_path=dem)
    flat = build_graph(net, weight="time")
    assert hill.cost_fwd[0] > flat.cost_fwd[0] > hill.cost_bwd[0]
    places = snap_to_edges(net, np.array([[0.0, 50.0], [1000.0, 50.0]]))
    resident = snap_to_edges(net, np.array([[500.0, 55.0]]))
    cost, place = access.nearest_places(hill, resident, places)
    assert place[0] == 0
    assert cost[0] == pytest.approx(hill.cost_bwd[0] + 5 / SPEEDS["elderly"])
    # Going down to the bottom place from the top resident is the cheap direction.
    top = snap_to_edges(net, np.array([[1000.0, 50.0]]))
    down, _ = access.nearest_places(hill, top, snap_to_edges(net, np.array([[0.0, 50.0]])))
    assert down[0] == pytest.approx(hill.cost_bwd.sum())
    assert hill.info["slope"] is True


# --------------------------------------------------------------------------- exact distances


def test_same_edge_walk_is_direct():
    # A long edge; resident and place both on it, 10 m apart; ends are 500 m away each.
    net = make_network([[(0, 0), (1000, 0)], [(0, 0), (0, 10)]], [(0, 1), (0, 2)])
    g = build_graph(net, weight="length")
    places = snap_to_edges(net, np.array([[500.0, 3.0]]))
    res = snap_to_edges(net, np.array([[510.0, -4.0], [0.0, 10.0]]))
    cost, place = access.nearest_places(g, res, places)
    assert cost[0] == pytest.approx(10 + 3 + 4)
    assert cost[1] == pytest.approx(10 + 500 + 3)
    assert list(place) == [0, 0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_distances_equal_networkx_on_random_grids(seed):
    rng = np.random.default_rng(seed)
    net = grid_network(12, 80.0, rng)
    g = build_graph(net, weight="length")
    lo, hi = net.node_xy.min(axis=0), net.node_xy[:144].max(axis=0)
    xy = np.vstack([rng.uniform(lo, hi, size=(300, 2)), hi + 3000])  # the last one is far off
    pts = snap_to_edges(net, xy, max_distance_m=60)
    places = snap_to_edges(net, rng.uniform(lo, hi, size=(7, 2)))
    cost, place = access.nearest_places(g, pts, places)
    expect = networkx_distances(net, pts, places)
    np.testing.assert_allclose(cost, expect, rtol=0, atol=1e-6)
    # The place named is one at that distance.
    single = [access.nearest_places(g, pts, Snap(*(np.where(np.arange(7) == k, a, b)
                                                    for a, b in ((places.edge, -1),
                                                                 (places.along_m, 0.0),
                                                                 (places.perp_m, np.inf))),
                                                 places.xy))[0] for k in range(7)]
    reached = np.isfinite(cost)
    by_place = np.vstack(single)
    np.testing.assert_allclose(by_place[place[reached], np.flatnonzero(reached)], cost[reached],
                               atol=1e-6)
    assert (~pts.ok).any() and not np.isfinite(cost[~pts.ok]).any()


def test_a_place_on_a_loop_reaches_its_one_end_by_the_shorter_way():
    """A loop's two ends are one node: its place is reached the shorter way round."""
    ring = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0), (0.0, 0.0)]
    geoms = np.array([shapely.LineString(ring), shapely.LineString([(0.0, 0.0), (-50.0, 0.0)])])
    net = WalkNetwork.from_geometry(CRS.from_epsg(6677), np.arange(2),
                                    np.array([[0.0, 0.0], [-50.0, 0.0]]), np.array([0, 0]),
                                    np.array([0, 1]), shapely.length(geoms),
                                    np.full(2, "footway", dtype=object), geoms)
    g = build_graph(net, weight="length")
    home = snap_to_edges(net, np.array([[-50.0, 0.0]]))
    # 130 m round one way (from the loop's u end), then 70 m the other way (from its v end).
    for spot, walk in (((100.0, 30.0), 130.0), ((0.0, 70.0), 70.0)):
        cost, place = access.nearest_places(g, home, snap_to_edges(net, np.array([spot])))
        np.testing.assert_allclose(cost, [walk + 50.0])
        assert list(place) == [0]


def test_places_sharing_an_edge_end_the_nearer_one_is_named():
    # Two places on the two edges meeting at node 1 (x=500); a resident up the side street
    # from node 1 reaches the one 50 m away, not the one 100 m away.
    net = make_network([[(0, 0), (500, 0)], [(500, 0), (1000, 0)], [(500, 0), (500, 300)]],
                       [(0, 1), (1, 2), (1, 3)])
    g = build_graph(net, weight="length")
    places = snap_to_edges(net, np.array([[400.0, 0.0], [550.0, 0.0]]))
    cost, place = access.nearest_places(g, snap_to_edges(net, np.array([[500.0, 200.0]])), places)
    assert cost[0] == pytest.approx(250.0) and place[0] == 1


def test_reversed_matrix_is_made_once_and_reused_for_new_places(tmp_path):
    net = make_network([[(0, 50), (500, 50)], [(500, 50), (1000, 50)]], [(0, 1), (1, 2)])
    flat = build_graph(net, weight="length")
    assert flat.reversed_matrix() is flat.matrix
    hill = build_graph(net, weight="time", dem_path=_ramp_dem(tmp_path / "dem.tif", 0.08))
    rev = hill.reversed_matrix()
    assert rev is hill.reversed_matrix()
    np.testing.assert_array_equal(rev.toarray(), hill.matrix.T.toarray())
    res = snap_to_edges(net, np.array([[250.0, 50.0], [750.0, 50.0]]))
    # Uphill to the top place, downhill to the bottom one: the cached matrix keeps directions.
    up, _ = access.nearest_places(hill, res, snap_to_edges(net, np.array([[1000.0, 50.0]])))
    down, _ = access.nearest_places(hill, res, snap_to_edges(net, np.array([[0.0, 50.0]])))
    assert up[1] == pytest.approx(hill.cost_fwd[1] / 2) and down[0] == pytest.approx(
        hill.cost_bwd[0] / 2)
    assert up[1] > down[0]


def test_unreachable_component_is_infinite_not_dropped():
    net = make_network([[(0, 0), (100, 0)], [(500, 0), (600, 0)]], [(0, 1), (2, 3)])
    g = build_graph(net, weight="length")
    cost, place = access.nearest_places(g, snap_to_edges(net, np.array([[550.0, 1.0]])),
                                        snap_to_edges(net, np.array([[50.0, 0.0]])))
    assert np.isinf(cost[0]) and place[0] == -1


# --------------------------------------------------------------------------- residents


def test_census_spread_on_buildings_by_area_and_units_without_buildings_kept():
    units = gpd.GeoDataFrame({"unit_id": ["a", "b"], "population": [100.0, 40.0],
                              "population_65plus": [30.0, 10.0]},
                             geometry=[shapely.box(0, 0, 100, 100), shapely.box(200, 0, 300, 100)],
                             crs=CRS_M)
    bld = gpd.GeoDataFrame(geometry=[shapely.box(10, 10, 20, 20), shapely.box(50, 50, 80, 60)],
                           crs=CRS_M)
    res, info = resident_locations(population=units, buildings=bld, network=None)
    assert res["population"].sum() == pytest.approx(140)
    assert res["population_65plus"].sum() == pytest.approx(40)
    a = res[res["unit_id"] == "a"].sort_values("population")
    assert list(a["population"]) == pytest.approx([25.0, 75.0])  # areas 100 and 300 m²
    assert info["areas_spread_over_area"] == 1
    b = res[res["unit_id"] == "b"]  # no building: spread over its area, never dropped
    assert (b["source"] == "area_grid").all() and len(b) == 2 * 2  # 50 m cells over 100 × 100 m
    assert b["population"].sum() == pytest.approx(40)


def test_buildings_alone_count_one_household_each():
    bld = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)],
                           crs=CRS_M)
    res, info = resident_locations(population=None, buildings=bld, network=None)
    assert list(res["population"]) == [1.0, 1.0] and info["unit"] == "households"
    with pytest.raises(EmptyLayerError):
        resident_locations(population=None, buildings=None, network=None)


def test_street_spread_keeps_the_part_outside_the_network_apart():
    net = make_network([[(0, 50), (100, 50)]], [(0, 1)])
    units = gpd.GeoDataFrame({"unit_id": ["a"], "population": [100.0],
                              "population_65plus": [np.nan]},
                             geometry=[shapely.box(0, 0, 400, 100)], crs=CRS_M)
    extent = shapely.box(-10, -10, 200, 110)  # half of the unit
    res, _ = resident_locations(population=units, buildings=None, network=net, extent=extent,
                                spacing_m=10)
    assert res["population"].sum() == pytest.approx(100)
    outside = res[res["source"] == "area_outside_network"]
    assert outside["population"].sum() == pytest.approx(50)
    assert not shapely.contains(extent, outside.geometry.values).any()
    # Spread over the outside part's area, not piled on one point.
    assert len(outside) == 20 * 10  # one per 10 m cell of the 200 × 100 m outside part
    np.testing.assert_allclose(outside["population"], 50 / 200)


def _district_sums(res: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> dict[str, float]:
    rows = access.coverage_table(access.AccessResults(
        res.assign(status="no_network", distance_m=np.inf, time_min=np.inf, straight_m=np.inf),
        gpd.GeoDataFrame(geometry=[], crs=CRS_M), access.AccessOptions()), districts)
    return {r["name"]: r["population"] for r in rows}


def test_small_area_straddling_two_districts_is_shared_by_area():
    # 400 people on 4 ha, cut by a diagonal district line: 1.53 ha (153 people) lie west of it.
    units = gpd.GeoDataFrame({"unit_id": ["a"], "population": [400.0], "population_65plus": [80.0]},
                             geometry=[shapely.box(0, 0, 400, 100)], crs=CRS_M)
    districts = gpd.GeoDataFrame({"name": ["west", "east"]}, geometry=[
        shapely.Polygon([(-10, -10), (93, -10), (213, 110), (-10, 110)]),
        shapely.Polygon([(93, -10), (410, -10), (410, 110), (213, 110)])], crs=CRS_M)
    assert shapely.intersection(districts.geometry.iloc[0], units.geometry.iloc[0]).area == \
        pytest.approx(15300)
    for network, extent in ((None, None),
                            (make_network([[(1000, 50), (1100, 50)]], [(0, 1)]),
                             shapely.box(950, 0, 1150, 100))):
        res, _ = resident_locations(population=units, buildings=None, network=network,
                                    extent=extent, spacing_m=10)
        assert res["population"].sum() == pytest.approx(400)
        assert res["population_65plus"].sum() == pytest.approx(80)
        sums = _district_sums(res, districts)
        assert sums["west"] == pytest.approx(153, abs=2) and sums["east"] == pytest.approx(247, abs=2)
        assert access.OUTSIDE_NAME not in sums
    # Half inside the network's extent: streets take that half, the other half keeps its area.
    net = make_network([[(0, 50), (100, 50)]], [(0, 1)])
    res, _ = resident_locations(population=units, buildings=None, network=net,
                                extent=shapely.box(-10, -10, 200, 110), spacing_m=10)
    out = res[res["source"] == "area_outside_network"]
    assert out["population"].sum() == pytest.approx(200)
    assert (shapely.get_coordinates(out.geometry.values)[:, 0] > 200).all()
    assert _district_sums(out, districts)["east"] == pytest.approx(200)


def test_every_part_of_a_small_area_gets_people_by_area():
    # A large part and a 20 × 20 m islet far away: the islet holds its 1 % share, at a point
    # of its own, and the degenerate unit (no area) is kept at a point rather than dropped.
    geom = shapely.MultiPolygon([shapely.box(0, 0, 200, 198), shapely.box(1000, 0, 1020, 20)])
    units = gpd.GeoDataFrame({"unit_id": ["a", "z"], "population": [100.0, 3.0],
                              "population_65plus": [np.nan, np.nan]},
                             geometry=[geom, shapely.Polygon([(0, 0), (5, 5), (10, 10)])],
                             crs=CRS_M)
    res, _ = resident_locations(population=units, buildings=None, network=None, spacing_m=50)
    assert res["population"].sum() == pytest.approx(103)
    xy = shapely.get_coordinates(res.geometry.values)
    islet = res[xy[:, 0] > 900]
    assert len(islet) == 1 and islet["population"].iloc[0] == pytest.approx(1.0)
    assert shapely.contains(geom, res[res["unit_id"] == "a"].geometry.values).all()
    assert res.loc[res["unit_id"] == "z", "population"].sum() == pytest.approx(3)


# --------------------------------------------------------------------------- summaries


def _rows() -> pd.DataFrame:
    return pd.DataFrame({
        "x": [0, 10, 20, 30, 1000, 1010], "y": [0, 0, 0, 0, 0, 0],
        "population": [10.0, 10.0, 10.0, 10.0, 50.0, 5.0],
        "population_65plus": [5.0, 0.0, 5.0, 0.0, 20.0, 1.0],
        "unit_id": "", "source": "building",
        "status": ["ok", "ok", "ok", "ok", "no_network", "ok"],
        "place_id": ["p", "p", "p", "", "", ""],
        "distance_m": [100.0, 400.0, 900.0, np.inf, np.inf, np.inf],
        "time_min": [2.0, 8.0, 19.0, np.inf, np.inf, np.inf],
        "straight_m": [50.0, 300.0, 450.0, 800.0, 900.0, 700.0]})


def test_coverage_counts_no_network_apart():
    res = fake_results(_rows())
    ths = tuple(access.parse_threshold(x) for x in ("250", "500m", "1000m", "10min"))
    (row,) = access.coverage_table(res, thresholds=ths, region_name="town")
    assert row["population"] == 95 and row["no_network_population"] == 50
    assert row["population_on_network"] == 45
    assert row["coverage"] == {"250m": round(10 / 45, 4), "500m": round(20 / 45, 4),
                               "1000m": round(30 / 45, 4), "10min": round(20 / 45, 4)}
    assert row["coverage_65plus"]["500m"] == round(5 / 11, 4)
    assert row["population_beyond_worst"] == 15  # unreachable on the network, not no-network
    assert row["straight_line_coverage"]["500m"] == round(30 / 45, 4)
    assert row["median_distance_m"] == 900.0
    polys = gpd.GeoDataFrame({"name": ["west", "east"]},
                             geometry=[shapely.box(-5, -5, 35, 5), shapely.box(990, -5, 1020, 5)],
                             crs=CRS_M)
    west, east = access.coverage_table(res, polys, thresholds=ths)
    assert east["no_network_population"] == 50 and east["coverage"]["500m"] == 0.0
    assert west["population"] == 40


def test_residents_outside_every_district_get_a_row_of_their_own():
    res = fake_results(_rows())
    part = gpd.GeoDataFrame({"name": ["west"]}, geometry=[shapely.box(-5, -5, 15, 5)], crs=CRS_M)
    west, outside = access.coverage_table(res, part)
    assert outside["name"] == access.OUTSIDE_NAME == "（区域外）"
    assert west["population"] == 20 and outside["population"] == 75
    assert outside["no_network_population"] == 50 and outside["population_65plus"] == 26
    assert outside["coverage"]["500m"] == 0.0  # 25 on the network, none within 500 m
    # On the shared border: counted once, and nobody left outside.
    halves = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[shapely.box(-5, -5, 10, 5),
                                                              shapely.box(10, -5, 2000, 5)], crs=CRS_M)
    rows = access.coverage_table(res, halves)
    assert [r["name"] for r in rows] == ["a", "b"] and sum(r["population"] for r in rows) == 95


def test_csv_keeps_the_thresholds_in_the_order_given():
    res = fake_results(_rows())
    ths = tuple(access.parse_threshold(x) for x in ("200", "1000", "10min", "500"))
    with65 = access.coverage_table(res, thresholds=ths, region_name="a")
    without = access.coverage_table(fake_results(_rows().assign(population_65plus=np.nan)),
                                    thresholds=ths, region_name="b")
    frame = access.coverage_frame(without + with65)
    cols = list(frame.columns)
    for key in ("coverage", "coverage_65plus"):
        assert [c for c in cols if re.fullmatch(rf"{key}_[\d.]+(m|min)", c)] == [
            f"{key}_{x}" for x in ("200m", "1000m", "10min", "500m")]
    assert "coverage_65plus" not in cols and frame["coverage_65plus_500m"].isna().iloc[0]
    assert frame["coverage_500m"].iloc[1] == round(20 / 45, 4)


def test_thresholds_parse_and_reject_nonsense():
    assert access.parse_threshold("500").label == "500m"
    assert access.parse_threshold("10min") == access.Threshold(10.0, "min")
    assert access.parse_threshold("15分").label == "15min"
    for bad in ("-5", "abc", "0"):
        with pytest.raises(ConfigError):
            access.parse_threshold(bad)


def test_gaps_merge_touching_cells_and_rank_by_65plus():
    rows = pd.DataFrame({"x": [5, 105, 205, 5000, 9000], "y": [5, 5, 5, 5, 5],
                         "population": [3.0, 3.0, 3.0, 20.0, 1.0],
                         "population_65plus": [1.0, 1.0, 1.0, 2.0, 0.0], "unit_id": "",
                         "source": "b", "status": ["ok", "ok", "ok", "ok", "no_network"],
                         "place_id": "", "distance_m": [900.0, 900, 900, 2000, np.inf],
                         "time_min": 20.0, "straight_m": 900.0})
    gaps = access.gap_polygons(fake_results(rows), threshold_m=500, cell_m=100)
    assert list(gaps["population"]) == [9.0, 20.0]  # the no-network resident is no gap
    assert list(gaps["population_65plus"]) == [3.0, 2.0]  # ranked by 65+, not by everyone
    assert list(gaps["rank"]) == [1, 2] and gaps["area_ha"].iloc[0] == 3.0
    no65 = access.gap_polygons(fake_results(rows.assign(population_65plus=np.nan)),
                               threshold_m=500, cell_m=100)
    assert list(no65["population"]) == [20.0, 9.0]  # 65+ unknown: ranked by residents
    assert gaps["rank"].dtype == np.int64 and gaps["locations"].dtype == np.int64
    props = json.loads(gaps.to_json())["features"][0]["properties"]
    assert type(props["rank"]) is int and type(props["locations"]) is int


def test_greedy_sites_take_the_largest_gain_then_what_is_left():
    cover = csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 0, 0]], dtype=bool))
    picks = access.greedy_sites(cover, np.array([5.0, 1.0, 2.0, 2.0]), k=3)
    assert [(i, w) for i, w, _ in picks] == [(0, 6.0), (1, 4.0)]


def test_place_filters():
    places = gpd.GeoDataFrame({"place_id": ["a", "b"], "category": ["サロン", "体操"],
                               "weekdays": ["毎週月曜", "第2火曜"], "schedule_note": ["", ""]},
                              geometry=shapely.points([[0, 0], [1, 1]]), crs=CRS_M)
    assert list(access.select_places(places, categories=["体操"])["place_id"]) == ["b"]
    assert list(access.select_places(places, schedule="毎週")["place_id"]) == ["a"]
    with pytest.raises(EmptyLayerError):
        access.select_places(places, categories=["カフェ"])


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def ishigaki(tmp_path_factory):
    """Ishigaki built from its PBF (no districts: region-wide)."""
    if not ISHIGAKI.is_file():
        pytest.skip(f"Ishigaki PBF not found at {ISHIGAKI}")
    from kennai.build import build_region
    from kennai.config import load_config

    cfg = load_config(ROOT / "pipelines" / "ishigaki.yaml")
    region, _ = build_region(cfg, build_dir=tmp_path_factory.mktemp("ishigaki") / "ishigaki")
    return region


@pytest.mark.realdata
@needs_ishigaki
def test_ishigaki_every_building_matches_networkx(ishigaki):
    res = access.compute_access(ishigaki)
    r = res.residents
    assert len(r) == len(ishigaki.layer("buildings")) > 20000
    net = ishigaki.network
    opts = res.options
    extent = access.network_extent(net, margin_m=opts.extent_margin_m)
    xy = shapely.get_coordinates(r.geometry.values)
    pts = snap_to_edges(net, xy, max_distance_m=opts.max_snap_m)
    pts.edge[~shapely.contains_xy(extent, xy[:, 0], xy[:, 1])] = -1
    places = snap_to_edges(net, shapely.get_coordinates(res.places.geometry.values),
                           max_distance_m=opts.max_snap_m)
    expect = networkx_distances(net, pts, places)
    got = r["distance_m"].to_numpy()
    assert np.array_equal(np.isfinite(got), np.isfinite(expect))
    fin = np.isfinite(got)
    assert fin.mean() > 0.99
    np.testing.assert_allclose(got[fin], expect[fin], rtol=0, atol=1e-6)
    # Network distance is never shorter than the straight line.
    assert (got[fin] >= r["straight_m"].to_numpy()[fin] - 1e-6).all()


@pytest.fixture(scope="module")
def yaizu_access(yaizu):
    return access.compute_access(yaizu)


@pytest.mark.realdata
@needs_yaizu
def test_yaizu_district_population_follows_areal_weighting(yaizu, yaizu_access):
    """Independent check: each census small area's people shared among the elementary districts
    by the area of their overlay (areal weighting), against the residents ``access`` counts."""
    units = yaizu.layer("population")
    districts = yaizu.layer("elementary")
    units = units.assign(unit_area=units.area)
    pieces = gpd.overlay(units[["population", "unit_area", "geometry"]],
                         districts[["name", "geometry"]], how="intersection", keep_geom_type=True)
    expect = (pieces["population"] * pieces.area / pieces["unit_area"]).groupby(pieces["name"]).sum()
    rows = access.coverage_table(yaizu_access, districts)
    got = {r["name"]: r["population"] for r in rows}
    assert set(expect.index) <= set(got)
    for name, want in expect.items():
        assert got[name] == pytest.approx(want, rel=0.01, abs=5), name
    # Nobody lost: the districts and the residents outside them add up to the census.
    assert sum(got.values()) == pytest.approx(units["population"].sum(), abs=1)
    assert set(yaizu_access.residents["source"]) >= {"street", "area_grid", "area_outside_network"}


@pytest.mark.realdata
@needs_yaizu
def test_yaizu_district_gaps_count_only_the_district(yaizu, yaizu_access):
    from kennai.errors import NotFoundError

    name = "焼津東小学校"
    picked = access.district_gaps(yaizu, yaizu_access, layer="elementary", district=name,
                                  threshold_m=250)
    assert len(picked.gaps) and picked.gaps["rank"].dtype == np.int64
    shape = shapely.union_all(yaizu.layer("elementary").query("name == @name").geometry.values)
    whole = access.gap_polygons(yaizu_access, threshold_m=250)
    assert picked.gaps["population"].sum() <= whole["population"].sum()
    assert picked.gaps["population"].sum() == pytest.approx(
        access.gap_polygons(yaizu_access, threshold_m=250, within=shape)["population"].sum())
    west, south, east, north = picked.bounds
    assert 138 < west < east < 139 and 34 < south < north < 35
    with pytest.raises(NotFoundError, match="どこか"):
        access.district_gaps(yaizu, yaizu_access, layer="elementary", district="どこか")


@pytest.mark.realdata
@needs_yaizu
def test_yaizu_station_network_reports_no_network_per_district(yaizu, yaizu_access):
    res = yaizu_access
    rows = access.coverage_table(res, yaizu.layer("elementary"))
    total = sum(r["population"] for r in rows)
    assert total == pytest.approx(res.residents["population"].sum(), rel=1e-6)
    assert total == pytest.approx(yaizu.layer("population")["population"].sum(), rel=1e-6)
    rows = [r for r in rows if r["name"] != access.OUTSIDE_NAME]
    near = [r for r in rows if r["population_on_network"] > 0]
    far = [r for r in rows if r["population_on_network"] == 0]
    assert near and far  # the 800 m station network covers a few districts only
    for r in far:
        assert r["no_network_population"] == r["population"]
        assert all(v is None for v in r["coverage"].values())
    for r in near:
        shares = [r["coverage"][k] for k in ("250m", "500m", "800m", "1000m")]
        assert shares == sorted(shares) and 0 < shares[-1] <= 1
        assert r["population_65plus"] is None  # the census here has no age breakdown


@pytest.mark.realdata
@needs_yaizu
def test_run_access_for_build_round_trip_and_cli_json(yaizu, monkeypatch, tmp_path):
    summary = access.run_access_for_build(yaizu, yaizu.build_dir)
    assert summary["locations"] > 0 and summary["gaps"] >= 0
    back = access.load_access(yaizu.build_dir)
    assert set(back.coverage) >= {"region", "layer:elementary", "plan:junior_high"}
    assert len(back.residents) == summary["locations"]
    assert back.residents.crs == yaizu.crs
    with rasterio.open(back.surface_path) as ds:
        assert ds.driver == "GTiff" and ds.tags()["units"] == "minutes"
        band = ds.read(1)
        assert np.isfinite(band).any() and np.nanmin(band) >= 0
    assert back.suggestions is not None and len(back.suggestions) <= 5
    if len(back.suggestions):
        added = back.suggestions["added_population"].to_numpy()
        assert (np.diff(added) <= 1e-9).all()  # greedy gains never grow
    # The CLI reuses the stored results when the routing options match.
    from typer.testing import CliRunner

    from kennai.cli import app

    monkeypatch.setenv("KENNAI_BUILD_ROOT", str(yaizu.build_dir.parent))
    out = CliRunner().invoke(app, ["access", str(ROOT / "pipelines" / "yaizu.yaml"), "--by",
                                   "elementary", "--json", "--threshold", "500",
                                   "--threshold", "10min"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert {r["name"] for r in rows} - {access.OUTSIDE_NAME} == set(yaizu.layer("elementary")["name"])
    for r in rows:
        assert {"name", "population", "population_65plus", "no_network_population",
                "coverage"} <= set(r)
        assert set(r["coverage"]) == {"500m", "10min"}
    whole = CliRunner().invoke(app, ["access", str(ROOT / "pipelines" / "yaizu.yaml"), "--json"])
    assert whole.exit_code == 0 and json.loads(whole.stdout)["name"] == "焼津市"
    csv = CliRunner().invoke(app, ["access", str(ROOT / "pipelines" / "yaizu.yaml"), "--csv",
                                   "--threshold", "200", "--threshold", "1000"])
    head = csv.stdout.splitlines()[0].split(",")
    # Japanese headers by default (kennai.export.COLUMN_LABELS), thresholds in the order given.
    assert head[0] == "名称" and head.index("200m以内の割合") < head.index("1000m以内の割合")
    text = CliRunner().invoke(app, ["access", str(ROOT / "pipelines" / "yaizu.yaml"), "--by",
                                    "elementary", "--threshold", "500"], env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "区域外" in text.stdout
    bad = CliRunner().invoke(app, ["access", str(ROOT / "pipelines" / "yaizu.yaml"), "--by", "x"])
    assert bad.exit_code != 0


@pytest.mark.realdata
@needs_yaizu
def test_yaizu_rosenka_network_snapped(tmp_path):
    from kennai.build import build_region
    from kennai.config import load_config

    cfg = load_config(ROOT / "pipelines" / "yaizu_rosenka.yaml")
    region, _ = build_region(cfg, build_dir=tmp_path / "yr")
    snap = region.network.info["snap"]
    assert snap["tolerance_m"] == 15
    assert snap["largest_component_length_share_after"] > 10 * snap[
        "largest_component_length_share_before"]
    res = access.compute_access(region)
    rows = access.coverage_table(res, region.layer("elementary"))
    assert sum(r["population_on_network"] for r in rows) > 0.5 * sum(r["population"] for r in rows)


@pytest.mark.realdata
@needs_demo
def test_demo_slope_changes_times_and_65plus_reported(demo):
    assert demo.dem_path is not None
    hill = access.compute_access(demo)
    flat = access.compute_access(demo, access.AccessOptions(slope=False))
    on = np.isfinite(hill.residents["time_min"]) & np.isfinite(flat.residents["time_min"])
    diff = hill.residents["time_min"][on] - flat.residents["time_min"][on]
    assert (diff.abs() > 0.05).mean() > 0.05  # the hill changes times
    np.testing.assert_allclose(hill.residents["distance_m"], flat.residents["distance_m"])
    (row,) = access.coverage_table(hill, region_name="demo")
    assert row["population_65plus"] and row["coverage_65plus"]["500m"] is not None


def test_coverage_matrix_agrees_with_single_site_distances():
    rng = np.random.default_rng(7)
    net = grid_network(10, 80.0, rng)
    g = build_graph(net, weight="length")
    lo, hi = net.node_xy.min(axis=0), net.node_xy[:100].max(axis=0)
    pts = snap_to_edges(net, rng.uniform(lo, hi, size=(200, 2)), max_distance_m=60)
    sites = snap_to_edges(net, rng.uniform(lo, hi, size=(5, 2)))
    cover = access.coverage_matrix(g, sites, pts, limit=300.0, chunk=2).toarray()
    for k in range(5):
        one = Snap(sites.edge[k:k + 1], sites.along_m[k:k + 1], sites.perp_m[k:k + 1],
                   sites.xy[k:k + 1])
        cost, _ = access.nearest_places(g, pts, one)
        np.testing.assert_array_equal(cover[k], cost <= 300.0)
