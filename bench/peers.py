"""The sides of the like-for-like access job: kennai and its peers, each a whole pipeline from
the same parsed edges (u, v, length, geometry) and the same resident and place points.

Each ``*_job`` function builds its own graph, snaps the points its own way and runs its query;
it returns, per resident, the walking distance to the nearest place (``inf``: none within the
search), so that the bench can check results, not only counts. The references
(:func:`node_reference`, :func:`edge_reference`, :func:`pandana_reference`) share no query code
with the sides they check.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from kennai.access import node_costs, point_costs
from kennai.graph import build_graph, csr_from_edges
from kennai.network import WalkNetwork
from kennai.snapping import EdgeIndex, Snap

#: The job's largest threshold: peers that can bound their search stop there.
CUTOFF_M = 1000.0


def _both_ways(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u = np.concatenate([net.edge_u, net.edge_v])
    v = np.concatenate([net.edge_v, net.edge_u])
    return u, v, np.concatenate([net.edge_length, net.edge_length])


def kennai_job(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray) -> np.ndarray:
    """kennai's whole job: its CSR graph, its EdgeIndex snapping (exact, onto edges) of residents
    and places, one multi-source Dijkstra from the places and every resident's cost."""
    g = build_graph(net, weight="length")
    index = EdgeIndex(net, remember=0)
    rs = index.snap(res_xy)
    ps = index.snap(place_xy)
    return point_costs(g, node_costs(g, ps), rs, ps)[0]


def scipy_job(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray) -> np.ndarray:
    """Bare scipy, the floor: CSR from the edges (parallel edges reduced to the shortest, as
    scipy would add them up), KD-tree nearest nodes, ``dijkstra(min_only, limit=1000)``."""
    u, v, w = _both_ways(net)
    m = csr_from_edges(u, v, w, net.n_nodes)
    tree = cKDTree(net.node_xy)
    rn = tree.query(res_xy)[1]
    pn = np.unique(tree.query(place_xy)[1])
    d = dijkstra(m, directed=True, indices=pn, min_only=True, limit=CUTOFF_M)
    return np.asarray(d[rn])


def networkx_job(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray) -> np.ndarray:
    """networkx at its strongest: a simple ``Graph`` (edges added longest first, so the shortest
    of parallel edges is the one kept), KD-tree nearest nodes, one
    ``multi_source_dijkstra_path_length(cutoff=1000)`` (``multi_source_dijkstra`` without the
    paths it would also build)."""
    import networkx as nx

    order = np.argsort(-net.edge_length, kind="stable")
    g = nx.Graph()
    g.add_nodes_from(range(net.n_nodes))
    g.add_weighted_edges_from(zip(net.edge_u[order].tolist(), net.edge_v[order].tolist(),
                                  net.edge_length[order].tolist(), strict=True), weight="length")
    tree = cKDTree(net.node_xy)
    rn = tree.query(res_xy)[1]
    pn = set(tree.query(place_xy)[1].tolist())
    dist = nx.multi_source_dijkstra_path_length(g, pn, cutoff=CUTOFF_M, weight="length")
    node_d = np.full(net.n_nodes, np.inf)
    node_d[np.fromiter(dist.keys(), dtype=np.int64)] = np.fromiter(dist.values(), dtype=float)
    return node_d[rn]


def osmnx_job(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray,
              thresholds: tuple[float, ...]) -> np.ndarray:
    """The OSMnx isochrone example: a projected ``MultiDiGraph`` (both directions, ``x``/``y``
    on the nodes), ``ox.distance.nearest_nodes`` for residents and places, then
    ``nx.ego_graph(G, place, radius, distance="length")`` per place and threshold. A resident
    gets the smallest threshold whose ego graphs hold its node (``inf`` if none): the results
    are comparable only at the thresholds."""
    import networkx as nx
    import osmnx as ox

    g = nx.MultiDiGraph(crs=net.crs.to_string())
    g.add_nodes_from((i, {"x": x, "y": y}) for i, (x, y) in enumerate(net.node_xy.tolist()))
    u, v, w = _both_ways(net)
    g.add_edges_from((a, b, {"length": c}) for a, b, c in
                     zip(u.tolist(), v.tolist(), w.tolist(), strict=True))
    rn = np.asarray(ox.distance.nearest_nodes(g, res_xy[:, 0], res_xy[:, 1]))
    pn = ox.distance.nearest_nodes(g, place_xy[:, 0], place_xy[:, 1])
    within = np.full(net.n_nodes, np.inf)
    for th in sorted(thresholds, reverse=True):
        for p in pn:
            within[list(nx.ego_graph(g, int(p), radius=th, distance="length").nodes)] = th
    return within[rn]


def pandana_job(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray) -> np.ndarray:
    """pandana: ``Network(...)`` (its contraction hierarchy), ``get_node_ids`` for residents,
    ``set_pois`` (which snaps the places) and ``nearest_pois(1000, num_pois=1)``. pandana fills
    "none within 1000 m" with 1000: those become ``inf``."""
    import pandas as pd

    pn = _pandana_network(net)
    rn = pn.get_node_ids(pd.Series(res_xy[:, 0]), pd.Series(res_xy[:, 1])).to_numpy()
    pn.set_pois("places", CUTOFF_M, 1, pd.Series(place_xy[:, 0]), pd.Series(place_xy[:, 1]))
    d = pn.nearest_pois(CUTOFF_M, "places", num_pois=1)[1]
    out = d.loc[rn].to_numpy(dtype=float)
    return np.where(out >= CUTOFF_M, np.inf, out)


