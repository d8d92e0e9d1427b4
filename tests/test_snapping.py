"""Snapping in bulk gives GEOS's answers to the last bit: the same edge, offset, perpendicular and
projected point as the former snapping (GEOS's ``dwithin`` and nearest-neighbour searches,
``line_locate_point``, ``line_interpolate_point``), kept here as the reference, for every
Ishigaki building, every surface cell, points on nodes (ties), and awkward synthetic edges.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import CRS

from kennai import segments
from kennai.access.routing import network_extent
from kennai.network import WalkNetwork
from kennai.region import Region
from kennai.segments import Segments, near_segments
from kennai.snapping import PROBE_M, EdgeIndex, Snap, snap_to_edges

ROOT = Path(__file__).resolve().parents[1]
ISHIGAKI = (ROOT.parent / "shared" / "data" / "ishigaki" / "network"
            / "ishigaki_city_osm_2024-04-11.osm.pbf")


def geos_snap(net: WalkNetwork, xy: np.ndarray, max_distance_m: float | None) -> Snap:
    """The snapping all by GEOS: dwithin the probe radius, the nearest-neighbour search (all its
    matches) for the rest, ties to the lower edge, then GEOS's locate and interpolate."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    edge, along = np.full(n, -1, dtype=np.int64), np.zeros(n)
    perp, proj = np.full(n, np.inf), np.full((n, 2), np.nan)
    tree = shapely.STRtree(net.edge_geometry)
    pts = shapely.points(xy)
    probe = PROBE_M if max_distance_m is None else min(PROBE_M, max_distance_m)
    a, b = tree.query(pts, predicate="dwithin", distance=probe)
    d = shapely.distance(pts[a], net.edge_geometry[b])
    order = np.lexsort((b, d, a))
    a, b, d = a[order], b[order], d[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = a[1:] != a[:-1]
    pi, ei, dist = a[first], b[first], d[first]
    if max_distance_m is None or max_distance_m > probe:
        rest = np.setdiff1d(np.arange(len(pts)), pi, assume_unique=True)
        if len(rest):
            (ri, re), rd = tree.query_nearest(pts[rest], max_distance=max_distance_m,
                                              return_distance=True, all_matches=True)
            order = np.lexsort((re, ri))  # ties: the lower edge, as within the probe
            ri, re, rd = ri[order], re[order], rd[order]
            one = np.ones(len(ri), dtype=bool)
            one[1:] = ri[1:] != ri[:-1]
            ri, re, rd = ri[one], re[one], rd[one]
            pi, ei = np.concatenate([pi, rest[ri]]), np.concatenate([ei, re])
            dist = np.concatenate([dist, rd])
    geoms = net.edge_geometry[ei]
    pos = shapely.line_locate_point(geoms, pts[pi])
    glen = shapely.length(geoms)
    scale = np.divide(net.edge_length[ei], glen, out=np.ones_like(glen), where=glen > 0)
    edge[pi] = ei
    along[pi] = np.clip(pos * scale, 0.0, net.edge_length[ei])
    perp[pi] = dist
    proj[pi] = shapely.get_coordinates(shapely.line_interpolate_point(geoms, pos))
    return Snap(edge, along, perp, proj)


def assert_same_snap(got: Snap, want: Snap) -> None:
    for name in ("edge", "along_m", "perp_m", "xy"):
        g, w = getattr(got, name), getattr(want, name)
        assert g.shape == w.shape
        if len(g) == 0:
            continue
        bad = np.flatnonzero(~((g == w) | (np.isnan(g) & np.isnan(w))).reshape(len(g), -1).all(1))
        assert len(bad) == 0, f"{name} differs at {len(bad)} points, e.g. {bad[:5]}"


def check(net: WalkNetwork, xy: np.ndarray, max_distance_m: float | None) -> None:
    assert_same_snap(EdgeIndex(net, remember=0).snap(xy, max_distance_m=max_distance_m),
                     geos_snap(net, xy, max_distance_m))


def awkward_network(offset: tuple[float, float] = (0.0, 0.0)) -> WalkNetwork:
    """Polylines with repeated vertices (empty segments), a closed loop, an edge of one
    repeated point, parallel edges and a long diagonal, on a grid of 30 m (moved by
    ``offset``: plane coordinates far from a zone's origin round more coarsely)."""
    rng = np.random.default_rng(5)
    lines = []
    for i in range(12):
        for j in range(12):
            x0, y0 = i * 30.0, j * 30.0
            lines.append([(x0, y0), (x0 + 15, y0 + rng.normal(0, 3)), (x0 + 15, y0 + 0.0),
                          (x0 + 30, y0)])
            lines.append([(x0, y0), (x0, y0 + 30)])
    lines += [[(0.0, 0.0), (360.0, 360.0)], [(0.0, 0.0), (360.0, 360.0)],
              [(100.0, 100.0), (120.0, 100.0), (120.0, 120.0), (100.0, 100.0)],
              [(50.0, 50.0), (50.0, 50.0)], [(200.0, 10.0), (200.0, 10.0), (230.0, 10.0)]]
    lines = [[(x + offset[0], y + offset[1]) for x, y in c] for c in lines]
    geoms = np.array([shapely.LineString(c) for c in lines])
    ends = np.array([[c[0], c[-1]] for c in lines])
    xy, inv = np.unique(ends.reshape(-1, 2), axis=0, return_inverse=True)
    inv = inv.reshape(-1, 2)
    return WalkNetwork.from_geometry(CRS.from_epsg(6677), np.arange(len(xy)), xy, inv[:, 0], inv[:, 1],
                       shapely.length(geoms), np.full(len(geoms), "footway", dtype=object), geoms)


@pytest.mark.parametrize("offset", [(0.0, 0.0), (-287_413.5, 612_905.25)])
def test_bulk_snapping_is_geos_on_awkward_edges(offset: tuple[float, float]) -> None:
    net = awkward_network(offset)
    rng = np.random.default_rng(9)
    verts = shapely.get_coordinates(net.edge_geometry)
    at = np.asarray(offset)
    xy = np.concatenate([rng.uniform(-200, 560, (20000, 2)) + at, verts,  # on vertices: ties
                         verts + rng.normal(0, 1e-9, verts.shape),
                         rng.uniform(0, 360, (3000, 2)).round() + at])  # on the grid lines
    for max_d in (None, 300.0, 100.0, 35.0, 5.0):
        check(net, xy, max_d)
    # Points with no segment near them at some search width, alone (nothing to measure there).
    for far in (np.array([[1000.0, 1000.0]]), np.array([[380.0, 180.0], [-60.0, 50.0]]),
                np.zeros((0, 2))):
        for max_d in (None, 300.0, 100.0, 35.0):
            check(net, far, max_d)


def test_points_far_off_a_corner_snap_in_bulk_to_its_lower_edge() -> None:
    """A point far beyond the probe off a street corner is as near to each edge of the corner:
    it goes to the lower edge, as GEOS's searches with all their matches give, settled in bulk
    (no tree of every edge is made for it)."""
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])
    lines = [xy[[0, 1]], xy[[0, 2]], xy[[1, 3]], xy[[2, 3]]]
    geoms = np.array([shapely.LineString(c) for c in lines])
    net = WalkNetwork.from_geometry(CRS.from_epsg(6677), np.arange(4), xy,
                                    np.array([0, 0, 1, 2]), np.array([1, 2, 3, 3]),
                                    shapely.length(geoms), np.full(4, "footway", dtype=object),
                                    geoms)
    far = np.array([[-60.0, -60.0], [170.0, 170.0], [-75.0, 160.0], [160.0, -75.0]])
    for max_d in (None, 300.0):
        index = EdgeIndex(WalkNetwork(net.crs, net.node_id, net.node_xy, net.edge_u, net.edge_v,
                                      net.edge_length, net.edge_highway, net.edge_coords,
                                      net.edge_offsets), remember=0)
        got = index.snap(far, max_distance_m=max_d)
        assert list(got.edge) == [0, 2, 1, 0]
        assert index._tree is None and "edge_geometry" not in index.network.derived
        assert_same_snap(got, geos_snap(net, far, max_d))


