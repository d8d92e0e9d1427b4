"""The streets of the demo town: a jittered grid with bridges, and winding streets on the hill."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from kennai.demo.frame import Point2, point2, vertex_key
from kennai.demo.terrain import HILL_CENTRE, Geo, gradient, hill_r, river_x

HILL_HOLE = 450.0  # the street grid stops here; the hill has winding streets of its own
RING_RADII = (400.0, 280.0, 160.0)
RIVER_BAND = 45.0  # no grid junction closer than this to the water
GRID_ANGLE = math.radians(8.0)
GRID_STEP = (100.0, 92.0)
GRID_HALF = 21


@dataclass
class Street:
    """A ground-level street: a polyline with OSM tags; ``bridge`` names its river crossing."""

    coords: list[Point2]
    tags: dict[str, str]
    bridge: str | None = None


@dataclass
class _Edge:
    """One block-side of the street grid."""

    kind: str
    mid: Point2 | None = None
    spur: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def with_crossings(coords: Sequence[Point2], boundary: BaseGeometry) -> list[Point2]:
    """Insert the points where a polyline crosses ``boundary`` as vertices (for bridge ends)."""
    line = LineString(coords)
    hits = shapely.get_parts(line.intersection(boundary))
    extra = [(line.project(h), point2(h.x, h.y)) for h in hits if h.geom_type == "Point"]
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(np.asarray(coords), axis=0).T))])
    merged = sorted([(float(d), point2(*c)) for d, c in zip(cum, coords, strict=True)] + extra)
    out: list[Point2] = []
    for _, c in merged:
        if not out or math.dist(out[-1], c) > 0.05:
            out.append(point2(*c))
    return out


def curve(a: Point2, b: Point2, bulge: float, *, n: int) -> list[Point2]:
    """``n`` points from ``a`` to ``b`` bowed sideways by ``bulge`` metres at the middle."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    coords = [point2(a[0] + t * dx - dy / length * bulge * math.sin(math.pi * t),
                     a[1] + t * dy + dx / length * bulge * math.sin(math.pi * t))
              for t in np.linspace(0.0, 1.0, n).tolist()]
    coords[0], coords[-1] = a, b
    return coords


