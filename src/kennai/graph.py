"""A :class:`~kennai.network.WalkNetwork` as a weighted CSR graph for scipy's Dijkstra.

Two weights exist: metres (symmetric) and walking seconds for a speed profile (elderly 0.8 m/s,
adult 1.3 m/s). With a DEM, times follow Tobler's hiking function, so an edge takes longer
uphill than downhill and each edge carries one cost per direction. Parallel edges are reduced
to the cheapest *before* the CSR matrix is built, because scipy sums duplicate entries (two
80 m edges between the same nodes would otherwise become one 160 m edge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from scipy.sparse import csr_matrix

from kennai.errors import ConfigError, InputError
from kennai.i18n import t
from kennai.network import WalkNetwork

#: Walking speeds on the flat, metres per second (planning figures, see docs/DOMAIN.md).
SPEEDS: dict[str, float] = {"elderly": 0.8, "adult": 1.3}

#: Tobler's hiking function at slope 0, km/h: the reference speed that profiles scale.
_TOBLER_FLAT = 6.0 * math.exp(-3.5 * 0.05)
#: Steepest slope considered (|dz/dx|); DEM noise on bridges and cliffs stays bounded.
_MAX_SLOPE = 1.0


@dataclass(slots=True)
class WalkGraph:
    """Directed costs of a walk network, ready for :func:`scipy.sparse.csgraph.dijkstra`.

    ``cost_fwd[e]`` is the cost of walking edge ``e`` from ``edge_u`` to ``edge_v``,
    ``cost_bwd[e]`` the other way; ``matrix[i, j]`` is the cheapest edge from ``i`` to ``j``.
    ``unit`` is ``"m"`` or ``"s"``.
    """

    network: WalkNetwork
    cost_fwd: np.ndarray
    cost_bwd: np.ndarray
    matrix: csr_matrix
    unit: str
    speed_mps: float
    info: dict[str, Any] = field(default_factory=dict)
    _reversed: csr_matrix | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        return self.network.n_nodes

    @property
    def symmetric(self) -> bool:
        return self.cost_fwd is self.cost_bwd or bool(np.array_equal(self.cost_fwd, self.cost_bwd))

    def reversed_matrix(self) -> csr_matrix:
        """``matrix`` transposed: Dijkstra on it gives costs *to* the sources.

        Made once and kept: every set of places reuses it (the graph's costs never change).
        """
        if self._reversed is None:
            self._reversed = self.matrix if self.symmetric else self.matrix.T.tocsr()
        return self._reversed


def speed_for(profile: str, speed_mps: float | None = None) -> float:
    """The flat walking speed (m/s) of a profile name, or ``speed_mps`` when given."""
    if speed_mps is not None:
        if not speed_mps > 0:
            raise ConfigError(t("歩行速度は正の数にしてください", "the walking speed must be positive"),
                              feature=str(speed_mps), hint=t("例: 0.8", "e.g. 0.8"))
        return float(speed_mps)
    if profile not in SPEEDS:
        raise ConfigError(t(f"歩行速度のプロファイル「{profile}」はありません",
                            f"unknown speed profile {profile!r}"), feature=profile,
                          hint=t(f"{' / '.join(SPEEDS)} から選んでください",
                                 f"use one of {', '.join(SPEEDS)}"))
    return SPEEDS[profile]


def csr_from_edges(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> csr_matrix:
    """A CSR matrix holding, for each (u, v) pair, the *minimum* of its weights.

    Duplicates are removed first: scipy would add them up. Zero weights are kept as
    explicit entries (csgraph treats them as zero-cost edges).
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    # One sort of (u, v) as one key, then each pair's least weight: a three-key lexsort of
    # four million entries took 2.6 s, this 0.5 s, and the minimum is the same bits.
    key = u * n + v if n < 3_000_000_000 else None  # u·n + v fits an int64
    if key is not None and len(key):
        # Timsort: edges come in runs (a network's edges follow its ways or its lattice); on
        # a 1M-node grid 0.31-0.43 s against 0.02-0.15 s, on Ishigaki and Malta the same. The
        # least weight of each pair does not depend on the order within it.
        order = np.argsort(key, kind="stable")
        key, w = key[order], w[order]
        first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        w = np.minimum.reduceat(w, first)
        u, v = np.divmod(key[first], n)
    else:
        order = np.lexsort((w, v, u))
        u, v, w = u[order], v[order], w[order]
        keep = np.ones(len(u), dtype=bool)
        keep[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        u, v, w = u[keep], v[keep], w[keep]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    # Already sorted by row then column: the arrays are the CSR arrays themselves.
    index_dtype = np.int32 if max(n, len(v)) < 2**31 - 1 else np.int64
    return csr_matrix((w, v.astype(index_dtype), indptr.astype(index_dtype)), shape=(n, n))


def _undirected(net: WalkNetwork, fwd: np.ndarray, bwd: np.ndarray) -> csr_matrix:
    u = np.concatenate([net.edge_u, net.edge_v])
    v = np.concatenate([net.edge_v, net.edge_u])
    return csr_from_edges(u, v, np.concatenate([fwd, bwd]), net.n_nodes)


def tobler_factor(slope: np.ndarray) -> np.ndarray:
    """Speed on ``slope`` (dz/dx, signed) relative to the speed on the flat (Tobler 1993)."""
    s = np.clip(slope, -_MAX_SLOPE, _MAX_SLOPE)
    return 6.0 * np.exp(-3.5 * np.abs(s + 0.05)) / _TOBLER_FLAT


def sample_dem(path: Path, xy: np.ndarray, crs: CRS) -> np.ndarray:
    """Elevation at points ``xy`` (in ``crs``) by bilinear interpolation; NaN off the DEM."""
    import rasterio

    try:
        with rasterio.open(path) as ds:
            band = ds.read(1, masked=True).astype(np.float64).filled(np.nan)
            inv = ~ds.transform
            src_crs = ds.crs
    except rasterio.errors.RasterioIOError:
        raise InputError(t("標高ラスタとして読めません", "not a readable raster"), path=path,
                         hint=t("GeoTIFF を指定してください", "give a GeoTIFF")) from None
    x, y = xy[:, 0], xy[:, 1]
    if src_crs is not None and CRS.from_user_input(src_crs) != crs:
        x, y = Transformer.from_crs(crs, CRS.from_user_input(src_crs), always_xy=True).transform(x, y)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    # Pixel centres sit at +0.5: shift so that integer parts index the upper-left neighbour.
    col = inv.a * x + inv.b * y + inv.c - 0.5
    row = inv.d * x + inv.e * y + inv.f - 0.5
    h, w = band.shape
    c0 = np.floor(col).astype(np.int64)
    r0 = np.floor(row).astype(np.int64)
    fc, fr = col - c0, row - r0
    c0c, c1c = np.clip(c0, 0, w - 1), np.clip(c0 + 1, 0, w - 1)
    r0c, r1c = np.clip(r0, 0, h - 1), np.clip(r0 + 1, 0, h - 1)
    z = (band[r0c, c0c] * (1 - fc) * (1 - fr) + band[r0c, c1c] * fc * (1 - fr)
         + band[r1c, c0c] * (1 - fc) * fr + band[r1c, c1c] * fc * fr)
    outside = (col < -0.5) | (row < -0.5) | (col > w - 0.5) | (row > h - 0.5)
    z[outside] = np.nan
    return z


def _slope_times(net: WalkNetwork, dem_path: Path, speed: float, step_m: float
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Seconds per edge in each direction, walking each ~``step_m`` piece at its own slope."""
    geoms = shapely.segmentize(net.edge_geometry, step_m)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    z = sample_dem(dem_path, coords, net.crs)
    same = index[1:] == index[:-1]
    dx = np.hypot(*np.diff(coords, axis=0).T)[same]
    dz = np.diff(z)[same]
    seg_edge = index[1:][same]
    dz = np.where(np.isnan(dz), 0.0, dz)  # off the DEM: treat as flat
    slope = np.divide(dz, dx, out=np.zeros_like(dx), where=dx > 0)
    # Geometry length may differ from the stored length by rounding: scale to the stored one.
    geom_len = np.bincount(seg_edge, weights=dx, minlength=net.n_edges)
    scale = np.divide(net.edge_length, geom_len, out=np.ones_like(geom_len), where=geom_len > 0)
    fwd = np.bincount(seg_edge, weights=dx / (speed * tobler_factor(slope)), minlength=net.n_edges)
    bwd = np.bincount(seg_edge, weights=dx / (speed * tobler_factor(-slope)), minlength=net.n_edges)
    climb = np.bincount(seg_edge, weights=np.abs(dz), minlength=net.n_edges)
    info = {"dem": dem_path.name, "dem_coverage": round(float(np.mean(~np.isnan(z))), 4),
            "mean_abs_climb_m_per_km": round(float(climb.sum() / max(net.edge_length.sum(), 1e-9)
                                                   * 1000), 2)}
    return fwd * scale, bwd * scale, info


def build_graph(
    net: WalkNetwork,
    *,
    weight: str = "length",
    profile: str = "elderly",
    speed_mps: float | None = None,
    dem_path: Path | None = None,
    steps_factor: float = 1.0,
    dem_step_m: float = 10.0,
    like: WalkGraph | None = None,
) -> WalkGraph:
    """The network's graph weighted by metres (``"length"``) or walking seconds (``"time"``).

    Parameters
    ----------
    net
        The walk network (projected metres).
    weight
        ``"length"`` (metres, symmetric) or ``"time"`` (seconds).
    profile, speed_mps
        Flat walking speed: a profile from :data:`SPEEDS`, or an explicit speed.
    dem_path
        A DEM: times then follow Tobler's function per ~``dem_step_m`` piece of each edge.
    steps_factor
        Multiplies the time on ``highway=steps`` (e.g. 2.0 for older residents).
    like
        The same network's length graph: when the times are its lengths over one speed, its
        matrix is reused with the values divided (the same cheapest edges, the same bits),
        instead of sorting every edge again.
    """
    speed = speed_for(profile, speed_mps)
    if weight == "length":
        fwd = bwd = np.asarray(net.edge_length, dtype=np.float64)
        return WalkGraph(net, fwd, bwd, _undirected(net, fwd, bwd), "m", speed,
                         {"weight": "length"})
    if weight != "time":
        raise ConfigError(t(f"重み「{weight}」は使えません", f"unknown weight {weight!r}"),
                          feature=weight, hint=t("length か time を指定してください",
                                                 "use 'length' or 'time'"))
    info: dict[str, Any] = {"weight": "time", "speed_mps": speed, "slope": dem_path is not None}
    if dem_path is not None:
        fwd, bwd, dem_info = _slope_times(net, Path(dem_path), speed, dem_step_m)
        info |= dem_info
    else:
        fwd = bwd = np.asarray(net.edge_length, dtype=np.float64) / speed
    if steps_factor != 1.0:
        steps = np.asarray(net.edge_highway.astype(str) == "steps")
        fwd = np.where(steps, fwd * steps_factor, fwd)
        bwd = np.where(steps, bwd * steps_factor, bwd)
        info["steps_factor"] = steps_factor
        info["steps_edges"] = int(steps.sum())
    uniform = dem_path is None and "steps_factor" not in info
    if (uniform and like is not None and like.network is net and like.unit == "m"
            and like.cost_fwd is like.cost_bwd):
        m = like.matrix
        matrix = csr_matrix((m.data / speed, m.indices, m.indptr), shape=m.shape)
        return WalkGraph(net, fwd, bwd, matrix, "s", speed, info)
    return WalkGraph(net, fwd, bwd, _undirected(net, fwd, bwd), "s", speed, info)
