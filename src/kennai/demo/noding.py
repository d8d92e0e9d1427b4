"""The topology of the demo streets: shared vertices where streets cross, one connected piece."""

from __future__ import annotations

import itertools
import math

from shapely.geometry import LineString
from shapely.strtree import STRtree

from kennai.demo.frame import Point2, point2, vertex_key
from kennai.demo.streets import Street

_SNAP = 0.01  # metres: street ends closer than this to another street are joined to it


def _meet(p0: Point2, p1: Point2, q0: Point2, q1: Point2) -> list[tuple[int, float, Point2]]:
    """Where segment p crosses segment q, or one's end lies on the other's interior.

    Returns ``(which, t, point)`` insertions: ``which`` 0 = into p, 1 = into q.
    """
    r = (p1[0] - p0[0], p1[1] - p0[1])
    d = (q1[0] - q0[0], q1[1] - q0[1])
    lr, ld = math.hypot(*r), math.hypot(*d)
    den = r[0] * d[1] - r[1] * d[0]
    if abs(den) > 1e-9 * lr * ld:
        w = (q0[0] - p0[0], q0[1] - p0[1])
        t = (w[0] * d[1] - w[1] * d[0]) / den
        u = (w[0] * r[1] - w[1] * r[0]) / den
        if _SNAP < t * lr < lr - _SNAP and _SNAP < u * ld < ld - _SNAP:
            pt = point2(p0[0] + t * r[0], p0[1] + t * r[1])
            return [(0, t, pt), (1, u, pt)]
    out: list[tuple[int, float, Point2]] = []
    for which, ends, a0, vec, length in ((1, (p0, p1), q0, d, ld), (0, (q0, q1), p0, r, lr)):
        for e in ends:
            t = ((e[0] - a0[0]) * vec[0] + (e[1] - a0[1]) * vec[1]) / (length * length)
            foot = (a0[0] + t * vec[0], a0[1] + t * vec[1])
            if _SNAP < t * length < length - _SNAP and math.dist(e, foot) < _SNAP:
                out.append((which, t, e))
    return out


def node_streets(streets: list[Street]) -> list[Street]:
    """Give crossing streets a shared vertex, so that they meet at an OSM node."""
    segs: list[tuple[int, int]] = []
    lines: list[LineString] = []
    for si, st in enumerate(streets):
        for k in range(len(st.coords) - 1):
            segs.append((si, k))
            lines.append(LineString(st.coords[k : k + 2]))
    tree = STRtree(lines)
    left, right = tree.query(lines, predicate="dwithin", distance=_SNAP)
    extra: dict[tuple[int, int], list[tuple[float, Point2]]] = {}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        (sa, ka), (sb, kb) = segs[a], segs[b]
        if sa == sb and abs(ka - kb) <= 1:
            continue
        pc, qc = streets[sa].coords, streets[sb].coords
        for which, t, pt in _meet(pc[ka], pc[ka + 1], qc[kb], qc[kb + 1]):
            extra.setdefault(segs[a] if which == 0 else segs[b], []).append((t, pt))
    out = []
    for si, st in enumerate(streets):
        coords = [st.coords[0]]
        for k in range(len(st.coords) - 1):
            coords += [pt for _, pt in sorted(extra.get((si, k), []))]
            coords.append(st.coords[k + 1])
        dedup = [coords[0]]
        for c in coords[1:]:
            if vertex_key(c) != vertex_key(dedup[-1]):
                dedup.append(c)
        if len(dedup) > 1:
            out.append(Street(dedup, st.tags, st.bridge))
    return out


def largest_component(streets: list[Street]) -> list[Street]:
    """Keep the streets of the largest connected piece of the walking network."""
    parent: dict[tuple[float, float], tuple[float, float]] = {}

    def find(k: tuple[float, float]) -> tuple[float, float]:
        parent.setdefault(k, k)
        root = k
        while parent[root] != root:
            root = parent[root]
        while parent[k] != root:
            parent[k], k = root, parent[k]
        return root

    for st in streets:
        keys = [vertex_key(c) for c in st.coords]
        for a, b in itertools.pairwise(keys):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    sizes: dict[tuple[float, float], int] = {}
    for k in sorted(parent):
        r = find(k)
        sizes[r] = sizes.get(r, 0) + 1
    best = max(sorted(sizes), key=lambda r: sizes[r])
    return [st for st in streets if find(vertex_key(st.coords[0])) == best]
