"""The local frame of the demo town: points in metres and their way to longitude/latitude.

Geometry is built in EPSG:6676 metres around 138.20°E 35.00°N (x east, y north of that
point) and written in EPSG:4326, rounded to 7 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import SupportsFloat

import numpy as np
from pyproj import Transformer

CRS_PROJECTED = "EPSG:6676"
CENTRE_LONLAT = (138.20, 35.00)
Point2 = tuple[float, float]


def vertex_key(p: Point2) -> tuple[float, float]:
    """Identity of a vertex: coordinates to the millimetre."""
    return (round(p[0], 3), round(p[1], 3))


def point2(x: SupportsFloat, y: SupportsFloat) -> Point2:
    """A plain-float point."""
    return (float(x), float(y))


@dataclass(frozen=True)
class Frame:
    """EPSG:6676 origin of the local metres and the transformer back to longitude/latitude."""

    x0: float
    y0: float
    to_lonlat: Transformer


def local_frame() -> Frame:
    """Put the local origin at 138.20°E 35.00°N."""
    fwd = Transformer.from_crs("EPSG:4326", CRS_PROJECTED, always_xy=True)
    x0, y0 = fwd.transform(*CENTRE_LONLAT)
    return Frame(float(x0), float(y0),
                 Transformer.from_crs(CRS_PROJECTED, "EPSG:4326", always_xy=True))


def lonlat(frame: Frame, xy: np.ndarray) -> np.ndarray:
    """Local metres to longitude/latitude rounded to 7 decimals (about 1 cm)."""
    lon, lat = frame.to_lonlat.transform(xy[:, 0] + frame.x0, xy[:, 1] + frame.y0)
    return np.round(np.column_stack([lon, lat]), 7)
