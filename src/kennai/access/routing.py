"""Exact walking costs from many points to their nearest place, on one walk graph.

One Dijkstra run answers the question for everybody at once: each end of every place's edge
gets a virtual node joined to it at the cost of walking from that end to the place, and a
multi-source Dijkstra from all virtual nodes gives each node the cost to its nearest place and,
through the virtual node that reached it, that place. A point then takes the cheaper end of its
own edge (or walks straight along the edge when a place shares it). Costs are in the graph's
unit: metres on the length graph, seconds on the time graph (speed profile, slope from the DEM).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from kennai.access.options import AccessOptions
from kennai.errors import NotFoundError
from kennai.graph import WalkGraph, build_graph
from kennai.i18n import t
from kennai.network import WalkNetwork
from kennai.region import Region
from kennai.snapping import Snap


@dataclass(slots=True)
class NodeCosts:
    """Cost from every node to its nearest place, and that place's index (-1: none)."""

    cost: np.ndarray
    place: np.ndarray


def cost_scale(graph: WalkGraph) -> float:
    """Cost of one metre of off-network walk (the perpendicular) in the graph's unit."""
    return 1.0 / graph.speed_mps if graph.unit == "s" else 1.0


def node_costs(graph: WalkGraph, places: Snap) -> NodeCosts:
    """Exact cost from every node to its nearest place (one multi-source Dijkstra).

    Each end of each place's edge gets a virtual node of its own, joined to that end at the cost
    of walking from it along the edge plus the place's perpendicular. One Dijkstra from all
    virtual nodes at once (``min_only``) gives every node its cost and, through the virtual node
    that reached it, its place. It runs on the reversed graph, so that uphill and downhill are
    taken the right way round (resident → place).
    """
    n = graph.n_nodes
    ok = np.flatnonzero(places.ok)
    if len(ok) == 0:
        return NodeCosts(np.full(n, np.inf), np.full(n, -1, dtype=np.int64))
    net = graph.network
    e = places.edge[ok]
    f = places.fraction(net)[ok]
    off = places.perp_m[ok] * cost_scale(graph)
    ends = np.concatenate([net.edge_u[e], net.edge_v[e]])
    costs = np.concatenate([f * graph.cost_fwd[e] + off, (1 - f) * graph.cost_bwd[e] + off])
    which = np.concatenate([ok, ok])
    k = len(ends)
    rev = graph.reversed_matrix()
    itype = rev.indices.dtype if rev.nnz + n + k < 2**31 - 1 else np.int64
    # One row per virtual node, with its single entry: no duplicates for scipy to add up.
    # (Index arrays are cast before joining: joining int32 with int64 would copy twice.)
    aug = csr_matrix((np.concatenate([rev.data, costs]),
                      np.concatenate([rev.indices, ends.astype(itype)]),
                      np.concatenate([rev.indptr, np.arange(rev.nnz + 1, rev.nnz + k + 1,
                                                            dtype=itype)])),
                     shape=(n + k, n + k))
    dist, _, source = dijkstra(aug, directed=True, indices=np.arange(n, n + k), min_only=True,
                               return_predecessors=True)
    # source is the virtual node n + i that reached each node, or -9999 for none: shifted by
    # one and clipped, it indexes ``[-1, *which]`` (unreached nodes clip to the -1 in front).
    place = np.take(np.concatenate([[-1], which]), source[:n].astype(np.intp) - (n - 1),
                    mode="clip")
    return NodeCosts(dist[:n], place)


@dataclass(slots=True)
class Anchors:
    """Snapped points prepared on one graph: the cost from each point to either end of its edge
    (infinite off the network), and the snapped points in edge order, so that those sharing an
    edge with a place are found without scanning them all. Residents are prepared once; each
    new set of places then costs two gathers."""

    edge: np.ndarray
    frac: np.ndarray
    off: np.ndarray
    u: np.ndarray
    v: np.ndarray
    to_u: np.ndarray
    to_v: np.ndarray
    u_minus_v: np.ndarray
    off_network: np.ndarray
    by_edge: np.ndarray
    sorted_edge: np.ndarray


def anchors(graph: WalkGraph, points: Snap) -> Anchors:
    """Prepare snapped points for :func:`point_costs` on ``graph``."""
    net = graph.network
    ok = points.ok
    e = np.where(ok, points.edge, 0)
    f = points.fraction(net)
    off = np.where(ok, points.perp_m * cost_scale(graph), np.inf)
    by_edge = np.flatnonzero(ok)
    by_edge = by_edge[np.argsort(points.edge[by_edge], kind="stable")]
    u, v = net.edge_u[e], net.edge_v[e]
    return Anchors(points.edge, f, off, u, v, f * graph.cost_bwd[e] + off,
                   (1 - f) * graph.cost_fwd[e] + off, u - v, np.flatnonzero(~ok), by_edge,
                   points.edge[by_edge])


