"""Where any point meets the walk network: the nearest edge, the offset along it, the walk to it.

One :class:`EdgeIndex` per network (:func:`edge_index`, kept with the network) serves every
snap of a build and of a server: residents, places, raster cells and clicked points. Points
are snapped in bulk on grids of growing cells (:mod:`kennai.segments`, numpy with GEOS's
formulas); the few they leave (a nearest edge within a hair of a cell's width, or no street
within the widest cell) by GEOS's searches. Either way the answer is GEOS's, ties going to the
lower edge. It keeps the last few answers, so the same residents snapped for each kind of
destination are snapped once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import shapely

from kennai.network import WalkNetwork
from kennai.segments import Segments

#: Radius of the cheap first search for each point's nearest edge (most homes are this close).
PROBE_M = 40.0
#: How many snaps an index remembers (residents, places, cells of one build).
REMEMBERED = 4


@dataclass(slots=True)
class Snap:
    """Points snapped onto edges: ``edge`` is -1 where no edge lies within the search radius.

    ``along_m`` is the distance from the edge's ``u`` end along the edge (in the edge's stored
    length), ``perp_m`` the straight walk from the point to the edge.
    """

    edge: np.ndarray
    along_m: np.ndarray
    perp_m: np.ndarray
    xy: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        return self.edge >= 0

    def fraction(self, net: WalkNetwork) -> np.ndarray:
        """Position along each snapped edge from ``u`` (0) to ``v`` (1)."""
        e = np.where(self.ok, self.edge, 0)
        length = net.edge_length[e]
        return np.where(self.ok & (length > 0), self.along_m / np.where(length > 0, length, 1), 0.0)

    def copy(self) -> Snap:
        """A snap of its own (callers mark points off the network in place)."""
        return Snap(self.edge.copy(), self.along_m.copy(), self.perp_m.copy(), self.xy.copy())


class EdgeIndex:
    """The snap structure of one network: its edge tree, made once, and the last answers."""

    def __init__(self, net: WalkNetwork, *, remember: int = REMEMBERED) -> None:
        self.network = net
        self._tree: shapely.STRtree | None = None
        self.remember = remember
        self.segments = Segments(net)
        self._glen = self.segments.edge_lengths()
        self._memo: OrderedDict[tuple[bytes, float | None], Snap] = OrderedDict()

    @property
    def tree(self) -> shapely.STRtree:
        """GEOS's tree of the edges, made when first needed (most snaps settle every point in
        bulk and never need it)."""
        if self._tree is None:
            self._tree = shapely.STRtree(self.network.edge_geometry)
        return self._tree

    def snap(self, xy: np.ndarray, *, max_distance_m: float | None = None) -> Snap:
        """Snap points (n × 2, the network's CRS) to their nearest edge; see :func:`snap_to_edges`."""
        xy = np.ascontiguousarray(xy, dtype=np.float64).reshape(-1, 2)
        key = (hashlib.blake2b(xy.tobytes(), digest_size=16).digest(), max_distance_m)
        if key not in self._memo:
            snap = self._snap(xy, max_distance_m)
            if self.remember < 1:
                return snap
            self._memo[key] = snap
            while len(self._memo) > self.remember:
                self._memo.popitem(last=False)
        self._memo.move_to_end(key)
        return self._memo[key].copy()

    def _snap(self, xy: np.ndarray, max_distance_m: float | None) -> Snap:
        net = self.network
        n = len(xy)
        edge = np.full(n, -1, dtype=np.int64)
        along = np.zeros(n)
        perp = np.full(n, np.inf)
        proj = np.full((n, 2), np.nan)
        if n == 0 or net.n_edges == 0:
            return Snap(edge, along, perp, proj)
        probe = PROBE_M if max_distance_m is None else min(PROBE_M, max_distance_m)
        # Most points in bulk (numpy, GEOS's formulas); the others by GEOS's own searches.
        bi, be, bd, seg, none = self.segments.nearest(xy, probe, max_distance_m)
        pos = self.segments.locate(xy[bi], seg)
        proj[bi] = self.segments.interpolate(be, pos, seg)
        left = np.ones(n, dtype=bool)
        left[bi] = left[none] = False
        rest = np.flatnonzero(left)
        if len(rest):
            pts = shapely.points(xy[rest])
            ri, re, rd = self._by_tree(pts, probe, max_distance_m)
            geoms = net.edge_geometries(re)
            rpos = shapely.line_locate_point(geoms, pts[ri])
            proj[rest[ri]] = shapely.get_coordinates(shapely.line_interpolate_point(geoms, rpos))
        else:
            ri = re = np.zeros(0, dtype=np.int64)
            rd = rpos = np.zeros(0)
        pi, ei = np.concatenate([bi, rest[ri]]), np.concatenate([be, re])
        pos = np.concatenate([pos, rpos])
        glen = self._glen[ei]
        scale = np.divide(net.edge_length[ei], glen, out=np.ones_like(glen), where=glen > 0)
        edge[pi] = ei
        along[pi] = np.clip(pos * scale, 0.0, net.edge_length[ei])
        perp[pi] = np.concatenate([bd, rd])
        return Snap(edge, along, perp, proj)

    def _by_tree(self, pts: np.ndarray, probe: float, max_distance_m: float | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, nearest edge, distance) by GEOS: a ``dwithin`` search in the probe radius, then
        its nearest-neighbour search for the points it leaves. Ties go to the lower edge index
        at any distance."""
        net, tree = self.network, self.tree
        a, b = tree.query(pts, predicate="dwithin", distance=probe)
        d = shapely.distance(pts[a], net.edge_geometries(b))
        pi, ei, dist = _lowest(a, b, d)
        if max_distance_m is None or max_distance_m > probe:
            rest = np.setdiff1d(np.arange(len(pts)), pi, assume_unique=True)
            if len(rest):
                (ri, re), rd = tree.query_nearest(pts[rest], max_distance=max_distance_m,
                                                  return_distance=True, all_matches=True)
                ri, re, rd = _lowest(ri, re, rd)
                pi = np.concatenate([pi, rest[ri]])
                ei = np.concatenate([ei, re])
                dist = np.concatenate([dist, rd])
        return pi, ei, dist


def _lowest(a: np.ndarray, b: np.ndarray, d: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point ``a``, the edge ``b`` at the least distance ``d`` (ties: the lower edge)."""
    order = np.lexsort((b, d, a))
    a, b, d = a[order], b[order], d[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = a[1:] != a[:-1]
    return a[first], b[first], d[first]


def edge_index(net: WalkNetwork) -> EdgeIndex:
    """The network's :class:`EdgeIndex`, made on first use and kept with the network."""
    index = net.derived.get("edge_index")
    if not isinstance(index, EdgeIndex):
        index = net.derived["edge_index"] = EdgeIndex(net)
    return index


def snap_to_edges(net: WalkNetwork, xy: np.ndarray, *, max_distance_m: float | None = None
                  ) -> Snap:
    """Snap points to their nearest edge, with the network's one :class:`EdgeIndex`.

    Parameters
    ----------
    net
        The walk network.
    xy
        Point coordinates (n × 2) in the network's CRS.
    max_distance_m
        Points farther than this from every edge are left unsnapped (``edge == -1``).
    """
    return edge_index(net).snap(xy, max_distance_m=max_distance_m)
