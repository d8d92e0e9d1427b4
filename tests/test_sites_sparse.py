"""Sparse site suggestion gives exactly what the dense one gave: the same coverage matrix, the
same picks and the same added counts, bit for bit, on synthetic grids (both graphs, uphill and
downhill), the demo, Ishigaki and Yaizu.

The reference is the former implementation kept here as it was: dense candidate × node
Dijkstra blocks and a greedy pass that recounts every row at each pick.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import CRS
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from kennai import access
from kennai.access.candidates import allowed_kinds, candidate_points
from kennai.access.routing import cost_scale
from kennai.graph import WalkGraph, build_graph, csr_from_edges
from kennai.network import WalkNetwork
from kennai.region import Region
from kennai.snapping import Snap, snap_to_edges

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ISHIGAKI = SHARED / "ishigaki" / "network" / "ishigaki_city_osm_2024-04-11.osm.pbf"


def dense_coverage(graph: WalkGraph, sites: Snap, points: Snap, *, limit: float,
                   chunk: int = 64) -> csr_matrix:
    """The former coverage matrix: dense (2 × chunk) × nodes Dijkstra blocks."""
    net = graph.network
    rows, cols = [], []
    ok_sites = np.flatnonzero(sites.ok)
    pts = np.flatnonzero(points.ok)
    pe = points.edge[pts]
    pf = points.fraction(net)[pts]
    poff = points.perp_m[pts] * cost_scale(graph)
    for start in range(0, len(ok_sites), chunk):
        batch = ok_sites[start:start + chunk]
        ends = np.concatenate([net.edge_u[sites.edge[batch]], net.edge_v[sites.edge[batch]]])
        d = dijkstra(graph.reversed_matrix(), directed=True, indices=ends, limit=limit)
        m = len(batch)
        f = sites.fraction(net)[batch]
        se = sites.edge[batch]
        soff = sites.perp_m[batch] * cost_scale(graph)
        to_u = f * graph.cost_fwd[se] + soff
        to_v = (1 - f) * graph.cost_bwd[se] + soff
        node_cost = np.minimum(d[:m] + to_u[:, None], d[m:] + to_v[:, None])
        via_u = pf * graph.cost_bwd[pe] + node_cost[:, net.edge_u[pe]]
        via_v = (1 - pf) * graph.cost_fwd[pe] + node_cost[:, net.edge_v[pe]]
        c = np.minimum(via_u, via_v) + poff
        same = pe[None, :] == se[:, None]
        if same.any():
            gi, pj = np.nonzero(same)
            dd = f[gi] - pf[pj]
            e = pe[pj]
            direct = (np.where(dd >= 0, dd * graph.cost_fwd[e], -dd * graph.cost_bwd[e])
                      + poff[pj] + soff[gi])
            c[gi, pj] = np.minimum(c[gi, pj], direct)
        r, cidx = np.nonzero(c <= limit)
        rows.append(batch[r])
        cols.append(pts[cidx])
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    return csr_matrix((np.ones(len(r), dtype=bool), (r, c)),
                      shape=(len(sites.edge), len(points.edge)))


def recount_greedy(cover: csr_matrix, weights: np.ndarray, *, k: int,
                   weights_65: np.ndarray | None = None) -> list[tuple[int, float, float | None]]:
    """The former greedy pass: every row's gain recounted at every pick."""
    left = np.asarray(weights, dtype=np.float64).copy()
    left65 = None if weights_65 is None else np.nan_to_num(weights_65).astype(np.float64)
    cover = cover.astype(np.float64).tocsr()
    picks = []
    for _ in range(k):
        gain = cover @ left
        best = int(np.argmax(gain)) if len(gain) else -1
        if best < 0 or gain[best] <= 0:
            break
        cols = cover.indices[cover.indptr[best]:cover.indptr[best + 1]]
        add65 = float(left65[cols].sum()) if left65 is not None else None
        picks.append((best, float(gain[best]), add65))
        left[cols] = 0.0
        if left65 is not None:
            left65[cols] = 0.0
    return picks


def assert_same_matrix(got: csr_matrix, want: csr_matrix) -> None:
    want = want.tocsr()
    want.sum_duplicates()
    want.sort_indices()
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    assert got.data.all()


def grid(side: int, spacing: float, rng: np.random.Generator) -> WalkNetwork:
    """A jittered grid with straight edges (a few of them doubled as parallel edges)."""
    ii, jj = np.meshgrid(np.arange(side), np.arange(side))
    xy = np.column_stack([ii.ravel(), jj.ravel()]) * spacing + rng.normal(0, spacing / 5,
                                                                          (side * side, 2))
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    geoms = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1))
    return WalkNetwork.from_geometry(CRS.from_epsg(6677),
                       np.arange(side * side), xy, u, v, shapely.length(geoms),
                       np.full(len(u), "footway", dtype=object), geoms)


