"""The network's edges as straight segments, for snapping many points at once with numpy.

A grid of segments finds, for each point, every segment within a cell's width; the distance, the
position along the edge and the projected point then follow GEOS's own formulas operation by
operation (``Distance::pointToSegment``, ``LengthIndexOfPoint``, ``LengthLocationMap``), so
that the answers are GEOS's to the last bit (``tests/test_snapping.py`` checks them against
shapely on every Ishigaki building). :class:`kennai.snapping.EdgeIndex` uses it for the points
it can settle this way and GEOS's searches for the rest.
"""

from __future__ import annotations

import numpy as np

from kennai.arrays import unique_sorted
from kennai.network import WalkNetwork

#: Points whose nearest edge lies within this (metres) of a cell's width are left to GEOS's
#: searches, so a rounding difference at the edge of the search can never decide.
MARGIN_M = 1e-6

#: Points measured at once: the (point, segment) pairs, and so the memory, follow this.
CHUNK = 16_384

#: Grids of at most this many cells point into their segments from every cell (4 bytes a
#: cell, no search); larger ones (a town with far islands) keep the occupied cells' sorted keys.
DENSE_CELLS = 1 << 25

#: A grid: lowest cell, grid shape, the sorted keys of the cells holding segments (``None``
#: when every cell has its pointer), the pointer into each cell's segments, the segments.
Grid = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]


