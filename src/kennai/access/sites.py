"""Site suggestion: the next places that would bring the most uncovered residents within reach.

Candidates are the allowed kinds of the region's ``candidates`` layer and free network points
(:mod:`kennai.access.candidates`); a sparse matrix says which residents each candidate reaches
within the threshold (one bounded Dijkstra per candidate), and a greedy maximal-coverage pass
picks them one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from kennai.access.candidates import allowed_kinds, candidate_points
from kennai.access.districts import named_district
from kennai.access.results import AccessResults
from kennai.access.routing import cost_scale, region_network
from kennai.graph import WalkGraph, build_graph
from kennai.region import Region
from kennai.residents import Snap, snap_to_edges


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
