"""The network's edges as straight segments, for snapping many points at once with numpy.

A grid of segments finds, for each point, every segment within some rings of cells; the distance, the
position along the edge and the projected point then follow GEOS's own formulas operation by
operation (``Distance::pointToSegment``, ``LengthIndexOfPoint``, ``LengthLocationMap``), so
that the answers are GEOS's to the last bit (``tests/test_snapping.py`` checks them against
shapely on every Ishigaki building). :class:`kennai.snapping.EdgeIndex` uses it for the points
it can settle this way and GEOS's searches for the rest.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kennai.arrays import unique_sorted
from kennai.network import WalkNetwork

#: Points whose nearest edge lies within this (metres) of a cell's width are left to GEOS's
#: searches, so a rounding difference at the edge of the search can never decide.
MARGIN_M = 1e-6

#: Neighbouring cells within a point's known distance plus this are searched: well above the
#: rounding of a point's place in its cell, so a cell that may hold a nearer segment is kept.
PRUNE_M = 1e-3

#: Points measured at once: the (point, segment) pairs, and so the memory, follow this. At
#: 8,192 a chunk's pair arrays (about 70k pairs, half a megabyte each) stay in a core's cache
#: across the distance formula's two dozen numpy passes: Ishigaki's buildings snap in 29.7 ms
#: median of 30 against 38.9 ms at 16,384 (4,096-6,144 the same as 8,192; 500k points on a
#: 1M-node grid the same at each size).
CHUNK = 8_192

#: Grids of at most this many cells point into their segments from every cell (4 bytes a
#: cell, no search); larger ones (a town with far islands) keep the occupied cells' sorted keys.
DENSE_CELLS = 1 << 25



class Grid(NamedTuple):
    """The segments by grid cell, cells numbered ``row * shape[1] + column`` from ``lo``."""

    lo: np.ndarray
    shape: np.ndarray
    #: Every cell has its pointer (``ptr[cell]`` to ``ptr[cell + 1]``); else only the occupied
    #: cells do (``ptr[i]`` to ``ptr[i + 1]`` for ``cells[i]``), found by a search.
    dense: bool
    ptr: np.ndarray
    #: The segments, cell after cell.
    segs: np.ndarray
    #: The cells holding segments, ascending (searched when the grid is not dense; else empty).
    cells: np.ndarray


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
        # Eight float64 columns: one 64-byte cache line a segment.
        self.rows = np.column_stack([a, d, len2, np.sqrt(len2), self.b])
        del a, d, len2, joined
        self.a, self.length, self.b = self.rows[:, :2], self.rows[:, 5], self.rows[:, 6:]
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
        self._reach: dict[tuple[float, int], np.ndarray] = {}

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
        every edge cost a million-node build 700 MB for a few hundred surface cells. The
        searches of :func:`search_plan` in turn, nearest first; a point left by one carries
        the least distance it found there to the next.
        """
        out: list[tuple[np.ndarray, ...]] = []
        nothing = [np.zeros(0, dtype=np.int64)]
        todo = np.arange(len(xy))
        plan = search_plan(probe, max_distance_m)
        if max_distance_m is not None and len(xy):
            # Points with no segment in the cells within reach are not snapped: settled by
            # one look-up each instead of every search in turn (most raster cells of a
            # surface lie far from any street).
            alone = self.nothing_within(xy, plan[0][0], max_distance_m)
            if alone is not None:
                nothing.append(todo[alone])
                todo = todo[~alone]
        known: np.ndarray | None = None  # the least distance found so far, per point of todo
        for cell, rings in plan:
            if len(todo) == 0:
                break
            grid = self.grid(cell)  # made only when some point needs it
            if grid is None:
                break
            done = np.zeros(len(todo), dtype=bool)
            found = np.full(len(todo), np.inf)
            for c0 in range(0, len(todo), CHUNK):  # memory follows the chunk, not the points
                part = slice(c0, c0 + CHUNK)
                pi, ei, d, seg, far, settled, dmin = self._settle(
                    grid, xy, todo[part], cell, rings, probe, max_distance_m,
                    None if known is None else known[part])
                out.append((pi, ei, d, seg))
                nothing.append(far)
                done[part] = settled
                found[part] = dmin
            todo, known = todo[~done], found[~done]
        if not out:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0), empty, np.concatenate(nothing)
        pi, ei, dist, seg = (np.concatenate(parts) for parts in zip(*out, strict=True))
        return pi, ei, dist, seg, np.concatenate(nothing)

    def _settle(self, grid: Grid, xy: np.ndarray, todo: np.ndarray, cell: float, rings: int,
                probe: float, max_distance_m: float | None, known: np.ndarray | None
                ) -> tuple[np.ndarray, ...]:
        """One grid's answers for the points ``todo``: (point, edge, distance, segment) of those
        it settles, those with no edge within ``max_distance_m``, which of ``todo`` are either,
        and the least distance found for each (``known`` is that of a nearer search: a segment
        that near exists, so cells farther away are not searched)."""
        bound = known
        if max_distance_m is not None and (rings + 1) * cell > max_distance_m:
            # Cells beyond the snapping distance can hold no answer: a point with nothing
            # found yet searches only as far as that (the surface's widest search of 17 x 17
            # cells, 430k pairs on Ishigaki, becomes one of 11 x 11).
            bound = (np.full(len(todo), max_distance_m) if known is None
                     else np.minimum(known, max_distance_m))
        near, seg = near_segments(grid, xy[todo], cell, bound, rings=rings)
        size, cell = cell, cell * rings  # the grid's cells; how far the search surely reached
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
        # Each point's search reached ``cell`` plus its distance to the nearest side of its
        # own cell (a point mid-cell sees half a cell further): the points whose nearest edge
        # lies in that extra reach are settled here, not searched again (Ishigaki's buildings:
        # 16.1k of 22.7k in the first search instead of 14.9k).
        at = xy[todo[owner]]
        within = at - np.floor(at / size) * size
        room = np.minimum(np.minimum(within[:, 0], size - within[:, 0]),
                          np.minimum(within[:, 1], size - within[:, 1]))
        sure = d_pick < cell + room - MARGIN_M
        sure &= d_pick < (max_distance_m or np.inf) - MARGIN_M
        # At the probe radius GEOS's dwithin search and its nearest-neighbour search meet: a
        # point that near it is left to them.
        sure &= np.abs(d_pick - probe) > MARGIN_M if cell <= probe else d_pick > probe + MARGIN_M
        owner, low = owner[sure], low[sure]
        settled = np.zeros(len(todo), dtype=bool)
        settled[owner] = True
        far = np.zeros(0, dtype=np.int64)
        if max_distance_m is not None and cell >= max_distance_m:
            gone = dmin > max_distance_m + MARGIN_M  # nothing within reach: not snapped
            far = todo[gone]
            settled |= gone
        return todo[owner], self.edge[low], dmin[owner], low, far, settled, dmin

    def distance(self, p: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """Distance from each point ``p`` to its segment ``seg`` (see :func:`segment_distance`):
        all three of GEOS's cases for every pair, then picked, which is several times faster in
        numpy than computing each case on its own pairs (boolean gathers and scatters)."""
        px, py = p[:, 0], p[:, 1]
        ax, ay, dx, dy, len2, root, bx, by = np.take(self.rows, seg, axis=0).T
        qx, qy = px - ax, py - ay
        empty = len2 == 0
        safe = np.where(empty, 1.0, len2)
        r = qx * dx
        r += qy * dy
        r /= safe
        perp = (ay - py) * dx
        perp -= (ax - px) * dy
        perp /= safe
        np.abs(perp, out=perp)
        perp *= root
        qx *= qx
        qy *= qy
        qx += qy
        to_a = np.sqrt(qx, out=qx)
        ex, ey = px - bx, py - by
        ex *= ex
        ey *= ey
        ex += ey
        to_b = np.sqrt(ex, out=ex)
        out = np.where(r >= 1, to_b, perp)
        np.copyto(out, to_a, where=(r <= 0) | empty)
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

    def nothing_within(self, xy: np.ndarray, cell: float, distance: float) -> np.ndarray | None:
        """Per point, whether no segment lies in the cells within ``distance`` of its own cell
        (so none lies within ``distance`` of it): a look-up in the grid's occupied cells,
        widened once per size and distance. None when the grid keeps only its occupied
        cells' keys (a sparse grid), holds nothing, or has 64 cells or more a point."""
        grid = self.grid(cell)
        if grid is None or not grid.dense or len(xy) * 64 < len(grid.ptr):
            return None  # (few points beside the cells: the searches cost less than widening)
        rings = max(1, int(np.ceil((distance + PRUNE_M) / cell)))
        key = (cell, rings)
        if key not in self._reach:
            self._reach[key] = _widened(np.diff(grid.ptr) > 0, grid.shape, rings)
        reach = self._reach[key]
        c = np.floor(xy / cell).astype(np.int64) - grid.lo
        ok = (c[:, 0] >= 0) & (c[:, 0] < grid.shape[0]) & (c[:, 1] >= 0) & (c[:, 1] < grid.shape[1])
        out = np.zeros(len(xy), dtype=bool)  # beyond the grid: left to the searches
        at = np.flatnonzero(ok)
        out[at] = ~reach[c[at, 0], c[at, 1]]
        return out

    def grid(self, cell: float) -> Grid | None:
        """The segments by ``cell``-sized grid cell, made once per size: each segment cut into
        pieces no longer than a cell, so that each piece touches at most four."""
        if cell not in self._grids:
            self._grids[cell] = (_make_grid(self.a, self.b, cell) if len(self.a) and cell > 0
                                 else None)
        return self._grids[cell]


def _widened(occupied: np.ndarray, shape: np.ndarray, rings: int) -> np.ndarray:
    """The cells with an occupied cell within ``rings`` rows and columns (a box dilation of
    the grid's occupied cells, one axis at a time)."""
    grid = occupied.reshape(int(shape[0]), int(shape[1]))
    return _any_within(_any_within(grid, rings, axis=0), rings, axis=1)


def _any_within(a: np.ndarray, rings: int, *, axis: int) -> np.ndarray:
    """``out[i] = a[i - rings : i + rings + 1].any()`` along ``axis`` (the window cut at the
    ends), by windows that double: about log2(2 rings + 1) passes over the cells, not 2 rings
    (Ishigaki's 2.1M cells at 300 m: 8 ms that way)."""
    a = np.moveaxis(a, axis, 0)
    n, width = a.shape[0], 2 * rings + 1
    pad = np.zeros((n + 2 * rings, *a.shape[1:]), dtype=bool)
    pad[rings:rings + n] = a
    span = 1  # pad[i] holds the window of span cells from i
    while span * 2 <= width:
        pad[:-span] |= pad[span:]  # numpy reads the overlapping input before writing
        span *= 2
    if span < width:
        pad[:span - width] |= pad[width - span:]
    return np.moveaxis(pad[:n], 0, axis)


def search_plan(probe: float, max_distance_m: float | None) -> list[tuple[float, int]]:
    """The searches tried in turn, as (grid cell, rings of cells round a point's own), all on
    one grid of half the probe radius: reaching half the probe (most homes are that close, and
    fine cells measure few segments a point), the probe, then doubling up to four searches
    until one reaches ``max_distance_m``. Measured on Ishigaki's buildings, a fresh index snaps
    them in 53 ms this way and in 72–81 ms with a grid per search, each twice as coarse (the
    coarser grids were a third of it, and their boxes hold more segments than rings of fine
    cells pruned to the distance already found)."""
    cell = probe / 2
    rings = [1, 2]
    limit = np.inf if max_distance_m is None else max_distance_m
    while rings[-1] * cell < limit and len(rings) < 4:
        rings.append(rings[-1] * 2)
    return [(cell, k) for k in rings]


#: Segment pieces placed at once when a grid is made (its memory follows this, not the network).
GRID_CHUNK = 1 << 20


def _make_grid(a: np.ndarray, b: np.ndarray, cell: float) -> Grid:
    # Column by column: numpy reduces an (n, 2) array down its rows slowly.
    least = np.array([min(a[:, i].min(), b[:, i].min()) for i in (0, 1)])
    most = np.array([max(a[:, i].max(), b[:, i].max()) for i in (0, 1)])
    lo = np.floor(least / cell).astype(np.int64) - 2
    shape = np.floor(most / cell).astype(np.int64) - lo + 3
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
        # Pieces may come in runs of nearby cells (a segment's pieces, streets in order),
        # which timsort merges (0.27 s against 0.70 s of quicksort for a 1M-node grid's 12M
        # keys); an OSM town's ways come in no such order, and a radix sort is twice timsort.
        parts.append(np.unique(np.column_stack([cols, segs]), axis=0) if wide
                     else unique_sorted(cols * n + segs, kind="keys"))
        start = stop
    del cols, segs
    if wide:
        pairs = np.concatenate(parts)
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        return _grid_from(lo, shape, pairs[:, 0], pairs[:, 1])
    # One sort of (cell, segment) keys, in place: by cell, then segment. Each chunk's keys are
    # sorted already, so timsort only merges the runs (0.25 s against 1.02 s of quicksort).
    key = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if len(parts) > 1:
        key.sort(kind="stable")
    del parts
    return _grid_from_keys(lo, shape, key, n)


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
    first = np.flatnonzero(np.concatenate([[True], cols[1:] != cols[:-1]])) if len(cols) else \
        np.zeros(0, dtype=np.int64)
    cells = cols[first]
    if n_cells <= DENSE_CELLS:
        # Each occupied cell's count placed after it, then summed in place: one pass over the
        # cells, in the pointer's own type (most cells of a town's box are empty).
        ptr = np.zeros(n_cells + 1, dtype=np.int32 if len(cols) < 2**31 else np.int64)
        ptr[cells + 1] = np.diff(np.append(first, len(cols)))
        np.cumsum(ptr, out=ptr)
        return Grid(lo, shape, True, ptr, segs, np.zeros(0, dtype=cells.dtype))
    return Grid(lo, shape, False, np.append(first, len(cols)), segs, cells)


def _piece_cells(a: np.ndarray, b: np.ndarray, pieces: np.ndarray, start: int, stop: int,
                 cell: float, lo: np.ndarray, shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cell, segment) of every cell that a piece of segments ``start:stop`` may touch: each
    piece is no longer than a cell, so its bounding box spans at most two cells each way. A
    segment of one piece (most of a town's) is its own piece, ends as they are."""
    n = pieces[start:stop]
    whole = np.flatnonzero(n == 1) + start
    cut = np.flatnonzero(n > 1) + start
    nc = pieces[cut]
    seg = np.repeat(cut, nc)
    k = (np.arange(len(seg)) - np.repeat(np.cumsum(nc) - nc, nc))[:, None]
    step = np.repeat((b[cut] - a[cut]) / nc[:, None], nc, axis=0)
    at = np.repeat(a[cut], nc, axis=0)
    p0 = np.concatenate([a[whole], at + step * k])
    p1 = np.concatenate([b[whole], at + step * (k + 1)])
    seg = np.concatenate([whole, seg])
    c0 = np.floor(np.minimum(p0, p1) / cell).astype(np.int64)
    c1 = np.floor(np.maximum(p0, p1) / cell).astype(np.int64)
    c1 -= c0
    c0 -= lo
    base = c0[:, 0] * shape[1]
    base += c0[:, 1]
    wide, tall = c1[:, 0] > 0, c1[:, 1] > 0  # the box reaches the next row, the next column
    both = wide & tall
    cols = np.concatenate([base, base[wide] + shape[1], base[tall] + 1,
                           base[both] + (shape[1] + 1)])
    return cols, np.concatenate([seg, seg[wide], seg[tall], seg[both]])


def near_segments(grid: Grid, xy: np.ndarray, cell: float, bound: np.ndarray | None = None, *,
                  rings: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(point, segment) pairs: every segment in each point's cell or the ``rings`` rings of
    cells round it, so every segment within ``rings * cell`` of the point. Sorted by point.

    ``bound`` (per point, metres) leaves out the rows and columns of cells farther than it from
    the point: a point known to have a segment that near needs no segment beyond. A row of
    cells is one run of the grid's segments (cells are numbered along the second axis), so a
    point looks up one run a row.
    """
    lo, shape, ptr, seg = grid.lo, grid.shape, grid.ptr, grid.segs
    base = np.floor(xy / cell)
    c = base.astype(np.int64) - lo
    if bound is None:
        before = after = np.full(c.shape, rings, dtype=np.int64)
    else:
        reach = (bound + PRUNE_M)[:, None]
        low = xy - base * cell  # to the cell's lower sides
        # Cells j = 1, 2, ... below lie (j - 1) cells plus ``low`` away.
        before = np.clip(np.floor((reach - low) / cell) + 1, 0, rings).astype(np.int64)
        after = np.clip(np.floor((reach - (cell - low)) / cell) + 1, 0, rings).astype(np.int64)
    # One run a row: rows within the rings (and the grid), columns as far as kept.
    step = np.arange(-rings, rings + 1)
    rows = c[:, :1] + step
    kept = (step >= -before[:, :1]) & (step <= after[:, :1]) & (rows >= 0) & (rows < shape[0])
    first_col = np.maximum(c[:, 1] - before[:, 1], 0)[:, None]
    stop_col = np.minimum(c[:, 1] + after[:, 1] + 1, shape[1])[:, None]
    kept &= first_col < stop_col
    start = rows * int(shape[1]) + first_col
    stop = start - first_col + stop_col
    if grid.dense:
        first = ptr[np.where(kept, start, 0)].astype(np.int64)
        count = ptr[np.where(kept, stop, 0)] - first
    else:
        first = ptr[np.searchsorted(grid.cells, start)]
        count = ptr[np.searchsorted(grid.cells, stop)] - first
        count[~kept] = 0
    count = count.ravel()
    total = int(count.sum())
    owner = np.repeat(np.repeat(np.arange(len(xy)), len(step)), count)
    shift = np.repeat(first.ravel() - (np.cumsum(count) - count), count)
    shift += np.arange(total)
    return owner, seg[shift]


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