def _same_edge(graph: WalkGraph, pts: Anchors, places: Snap) -> tuple[np.ndarray, np.ndarray,
                                                                        np.ndarray]:
    """Direct walks along the edge for points sharing their edge with a place:
    (positions in ``pts``, cost, place)."""
    pl = np.flatnonzero(places.ok)
    empty = np.zeros(0, dtype=np.int64)
    if len(pl) == 0 or len(pts.by_edge) == 0:
        return empty, np.zeros(0), empty
    pl = pl[np.argsort(places.edge[pl], kind="stable")]
    pe = places.edge[pl]
    pg = places.fraction(graph.network)[pl]
    poff = places.perp_m[pl] * cost_scale(graph)
    # The runs of edge-sorted points on each place edge, gathered without a Python loop.
    ue = pe[np.concatenate([[True], pe[1:] != pe[:-1]])]  # pe is sorted
    start = np.searchsorted(pts.sorted_edge, ue, side="left")
    count = np.searchsorted(pts.sorted_edge, ue, side="right") - start
    total = int(count.sum())
    if total == 0:
        return empty, np.zeros(0), empty
    hit = pts.by_edge[np.repeat(start - np.cumsum(count) + count, count) + np.arange(total)]
    e = pts.edge[hit]
    lo = np.searchsorted(pe, e, side="left")
    hi = np.searchsorted(pe, e, side="right")
    best_c = np.full(total, np.inf)
    best_p = np.full(total, -1, dtype=np.int64)
    for k in range(int((hi - lo).max())):
        ok = lo + k < hi
        j = np.where(ok, lo + k, lo)
        d = pg[j] - pts.frac[hit]
        c = (np.where(d >= 0, d * graph.cost_fwd[e], -d * graph.cost_bwd[e])
             + pts.off[hit] + poff[j])
        better = ok & (c < best_c)
        best_c = np.where(better, c, best_c)
        best_p = np.where(better, pl[j], best_p)
    return hit, best_c, best_p


def point_costs(graph: WalkGraph, nc: NodeCosts, points: Snap | Anchors, places: Snap
                ) -> tuple[np.ndarray, np.ndarray]:
    """Cost from each snapped point to its nearest place, and that place (-1: none).

    Takes the cheaper end of the point's edge, or the direct walk along the edge when a place
    lies on the same edge. Points off the network get an infinite cost.
    """
    pts = points if isinstance(points, Anchors) else anchors(graph, points)
    via_u = nc.cost[pts.u]
    via_u += pts.to_u
    via_v = nc.cost[pts.v]
    via_v += pts.to_v
    # The cheaper end (u on ties); arithmetic rather than np.where, which branches per item.
    # nc.place is -1 wherever nc.cost is infinite, so unreachable points get -1 here.
    p = nc.place[pts.v + pts.u_minus_v * (via_u <= via_v)]
    c = np.minimum(via_u, via_v, out=via_u)
    p[pts.off_network] = -1
    hit, hc, hp = _same_edge(graph, pts, places)
    better = hc < c[hit]
    c[hit[better]] = hc[better]
    p[hit[better]] = hp[better]
    return c, p


def nearest_places(graph: WalkGraph, points: Snap, places: Snap) -> tuple[np.ndarray, np.ndarray]:
    """Cost (graph unit) from every point to its nearest place and that place's index."""
    return point_costs(graph, node_costs(graph, places), points, places)


# --------------------------------------------------------------------------- graphs of a region


def region_network(region: Region) -> WalkNetwork:
    """The region's walk network; raises :class:`NotFoundError` when it has none (or no edges)."""
    net = region.network
    if net is None or net.n_edges == 0:
        raise NotFoundError(t("この地域には歩行ネットワークがありません", "the region has no walk network"),
                            feature="network", hint=t("設定の layers に network を追加してください",
                                                      "add a network layer to the config"))
    return net


def network_extent(net: WalkNetwork, *, margin_m: float) -> shapely.Geometry:
    """Where the network is meant to serve: the hull of its nodes, plus a margin."""
    return net.hull().buffer(margin_m)


def walk_graphs(region: Region, options: AccessOptions) -> tuple[WalkGraph, WalkGraph]:
    """The region's length graph (metres) and time graph (seconds, with ``options``' profile).

    Each is built once per network and kept with it (``WalkNetwork.derived``): a build's
    distances, suggestions and surface, and a server's clicks, all walk the same graphs.
    """
    net = region_network(region)
    dem = region.dem_path if options.slope else None
    keys = (("graph", "length"), ("graph", "time", options.profile, options.speed_mps,
                                   None if dem is None else str(dem), options.steps_factor))
    if keys[0] not in net.derived:
        net.derived[keys[0]] = build_graph(net, weight="length")
    if keys[1] not in net.derived:
        net.derived[keys[1]] = build_graph(net, weight="time", profile=options.profile,
                                           speed_mps=options.speed_mps, dem_path=dem,
                                           steps_factor=options.steps_factor,
                                           like=net.derived[keys[0]])
    return net.derived[keys[0]], net.derived[keys[1]]
