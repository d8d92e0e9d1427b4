"""Site suggestion: the next places that would bring the most uncovered residents within reach.

Candidates are the allowed kinds of the region's ``candidates`` layer and free network points
(:mod:`kennai.access.candidates`); a sparse matrix says which residents each candidate reaches
within the threshold (bounded Dijkstra runs on the part of the graph a batch of candidates
reaches), and a lazy greedy maximal-coverage pass picks them one at a time.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from kennai.access.candidates import allowed_kinds, candidate_points
from kennai.access.districts import named_district
from kennai.access.results import AccessResults
from kennai.access.routing import cost_scale, region_network, walk_graphs
from kennai.arrays import unique_sorted
from kennai.graph import WalkGraph
from kennai.network import WalkNetwork
from kennai.region import Region
from kennai.snapping import Snap, snap_to_edges

#: Most float64 costs one bounded Dijkstra call may hold at once (about 64 MB): batches of sites
#: are cut so that memory follows the nodes they reach, never sites × nodes.
DIJKSTRA_BUDGET = 8_000_000


def _by_key(key: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions sorted by ``key`` (in ``0..n-1``) and the pointer to each key's run."""
    order = np.argsort(key, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(key, minlength=n), out=ptr[1:])
    return order, ptr


def _runs(order: np.ndarray, start: np.ndarray, count: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Every position of each run ``order[start:start + count]``: (run, position)."""
    owner = np.repeat(np.arange(len(start)), count)
    ramp = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    return owner, order[start[owner] + ramp]


def _spatial_order(net: WalkNetwork, sites: np.ndarray, edge: np.ndarray, limit: float
                   ) -> np.ndarray:
    """``sites`` in strips a few thresholds wide, so that each batch reaches a compact area."""
    xy = net.node_xy[net.edge_u[edge[sites]]]
    strip = np.floor(xy[:, 0] / (8.0 * limit)) if 0 < limit < np.inf else np.zeros(len(xy))
    return sites[np.lexsort((xy[:, 1], strip))]


def coverage_matrix(graph: WalkGraph, sites: Snap, points: Snap, *, limit: float,
                    chunk: int = 64, budget: int = DIJKSTRA_BUDGET) -> csr_matrix:
    """Sparse boolean matrix: site ``i`` reaches point ``j`` within ``limit`` (graph unit).

    Per batch of ``chunk`` sites, one bounded multi-source Dijkstra finds the nodes within
    ``limit`` of any of their edge ends; bounded runs from each end on the graph of those nodes
    alone give the same costs as on the whole graph (a walk within ``limit`` never leaves
    them). Only (site, node) pairs within ``limit`` are kept and spread to the points on edges
    ending at that node, so memory follows the reachable pairs, not sites × nodes.
    """
    net = graph.network
    scale = cost_scale(graph)
    n_pts = len(points.edge)
    pts = np.flatnonzero(points.ok)
    pe = points.edge[pts]
    pf = points.fraction(net)[pts]
    poff = points.perp_m[pts] * scale
    a_u = pf * graph.cost_bwd[pe]  # point → the u end of its edge, then the v end
    a_v = (1 - pf) * graph.cost_fwd[pe]
    by_end = [(*_by_key(net.edge_u[pe], net.n_nodes), a_u),
              (*_by_key(net.edge_v[pe], net.n_nodes), a_v)]
    e_order = np.argsort(pe, kind="stable")
    e_sorted = pe[e_order]
    rev = graph.reversed_matrix()
    sf = sites.fraction(net)
    ok_sites = np.flatnonzero(sites.ok) if len(pts) else np.zeros(0, dtype=np.int64)
    ordered = _spatial_order(net, ok_sites, sites.edge, limit)
    keys = [np.zeros(0, dtype=np.int64)]
    for start in range(0, len(ordered), chunk):
        batch = ordered[start:start + chunk]
        m = len(batch)
        se = sites.edge[batch]
        f = sf[batch]
        soff = sites.perp_m[batch] * scale
        to_u = f * graph.cost_fwd[se] + soff  # cost node→site via the site's u end / v end
        to_v = (1 - f) * graph.cost_bwd[se] + soff
        ends = np.concatenate([net.edge_u[se], net.edge_v[se]])
        reach = dijkstra(rev, directed=True, indices=ends, limit=limit, min_only=True)
        nodes = np.flatnonzero(np.isfinite(reach))
        sub = rev[nodes][:, nodes]
        local = np.searchsorted(nodes, ends)
        step = max(1, budget // (2 * len(nodes)))
        for s0 in range(0, m, step):
            s = slice(s0, min(m, s0 + step))
            d = dijkstra(sub, directed=True, indices=np.concatenate([local[:m][s], local[m:][s]]),
                         limit=limit)
            k = len(d) // 2
            node_cost = np.minimum(d[:k] + to_u[s, None], d[k:] + to_v[s, None])
            del d
            gi, x = np.nonzero(node_cost <= limit)
            nc, node = node_cost[gi, x], nodes[x]
            del node_cost
            row = batch[s][gi] * n_pts
            for order, ptr, a in by_end:
                owner, j = _runs(order, ptr[node], ptr[node + 1] - ptr[node])
                hit = (a[j] + nc[owner]) + poff[j] <= limit
                keys.append(row[owner[hit]] + pts[j[hit]])
        # Points on a site's own edge may also walk straight along it.
        lo = np.searchsorted(e_sorted, se, side="left")
        owner, j = _runs(e_order, lo, np.searchsorted(e_sorted, se, side="right") - lo)
        dd = f[owner] - pf[j]
        e = pe[j]
        direct = (np.where(dd >= 0, dd * graph.cost_fwd[e], -dd * graph.cost_bwd[e])
                  + poff[j] + soff[owner])
        hit = direct <= limit
        keys.append(batch[owner[hit]] * n_pts + pts[j[hit]])
    rows, cols = np.divmod(unique_sorted(np.concatenate(keys)), max(n_pts, 1))
    ptr = np.zeros(len(sites.edge) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(sites.edge)), out=ptr[1:])
    return csr_matrix((np.ones(len(rows), dtype=bool), cols, ptr),
                      shape=(len(sites.edge), n_pts))


def greedy_sites(cover: csr_matrix, weights: np.ndarray, *, k: int,
                 weights_65: np.ndarray | None = None) -> list[tuple[int, float, float | None]]:
    """Greedy maximal coverage: pick ``k`` rows that add the most uncovered weight, one at a time.

    Lazy (CELF): a row's gain only shrinks as others are picked, so a stale gain is an upper
    bound and only the rows that reach the top of the heap are counted again. Gains are summed
    in the order the sparse product sums them and ties go to the lowest row, so the picks and
    figures are those of recounting every row each time. Returns ``(row, added weight, added
    65+ weight)`` per pick; stops when nothing is added.
    """
    left = np.asarray(weights, dtype=np.float64).copy()
    left65 = None if weights_65 is None else np.nan_to_num(weights_65).astype(np.float64)
    cover = cover.astype(np.float64).tocsr()
    if not (left >= 0).all():  # a negative or unknown weight could make a gain grow
        return _greedy_recount(cover, left, left65, k)
    gain = cover @ left
    heap = [(-g, i) for i, g in enumerate(gain.tolist())]
    heapq.heapify(heap)
    counted = np.zeros(len(gain), dtype=np.int64)  # the pick round each row's gain is from
    picks: list[tuple[int, float, float | None]] = []
    for rnd in range(k):
        while heap and counted[heap[0][1]] != rnd:
            _, i = heapq.heappop(heap)
            row = left[cover.indices[cover.indptr[i]:cover.indptr[i + 1]]]
            counted[i] = rnd
            heapq.heappush(heap, (-(float(np.cumsum(row)[-1]) if len(row) else 0.0), i))
        if not heap or heap[0][0] >= 0:
            break
        neg, best = heapq.heappop(heap)
        picks.append(_take(cover, best, -neg, left, left65))
    return picks


def _take(cover: csr_matrix, row: int, gain: float, left: np.ndarray, left65: np.ndarray | None
          ) -> tuple[int, float, float | None]:
    """Pick ``row``: what it adds, its points then counted as covered."""
    cols = cover.indices[cover.indptr[row]:cover.indptr[row + 1]]
    add65 = float(left65[cols].sum()) if left65 is not None else None
    left[cols] = 0.0
    if left65 is not None:
        left65[cols] = 0.0
    return row, float(gain), add65


def _greedy_recount(cover: csr_matrix, left: np.ndarray, left65: np.ndarray | None, k: int
                    ) -> list[tuple[int, float, float | None]]:
    """Greedy maximal coverage recounting every row's gain at each pick."""
    picks = []
    for _ in range(k):
        gain = cover @ left
        best = int(np.argmax(gain)) if len(gain) else -1
        if best < 0 or gain[best] <= 0:
            break
        picks.append(_take(cover, best, float(gain[best]), left, left65))
    return picks


def suggest_sites(region: Region, results: AccessResults, *, k: int | None = None,
                  threshold_m: float | None = None, max_candidates: int = 400,
                  allow: Sequence[str] | None = None, within: shapely.Geometry | None = None,
                  district: str | None = None) -> gpd.GeoDataFrame:
    """The next ``k`` sites that would bring the most uncovered residents within
    ``threshold_m`` (network metres), with the population and 65+ each adds.

    Parameters
    ----------
    allow
        The candidate kinds to choose from (:func:`kennai.access.candidates.allowed_kinds`).
    within, district
        A district (in the network's CRS) and its name: only its residents count and only
        sites inside it are chosen.
    """
    k = results.options.suggestions if k is None else k
    threshold_m = threshold_m or results.options.gap_threshold_m
    net = region_network(region)
    cand = candidate_points(region, results, allow=allowed_kinds(region, allow), within=within,
                            limit=max_candidates)
    res = results.residents
    on = (res["status"] == "ok").to_numpy().copy()
    if within is not None:
        xy = shapely.get_coordinates(res.geometry.values)
        shapely.prepare(within)
        on &= shapely.contains_xy(within, xy[:, 0], xy[:, 1])
    uncovered = on & ~(res["distance_m"] <= threshold_m).to_numpy()
    if cand.empty or not uncovered.any():
        return gpd.GeoDataFrame(columns=SUGGESTION_COLUMNS, geometry="geometry", crs=net.crs)
    c_xy = shapely.get_coordinates(cand.geometry.values)
    c_snap = snap_to_edges(net, c_xy, max_distance_m=results.options.max_snap_m)
    sub = res[uncovered]
    r_snap = snap_to_edges(net, shapely.get_coordinates(sub.geometry.values),
                           max_distance_m=results.options.max_snap_m)
    graph, _ = walk_graphs(region, results.options)
    cover = coverage_matrix(graph, c_snap, r_snap, limit=threshold_m)
    p65 = sub["population_65plus"].to_numpy(float)
    has65 = not np.isnan(p65).all()
    picks = greedy_sites(cover, sub["population"].to_numpy(float), k=k,
                         weights_65=p65 if has65 else None)
    base = float(res.loc[on, "population"].sum())
    covered = float(res.loc[on & (res["distance_m"] <= threshold_m).to_numpy(), "population"].sum())
    rows = []
    for rank, (i, add, add65) in enumerate(picks, start=1):
        covered += add
        rows.append({"rank": rank, "candidate_id": cand["candidate_id"].iloc[i],
                     "name": cand["name"].iloc[i], "category": cand["category"].iloc[i],
                     "kind": cand["kind"].iloc[i], "source": cand["source"].iloc[i],
                     "district": district, "threshold_m": float(threshold_m),
                     "added_population": round(add, 1),
                     "added_population_65plus": None if add65 is None else round(add65, 1),
                     "coverage_after": round(covered / base, 4) if base else None,
                     "geometry": cand.geometry.iloc[i]})
    return gpd.GeoDataFrame(rows, columns=SUGGESTION_COLUMNS, geometry="geometry", crs=net.crs)


#: The columns of a suggestion table, in order.
SUGGESTION_COLUMNS = ["rank", "candidate_id", "name", "category", "kind", "source", "district",
                      "threshold_m", "added_population", "added_population_65plus",
                      "coverage_after", "geometry"]


def district_suggestions(region: Region, results: AccessResults, *, layer: str | None = None,
                         district: str | None = None, k: int | None = None,
                         threshold_m: float | None = None,
                         allow: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Site suggestions for the whole region, or for the district named ``district`` of
    ``layer`` (a district layer or plan, as for ``--by``): what the CLI and the API both ask.

    Raises :class:`kennai.errors.NotFoundError` for an unknown district and
    :class:`kennai.errors.ConfigError` for an unknown candidate kind.
    """
    if district is None:
        return suggest_sites(region, results, k=k, threshold_m=threshold_m, allow=allow)
    match = named_district(region, layer or "elementary", district)
    crs = region_network(region).crs
    shape = shapely.union_all(match.to_crs(crs).geometry.values)
    return suggest_sites(region, results, k=k, threshold_m=threshold_m, allow=allow,
                         within=shape, district=district)
