"""The nearest of many points to each of many others, without scipy.spatial.

Site suggestion wants, for each resident out of reach, the network node nearest to them. A
k-d tree does that well, but scipy.spatial's import (0.15 s: it loads scipy.special and
scipy.spatial.transform) was most of the suggestion step of a town's build. GEOS's tree,
which shapely has loaded anyway, finds each query's nearest distance; the points within it
(plus a hair, for GEOS's own rounding) are then measured in squared metres, and of those at
the least the lower index wins: the k-d tree's answer wherever the nearest point is unique,
and one rule, not the search order, where several are equally near. Many queries (50k and
more) go to the k-d tree after all, with the same rule for ties.
"""

from __future__ import annotations

import numpy as np
import shapely

#: Points this much (in the points' unit) beyond a query's nearest distance as GEOS measured
#: it are measured again: GEOS's rounding can never leave the nearest point out.
HAIR = 1e-7


#: From this many queries on scipy's k-d tree is used: its import (0.15 s, once a process)
#: then costs less than GEOS's searches (a million-node grid's 450k far residents).
KD_TREE_FROM = 50_000


def nearest_points(points: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For each query, the index of its nearest point (ties: the lower index).

    Parameters
    ----------
    points
        The points searched (n × 2, n ≥ 1), in a projected CRS.
    queries
        The points asked about (m × 2), in the same CRS.

    Returns
    -------
    numpy.ndarray
        m indices into ``points`` (int64).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    queries = np.asarray(queries, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0:
        raise ValueError("nearest_points needs at least one point")
    if len(queries) == 0 or len(points) == 1:
        return np.zeros(len(queries), dtype=np.int64)
    if len(queries) >= KD_TREE_FROM:
        return _by_kd_tree(points, queries)
    tree = shapely.STRtree(shapely.points(points))
    q_geoms = shapely.points(queries)
    (qi, _), dist = tree.query_nearest(q_geoms, return_distance=True, all_matches=False)
    reach = np.full(len(queries), np.inf)  # every query has a nearest: the tree is not empty
    reach[qi] = dist + HAIR
    qi, pi = tree.query(q_geoms, predicate="dwithin", distance=reach)
    out = np.empty(len(queries), dtype=np.int64)
    q, p = _least(points, queries, qi, pi)
    out[q] = p
    return out


def _by_kd_tree(points: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """:func:`nearest_points` by scipy's k-d tree: its nearest, then for queries whose second
    nearest is within a hair of it, every point within that reach measured again."""
    from scipy.spatial import cKDTree

    tree = cKDTree(points)
    dist, idx = tree.query(queries, k=2)
    out = idx[:, 0].astype(np.int64)
    close = np.flatnonzero(dist[:, 1] <= dist[:, 0] + HAIR)
    if len(close):
        found = tree.query_ball_point(queries[close], dist[close, 0] + HAIR)
        sizes = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(close))
        qi = np.repeat(close, sizes)
        pi = np.fromiter((i for f in found for i in f), dtype=np.int64, count=int(sizes.sum()))
        q, p = _least(points, queries, qi, pi)
        out[q] = p
    return out


def _least(points: np.ndarray, queries: np.ndarray, qi: np.ndarray, pi: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Of the (query, point) pairs, each query's point at the least squared distance, the
    lower index among equals: (queries, points)."""
    d = queries[qi] - points[pi]
    d2 = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]
    order = np.lexsort((pi, d2, qi))  # by query, then distance, then index
    qi, pi = qi[order], pi[order]
    first = np.concatenate([[True], qi[1:] != qi[:-1]])
    return qi[first], pi[first]