def grid_streets(geo: Geo, rng: np.random.Generator) -> tuple[list[Street], list[Point2]]:
    """A jittered, slightly rotated grid with gaps, dead ends, alleys, bridges and diagonals.

    Returns the streets and the grid junctions on the rim of the hill (for the hill streets).
    """
    n = GRID_HALF
    idx = np.arange(-n, n + 1)
    gi, gj = np.meshgrid(idx, idx, indexing="ij")
    u, v = gi * GRID_STEP[0], gj * GRID_STEP[1]
    jit = np.clip(rng.normal(0.0, 4.0, size=(2, *gi.shape)), -9.0, 9.0)
    c, s = math.cos(GRID_ANGLE), math.sin(GRID_ANGLE)
    gx, gy = u * c - v * s + jit[0], u * s + v * c + jit[1]
    inside = shapely.contains_xy(geo.domain, gx, gy)
    wet = inside & shapely.contains_xy(geo.river.buffer(RIVER_BAND), gx, gy)
    on_hill = inside & (hill_r(gx, gy) < HILL_HOLE)
    kept = inside & ~wet & ~on_hill
    size = 2 * n + 1

    def pos(a: int, b: int) -> Point2:
        return point2(gx[a, b], gy[a, b])

    def row_of(x: float, y: float) -> int:
        return round((-x * s + y * c) / GRID_STEP[1]) + n

    def col_of(x: float, y: float) -> int:
        return round((x * c + y * s) / GRID_STEP[0]) + n

    bridge_rows = {
        row_of(float(river_x(-250.0)), -250.0): ("secondary", "みなと大通り", "みなと大橋"),
        row_of(float(river_x(850.0)), 850.0): ("tertiary", "北通り", "北橋"),
        row_of(float(river_x(-1150.0)), -1150.0): ("footway", None, "ふれあい橋"),
    }
    main_rows = {b: (v[0], v[1]) for b, v in bridge_rows.items() if v[0] != "footway"}
    main_cols = {col_of(-200.0, -600.0): ("secondary", "駅前通り"),
                 col_of(1150.0, 0.0): ("tertiary", "川向通り")}
    river_guard = geo.river.buffer(30.0)
    hill_guard = Point(HILL_CENTRE).buffer(RING_RADII[0] * 1.06 + 15.0)

    edges: dict[tuple[str, int, int], _Edge] = {}
    for a in range(size):
        for b in range(size):
            for da, db, kind in ((1, 0, "h"), (0, 1, "v")):
                a2, b2 = a + da, b + db
                if a2 >= size or b2 >= size:
                    continue
                draws = rng.random(4)
                if not (kept[a, b] and kept[a2, b2]):
                    continue
                p, q = pos(a, b), pos(a2, b2)
                seg = LineString([p, q])
                if seg.intersects(river_guard) or seg.intersects(hill_guard):
                    continue
                main = main_rows.get(b) if kind == "h" else main_cols.get(a)
                if main is not None:
                    cls, name = main
                else:
                    rural = (p[0] > float(river_x(p[1])) and p[1] > 500.0) or p[1] > 1200.0
                    if draws[0] < (0.10 if rural else 0.05):
                        continue
                    cls, name = "residential", None
                    if draws[1] < 0.035:
                        cls = "steps" if gradient(p, q) > 0.08 else "footway"
                mid = None
                if draws[2] < 0.55:
                    off = float(np.clip(rng.normal(0.0, 2.5), -6.0, 6.0))
                    dx, dy = q[0] - p[0], q[1] - p[1]
                    length = math.hypot(dx, dy)
                    mid = point2((p[0] + q[0]) / 2 - dy / length * off,
                                 (p[1] + q[1]) / 2 + dx / length * off)
                edges[(kind, a, b)] = _Edge(cls, mid, spur=cls == "residential" and draws[3] < 0.13,
                                            extra={"name": name} if name else {})

    streets: list[Street] = []
    for b in range(size):
        streets += _runs([("h", a, b) for a in range(size - 1)], edges, pos)
    for a in range(size):
        streets += _runs([("v", a, b) for b in range(size - 1)], edges, pos)

    # Bridges: the three rows named above cross the river; nothing else does.
    for b, (cls, name, bridge) in sorted(bridge_rows.items()):
        east_of = [kept[a, b] and gx[a, b] > float(river_x(gy[a, b])) for a in range(size)]
        west = [a for a in range(size) if kept[a, b] and not east_of[a]]
        east = [a for a in range(size) if east_of[a]]
        west = [a for a in west if geo.river.distance(Point(pos(a, b))) < 160.0]
        east = [a for a in east if geo.river.distance(Point(pos(a, b))) < 160.0]
        p, q = pos(max(west), b), pos(min(east), b)
        coords = with_crossings([p, q], geo.river.buffer(4.0).exterior)
        tags = {"highway": cls, **({"name": name} if name else {})}
        streets.append(Street(coords, tags, bridge=bridge))
    bridge_ends = {vertex_key(st.coords[0]) for st in streets if st.bridge}
    bridge_ends |= {vertex_key(st.coords[-1]) for st in streets if st.bridge}

    # Riverside roads, and short links from the grid down to them.
    for emb in geo.embankments:
        for part in shapely.get_parts(emb.intersection(geo.domain)):
            if part.length > 100.0:
                coords = [point2(*xy) for xy in part.coords]
                streets.append(Street(coords, {"highway": "residential", "name": "みなと川堤防道路"}))
    rim: list[Point2] = []
    for a in range(size):
        for b in range(size):
            if not kept[a, b]:
                continue
            near = [(a + da, b + db) for da, db in ((1, 0), (-1, 0), (0, 1), (0, -1))
                    if 0 <= a + da < size and 0 <= b + db < size]
            draw = rng.random()
            p = pos(a, b)
            if any(on_hill[m] for m in near):
                rim.append(p)
            if any(wet[m] for m in near) and vertex_key(p) not in bridge_ends and draw < 0.7:
                emb = geo.embankments[int(p[0] > float(river_x(p[1])))]
                hit = emb.interpolate(emb.project(Point(p)))
                if math.dist(p, (hit.x, hit.y)) < 90.0:
                    streets.append(Street([p, point2(hit.x, hit.y)], {"highway": "residential"}))

    # Service spurs (dead-end lanes into the blocks) and footpaths through some blocks.
    guards = shapely.union_all([river_guard, hill_guard, geo.rail.buffer(8.0),
                                geo.motorway.buffer(15.0)])
    for (kind, a, b), e in sorted(edges.items()):
        if not (e.spur and e.mid):
            continue
        p = pos(a, b)
        q = pos(a + 1, b) if kind == "h" else pos(a, b + 1)
        dx, dy = q[0] - p[0], q[1] - p[1]
        length = math.hypot(dx, dy)
        side = 1.0 if rng.random() < 0.5 else -1.0
        reach = float(rng.uniform(30.0, 40.0))
        end = point2(e.mid[0] - side * dy / length * reach, e.mid[1] + side * dx / length * reach)
        seg = LineString([e.mid, end])
        if geo.domain.contains(Point(end)) and not seg.intersects(guards):
            streets.append(Street([e.mid, end], {"highway": "service"}))
    for a in range(size - 1):
        for b in range(size - 1):
            lo, hi = edges.get(("h", a, b)), edges.get(("h", a, b + 1))
            draw = rng.random()
            if lo and hi and lo.mid and hi.mid and draw < 0.05:
                seg = LineString([lo.mid, hi.mid])
                if not seg.intersects(guards):
                    cls = "steps" if gradient(lo.mid, hi.mid) > 0.08 else "footway"
                    streets.append(Street([lo.mid, hi.mid], {"highway": cls}))

    # Two diagonal streets: the old road through the west, a lane across 川向.
    kept_pts = np.column_stack([gx[kept], gy[kept]])

    def nearest(x: float, y: float) -> Point2:
        k = int(np.argmin(np.hypot(kept_pts[:, 0] - x, kept_pts[:, 1] - y)))
        return point2(*kept_pts[k])

    for start, stop, bend, tags in (
        ((-1650.0, -1150.0), (-700.0, 40.0), 25.0, {"highway": "tertiary", "name": "旧街道"}),
        ((850.0, -1300.0), (1600.0, -350.0), -20.0, {"highway": "residential"}),
    ):
        coords = curve(nearest(*start), nearest(*stop), bend, n=10)
        if LineString(coords).intersects(river_guard) or LineString(coords).intersects(hill_guard):
            raise AssertionError("a diagonal street runs into the river or the hill")
        streets.append(Street(coords, tags))
    return streets, rim


