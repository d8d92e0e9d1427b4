"""Small shapely/numpy helpers that several analysis rooms share (one definition each)."""

from __future__ import annotations

import numpy as np
import shapely


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """The polygonal part of each geometry as a MultiPolygon (empty where there is none).

    Overlays and intersections leave stray lines and points beside the polygons (touching
    boundaries); area-weighting and piece counting must see only the areas.
    """
    geoms = np.asarray(geoms, dtype=object)
    parts, idx = shapely.get_parts(geoms, return_index=True)
    sub, sub_idx = shapely.get_parts(parts, return_index=True)  # flatten nested collections
    idx = idx[sub_idx]
    keep = (shapely.get_type_id(sub) == 3) & (shapely.area(sub) > 0)
    out = np.full(len(geoms), None, dtype=object)
    if keep.any():
        out = shapely.multipolygons(sub[keep], indices=idx[keep], out=out)
    out[shapely.is_missing(out)] = shapely.MultiPolygon()
    return out


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float | None:
    """The weighted median of `values` (lower median), ignoring zero weights; None when none.

    Used for "half of the residents walk at most this far", where each value is a location
    carrying a number of people.
    """
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    if len(values) == 0:
        return None
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2.0)])


def finite_round(x: float | None, digits: int = 4) -> float | None:
    """`x` rounded for JSON, or None when it is missing, NaN or infinite."""
    return None if x is None or not np.isfinite(x) else round(float(x), digits)
