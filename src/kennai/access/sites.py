"""Site suggestion: the next places that would bring the most uncovered residents within reach.

Candidates are the region's ``candidates`` layer or network nodes near uncovered residents; a
sparse matrix says which residents each candidate reaches within the threshold (one bounded
Dijkstra per candidate), and a greedy maximal-coverage pass picks them one at a time.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from kennai.access.results import AccessResults
from kennai.access.routing import cost_scale, region_network
from kennai.graph import WalkGraph, build_graph
from kennai.i18n import t
from kennai.region import Region
from kennai.residents import Snap, snap_to_edges


def _candidate_points(region: Region, results: AccessResults, limit: int) -> gpd.GeoDataFrame:
    """The region's ``candidates`` layer, or network nodes near uncovered residents."""
    if region.has_layer("candidates"):
        cand = region.layer("candidates")
        return gpd.GeoDataFrame({"candidate_id": cand["place_id"].astype(str),
                                 "name": cand["name"].astype(str), "source": "candidates"},
                                geometry=cand.geometry.values, crs=cand.crs)
    net = region_network(region)
    res = results.residents
    far = res[(res["status"] == "ok") & ~(res["distance_m"] <= results.options.gap_threshold_m)]
    if far.empty:
        nodes = np.arange(0)
    else:
        ntree = shapely.STRtree(shapely.points(net.node_xy))
        nodes = np.unique(ntree.query_nearest(far.geometry.values, all_matches=False)[1])
        if len(nodes) > limit:  # spread over space: keep an even sample
            nodes = nodes[np.linspace(0, len(nodes) - 1, limit).astype(np.int64)]
    return gpd.GeoDataFrame({"candidate_id": [f"node:{net.node_id[i]}" for i in nodes],
                             "name": [t(f"交差点 {net.node_id[i]}", f"node {net.node_id[i]}").get()
                                      for i in nodes], "source": "network_nodes"},
                            geometry=shapely.points(net.node_xy[nodes]), crs=net.crs)


def coverage_matrix(graph: WalkGraph, sites: Snap, points: Snap, *, limit: float,
                    chunk: int = 64) -> csr_matrix:
    """Sparse boolean matrix: site ``i`` reaches point ``j`` within ``limit`` (graph unit)."""
    net = graph.network
    rows, cols = [], []
    ok_sites = np.flatnonzero(sites.ok)
    pts = np.flatnonzero(points.ok)
    pe = points.edge[pts]
    pf = points.fraction(net)[pts]
    poff = points.perp_m[pts] * cost_scale(graph)
    for start in range(0, len(ok_sites), chunk):
        batch = ok_sites[start:start + chunk]
        # One bounded Dijkstra per site from its two edge ends (cheap at walking radii).
        ends = np.concatenate([net.edge_u[sites.edge[batch]], net.edge_v[sites.edge[batch]]])
        d = dijkstra(graph.reversed_matrix(), directed=True, indices=ends, limit=limit)
        m = len(batch)
        f = sites.fraction(net)[batch]
        se = sites.edge[batch]
        soff = sites.perp_m[batch] * cost_scale(graph)
        # cost node→site via the site's u end / v end
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
    return csr_matrix((np.ones(len(r), dtype=bool), (r, c)), shape=(len(sites.edge), len(points.edge)))


def greedy_sites(cover: csr_matrix, weights: np.ndarray, *, k: int,
                 weights_65: np.ndarray | None = None) -> list[tuple[int, float, float | None]]:
    """Greedy maximal coverage: pick ``k`` rows that add the most uncovered weight, one at a time.

    Returns ``(row, added weight, added 65+ weight)`` per pick; stops when nothing is added.
    """
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


def suggest_sites(region: Region, results: AccessResults, *, k: int | None = None,
                  threshold_m: float | None = None, max_candidates: int = 400) -> gpd.GeoDataFrame:
    """The next ``k`` sites that would bring the most uncovered residents within
    ``threshold_m`` (network metres), with the population and 65+ each adds."""
    k = results.options.suggestions if k is None else k
    threshold_m = threshold_m or results.options.gap_threshold_m
    net = region_network(region)
    cand = _candidate_points(region, results, max_candidates)
    cols = ["rank", "candidate_id", "name", "source", "added_population", "added_population_65plus",
            "coverage_after", "geometry"]
    res = results.residents
    uncovered = ((res["status"] == "ok") & ~(res["distance_m"] <= threshold_m)).to_numpy()
    if cand.empty or not uncovered.any():
        return gpd.GeoDataFrame(columns=cols, geometry="geometry", crs=net.crs)
    tree = shapely.STRtree(net.edge_geometry)
    c_xy = shapely.get_coordinates(cand.geometry.values)
    c_snap = snap_to_edges(net, c_xy, max_distance_m=results.options.max_snap_m, tree=tree)
    sub = res[uncovered]
    r_snap = snap_to_edges(net, shapely.get_coordinates(sub.geometry.values),
                           max_distance_m=results.options.max_snap_m, tree=tree)
    graph = build_graph(net, weight="length")
    cover = coverage_matrix(graph, c_snap, r_snap, limit=threshold_m)
    p65 = sub["population_65plus"].to_numpy(float)
    has65 = not np.isnan(p65).all()
    picks = greedy_sites(cover, sub["population"].to_numpy(float), k=k,
                         weights_65=p65 if has65 else None)
    on = res["status"] == "ok"
    base = float(res.loc[on, "population"].sum())
    covered = float(res.loc[on & (res["distance_m"] <= threshold_m), "population"].sum())
    rows = []
    for rank, (i, add, add65) in enumerate(picks, start=1):
        covered += add
        rows.append({"rank": rank, "candidate_id": cand["candidate_id"].iloc[i],
                     "name": cand["name"].iloc[i], "source": cand["source"].iloc[i],
                     "added_population": round(add, 1),
                     "added_population_65plus": None if add65 is None else round(add65, 1),
                     "coverage_after": round(covered / base, 4) if base else None,
                     "geometry": cand.geometry.iloc[i]})
    return gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs=net.crs)