def _runs(keys: list[tuple[str, int, int]], edges: dict[tuple[str, int, int], _Edge],
          pos: Callable[[int, int], Point2]) -> list[Street]:
    """Chain consecutive grid edges of one row or column into streets of one class."""
    out: list[Street] = []
    cur: list[Point2] = []
    cur_tags: dict[str, str] = {}
    for key in keys:
        e = edges.get(key)
        kind, a, b = key
        if e is None:
            if len(cur) > 1:
                out.append(Street(cur, cur_tags))
            cur = []
            continue
        tags = {"highway": e.kind, **e.extra}
        p = pos(a, b)
        q = pos(a + 1, b) if kind == "h" else pos(a, b + 1)
        if not cur or tags != cur_tags:
            if len(cur) > 1:
                out.append(Street(cur, cur_tags))
            cur, cur_tags = [p], tags
        if e.mid:
            cur.append(e.mid)
        cur.append(q)
    if len(cur) > 1:
        out.append(Street(cur, cur_tags))
    return out


def _ring_r(k: int, phi: float) -> float:
    """Radius of hill ring road ``k`` (0 = lowest) at angle ``phi``: a wobbly contour."""
    return RING_RADII[k] * (1.0 + 0.06 * math.sin(3.0 * phi + 1.3 * k))