def test_a_grid_made_in_chunks_is_the_grid_made_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grids are made a chunk of segment pieces at a time (to bound their memory); chunks of a
    few pieces must find the same segments near every point as one chunk, and so the same
    snaps."""
    net = awkward_network()
    xy = np.random.default_rng(3).uniform(-50, 410, (5000, 2))
    seg = Segments(net)
    whole = {c: near_segments(segments._make_grid(seg.a, seg.b, c), xy, c) for c in (7.0, 40.0)}
    monkeypatch.setattr(segments, "GRID_CHUNK", 7)
    for c, (owner, near) in whole.items():
        o, s = near_segments(segments._make_grid(seg.a, seg.b, c), xy, c)
        assert np.array_equal(np.sort(o * len(seg.a) + s), np.sort(owner * len(seg.a) + near))
    check(net, xy, None)


def test_grids_with_only_their_occupied_cells_snap_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """A grid too large for a pointer in every cell (a town with far islands) keeps only its
    occupied cells and searches them: the snaps, near the network and far outside its box,
    are GEOS's all the same."""
    monkeypatch.setattr(segments, "DENSE_CELLS", 0)
    net = awkward_network()
    index = EdgeIndex(net, remember=0)
    grid = index.segments.grid(20.0)
    assert grid is not None and not grid.dense
    rng = np.random.default_rng(11)
    xy = np.concatenate([rng.uniform(-200, 560, (5000, 2)), rng.uniform(0, 360, (2000, 2))])
    for max_d in (None, 300.0, 35.0):
        check(net, xy, max_d)