@pytest.mark.parametrize("weight", ["length", "time_uphill"])
def test_sparse_coverage_equals_dense_on_grids(weight: str) -> None:
    rng = np.random.default_rng(11)
    net = grid(40, 60.0, rng)
    if weight == "length":
        g = build_graph(net, weight="length")
        limit = 400.0
    else:  # one cost per direction, as a DEM makes it: the reversed graph matters
        g = build_graph(net, weight="time")
        tilt = 1.0 + 0.4 * np.sign(net.node_xy[net.edge_v, 0] - net.node_xy[net.edge_u, 0])
        fwd, bwd = g.cost_fwd * tilt, g.cost_bwd / tilt
        matrix = csr_from_edges(np.concatenate([net.edge_u, net.edge_v]),
                                np.concatenate([net.edge_v, net.edge_u]),
                                np.concatenate([fwd, bwd]), net.n_nodes)
        g = WalkGraph(net, fwd, bwd, matrix, "s", g.speed_mps)
        limit = 500.0
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    pts = snap_to_edges(net, rng.uniform(lo, hi, size=(3000, 2)), max_distance_m=40)
    sites = snap_to_edges(net, rng.uniform(lo, hi, size=(150, 2)), max_distance_m=40)
    # Some points share a site's edge, to exercise the walk straight along it.
    pts = Snap(np.concatenate([pts.edge, sites.edge]), np.concatenate([pts.along_m, sites.along_m]),
               np.concatenate([pts.perp_m, sites.perp_m]), np.concatenate([pts.xy, sites.xy]))
    # A limit shorter than most edges: many points are reached only straight along the edge.
    short = dense_coverage(g, sites, pts, limit=limit / 12)
    assert_same_matrix(access.coverage_matrix(g, sites, pts, limit=limit / 12), short)
    want = dense_coverage(g, sites, pts, limit=limit)
    assert want.nnz > 1000
    for chunk, budget in ((64, 8_000_000), (7, 3000), (1, 1)):  # budget 1: one end pair per run
        got = access.coverage_matrix(g, sites, pts, limit=limit, chunk=chunk, budget=budget)
        assert_same_matrix(got, want)
    w = rng.uniform(0, 3, len(pts.edge)).round(1)  # many equal gains: ties go to the lowest row
    w65 = np.where(rng.random(len(w)) < 0.2, np.nan, w / 2)
    assert access.greedy_sites(want, w, k=40, weights_65=w65) == \
        recount_greedy(want, w, k=40, weights_65=w65)


def test_lazy_greedy_keeps_ties_and_stops_like_recounting() -> None:
    cover = csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0], [0, 1, 1, 0]],
                                dtype=bool))
    w = np.array([1.0, 1.0, 1.0, 1.0])
    assert access.greedy_sites(cover, w, k=10) == recount_greedy(cover, w, k=10) == \
        [(0, 2.0, None), (1, 2.0, None)]
    neg = np.array([1.0, -1.0, 2.0, np.nan])  # a weight that is not ≥ 0: recounted every pick
    assert str(access.greedy_sites(cover, neg, k=3)) == str(recount_greedy(cover, neg, k=3))


def assert_region_suggestions_unchanged(region: Region) -> None:
    """Candidates and uncovered residents as :func:`suggest_sites` makes them; dense and sparse
    matrices equal, picks equal, and the table's added counts those of the former greedy."""
    results = access.compute_access(region)
    opts = results.options
    threshold = opts.gap_threshold_m
    net = region.network
    assert net is not None
    cand = candidate_points(region, results, allow=allowed_kinds(region), limit=400)
    res = results.residents
    uncovered = ((res["status"] == "ok") & ~(res["distance_m"] <= threshold)).to_numpy()
    sub = res[uncovered]
    c_snap = snap_to_edges(net, shapely.get_coordinates(cand.geometry.values),
                           max_distance_m=opts.max_snap_m)
    r_snap = snap_to_edges(net, shapely.get_coordinates(sub.geometry.values),
                           max_distance_m=opts.max_snap_m)
    g = build_graph(net, weight="length")
    want = dense_coverage(g, c_snap, r_snap, limit=threshold)
    got = access.coverage_matrix(g, c_snap, r_snap, limit=threshold)
    assert want.nnz > 0
    assert_same_matrix(got, want)
    p65 = sub["population_65plus"].to_numpy(float)
    w65 = None if np.isnan(p65).all() else p65
    picks = recount_greedy(want, sub["population"].to_numpy(float), k=opts.suggestions,
                           weights_65=w65)
    assert access.greedy_sites(got, sub["population"].to_numpy(float), k=opts.suggestions,
                               weights_65=w65) == picks
    table = access.suggest_sites(region, results)
    assert list(table["candidate_id"]) == [cand["candidate_id"].iloc[i] for i, _, _ in picks]
    assert list(table["added_population"]) == [round(a, 1) for _, a, _ in picks]
    assert len(picks) > 0


def test_demo_suggestions_unchanged(demo: Region) -> None:
    assert_region_suggestions_unchanged(demo)


@pytest.mark.realdata
@pytest.mark.skipif(not ISHIGAKI.is_file(), reason=f"Ishigaki PBF not found at {ISHIGAKI}")
def test_ishigaki_suggestions_unchanged(tmp_path_factory: pytest.TempPathFactory) -> None:
    from kennai.build import build_region
    from kennai.config import load_config

    cfg = load_config(ROOT / "pipelines" / "ishigaki.yaml")
    region, _ = build_region(cfg, build_dir=tmp_path_factory.mktemp("ishigaki") / "ishigaki")
    assert_region_suggestions_unchanged(region)


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED / "yaizu").is_dir(), reason=f"Yaizu data not found at {SHARED}")
def test_yaizu_suggestions_unchanged(yaizu: Region) -> None:
    assert_region_suggestions_unchanged(yaizu)
