"""Join the loose ends of street centre-line files that carry no topology.

Municipal 道路台帳 / 路線価 lines are drawn street by street: their ends often stop a few metres
short of the street they meet, or sit on its middle without a shared vertex. Each dead end
(a node of degree 1) is joined in two ways, both within the tolerance:

- dead ends near each other are clustered (as momepy's ``close_gaps`` does) and each is joined
  to the cluster's centre, so four streets stopping short of a crossroads meet in one node;
- each dead end is joined to the nearest other edge: to that edge's end node when the nearest
  point is (within 1 cm of) an end, otherwise by splitting the edge there (a T-junction).

Joins are short connector edges whose length is the gap itself, so nothing moves and the walk
across the gap is counted. What was joined is reported in ``network.info["snap"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from kennai.network import WalkNetwork

#: Nearest points this close to an edge end join that end instead of splitting the edge.
_END_EPS_M = 0.01


def _degree(net: WalkNetwork) -> np.ndarray:
    return np.bincount(np.concatenate([net.edge_u, net.edge_v]), minlength=net.n_nodes)


def _cut(line: shapely.LineString, at: np.ndarray) -> list[np.ndarray]:
    """Coordinates of the pieces of ``line`` cut at distances ``at`` (sorted, inside)."""
    xy = shapely.get_coordinates(line)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    pieces, start_pt, start_i = [], xy[0], 1
    for d in at:
        i = int(np.searchsorted(cum, d, side="right"))
        i = min(max(i, 1), len(xy) - 1)
        seg = cum[i] - cum[i - 1]
        r = (d - cum[i - 1]) / seg if seg > 0 else 0.0
        pt = xy[i - 1] + r * (xy[i] - xy[i - 1])
        pieces.append(np.vstack([start_pt, xy[start_i:i], pt]))
        start_pt, start_i = pt, i
    pieces.append(np.vstack([start_pt, xy[start_i:]]))
    return pieces


def snap_line_ends(net: WalkNetwork, *, tolerance_m: float) -> WalkNetwork:
    """Join every dead end to the nearest other edge within ``tolerance_m``.

    Parameters
    ----------
    net
        A network built from plain lines (ends joined only where coordinates coincide).
    tolerance_m
        The largest gap bridged, in metres.

    Returns
    -------
    WalkNetwork
        The network with connector edges (``highway="connector"``) and split edges; its
        ``info["snap"]`` holds the tolerance, the counts and the largest part's length share
        before and after.
    """
    before = net.summary()["largest_component_length_share"] if net.n_edges else 0.0
    deg = _degree(net)
    ends = np.flatnonzero(deg == 1)
    report: dict[str, Any] = {"tolerance_m": tolerance_m, "dead_ends": len(ends),
                              "largest_component_length_share_before": before}
    if len(ends) == 0 or tolerance_m <= 0:
        out = net
        report |= {"joined_ends": 0, "split_edges": 0, "connector_length_m": 0.0}
    else:
        out, joined = _join(net, ends, tolerance_m)
        report |= joined
    report["largest_component_length_share_after"] = (
        out.summary()["largest_component_length_share"] if out.n_edges else 0.0)
    info = dict(out.info)
    info["snap"] = report
    return WalkNetwork(out.crs, out.node_id, out.node_xy, out.edge_u, out.edge_v,
                       out.edge_length, out.edge_highway, out.edge_coords, out.edge_offsets, info)


def _join(net: WalkNetwork, ends: np.ndarray, tol: float) -> tuple[WalkNetwork, dict[str, Any]]:
    tree = shapely.STRtree(net.edge_geometry)
    pts = shapely.points(net.node_xy[ends])
    pi, ei = tree.query(pts, predicate="dwithin", distance=tol)
    # An end may not join an edge it already belongs to.
    own = (net.edge_u[ei] == ends[pi]) | (net.edge_v[ei] == ends[pi])
    pi, ei = pi[~own], ei[~own]
    d = shapely.distance(pts[pi], net.edge_geometry[ei])
    order = np.lexsort((d, pi))
    pi, ei, d = pi[order], ei[order], d[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    pi, ei, d = pi[first], ei[first], d[first]
    geoms = net.edge_geometry[ei]
    pos = shapely.line_locate_point(geoms, pts[pi])
    glen = shapely.length(geoms)
    at_u = pos <= _END_EPS_M
    at_v = pos >= glen - _END_EPS_M
    target = np.where(at_u, net.edge_u[ei], np.where(at_v, net.edge_v[ei], -1))
    # Dead end to dead end is the clusters' job (below).
    is_end = np.zeros(net.n_nodes, dtype=bool)
    is_end[ends] = True
    other_end = (target >= 0) & is_end[np.maximum(target, 0)]
    pi, ei, d, pos, target = pi[~other_end], ei[~other_end], d[~other_end], pos[~other_end], \
        target[~other_end]
    # Two dead ends that pick each other would make two identical connectors: keep one.
    pair_key = np.where(target >= 0, np.minimum(ends[pi], target) * (net.n_nodes + 1)
                        + np.maximum(ends[pi], target), -1 - np.arange(len(pi)))
    _, uniq = np.unique(pair_key, return_index=True)
    keep = np.zeros(len(pi), dtype=bool)
    keep[uniq] = True
    pi, ei, d, pos, target = pi[keep], ei[keep], d[keep], pos[keep], target[keep]

    node_xy = [net.node_xy]
    node_id = [net.node_id]
    next_id = int(net.node_id.max()) + 1 if net.n_nodes else 0
    n_nodes = net.n_nodes
    new_u, new_v, new_geom, new_hw = [], [], [], []
    # Split edges whose interior receives ends; each cut point becomes a new node.
    split = target < 0
    drop = np.unique(ei[split])
    for e in drop:
        sel = np.flatnonzero(split & (ei == e))
        sel = sel[np.argsort(pos[sel])]
        at = pos[sel]
        pieces = _cut(net.edge_geometry[e], at)
        cut_nodes = np.arange(n_nodes, n_nodes + len(sel))
        node_xy.append(np.vstack([p[-1] for p in pieces[:-1]]))
        node_id.append(np.arange(next_id, next_id + len(sel)))
        next_id += len(sel)
        n_nodes += len(sel)
        target[sel] = cut_nodes
        chain = [net.edge_u[e], *cut_nodes, net.edge_v[e]]
        for k, piece in enumerate(pieces):
            new_u.append(chain[k])
            new_v.append(chain[k + 1])
            new_geom.append(shapely.linestrings(piece))
            new_hw.append(net.edge_highway[e])
    # Clusters of dead ends within the tolerance of each other: each joins a node at the centre.
    a, b = shapely.STRtree(pts).query(pts, predicate="dwithin", distance=tol)
    a, b = a[a < b], b[a < b]
    n_ends = len(ends)
    _, lab = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n_ends, n_ends)),
                                  directed=False)
    size = np.bincount(lab)
    grouped = size[lab] > 1
    clusters = np.unique(lab[grouped])
    centre = np.column_stack([
        np.bincount(lab, weights=net.node_xy[ends, 0]) / size,
        np.bincount(lab, weights=net.node_xy[ends, 1]) / size])[clusters]
    centre_node = np.full(len(size), -1, dtype=np.int64)
    centre_node[clusters] = np.arange(n_nodes, n_nodes + len(clusters))
    node_xy.append(centre)
    node_id.append(np.arange(next_id, next_id + len(clusters)))
    all_xy = np.vstack(node_xy)
    # Connectors: from each dead end straight to its target node or its cluster's centre.
    in_cluster = np.flatnonzero(grouped)
    conn_u = np.concatenate([ends[pi], ends[in_cluster]])
    conn_v = np.concatenate([target, centre_node[lab[in_cluster]]])
    conn_geom = shapely.linestrings(np.stack([all_xy[conn_u], all_xy[conn_v]], axis=1))
    keep_e = np.ones(net.n_edges, dtype=bool)
    keep_e[drop] = False
    new_geom_arr = np.asarray(new_geom, dtype=object)
    edge_geometry = np.concatenate([net.edge_geometry[keep_e], new_geom_arr, conn_geom])
    edge_u = np.concatenate([net.edge_u[keep_e], np.asarray(new_u, dtype=np.int64), conn_u])
    edge_v = np.concatenate([net.edge_v[keep_e], np.asarray(new_v, dtype=np.int64), conn_v])
    split_len = shapely.length(new_geom_arr) if len(new_geom_arr) else np.zeros(0)
    edge_length = np.concatenate([net.edge_length[keep_e], split_len, shapely.length(conn_geom)])
    edge_highway = np.concatenate([net.edge_highway[keep_e], np.asarray(new_hw, dtype=object),
                                   np.full(len(conn_u), "connector", dtype=object)])
    out = WalkNetwork.from_geometry(net.crs, np.concatenate(node_id), all_xy, edge_u, edge_v,
                                    edge_length, edge_highway, edge_geometry, dict(net.info))
    report = {"joined_ends": len(np.unique(conn_u)), "end_clusters": len(clusters),
              "connectors": len(conn_u), "split_edges": len(drop),
              "connector_length_m": round(float(shapely.length(conn_geom).sum()), 1)}
    return out, report