def _pandana_network(net: WalkNetwork) -> Any:
    """pandana's ``Network`` of the edges, both ways (its contraction hierarchy is made here)."""
    import pandana
    import pandas as pd

    edges = pd.DataFrame({"w": net.edge_length})
    return pandana.Network(pd.Series(net.node_xy[:, 0]), pd.Series(net.node_xy[:, 1]),
                           pd.Series(net.edge_u), pd.Series(net.edge_v), edges, twoway=True)


def pandana_reference(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray) -> np.ndarray:
    """The reference for pandana, with pandana's own snapping and metric: the nodes its
    ``get_node_ids`` gives residents and places (its tree picks another node for 2 of Ishigaki's
    100 places than scipy's), and edge lengths cut down to whole millimetres, as its contraction
    hierarchy keeps them (integer weights; measured here, this reproduces its float32 answers
    within 3e-5 m). Then a full Dijkstra per place node and the minimum, as
    :func:`node_reference`; beyond ``CUTOFF_M`` is ``inf``, as pandana reports it."""
    import pandas as pd

    pn = _pandana_network(net)
    rn = pn.get_node_ids(pd.Series(res_xy[:, 0]), pd.Series(res_xy[:, 1])).to_numpy()
    pl = np.unique(pn.get_node_ids(pd.Series(place_xy[:, 0]), pd.Series(place_xy[:, 1])))
    u, v, w = _both_ways(net)
    m = csr_from_edges(u, v, np.floor(w * 1000.0) / 1000.0, net.n_nodes)
    d = np.asarray(dijkstra(m, directed=False, indices=pl).min(axis=0)[rn])
    return np.where(d >= CUTOFF_M, np.inf, d)


def pandana_status() -> str | None:
    """Why pandana cannot run here, or None when it can."""
    try:
        import pandana  # noqa: F401
    except ImportError as exc:
        return f"not installed ({exc})"
    return None


# --------------------------------------------------------------------------- references


def node_reference(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray) -> np.ndarray:
    """Node-snapped reference: the same KD-tree nearest nodes as the peers, then a full Dijkstra
    from each place node (no bound, no ``min_only``) and the minimum over places."""
    u, v, w = _both_ways(net)
    m = csr_from_edges(u, v, w, net.n_nodes)
    tree = cKDTree(net.node_xy)
    rn = tree.query(res_xy)[1]
    pn = np.unique(tree.query(place_xy)[1])
    d = dijkstra(m, directed=False, indices=pn).min(axis=0)
    return np.asarray(d[rn])


def edge_reference(net: WalkNetwork, rs: Snap, ps: Snap) -> np.ndarray:
    """Edge-snapped reference for kennai, from kennai's own snaps: every snapped point becomes a
    real node splitting its edge (joined by its perpendicular walk), then one scipy Dijkstra from
    the place nodes on that larger graph. No virtual-node or same-edge arithmetic is shared with
    :func:`kennai.access.point_costs`."""
    n = net.n_nodes
    snaps = [(rs, 0), (ps, 1)]
    along = np.concatenate([s.along_m[s.ok] for s, _ in snaps])
    edge = np.concatenate([s.edge[s.ok] for s, _ in snaps])
    perp = np.concatenate([s.perp_m[s.ok] for s, _ in snaps])
    kind = np.concatenate([np.full(int(s.ok.sum()), k) for s, k in snaps])
    pos = np.concatenate([np.flatnonzero(s.ok) for s, _ in snaps])
    k = len(edge)
    on = n + np.arange(k)          # the point's foot on the edge
    pt = n + k + np.arange(k)      # the point itself
    order = np.lexsort((along, edge))
    e_s, a_s, on_s = edge[order], along[order], on[order]
    first = np.ones(k, dtype=bool)
    first[1:] = e_s[1:] != e_s[:-1]
    last = np.ones(k, dtype=bool)
    last[:-1] = e_s[1:] != e_s[:-1]
    cu = [net.edge_u[e_s[first]], on_s[:-1][~last[:-1]], on_s[last], pt]
    cv = [on_s[first], on_s[1:][~first[1:]], net.edge_v[e_s[last]], on]
    cw = [a_s[first], np.diff(a_s)[~last[:-1]], net.edge_length[e_s[last]] - a_s[last], perp]
    split = np.zeros(net.n_edges, dtype=bool)
    split[edge] = True
    keep = ~split
    uu = np.concatenate([net.edge_u[keep], *cu])
    vv = np.concatenate([net.edge_v[keep], *cv])
    ww = np.concatenate([net.edge_length[keep], *cw])
    total = n + 2 * k
    m: csr_matrix = csr_from_edges(np.concatenate([uu, vv]), np.concatenate([vv, uu]),
                                   np.concatenate([ww, ww]), total)
    src = pt[kind == 1]
    d = dijkstra(m, directed=True, indices=src, min_only=True)
    out = np.full(len(rs.edge), np.inf)
    res = kind == 0
    out[pos[res]] = d[pt[res]]
    return out


def compare(got: np.ndarray, ref: np.ndarray, thresholds: tuple[float, ...]) -> dict[str, Any]:
    """Per threshold, the residents within it on each side; equal when every resident is on the
    same side of every threshold (1 mm of float slack at the threshold itself)."""
    counts = [int((got <= th).sum()) for th in thresholds]
    ref_counts = [int((ref <= th).sum()) for th in thresholds]
    differ = 0
    for th in thresholds:
        a, b = got <= th, ref <= th
        close = np.abs(np.where(np.isfinite(ref), ref, 1e18) - th) < 1e-3
        differ += int((a != b)[~close].sum())
    return {"counts": counts, "ref_counts": ref_counts, "residents_differing": differ,
            "equal": differ == 0}