def _polar(r: float, phi: float) -> Point2:
    """Local point at radius ``r`` and angle ``phi`` around the hill top."""
    return point2(HILL_CENTRE[0] + r * math.cos(phi), HILL_CENTRE[1] + r * math.sin(phi))


def hill_streets(rim: list[Point2], rng: np.random.Generator) -> list[Street]:
    """Winding streets on the hill: three ring roads, switchbacks, steps and cul-de-sacs."""
    tau = 2.0 * math.pi
    attach: list[list[float]] = [[], [], []]
    streets: list[Street] = []
    for p in rim:  # links from the grid up to the lowest ring
        draw = rng.random()
        if draw > 0.75:
            continue
        phi = math.atan2(p[1] - HILL_CENTRE[1], p[0] - HILL_CENTRE[0]) % tau
        q = _polar(_ring_r(0, phi), phi)
        attach[0].append(phi)
        cls = "residential" if draw < 0.5 else ("steps" if gradient(p, q) > 0.08 else "footway")
        streets.append(Street([p, q], {"highway": cls}))
    for k, starts in ((0, (20.0, 140.0, 260.0)), (1, (80.0, 200.0, 320.0))):
        for a0 in starts:  # switchbacks between ring k and ring k + 1
            a = math.radians(a0 + float(rng.uniform(-4.0, 4.0)))
            knots = a + np.radians([0.0, 24.0, 6.0, 30.0])
            ts = np.linspace(0.0, 1.0, 13)
            phis = np.interp(ts, [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0], knots) % tau
            coords = []
            for t, phi in zip(ts.tolist(), phis.tolist(), strict=True):
                r = (1.0 - t) * _ring_r(k, phi) + t * _ring_r(k + 1, phi)
                coords.append(_polar(r, phi))
            attach[k].append(float(phis[0]))
            attach[k + 1].append(float(phis[-1]))
            streets.append(Street(coords, {"highway": "residential", "name": "丘の上坂"}))
    for k, angles in ((0, (70.0, 190.0, 310.0)), (1, (35.0, 155.0, 275.0))):
        for a0 in angles:  # straight footpaths up the slope: steps where steep
            phi = math.radians(a0 + float(rng.uniform(-3.0, 3.0))) % tau
            ts = np.linspace(0.0, 1.0, 5)
            coords = [_polar((1 - t) * _ring_r(k, phi) + t * _ring_r(k + 1, phi), phi) for t in ts]
            attach[k].append(phi)
            attach[k + 1].append(phi)
            cls = "steps" if gradient(coords[0], coords[-1]) > 0.08 else "footway"
            streets.append(Street(coords, {"highway": cls}))
    for a0 in (110.0, 230.0, 350.0):  # cul-de-sacs off the middle ring
        phi = math.radians(a0)
        r0 = _ring_r(1, phi)
        attach[1].append(phi)
        coords = [_polar(r0 + d, phi + d / 4000.0) for d in (0.0, 20.0, 40.0, 55.0)]
        streets.append(Street(coords, {"highway": "residential"}))
    attach[2].append(0.0)
    summit = [_polar(_ring_r(2, 0.0), 0.0), _polar(90.0, 0.15), _polar(45.0, -0.2),
              _polar(20.0, 0.4)]
    streets.append(Street(summit, {"highway": "path", "name": "展望台の小径"}))
    names = ("丘の上環状線", None, None)
    for k in range(3):
        fixed = sorted(set(attach[k]))
        regular = [math.radians(d) for d in range(0, 360, 6)]
        free = [a for a in regular
                if all(min(abs(a - f), tau - abs(a - f)) > math.radians(1.5) for f in fixed)]
        ring_angles = sorted(fixed + free)
        coords = [_polar(_ring_r(k, a), a) for a in ring_angles]
        coords.append(coords[0])
        name = names[k]
        tags = {"highway": "residential", **({"name": name} if name else {})}
        streets.append(Street(coords, tags))
    return streets