def test_the_remembered_answers_and_the_fresh_ones_agree(demo: Region) -> None:
    net = demo.network
    assert net is not None
    xy = shapely.get_coordinates(demo.layer("buildings").geometry.values)
    check(net, xy, 300.0)
    assert_same_snap(snap_to_edges(net, xy, max_distance_m=300.0), geos_snap(net, xy, 300.0))


@pytest.fixture(scope="module")
def ishigaki(tmp_path_factory: pytest.TempPathFactory) -> Region:
    if not ISHIGAKI.is_file():
        pytest.skip(f"Ishigaki PBF not found at {ISHIGAKI}")
    from kennai.build import build_region
    from kennai.config import load_config

    cfg = load_config(ROOT / "pipelines" / "ishigaki.yaml")
    region, _ = build_region(cfg, build_dir=tmp_path_factory.mktemp("ishigaki") / "ishigaki")
    return region


@pytest.mark.realdata
def test_every_ishigaki_building_snaps_as_geos_snaps_it(ishigaki: Region) -> None:
    net = ishigaki.network
    assert net is not None
    b = ishigaki.layer("buildings").geometry
    # where the build puts each household, and the footprints' centroids
    for xy in (shapely.get_coordinates(b.representative_point().values),
               shapely.get_coordinates(b.centroid.values)):
        assert len(xy) > 20000
        for max_d in (300.0, 20.0, None):
            check(net, xy, max_d)


@pytest.mark.realdata
def test_ishigaki_cells_and_nodes_snap_as_geos_snaps_them(ishigaki: Region) -> None:
    net = ishigaki.network
    assert net is not None
    ext = network_extent(net, margin_m=100.0)
    xmin, ymin, xmax, ymax = shapely.bounds(ext)
    gx, gy = np.meshgrid(np.arange(xmin, xmax, 50.0) + 25, np.arange(ymin, ymax, 50.0) + 25)
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    cells = cells[shapely.contains_xy(ext, cells[:, 0], cells[:, 1])]
    check(net, cells, 100.0)
    check(net, net.node_xy, 300.0)  # every node: its edges all tie at distance 0


@pytest.mark.realdata
@pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "yaizu").is_dir(),
                    reason="Yaizu data not found at ../shared/data/yaizu")
def test_yaizu_residents_snap_as_geos_snaps_them(yaizu: Region) -> None:
    """Yaizu's residents lie mostly far beyond its 800 m network: most go the far way."""
    from kennai.access import compute_access

    net = yaizu.network
    assert net is not None
    xy = shapely.get_coordinates(compute_access(yaizu).residents.geometry.values)
    for max_d in (300.0, 100.0, None):
        check(net, xy, max_d)


def test_widening_the_occupied_cells_is_a_box_dilation() -> None:
    """The doubling windows of ``_widened`` give what OR-ing every shifted copy gives."""
    from kennai.segments import _widened

    rng = np.random.default_rng(3)
    for h, w in ((1, 1), (3, 5), (40, 70), (7, 300)):
        for rings in (1, 2, 3, 5, 8, 16, 33):
            occupied = rng.random(h * w) < 0.02
            grid = occupied.reshape(h, w)
            expect = np.zeros_like(grid)
            for di in range(-min(rings, h - 1), min(rings, h - 1) + 1):
                for dj in range(-min(rings, w - 1), min(rings, w - 1) + 1):
                    shifted = np.zeros_like(grid)
                    src = grid[max(0, di):h + min(0, di), max(0, dj):w + min(0, dj)]
                    shifted[max(0, -di):h + min(0, -di), max(0, -dj):w + min(0, -dj)] = src
                    expect |= shifted
            assert np.array_equal(_widened(occupied, np.array([h, w]), rings), expect)
