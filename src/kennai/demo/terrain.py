"""The landscape of the demo town: river, coast, hill and ground height as functions of metres.

The same :func:`elevation` writes ``dem.tif`` and decides which footpaths are steps;
:func:`build_geo` makes the fixed shapes (outline, river, park, railway, bypass).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from shapely.geometry import LineString, Point, Polygon

from kennai.demo.frame import Point2

HALF_WIDTH = 1750.0  # the town is about 3.5 km x 3 km
HALF_HEIGHT = 1500.0
HILL_CENTRE = (-950.0, 800.0)
HILL_HEIGHT = 105.0
HILL_SIGMA = 380.0
PARK_RADIUS = 130.0
EMBANKMENT = 20.0  # riverside roads run this far from the water


def river_x(y: ArrayLike) -> np.ndarray:
    """Easting of the river centre line at northing ``y``: a gentle meander running south."""
    y = np.asarray(y, dtype=float)
    return 420.0 + 0.12 * y + 70.0 * np.sin(2.0 * np.pi * (y + 1500.0) / 2200.0)


def river_slope(y: ArrayLike) -> np.ndarray:
    """d(river x)/dy, used for the normal of the banks."""
    y = np.asarray(y, dtype=float)
    return 0.12 + 70.0 * 2.0 * np.pi / 2200.0 * np.cos(2.0 * np.pi * (y + 1500.0) / 2200.0)


def river_width(y: ArrayLike) -> np.ndarray:
    """Width of the water (about 42-58 m)."""
    return 50.0 + 8.0 * np.sin(np.asarray(y, dtype=float) / 300.0)


def coast_y(x: ArrayLike) -> np.ndarray:
    """Northing of the sea shore, the town's southern edge."""
    x = np.asarray(x, dtype=float)
    return -HALF_HEIGHT + 35.0 * np.sin(x / 300.0) + 20.0 * np.cos(x / 170.0)


def hill_r(x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Distance from the hill top."""
    return np.hypot(np.asarray(x, dtype=float) - HILL_CENTRE[0],
                    np.asarray(y, dtype=float) - HILL_CENTRE[1])


def elevation(x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Ground height in metres: coastal plain (2-10 m), a lower river bed and a Gaussian hill.

    The same function writes ``dem.tif`` and decides which hill footpaths are steps.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ramp = np.clip((y - coast_y(x)) / (2.0 * HALF_HEIGHT), 0.0, 1.0)
    plain = 2.0 + 8.0 * ramp + 0.6 * ramp * np.sin(x / 230.0) * np.sin(y / 310.0)
    across = np.abs(x - river_x(y)) / np.sqrt(1.0 + river_slope(y) ** 2)
    bed = np.exp(-((across / (river_width(y) / 2.0 + 8.0)) ** 4))
    hill = HILL_HEIGHT * np.exp(-(hill_r(x, y) ** 2) / (2.0 * HILL_SIGMA**2))
    return plain * (1.0 - 0.55 * bed) + hill


def gradient(p: Point2, q: Point2) -> float:
    """Mean slope between two points (rise over run)."""
    z = elevation([p[0], q[0]], [p[1], q[1]])
    return float(abs(z[1] - z[0]) / max(math.dist(p, q), 1.0))


def _river_offset(sign: float, extra: float, ys: np.ndarray) -> np.ndarray:
    """A line parallel to the river, ``extra`` metres beyond its west (-1) or east (+1) bank."""
    s = river_slope(ys)
    norm = np.sqrt(1.0 + s * s)
    d = sign * (river_width(ys) / 2.0 + extra)
    return np.column_stack([river_x(ys) + d / norm, ys - d * s / norm])


@dataclass(frozen=True)
class Geo:
    """The fixed shapes of the town in local metres."""

    outline: Polygon
    domain: Polygon
    river: Polygon
    river_line: LineString
    embankments: tuple[LineString, LineString]
    park: Polygon
    rail: LineString
    motorway: LineString


def build_geo(rng: np.random.Generator) -> Geo:
    """Outline, river, park, railway and bypass, all in local metres."""
    ys = np.arange(-1900.0, 1900.1, 20.0)
    west, east = _river_offset(-1.0, 0.0, ys), _river_offset(1.0, 0.0, ys)
    river = Polygon(np.vstack([west, east[::-1]]))
    river_line = LineString(np.column_stack([river_x(ys), ys])[::-1])  # downstream order
    embankments = (
        LineString(_river_offset(-1.0, EMBANKMENT, ys)),
        LineString(_river_offset(1.0, EMBANKMENT, ys)),
    )
    coast_x = np.arange(HALF_WIDTH, -HALF_WIDTH - 1.0, -250.0)
    ring: list[Point2] = [(float(x), float(coast_y(x))) for x in coast_x]
    for y in np.linspace(-1000.0, 1000.0, 5):
        ring.append((-HALF_WIDTH + float(rng.normal(0.0, 25.0)), float(y)))
    for x in np.linspace(-HALF_WIDTH, HALF_WIDTH, 8):
        ring.append((float(x), HALF_HEIGHT + float(rng.normal(0.0, 25.0))))
    for y in np.linspace(1000.0, -1000.0, 5):
        ring.append((HALF_WIDTH + float(rng.normal(0.0, 25.0)), float(y)))
    outline = Polygon(ring)
    sea_x = np.arange(-2600.0, 2600.1, 50.0)
    sea = Polygon([*zip(sea_x.tolist(), coast_y(sea_x).tolist(), strict=True),
                   (2600.0, -3500.0), (-2600.0, -3500.0)])
    domain = outline.buffer(50.0).difference(sea.buffer(15.0))
    rail_x = np.arange(-1950.0, 1950.1, 50.0)
    rail = LineString(np.column_stack([rail_x, -620.0 + 0.05 * rail_x + 15.0 * np.sin(rail_x / 450.0)]))
    mx = np.arange(-1950.0, 1950.1, 60.0)
    motorway = LineString(np.column_stack([mx, 1345.0 + 35.0 * np.sin(mx / 650.0) + 0.02 * mx]))
    park = Point(HILL_CENTRE).buffer(PARK_RADIUS, quad_segs=12)
    return Geo(outline, domain, river, river_line, embankments, park, rail, motorway)
