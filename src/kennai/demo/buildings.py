"""The buildings of the demo town: small footprints along residential streets."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from kennai.demo.streets import Street
from kennai.demo.terrain import Geo, hill_r, river_x

#: Half the width of each street class in metres: what buildings and open sites keep clear of.
HALF_WIDTHS = {
    "secondary": 6.0, "tertiary": 5.0, "residential": 3.5, "service": 2.5,
    "footway": 1.5, "path": 1.0, "steps": 1.5,
}
#: How far a building's front stands back from the centre line of its street, per class.
_SETBACK = {"secondary": 9.0, "tertiary": 8.0, "residential": 6.0, "service": 5.0}


@dataclass(frozen=True)
class Building:
    """A building footprint, its OSM ``building`` value and how many people it stands for."""

    polygon: Polygon
    kind: str
    levels: int
    weight: float


def _density(x: float, y: float) -> float:
    """Chance of a building at a free lot: dense near the station, thin across the river."""
    d = math.hypot(x + 300.0, y + 500.0)
    p = 0.035 + 0.22 * math.exp(-((d / 650.0) ** 2))
    if float(hill_r(x, y)) < 700.0:
        p = 0.10
    if x > float(river_x(y)):
        p *= 1.0 if y < 500.0 else 0.6
    return p


def street_buildings(streets: list[Street], geo: Geo, rng: np.random.Generator, *,
                     avoid: Sequence[BaseGeometry] = ()) -> list[Building]:
    """Small rectangles along residential streets, clear of roads, rails and water."""
    obstacles = [shapely.buffer(LineString(st.coords), HALF_WIDTHS[st.tags["highway"]])
                 for st in streets]
    obstacles += [geo.river.buffer(6.0), geo.park, geo.rail.buffer(7.0),
                  geo.motorway.buffer(14.0), *avoid]
    tree = STRtree(obstacles)
    land = geo.outline.buffer(-3.0)
    placed: dict[tuple[int, int], list[Polygon]] = {}
    out: list[Building] = []
    for st in streets:
        cls = st.tags["highway"]
        if cls not in _SETBACK:
            continue
        for a, b in itertools.pairwise(st.coords):
            dx, dy = b[0] - a[0], b[1] - a[1]
            length = math.hypot(dx, dy)
            if length < 20.0 or (st.bridge and geo.river.buffer(10.0).intersects(
                    LineString([a, b]))):
                continue
            tx, ty = dx / length, dy / length
            for along in np.arange(9.0, length - 8.0, float(rng.uniform(14.0, 18.0))):
                for side in (-1.0, 1.0):
                    draws = rng.random(4)
                    px, py = a[0] + tx * along, a[1] + ty * along
                    if draws[0] >= _density(px, py):
                        continue
                    down = math.exp(-((math.hypot(px + 300.0, py + 500.0) / 500.0) ** 2))
                    if draws[1] < 0.04 + 0.25 * down:
                        kind, w, d = "apartments", 16.0 + 6.0 * draws[2], 10.0 + 3.0 * draws[3]
                        levels = 3 + int(draws[2] * 4)
                    elif draws[1] > 0.9 - 0.1 * down:
                        kind, w, d, levels = "yes", 10.0 + 4.0 * draws[2], 9.0 + 4.0 * draws[3], 2
                    else:
                        kind, w, d = "house", 8.0 + 3.0 * draws[2], 7.5 + 3.0 * draws[3]
                        levels = 2
                    off = _SETBACK[cls] + d / 2.0
                    cx, cy = px - side * ty * off, py + side * tx * off
                    corners = [(cx + tx * sw * w / 2 - ty * sd * d / 2,
                                cy + ty * sw * w / 2 + tx * sd * d / 2)
                               for sw, sd in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
                    poly = Polygon(corners)
                    if not land.contains(poly) or len(tree.query(poly, predicate="intersects")):
                        continue
                    cell = (int(cx // 40.0), int(cy // 40.0))
                    near = [q for i in (-1, 0, 1) for j in (-1, 0, 1)
                            for q in placed.get((cell[0] + i, cell[1] + j), [])]
                    if any(poly.distance(q) < 2.0 for q in near):
                        continue
                    placed.setdefault(cell, []).append(poly)
                    weight = {"house": 1.0, "apartments": levels * w * d / 100.0, "yes": 0.3}[kind]
                    out.append(Building(poly, kind, levels, weight))
    return out