class Segments:
    """Every edge's segments in order (segment ``i`` from vertex ``i`` to ``i + 1`` of its edge),
    their lengths and the length along the edge where each starts, summed as GEOS sums them."""

    def __init__(self, net: WalkNetwork) -> None:
        self.network = net
        coords = net.edge_coords
        owner = np.repeat(np.arange(net.n_edges), np.diff(net.edge_offsets))
        joined = np.flatnonzero(owner[1:] == owner[:-1])
        self.b, self.edge = coords[joined + 1], owner[joined]
        del owner
        # What the distance formula needs of each segment, one row per segment: one np.take of
        # rows gathers them many times faster than six fancy-indexed gathers (the gathers were
        # most of a bulk snap's time). The columns are views into it, not copies; so are the
        # segments' starts and lengths (sqrt(dx² + dy²) is GEOS's length whichever way round).
        a = coords[joined]
        d = self.b - a
        len2 = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]
        self.rows = np.column_stack([a, d, len2, np.sqrt(len2)])
        del a, d, len2, joined
        self.ax, self.ay, self.dx, self.dy, self.len2, self.root = self.rows.T
        self.a, self.length = self.rows[:, :2], self.root
        self.bx, self.by = self.b[:, 0], self.b[:, 1]
        count = np.bincount(self.edge, minlength=net.n_edges)
        self.first = np.concatenate([[0], np.cumsum(count)[:-1]])
        self.count = count
        # Length before each segment, added one segment at a time as GEOS adds them.
        self.start = np.zeros(len(self.edge))
        rank = np.arange(len(self.edge)) - self.first[self.edge]
        by_rank = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[by_rank], np.arange(1, int(count.max(initial=0)) + 1))
        for k in range(1, len(bounds)):
            idx = by_rank[bounds[k - 1]:bounds[k]]
            self.start[idx] = self.start[idx - 1] + self.length[idx - 1]
        self._grids: dict[float, Grid | None] = {}

    def edge_lengths(self) -> np.ndarray:
        """Every edge's length as GEOS's ``length`` gives it: its segments added in order (the
        last one's start plus its own length), with no line string made."""
        out = np.zeros(self.network.n_edges)
        has = np.flatnonzero(self.count > 0)
        last = self.first[has] + self.count[has] - 1
        out[has] = self.start[last] + self.length[last]
        return out

    def nearest(self, xy: np.ndarray, probe: float, max_distance_m: float | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The points settled in bulk: (point, edge, distance, segment) and the points with no
        edge within ``max_distance_m``; the others are left to GEOS's searches.

        The nearest edge is the one of least distance (ties: the lower index), as GEOS's
        ``dwithin`` search (within ``probe``) or nearest-neighbour search with all its matches
        (beyond) gives with the lower index first. A point beside a street corner is as near
        to every edge of the corner: beyond the probe those were left to GEOS, whose tree of
        every edge cost a million-node build 700 MB for a few hundred surface cells. The cells
        of :func:`search_cells` in turn, finest first.
        """
        out: list[tuple[np.ndarray, ...]] = []
        nothing = [np.zeros(0, dtype=np.int64)]
        todo = np.arange(len(xy))
        for cell in search_cells(probe, max_distance_m):
            if len(todo) == 0:
                break
            grid = self.grid(cell)  # made only when some point needs it
            if grid is None:
                break
            done = np.zeros(len(todo), dtype=bool)
            for c0 in range(0, len(todo), CHUNK):  # memory follows the chunk, not the points
                part = todo[c0:c0 + CHUNK]
                pi, ei, d, seg, far, settled = self._settle(grid, xy, part, cell, probe,
                                                            max_distance_m)
                out.append((pi, ei, d, seg))
                nothing.append(far)
                done[c0:c0 + CHUNK] = settled
            todo = todo[~done]
        if not out:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0), empty, np.concatenate(nothing)
        pi, ei, dist, seg = (np.concatenate(parts) for parts in zip(*out, strict=True))
        return pi, ei, dist, seg, np.concatenate(nothing)

    def _settle(self, grid: Grid, xy: np.ndarray, todo: np.ndarray, cell: float, probe: float,
                max_distance_m: float | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One grid's answers for the points ``todo``: (point, edge, distance, segment) of those
        it settles, those with no edge within ``max_distance_m``, and which of ``todo`` are
        either."""
        near, seg = near_segments(grid, xy[todo], cell)
        d = self.distance(np.take(xy, todo[near], axis=0), seg)
        dmin = np.full(len(todo), np.inf)
        if len(near):
            starts = np.flatnonzero(np.concatenate([[True], near[1:] != near[:-1]]))
            dmin[near[starts]] = np.minimum.reduceat(d, starts)
        best = np.flatnonzero(d == dmin[near])  # sorted by point, as ``near`` is
        # The lowest segment among a point's nearest is its lowest edge's first (segments
        # follow edges): ties go to the lower edge at any distance.
        nb = near[best]
        starts = np.flatnonzero(np.concatenate([[True], nb[1:] != nb[:-1]])) if len(best) else best
        low = np.minimum.reduceat(seg[best], starts) if len(best) else best
        owner = nb[starts]
        d_pick = dmin[owner]
        if cell <= probe:
            sure = d_pick < cell - MARGIN_M
        else:
            sure = ((d_pick < cell - MARGIN_M) & (d_pick > probe + MARGIN_M)
                    & (d_pick < (max_distance_m or np.inf) - MARGIN_M))
        owner, low = owner[sure], low[sure]
        settled = np.zeros(len(todo), dtype=bool)
        settled[owner] = True
        far = np.zeros(0, dtype=np.int64)
        if max_distance_m is not None and cell >= max_distance_m:
            gone = dmin > max_distance_m + MARGIN_M  # nothing within reach: not snapped
            far = todo[gone]
            settled |= gone
        return todo[owner], self.edge[low], dmin[owner], low, far, settled

    def distance(self, p: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """Distance from each point ``p`` to its segment ``seg`` (see :func:`segment_distance`)."""
        px, py = p[:, 0], p[:, 1]
        ax, ay, dx, dy, len2, root = np.take(self.rows, seg, axis=0).T
        safe = np.where(len2 > 0, len2, 1.0)
        qx, qy = px - ax, py - ay
        r = (qx * dx + qy * dy) / safe
        out = np.abs(((ay - py) * dx - (ax - px) * dy) / safe) * root
        low = (r <= 0) | (len2 == 0)
        out[low] = np.sqrt(qx[low] * qx[low] + qy[low] * qy[low])
        high = ~low & (r >= 1)
        bx, by = px[high] - self.bx[seg[high]], py[high] - self.by[seg[high]]
        out[high] = np.sqrt(bx * bx + by * by)
        return out

    def locate(self, xy: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """Length along the edge of each point's nearest place on its nearest segment ``seg``
        (GEOS ``LengthIndexOfPoint``: the first segment at the least distance decides)."""
        a, b = self.a[seg], self.b[seg]
        dx, dy = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = ((xy[:, 0] - a[:, 0]) * dx + (xy[:, 1] - a[:, 1]) * dy) / (dx * dx + dy * dy)
        r = np.where((xy == a).all(axis=1), 0.0, np.where((xy == b).all(axis=1), 1.0, r))
        return np.where(r <= 0.0, self.start[seg],
                        np.where(r <= 1.0, self.start[seg] + r * self.length[seg],
                                 self.start[seg] + self.length[seg]))

    def interpolate(self, edge: np.ndarray, pos: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """The point at length ``pos`` along each edge (GEOS ``LengthLocationMap``: the first
        segment that ends beyond it), searched from ``seg``, the segment ``pos`` was found on."""
        last = self.first[edge] + self.count[edge] - 1
        k = seg.copy()
        open_ = np.flatnonzero(~(self.start[k] + self.length[k] > pos))
        while len(open_):  # past the end of its segment (its end exactly, or empty segments)
            k[open_] += 1
            open_ = open_[k[open_] <= last[open_]]
            open_ = open_[~(self.start[k[open_]] + self.length[k[open_]] > pos[open_])]
        beyond = k > last
        k = np.minimum(k, last)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = (pos - self.start[k]) / self.length[k]
        a, b = self.a[k], self.b[k]
        out = (b - a) * frac[:, None] + a
        out = np.where((frac <= 0.0)[:, None], a, np.where((frac >= 1.0)[:, None], b, out))
        out[beyond] = b[beyond]
        start = pos <= 0.0
        out[start] = self.a[self.first[edge[start]]]
        return out

    def grid(self, cell: float) -> Grid | None:
        """The segments by ``cell``-sized grid cell, made once per size: from the grid of half
        the size when there is one (each cell is four of its cells), else from the segments,
        each cut into pieces no longer than a cell so that each piece touches at most four."""
        if cell in self._grids:
            return self._grids[cell]
        finer = self._grids.get(cell / 2)
        if finer is not None:
            grid: Grid | None = _coarser_grid(finer, len(self.a))
        else:
            grid = _make_grid(self.a, self.b, cell) if len(self.a) and cell > 0 else None
        self._grids[cell] = grid
        return grid


def search_cells(probe: float, max_distance_m: float | None) -> list[float]:
    """The grid cell sizes tried in turn: half the probe radius (most homes are that close, and
    a finer grid measures fewer segments per point), the probe, then doubling up to four sizes
    until one reaches ``max_distance_m``. Measured on Ishigaki's buildings, this settles all
    but 4 % of them in bulk and halves the time of probe-wide cells alone. Every size is the
    finest one doubled, so each grid is made from the one before (a 100 m grid made from the
    segments took a million-node build 3 s; one of 160 m from the 80 m grid, 0.5 s)."""
    cells = [probe / 2, probe]
    limit = np.inf if max_distance_m is None else max_distance_m
    while cells[-1] < limit and len(cells) < 4:
        cells.append(cells[-1] * 2)
    return cells


#: Segment pieces placed at once when a grid is made (its memory follows this, not the network).
GRID_CHUNK = 1 << 20


def _make_grid(a: np.ndarray, b: np.ndarray, cell: float) -> Grid:
    lo = np.floor(np.minimum(a, b).min(axis=0) / cell).astype(np.int64) - 2
    shape = np.floor(np.maximum(a, b).max(axis=0) / cell).astype(np.int64) - lo + 3
    pieces = np.maximum(1, np.ceil(np.hypot(*(b - a).T) / cell)).astype(np.int64)
    ends = np.cumsum(pieces)
    n = len(a)
    wide = int(shape[0]) * int(shape[1]) * n >= 2**62  # (cell, segment) does not fit one int64
    parts = []
    start = 0
    while start < len(a):  # a chunk of segments holding about GRID_CHUNK pieces
        stop = max(start + 1, int(np.searchsorted(ends, ends[start] - pieces[start] + GRID_CHUNK)))
        cols, segs = _piece_cells(a, b, pieces, start, min(stop, len(a)), cell, lo, shape)
        # A segment of several pieces may fall in one cell more than once: kept once there.
        # Its pieces are all in its chunk, so no pair is in two chunks.
        parts.append(np.unique(np.column_stack([cols, segs]), axis=0) if wide
                     else unique_sorted(cols * n + segs))
        start = stop
    del cols, segs
    if wide:
        pairs = np.concatenate(parts)
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        return _grid_from(lo, shape, pairs[:, 0], pairs[:, 1])
    # One sort of (cell, segment) keys, in place: by cell, then segment.
    key = np.concatenate(parts)
    del parts
    key.sort()
    return _grid_from_keys(lo, shape, key, n)


def _coarser_grid(fine: Grid, n_segments: int) -> Grid:
    """The grid of cells twice as wide: a segment is in a cell when it is in one of its four
    cells. ``floor(x / 2c) == floor(floor(x / c) / 2)`` in floating point too (halving is
    exact), so points find their cells alike; a cell's segments may be fewer than a grid made
    from the segments lists (tighter boxes), never missing one that meets the cell."""
    lo_f, shape_f, keys, ptr, segs = fine
    count = np.diff(ptr)
    cells = np.flatnonzero(count) if keys is None else keys
    rows, cols = np.divmod(np.repeat(cells, count[cells] if keys is None else count), shape_f[1])
    rows += lo_f[0]
    rows //= 2
    cols += lo_f[1]
    cols //= 2
    lo = np.array([rows.min(), cols.min()], dtype=np.int64) - 1  # an empty ring round it
    shape = np.array([rows.max(), cols.max()], dtype=np.int64) - lo + 2
    rows -= lo[0]
    rows *= shape[1]
    rows += cols - lo[1]
    del cols
    rows *= n_segments
    rows += segs
    rows.sort()  # in place: (coarse cell, segment) keys, each four times at most
    key = rows[np.concatenate([[True], rows[1:] != rows[:-1]])] if len(rows) else rows
    del rows
    return _grid_from_keys(lo, shape, key, n_segments)


def _grid_from_keys(lo: np.ndarray, shape: np.ndarray, key: np.ndarray, n_segments: int
                    ) -> Grid:
    """A grid from sorted distinct ``cell * n_segments + segment`` keys; segment numbers are
    kept as int32 when they fit (half the memory of a fine grid)."""
    cols, segs = np.divmod(key, n_segments)
    del key
    return _grid_from(lo, shape, cols, segs.astype(np.int32) if n_segments < 2**31 else segs)


def _grid_from(lo: np.ndarray, shape: np.ndarray, cols: np.ndarray, segs: np.ndarray) -> Grid:
    """A grid from (cell, segment) pairs sorted by cell."""
    n_cells = int(shape[0] * shape[1])
    if n_cells <= DENSE_CELLS:
        ptr = np.zeros(n_cells + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=n_cells), out=ptr[1:])  # int64: no cast per cell
        return lo, shape, None, ptr.astype(np.int32) if len(cols) < 2**31 else ptr, segs
    first = np.flatnonzero(np.concatenate([[True], cols[1:] != cols[:-1]]))
    return lo, shape, cols[first], np.append(first, len(cols)), segs


def _piece_cells(a: np.ndarray, b: np.ndarray, pieces: np.ndarray, start: int, stop: int,
                 cell: float, lo: np.ndarray, shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cell, segment) of every cell that a piece of segments ``start:stop`` may touch: each
    piece is no longer than a cell, so its bounding box spans at most two cells each way."""
    n = pieces[start:stop]
    seg = np.repeat(np.arange(start, stop), n)
    k = (np.arange(len(seg)) - np.repeat(np.cumsum(n) - n, n))[:, None]
    step = ((b[start:stop] - a[start:stop]) / n[:, None])[seg - start]
    p0, p1 = a[seg] + step * k, a[seg] + step * (k + 1)
    c0 = np.floor(np.minimum(p0, p1) / cell).astype(np.int64)
    c1 = np.floor(np.maximum(p0, p1) / cell).astype(np.int64)
    base = (c0 - lo) @ np.array([shape[1], 1])
    cols, segs = [], []
    for di in (0, 1):
        for dj in (0, 1):
            fits = (c0[:, 0] + di <= c1[:, 0]) & (c0[:, 1] + dj <= c1[:, 1])
            cols.append(base[fits] + di * shape[1] + dj)
            segs.append(seg[fits])
    return np.concatenate(cols), np.concatenate(segs)


def near_segments(grid: Grid, xy: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """(point, segment) pairs: every segment in each point's cell or its eight neighbours, so
    every segment within ``cell`` of the point. Sorted by point."""
    lo, shape, keys, ptr, seg = grid
    c = np.floor(xy / cell).astype(np.int64) - lo
    inside = np.flatnonzero(((c >= 0) & (c < shape)).all(axis=1))
    near = ((c[inside, 0] * shape[1] + c[inside, 1])[:, None]
            + (np.array([-1, 0, 1])[:, None] * shape[1] + np.array([-1, 0, 1])).ravel()).ravel()
    if keys is None:  # every cell has its pointer (the ring of cells round the grid is empty)
        at = np.clip(near, 0, len(ptr) - 2)
        first = ptr[at].astype(np.int64)
        count = ptr[at + 1] - first
    else:
        at = np.minimum(np.searchsorted(keys, near), len(keys) - 1)
        first = ptr[at]
        count = np.where(keys[at] == near, ptr[at + 1] - first, 0)
    owner = np.repeat(np.repeat(inside, 9), count)
    ramp = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    return owner, seg[np.repeat(first, count) + ramp]


def segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from points ``p`` to segments ``a``–``b``, row by row, as GEOS computes it."""
    dx, dy = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    len2 = dx * dx + dy * dy
    safe = np.where(len2 > 0, len2, 1.0)
    r = ((p[:, 0] - a[:, 0]) * dx + (p[:, 1] - a[:, 1]) * dy) / safe
    s = ((a[:, 1] - p[:, 1]) * dx - (a[:, 0] - p[:, 0]) * dy) / safe
    ax, ay = p[:, 0] - a[:, 0], p[:, 1] - a[:, 1]
    bx, by = p[:, 0] - b[:, 0], p[:, 1] - b[:, 1]
    return np.where((r <= 0) | (len2 == 0), np.sqrt(ax * ax + ay * ay),
                    np.where(r >= 1, np.sqrt(bx * bx + by * by), np.abs(s) * np.sqrt(len2)))
