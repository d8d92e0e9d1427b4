"""Walkable access: for every resident location, the walk to the nearest gathering place.

One Dijkstra run answers the question for everybody at once: each end of every place's edge
gets a virtual node joined to it at the cost of walking from that end to the place, and a
multi-source Dijkstra from all virtual nodes gives each node the cost to its nearest place and,
through the virtual node that reached it, that place. A resident then takes the cheaper end of
its own edge (or walks straight along the edge when a place shares it). Thresholds in metres use
the length graph; thresholds in minutes the time graph (speed profile, slope from the DEM).

Results are summarised per district (coverage tables), drawn as ranked gap polygons, used to
suggest new sites (greedy maximal coverage) and rendered as a COG of walking minutes. Residents
outside the network's extent are reported as "no network", never as "not covered".
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from kennai.atomic import atomic_dir, atomic_path
from kennai.config import POLYGON_KINDS
from kennai.errors import ConfigError, EmptyLayerError, NotFoundError
from kennai.graph import WalkGraph, build_graph
from kennai.i18n import t
from kennai.network import WalkNetwork
from kennai.residents import Snap, resident_locations, snap_to_edges

Progress = Callable[[str], None]

ACCESS_DIR = "access"
_FORMAT = 1


def _noop(_: str) -> None:
    return None


# --------------------------------------------------------------------------- options


@dataclass(frozen=True, slots=True)
class Threshold:
    """A coverage threshold: metres of walk (``unit="m"``) or minutes (``unit="min"``)."""

    value: float
    unit: str

    @property
    def label(self) -> str:
        v = int(self.value) if float(self.value).is_integer() else self.value
        return f"{v}{self.unit}"


_THRESHOLD_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|分)?\s*$")


def parse_threshold(text: str | float | Threshold) -> Threshold:
    """``"500"``/``"500m"`` → 500 m; ``"10min"``/``"10分"`` → 10 minutes."""
    if isinstance(text, Threshold):
        return text
    m = _THRESHOLD_RE.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(t(f"しきい値「{text}」を読めません", f"cannot read threshold {text!r}"),
                          feature=str(text), hint=t("例: 500（m）、10min（分）",
                                                    "e.g. 500 (metres) or 10min"))
    unit = "min" if m.group(2) in ("min", "分") else "m"
    return Threshold(float(m.group(1)), unit)


DEFAULT_THRESHOLDS: tuple[Threshold, ...] = tuple(
    parse_threshold(x) for x in ("250m", "500m", "800m", "1000m", "5min", "10min", "15min"))


@dataclass(frozen=True, slots=True)
class AccessOptions:
    """What an access computation depends on.

    ``categories`` keeps places whose category contains any of the strings; ``schedule``
    keeps places whose weekdays or schedule note contain the string (e.g. ``"毎週"``).
    """

    profile: str = "elderly"
    speed_mps: float | None = None
    thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS
    categories: tuple[str, ...] | None = None
    schedule: str | None = None
    slope: bool = True
    steps_factor: float = 1.5
    max_snap_m: float = 300.0
    extent_margin_m: float = 100.0
    straight_line_m: float = 500.0
    gap_threshold_m: float = 500.0
    gap_cell_m: float = 100.0
    suggestions: int = 5
    surface_res_m: float = 50.0

    def routing_key(self) -> dict[str, Any]:
        """The options that change residents' distances (thresholds do not)."""
        return {"profile": self.profile, "speed_mps": self.speed_mps,
                "categories": list(self.categories) if self.categories else None,
                "schedule": self.schedule, "slope": self.slope, "steps_factor": self.steps_factor,
                "max_snap_m": self.max_snap_m, "extent_margin_m": self.extent_margin_m}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["thresholds"] = [th.label for th in self.thresholds]
        d["categories"] = list(self.categories) if self.categories else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AccessOptions:
        d = dict(d)
        d["thresholds"] = tuple(parse_threshold(x) for x in d["thresholds"])
        d["categories"] = tuple(d["categories"]) if d.get("categories") else None
        return cls(**d)


# --------------------------------------------------------------------------- core routing


@dataclass(slots=True)
class NodeCosts:
    """Cost from every node to its nearest place, and that place's index (-1: none)."""

    cost: np.ndarray
    place: np.ndarray


def _cost_scale(graph: WalkGraph) -> float:
    """Cost of one metre of off-network walk (the perpendicular) in the graph's unit."""
    return 1.0 / graph.speed_mps if graph.unit == "s" else 1.0


def node_costs(graph: WalkGraph, places: Snap) -> NodeCosts:
    """Exact cost from every node to its nearest place (one multi-source Dijkstra).

    Each end of each place's edge gets a virtual node of its own, joined to that end at the cost
    of walking from it along the edge plus the place's perpendicular. One Dijkstra from all
    virtual nodes at once (``min_only``) gives every node its cost and, through the virtual node
    that reached it, its place. It runs on the reversed graph, so that uphill and downhill are
    taken the right way round (resident → place).
    """
    n = graph.n_nodes
    ok = np.flatnonzero(places.ok)
    if len(ok) == 0:
        return NodeCosts(np.full(n, np.inf), np.full(n, -1, dtype=np.int64))
    net = graph.network
    e = places.edge[ok]
    f = places.fraction(net)[ok]
    off = places.perp_m[ok] * _cost_scale(graph)
    ends = np.concatenate([net.edge_u[e], net.edge_v[e]])
    costs = np.concatenate([f * graph.cost_fwd[e] + off, (1 - f) * graph.cost_bwd[e] + off])
    which = np.concatenate([ok, ok])
    k = len(ends)
    rev = graph.reversed_matrix()
    itype = rev.indices.dtype if rev.nnz + n + k < 2**31 - 1 else np.int64
    # One row per virtual node, with its single entry: no duplicates for scipy to add up.
    # (Index arrays are cast before joining: joining int32 with int64 would copy twice.)
    aug = csr_matrix((np.concatenate([rev.data, costs]),
                      np.concatenate([rev.indices, ends.astype(itype)]),
                      np.concatenate([rev.indptr, np.arange(rev.nnz + 1, rev.nnz + k + 1,
                                                            dtype=itype)])),
                     shape=(n + k, n + k))
    dist, _, source = dijkstra(aug, directed=True, indices=np.arange(n, n + k), min_only=True,
                               return_predecessors=True)
    # source is the virtual node n + i that reached each node, or -9999 for none: shifted by
    # one and clipped, it indexes ``[-1, *which]`` (unreached nodes clip to the -1 in front).
    place = np.take(np.concatenate([[-1], which]), source[:n].astype(np.intp) - (n - 1),
                    mode="clip")
    return NodeCosts(dist[:n], place)


@dataclass(slots=True)
class Anchors:
    """Snapped points prepared on one graph: the cost from each point to either end of its edge
    (infinite off the network), and the snapped points in edge order, so that those sharing an
    edge with a place are found without scanning them all. Residents are prepared once; each
    new set of places then costs two gathers."""

    edge: np.ndarray
    frac: np.ndarray
    off: np.ndarray
    u: np.ndarray
    v: np.ndarray
    to_u: np.ndarray
    to_v: np.ndarray
    u_minus_v: np.ndarray
    off_network: np.ndarray
    by_edge: np.ndarray
    sorted_edge: np.ndarray


def anchors(graph: WalkGraph, points: Snap) -> Anchors:
    """Prepare snapped points for :func:`point_costs` on ``graph``."""
    net = graph.network
    ok = points.ok
    e = np.where(ok, points.edge, 0)
    f = points.fraction(net)
    off = np.where(ok, points.perp_m * _cost_scale(graph), np.inf)
    by_edge = np.flatnonzero(ok)
    by_edge = by_edge[np.argsort(points.edge[by_edge], kind="stable")]
    u, v = net.edge_u[e], net.edge_v[e]
    return Anchors(points.edge, f, off, u, v, f * graph.cost_bwd[e] + off,
                   (1 - f) * graph.cost_fwd[e] + off, u - v, np.flatnonzero(~ok), by_edge,
                   points.edge[by_edge])


def _same_edge(graph: WalkGraph, pts: Anchors, places: Snap) -> tuple[np.ndarray, np.ndarray,
                                                                        np.ndarray]:
    """Direct walks along the edge for points sharing their edge with a place:
    (positions in ``pts``, cost, place)."""
    pl = np.flatnonzero(places.ok)
    empty = np.zeros(0, dtype=np.int64)
    if len(pl) == 0 or len(pts.by_edge) == 0:
        return empty, np.zeros(0), empty
    pl = pl[np.argsort(places.edge[pl], kind="stable")]
    pe = places.edge[pl]
    pg = places.fraction(graph.network)[pl]
    poff = places.perp_m[pl] * _cost_scale(graph)
    # The runs of edge-sorted points on each place edge, gathered without a Python loop.
    ue = pe[np.concatenate([[True], pe[1:] != pe[:-1]])]  # pe is sorted
    start = np.searchsorted(pts.sorted_edge, ue, side="left")
    count = np.searchsorted(pts.sorted_edge, ue, side="right") - start
    total = int(count.sum())
    if total == 0:
        return empty, np.zeros(0), empty
    hit = pts.by_edge[np.repeat(start - np.cumsum(count) + count, count) + np.arange(total)]
    e = pts.edge[hit]
    lo = np.searchsorted(pe, e, side="left")
    hi = np.searchsorted(pe, e, side="right")
    best_c = np.full(total, np.inf)
    best_p = np.full(total, -1, dtype=np.int64)
    for k in range(int((hi - lo).max())):
        ok = lo + k < hi
        j = np.where(ok, lo + k, lo)
        d = pg[j] - pts.frac[hit]
        c = (np.where(d >= 0, d * graph.cost_fwd[e], -d * graph.cost_bwd[e])
             + pts.off[hit] + poff[j])
        better = ok & (c < best_c)
        best_c = np.where(better, c, best_c)
        best_p = np.where(better, pl[j], best_p)
    return hit, best_c, best_p


def point_costs(graph: WalkGraph, nc: NodeCosts, points: Snap | Anchors, places: Snap
                ) -> tuple[np.ndarray, np.ndarray]:
    """Cost from each snapped point to its nearest place, and that place (-1: none).

    Takes the cheaper end of the point's edge, or the direct walk along the edge when a place
    lies on the same edge. Points off the network get an infinite cost.
    """
    pts = points if isinstance(points, Anchors) else anchors(graph, points)
    via_u = nc.cost[pts.u]
    via_u += pts.to_u
    via_v = nc.cost[pts.v]
    via_v += pts.to_v
    # The cheaper end (u on ties); arithmetic rather than np.where, which branches per item.
    # nc.place is -1 wherever nc.cost is infinite, so unreachable points get -1 here.
    p = nc.place[pts.v + pts.u_minus_v * (via_u <= via_v)]
    c = np.minimum(via_u, via_v, out=via_u)
    p[pts.off_network] = -1
    hit, hc, hp = _same_edge(graph, pts, places)
    better = hc < c[hit]
    c[hit[better]] = hc[better]
    p[hit[better]] = hp[better]
    return c, p


def nearest_places(graph: WalkGraph, points: Snap, places: Snap) -> tuple[np.ndarray, np.ndarray]:
    """Cost (graph unit) from every point to its nearest place and that place's index."""
    return point_costs(graph, node_costs(graph, places), points, places)


# --------------------------------------------------------------------------- inputs from a region


def network_extent(net: WalkNetwork, *, margin_m: float) -> shapely.Geometry:
    """Where the network is meant to serve: the hull of its nodes, plus a margin."""
    return shapely.convex_hull(shapely.multipoints(net.node_xy)).buffer(margin_m)


def select_places(places: gpd.GeoDataFrame, *, categories: Iterable[str] | None = None,
                  schedule: str | None = None) -> gpd.GeoDataFrame:
    """Places whose category contains one of ``categories`` and whose schedule mentions
    ``schedule``; raises when nothing is left (an empty set would make everyone "far")."""
    keep = np.ones(len(places), dtype=bool)
    if categories:
        cat = places["category"].fillna("").astype(str)
        keep &= np.logical_or.reduce([cat.str.contains(c, regex=False).to_numpy()
                                      for c in categories])
    if schedule:
        text = (places["weekdays"].fillna("").astype(str) + " "
                + places["schedule_note"].fillna("").astype(str))
        keep &= text.str.contains(schedule, regex=False).to_numpy()
    out = places[keep].reset_index(drop=True)
    if out.empty:
        cats = ", ".join(sorted(places["category"].astype(str).unique())[:10])
        raise EmptyLayerError(t(f"条件に合う通いの場がありません（種別: {cats}）",
                                f"no gathering place matches (categories: {cats})"),
                              feature="places", hint=t("--category / --schedule を確認してください",
                                                       "check --category / --schedule"))
    return out


@dataclass
class AccessResults:
    """Residents with their nearest place, and everything summarised from them."""

    residents: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    options: AccessOptions
    info: dict[str, Any] = field(default_factory=dict)
    coverage: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    gaps: gpd.GeoDataFrame | None = None
    suggestions: gpd.GeoDataFrame | None = None
    surface_path: Path | None = None


def _graphs(region: Any, options: AccessOptions) -> tuple[WalkGraph, WalkGraph]:
    net = region.network
    length = build_graph(net, weight="length")
    time = build_graph(net, weight="time", profile=options.profile, speed_mps=options.speed_mps,
                       dem_path=region.dem_path if options.slope else None,
                       steps_factor=options.steps_factor)
    return length, time


def compute_access(region: Any, options: AccessOptions | None = None, *,
                   progress: Progress = _noop) -> AccessResults:
    """Nearest place, walking distance and time for every resident location of a region.

    Parameters
    ----------
    region
        A :class:`kennai.region.Region` with a network, places, and population or buildings.
    options
        Profile, place filters, snapping limits (defaults: elderly, all places).

    Returns
    -------
    AccessResults
        ``residents`` with ``status`` (``ok`` / ``no_network``), ``place_id``, ``distance_m``,
        ``time_min`` and ``straight_m``; coverage, gaps and suggestions are left empty.
    """
    options = options or AccessOptions()
    net: WalkNetwork | None = region.network
    if net is None or net.n_edges == 0:
        raise NotFoundError(t("この地域には歩行ネットワークがありません", "the region has no walk network"),
                            feature="network", hint=t("設定の layers に network を追加してください",
                                                      "add a network layer to the config"))
    if not region.has_layer("places"):
        raise NotFoundError(t("この地域には通いの場（places）がありません", "the region has no places"),
                            feature="places", hint=t("設定の layers に places を追加してください",
                                                     "add a places layer to the config"))
    progress("residents")
    places = select_places(region.layer("places"), categories=options.categories,
                           schedule=options.schedule)
    extent = network_extent(net, margin_m=options.extent_margin_m)
    residents, res_info = resident_locations(
        population=region.layer("population") if region.has_layer("population") else None,
        buildings=region.layer("buildings") if region.has_layer("buildings") else None,
        network=net, extent=extent)
    progress("graph")
    length, time = _graphs(region, options)
    tree = shapely.STRtree(net.edge_geometry)
    progress("snap")
    r_xy = shapely.get_coordinates(residents.geometry.values)
    r_snap = snap_to_edges(net, r_xy, max_distance_m=options.max_snap_m, tree=tree)
    inside = shapely.contains_xy(extent, r_xy[:, 0], r_xy[:, 1])
    r_snap.edge[~inside] = -1
    p_xy = shapely.get_coordinates(places.geometry.values)
    p_snap = snap_to_edges(net, p_xy, max_distance_m=options.max_snap_m, tree=tree)
    p_snap.edge[~shapely.contains_xy(extent, p_xy[:, 0], p_xy[:, 1])] = -1
    progress("distances")
    dist, pidx = nearest_places(length, r_snap, p_snap)
    secs, _ = nearest_places(time, r_snap, p_snap)
    straight = np.full(len(r_xy), np.inf)
    if len(p_xy):
        ptree = shapely.STRtree(shapely.points(p_xy))
        (ri, _pi), sd = ptree.query_nearest(shapely.points(r_xy), return_distance=True,
                                            all_matches=False)
        straight[ri] = sd
    ids = places["place_id"].astype(str).to_numpy()
    residents = residents.assign(
        status=np.where(r_snap.ok, "ok", "no_network"),
        place_id=np.where(pidx >= 0, ids[np.maximum(pidx, 0)], ""),
        distance_m=dist, time_min=secs / 60.0, straight_m=straight,
        snap_m=np.where(r_snap.ok, r_snap.perp_m, np.nan))
    places = places.assign(on_network=p_snap.ok, snap_m=np.where(p_snap.ok, p_snap.perp_m, np.nan))
    on = residents["status"] == "ok"
    info = {
        "residents": res_info,
        "network": net.summary(),
        "graph_time": time.info,
        "places": len(places), "places_on_network": int(p_snap.ok.sum()),
        "locations_no_network": int((~on).sum()),
        "population_no_network": round(float(residents.loc[~on, "population"].sum()), 3),
        "locations_unreachable": int((on & ~np.isfinite(dist)).sum()),
    }
    return AccessResults(residents, places, options, info)


class PointRouter:
    """The walk from any point to its nearest place, for clicks on a map.

    The two Dijkstra runs (metres and minutes, all places at once) are done when the router is
    made; each query then only snaps one point onto its edge and looks at both edge ends, so
    it answers in well under a millisecond and agrees exactly with the stored results.
    """

    def __init__(self, region: Any, results: AccessResults) -> None:
        net: WalkNetwork | None = region.network
        if net is None or net.n_edges == 0:
            raise NotFoundError(t("この地域には歩行ネットワークがありません",
                                  "the region has no walk network"), feature="network",
                                hint=t("設定の layers に network を追加してください",
                                       "add a network layer to the config"))
        self.network = net
        self.options = results.options
        self.places = results.places.to_crs(net.crs).reset_index(drop=True)
        self.length, self.time = _graphs(region, results.options)
        self.tree = shapely.STRtree(net.edge_geometry)
        self.extent = network_extent(net, margin_m=results.options.extent_margin_m)
        shapely.prepare(self.extent)
        p_xy = shapely.get_coordinates(self.places.geometry.values)
        self.p_snap = snap_to_edges(net, p_xy, max_distance_m=results.options.max_snap_m,
                                    tree=self.tree)
        self.p_snap.edge[~shapely.contains_xy(self.extent, p_xy[:, 0], p_xy[:, 1])] = -1
        self.nc_length = node_costs(self.length, self.p_snap)
        self.nc_time = node_costs(self.time, self.p_snap)
        self._to_local = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True)

    def route(self, lon: float, lat: float) -> dict[str, Any]:
        """Nearest place, walking metres and minutes from a point given in lon/lat.

        ``status`` is ``ok``, ``no_network`` (outside the network's extent or too far from
        any street) or ``unreachable`` (on a part of the network with no place).
        """
        x, y = self._to_local.transform(lon, lat)
        out: dict[str, Any] = {"lon": lon, "lat": lat, "status": "no_network", "place": None,
                               "distance_m": None, "time_min": None, "snap_m": None}
        if not shapely.contains_xy(self.extent, x, y):
            return out
        snap = snap_to_edges(self.network, np.array([[x, y]]),
                             max_distance_m=self.options.max_snap_m, tree=self.tree)
        if not snap.ok[0]:
            return out
        dist, pidx = point_costs(self.length, self.nc_length, snap, self.p_snap)
        secs, _ = point_costs(self.time, self.nc_time, snap, self.p_snap)
        out["snap_m"] = round(float(snap.perp_m[0]), 1)
        if pidx[0] < 0 or not np.isfinite(dist[0]):
            out["status"] = "unreachable"
            return out
        row = self.places.iloc[int(pidx[0])]
        out.update(status="ok", distance_m=round(float(dist[0]), 1),
                   time_min=round(float(secs[0]) / 60.0, 1),
                   place={"place_id": str(row["place_id"]), "name": str(row["name"]),
                          "category": str(row.get("category", ""))})
        return out


# --------------------------------------------------------------------------- coverage


def _wmedian(values: np.ndarray, weights: np.ndarray) -> float | None:
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    if len(values) == 0:
        return None
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    m = values[order][np.searchsorted(cum, cum[-1] / 2.0)]
    return round(float(m), 1) if np.isfinite(m) else None


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _summary(rows: pd.DataFrame, name: str, thresholds: tuple[Threshold, ...],
             straight_m: float) -> dict[str, Any]:
    pop = rows["population"].to_numpy(float)
    p65 = rows["population_65plus"].to_numpy(float)
    has65 = bool(len(p65)) and not np.isnan(p65).all()
    p65 = np.nan_to_num(p65)
    on = (rows["status"] == "ok").to_numpy()
    dist = rows["distance_m"].to_numpy(float)
    mins = rows["time_min"].to_numpy(float)
    base, base65 = float(pop[on].sum()), float(p65[on].sum())

    def within(mask: np.ndarray, w: np.ndarray, total: float) -> float | None:
        return _round(float(w[mask & on].sum()) / total) if total > 0 else None

    cov, cov65 = {}, {}
    for th in thresholds:
        mask = (dist <= th.value) if th.unit == "m" else (mins <= th.value)
        cov[th.label] = within(mask, pop, base)
        cov65[th.label] = within(mask, p65, base65) if has65 else None
    metre = [th for th in thresholds if th.unit == "m"]
    worst = max(metre, key=lambda th: th.value) if metre else None
    beyond = ~(dist <= worst.value) & on if worst is not None else None
    label = f"{int(straight_m) if float(straight_m).is_integer() else straight_m}m"
    return {
        "name": name,
        "population": round(float(pop.sum()), 1),
        "population_65plus": round(float(p65.sum()), 1) if has65 else None,
        "population_on_network": round(base, 1),
        "no_network_population": round(float(pop[~on].sum()), 1),
        "no_network_population_65plus": round(float(p65[~on].sum()), 1) if has65 else None,
        "coverage": cov,
        "coverage_65plus": cov65 if has65 else None,
        "median_distance_m": _wmedian(dist[on], pop[on]),
        "median_time_min": _wmedian(mins[on], pop[on]),
        "beyond_worst_threshold": worst.label if worst is not None else None,
        "population_beyond_worst": round(float(pop[beyond].sum()), 1) if beyond is not None else None,
        "population_65plus_beyond_worst": (round(float(p65[beyond].sum()), 1)
                                           if beyond is not None and has65 else None),
        "straight_line_coverage": {label: within(rows["straight_m"].to_numpy(float) <= straight_m,
                                                 pop, base)},
        "locations": len(rows),
    }


#: Name of the coverage row for residents outside every polygon of the layer (e.g. a plan
#: covering only part of the town); the row is added only when there are any.
OUTSIDE_NAME = "（区域外）"


def coverage_table(results: AccessResults, polygons: gpd.GeoDataFrame | None = None, *,
                   thresholds: Iterable[Threshold] | None = None,
                   region_name: str = "") -> list[dict[str, Any]]:
    """Coverage per polygon (``name`` column), or one row for the whole region.

    Shares are of the population that has a network (``population_on_network``); residents
    outside the network's extent are counted apart in ``no_network_population``. Residents in
    no polygon at all get a last row named :data:`OUTSIDE_NAME`, so the rows always add up to
    the whole population.
    """
    ths = tuple(thresholds) if thresholds is not None else results.options.thresholds
    res = results.residents
    straight = results.options.straight_line_m
    if polygons is None:
        return [_summary(res, region_name, ths, straight)]
    polys = polygons[["name", "geometry"]].reset_index(drop=True)
    if polys.crs is not None and res.crs is not None and not polys.crs.equals(res.crs):
        polys = polys.to_crs(res.crs)
    # A resident on a shared border (``intersects``, not ``within``) counts once, in the first.
    joined = gpd.sjoin(res[["geometry"]], polys, how="inner", predicate="intersects")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = []
    for i, name in enumerate(polys["name"]):
        idx = joined.index[joined["index_right"].to_numpy() == i]
        out.append(_summary(res.loc[idx], str(name), ths, straight))
    outside = res[~res.index.isin(joined.index)]
    if len(outside) and (outside["population"] > 0).any():
        out.append(_summary(outside, OUTSIDE_NAME, ths, straight))
    return out


_NESTED = ("coverage", "coverage_65plus", "straight_line_coverage")


def coverage_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Coverage records flattened for CSV (``coverage_500m``, ``coverage_65plus_500m`` …).

    Columns keep the rows' own order (thresholds as given, not sorted as text), and a row with
    no 65+ figures gets empty ``coverage_65plus_*`` cells rather than a column of its own.
    """
    labels: dict[str, list[str]] = {key: [] for key in _NESTED}
    for r in rows:
        for key in _NESTED:
            src = r.get(key) or (r.get("coverage") if key == "coverage_65plus" else None) or {}
            labels[key] += [lb for lb in src if lb not in labels[key]]
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in _NESTED and k not in columns]
    columns += [f"{key}_{lb}" for key in _NESTED for lb in labels[key]]
    flat = []
    for r in rows:
        d = {k: v for k, v in r.items() if k not in _NESTED}
        for key in _NESTED:
            values = r.get(key) or {}
            d |= {f"{key}_{lb}": values.get(lb) for lb in labels[key]}
        flat.append(d)
    return pd.DataFrame(flat, columns=columns)


# --------------------------------------------------------------------------- gaps


def gap_polygons(results: AccessResults, *, threshold_m: float | None = None,
                 cell_m: float | None = None, within: shapely.Geometry | None = None
                 ) -> gpd.GeoDataFrame:
    """Uncovered populated areas: grid cells holding residents beyond ``threshold_m`` (on the
    network), merged where they touch (8-neighbours), ranked by population.

    ``within`` (a district, in the results' CRS) keeps only the residents inside it, so a gap
    crossing a district line counts only the district's own people.
    """
    threshold_m = threshold_m or results.options.gap_threshold_m
    cell_m = cell_m or results.options.gap_cell_m
    res = results.residents
    crs = res.crs
    cols = ["rank", "population", "population_65plus", "locations", "area_ha", "geometry"]
    far = res[(res["status"] == "ok") & ~(res["distance_m"] <= threshold_m)
              & (res["population"] > 0)]
    if within is not None:
        xy = shapely.get_coordinates(far.geometry.values)
        shapely.prepare(within)
        far = far[shapely.contains_xy(within, xy[:, 0], xy[:, 1])]
    if far.empty:
        return gpd.GeoDataFrame(columns=cols, geometry="geometry", crs=crs)
    xy = shapely.get_coordinates(far.geometry.values)
    ij = np.floor(xy / cell_m).astype(np.int64)
    lo = ij.min(axis=0)
    ij -= lo
    shape = tuple(ij.max(axis=0) + 1)
    grid = np.zeros(shape[::-1], dtype=bool)
    grid[ij[:, 1], ij[:, 0]] = True
    labels, n = ndimage.label(grid, structure=np.ones((3, 3)))
    lab = labels[ij[:, 1], ij[:, 0]] - 1
    pop = np.bincount(lab, weights=far["population"].to_numpy(float), minlength=n)
    p65v = far["population_65plus"].to_numpy(float)
    has65 = not np.isnan(p65v).all()
    p65 = np.bincount(lab, weights=np.nan_to_num(p65v), minlength=n)
    count = np.bincount(lab, minlength=n)
    cells = np.unique(np.column_stack([ij, lab]), axis=0)
    x0 = (cells[:, 0] + lo[0]) * cell_m
    y0 = (cells[:, 1] + lo[1]) * cell_m
    boxes = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    geoms = [shapely.coverage_union_all(boxes[cells[:, 2] == k]) for k in range(n)]
    gdf = gpd.GeoDataFrame({"population": np.round(pop, 1),
                            "population_65plus": np.round(p65, 1) if has65 else np.nan,
                            "locations": count,
                            "area_ha": np.round(np.bincount(cells[:, 2], minlength=n)
                                                * cell_m * cell_m / 1e4, 2)},
                           geometry=geoms, crs=crs)
    gdf = gdf.sort_values(["population", "locations"], ascending=False).reset_index(drop=True)
    gdf.insert(0, "rank", np.arange(1, len(gdf) + 1, dtype=np.int64))
    return gdf[cols].astype({"rank": "int64", "locations": "int64"})


@dataclass(slots=True)
class DistrictGaps:
    """The gaps of one district's own residents and the district's lon/lat bounds."""

    gaps: gpd.GeoDataFrame
    bounds: list[float]


def district_gaps(region: Any, results: AccessResults, *, layer: str, district: str,
                  threshold_m: float | None = None) -> DistrictGaps:
    """Gap polygons counting only the residents of the district named ``district`` in ``layer``
    (a district layer or plan, as for ``--by``); its pieces sharing the name are joined.

    Raises :class:`NotFoundError` when the layer has no district of that name.
    """
    key, polygons = resolve_polygons(region, layer)
    match = polygons[polygons["name"].astype(str) == district]
    if match.empty:
        names = ", ".join(sorted(map(str, polygons["name"].unique()))[:20])
        raise NotFoundError(t(f"{key} に区域「{district}」はありません（あるもの: {names}）",
                              f"no district {district!r} in {key} (there are: {names})"),
                            feature=district, hint=t("区域の一覧で名称を確認してください",
                                                     "check the names in the district list"))
    shape = shapely.union_all(match.to_crs(results.residents.crs).geometry.values)
    frame = gap_polygons(results, threshold_m=threshold_m, within=shape)
    bounds = [round(float(v), 6) for v in match.to_crs("EPSG:4326").total_bounds]
    return DistrictGaps(frame, bounds)


# --------------------------------------------------------------------------- site suggestion


def _candidate_points(region: Any, results: AccessResults, limit: int) -> gpd.GeoDataFrame:
    """The region's ``candidates`` layer, or network nodes near uncovered residents."""
    if region.has_layer("candidates"):
        cand = region.layer("candidates")
        return gpd.GeoDataFrame({"candidate_id": cand["place_id"].astype(str),
                                 "name": cand["name"].astype(str), "source": "candidates"},
                                geometry=cand.geometry.values, crs=cand.crs)
    net: WalkNetwork = region.network
    res = results.residents
    far = res[(res["status"] == "ok") & ~(res["distance_m"] <= results.options.gap_threshold_m)]
    if far.empty:
        nodes = np.arange(0)
    else:
        ntree = shapely.STRtree(shapely.points(net.node_xy))
        nodes = np.unique(ntree.query_nearest(far.geometry.values, all_matches=False)[1])
        if len(nodes) > limit:  # spread over space: keep an even sample
            nodes = nodes[np.linspace(0, len(nodes) - 1, limit).astype(np.int64)]
    return gpd.GeoDataFrame({"candidate_id": [f"node:{net.node_id[i]}" for i in nodes],
                             "name": [t(f"交差点 {net.node_id[i]}", f"node {net.node_id[i]}").get()
                                      for i in nodes], "source": "network_nodes"},
                            geometry=shapely.points(net.node_xy[nodes]), crs=net.crs)


def coverage_matrix(graph: WalkGraph, sites: Snap, points: Snap, *, limit: float,
                    chunk: int = 64) -> csr_matrix:
    """Sparse boolean matrix: site ``i`` reaches point ``j`` within ``limit`` (graph unit)."""
    net = graph.network
    rows, cols = [], []
    ok_sites = np.flatnonzero(sites.ok)
    pts = np.flatnonzero(points.ok)
    pe = points.edge[pts]
    pf = points.fraction(net)[pts]
    poff = points.perp_m[pts] * _cost_scale(graph)
    for start in range(0, len(ok_sites), chunk):
        batch = ok_sites[start:start + chunk]
        # One bounded Dijkstra per site from its two edge ends (cheap at walking radii).
        ends = np.concatenate([net.edge_u[sites.edge[batch]], net.edge_v[sites.edge[batch]]])
        d = dijkstra(graph.reversed_matrix(), directed=True, indices=ends, limit=limit)
        m = len(batch)
        f = sites.fraction(net)[batch]
        se = sites.edge[batch]
        soff = sites.perp_m[batch] * _cost_scale(graph)
        # cost node→site via the site's u end / v end
        to_u = f * graph.cost_fwd[se] + soff
        to_v = (1 - f) * graph.cost_bwd[se] + soff
        node_cost = np.minimum(d[:m] + to_u[:, None], d[m:] + to_v[:, None])
        via_u = pf * graph.cost_bwd[pe] + node_cost[:, net.edge_u[pe]]
        via_v = (1 - pf) * graph.cost_fwd[pe] + node_cost[:, net.edge_v[pe]]
        c = np.minimum(via_u, via_v) + poff
        same = pe[None, :] == se[:, None]
        if same.any():
            gi, pj = np.nonzero(same)
            dd = f[gi] - pf[pj]
            e = pe[pj]
            direct = (np.where(dd >= 0, dd * graph.cost_fwd[e], -dd * graph.cost_bwd[e])
                      + poff[pj] + soff[gi])
            c[gi, pj] = np.minimum(c[gi, pj], direct)
        r, cidx = np.nonzero(c <= limit)
        rows.append(batch[r])
        cols.append(pts[cidx])
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    return csr_matrix((np.ones(len(r), dtype=bool), (r, c)), shape=(len(sites.edge), len(points.edge)))


def greedy_sites(cover: csr_matrix, weights: np.ndarray, *, k: int,
                 weights_65: np.ndarray | None = None) -> list[tuple[int, float, float | None]]:
    """Greedy maximal coverage: pick ``k`` rows that add the most uncovered weight, one at a time.

    Returns ``(row, added weight, added 65+ weight)`` per pick; stops when nothing is added.
    """
    left = np.asarray(weights, dtype=np.float64).copy()
    left65 = None if weights_65 is None else np.nan_to_num(weights_65).astype(np.float64)
    cover = cover.astype(np.float64).tocsr()
    picks = []
    for _ in range(k):
        gain = cover @ left
        best = int(np.argmax(gain)) if len(gain) else -1
        if best < 0 or gain[best] <= 0:
            break
        cols = cover.indices[cover.indptr[best]:cover.indptr[best + 1]]
        add65 = float(left65[cols].sum()) if left65 is not None else None
        picks.append((best, float(gain[best]), add65))
        left[cols] = 0.0
        if left65 is not None:
            left65[cols] = 0.0
    return picks


def suggest_sites(region: Any, results: AccessResults, *, k: int | None = None,
                  threshold_m: float | None = None, max_candidates: int = 400) -> gpd.GeoDataFrame:
    """The next ``k`` sites that would bring the most uncovered residents within
    ``threshold_m`` (network metres), with the population and 65+ each adds."""
    k = results.options.suggestions if k is None else k
    threshold_m = threshold_m or results.options.gap_threshold_m
    net: WalkNetwork = region.network
    cand = _candidate_points(region, results, max_candidates)
    cols = ["rank", "candidate_id", "name", "source", "added_population", "added_population_65plus",
            "coverage_after", "geometry"]
    res = results.residents
    uncovered = ((res["status"] == "ok") & ~(res["distance_m"] <= threshold_m)).to_numpy()
    if cand.empty or not uncovered.any():
        return gpd.GeoDataFrame(columns=cols, geometry="geometry", crs=net.crs)
    tree = shapely.STRtree(net.edge_geometry)
    c_xy = shapely.get_coordinates(cand.geometry.values)
    c_snap = snap_to_edges(net, c_xy, max_distance_m=results.options.max_snap_m, tree=tree)
    sub = res[uncovered]
    r_snap = snap_to_edges(net, shapely.get_coordinates(sub.geometry.values),
                           max_distance_m=results.options.max_snap_m, tree=tree)
    graph = build_graph(net, weight="length")
    cover = coverage_matrix(graph, c_snap, r_snap, limit=threshold_m)
    p65 = sub["population_65plus"].to_numpy(float)
    has65 = not np.isnan(p65).all()
    picks = greedy_sites(cover, sub["population"].to_numpy(float), k=k,
                         weights_65=p65 if has65 else None)
    on = res["status"] == "ok"
    base = float(res.loc[on, "population"].sum())
    covered = float(res.loc[on & (res["distance_m"] <= threshold_m), "population"].sum())
    rows = []
    for rank, (i, add, add65) in enumerate(picks, start=1):
        covered += add
        rows.append({"rank": rank, "candidate_id": cand["candidate_id"].iloc[i],
                     "name": cand["name"].iloc[i], "source": cand["source"].iloc[i],
                     "added_population": round(add, 1),
                     "added_population_65plus": None if add65 is None else round(add65, 1),
                     "coverage_after": round(covered / base, 4) if base else None,
                     "geometry": cand.geometry.iloc[i]})
    return gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs=net.crs)


# --------------------------------------------------------------------------- surface


def write_surface(region: Any, results: AccessResults, path: Path, *,
                  res_m: float | None = None, max_cells: int = 4_000_000) -> Path:
    """A Cloud-Optimised GeoTIFF of walking minutes to the nearest place (region CRS).

    Cells farther than ``2 × res_m`` from the network, or outside its extent, are nodata.
    """
    import rasterio
    from rasterio.transform import from_origin

    res_m = res_m or results.options.surface_res_m
    net: WalkNetwork = region.network
    extent = network_extent(net, margin_m=results.options.extent_margin_m)
    xmin, ymin, xmax, ymax = shapely.bounds(extent)
    while ((xmax - xmin) / res_m) * ((ymax - ymin) / res_m) > max_cells:
        res_m *= 2
    w = max(1, int(np.ceil((xmax - xmin) / res_m)))
    h = max(1, int(np.ceil((ymax - ymin) / res_m)))
    xs = xmin + (np.arange(w) + 0.5) * res_m
    ys = ymax - (np.arange(h) + 0.5) * res_m
    gx, gy = np.meshgrid(xs, ys)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    inside = shapely.contains_xy(extent, xy[:, 0], xy[:, 1])
    opts = results.options
    _, time = _graphs(region, opts)
    places = results.places
    p_snap = snap_to_edges(net, shapely.get_coordinates(places.geometry.values),
                           max_distance_m=opts.max_snap_m)
    p_snap.edge[~places["on_network"].to_numpy(bool)] = -1
    cells = snap_to_edges(net, xy[inside], max_distance_m=2 * res_m)
    secs, _ = nearest_places(time, cells, p_snap)
    minutes = np.full(len(xy), np.nan, dtype=np.float32)
    minutes[np.flatnonzero(inside)] = np.where(np.isfinite(secs), secs / 60.0, np.nan)
    profile = {"driver": "COG", "width": w, "height": h, "count": 1, "dtype": "float32",
               "crs": net.crs.to_wkt(), "transform": from_origin(xmin, ymax, res_m, res_m),
               "nodata": np.nan, "compress": "deflate", "blocksize": 256}
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as ds:
        ds.write(minutes.reshape(h, w), 1)
        ds.update_tags(units="minutes", profile=opts.profile, speed_mps=str(time.speed_mps))
    return path


# --------------------------------------------------------------------------- storage


def polygon_layers(region: Any) -> dict[str, gpd.GeoDataFrame]:
    """Every district layer and plan of a region, keyed ``layer:<kind>`` / ``plan:<name>``."""
    out = {f"layer:{k}": region.layer(k) for k in POLYGON_KINDS if region.has_layer(k)}
    out |= {f"plan:{p}": region.plan(p) for p in region.plan_names}
    return out


def resolve_polygons(region: Any, by: str) -> tuple[str, gpd.GeoDataFrame]:
    """A ``--by`` value (layer kind, plan name, ``plan:<name>``) → its key and polygons."""
    name = by.removeprefix("layer:")
    if name in POLYGON_KINDS and region.has_layer(name):
        return f"layer:{name}", region.layer(name)
    plan = name.removeprefix("plan:")
    if plan in region.plan_names:
        return f"plan:{plan}", region.plan(plan)
    known = [k for k in POLYGON_KINDS if region.has_layer(k)] + [f"plan:{p}" for p in region.plan_names]
    raise NotFoundError(t(f"区域「{by}」はありません（あるもの: {', '.join(known) or 'なし'}）",
                          f"no district layer or plan {by!r} (there are: {', '.join(known) or 'none'})"),
                        feature=by, hint=t("小学校区なら elementary、計画ならその名前を指定してください",
                                           "use e.g. elementary, or a plan's name"))


def _write_geojson(gdf: gpd.GeoDataFrame | None, path: Path) -> None:
    if gdf is None:
        return
    out = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
    path.write_text(out.to_json(na="null", drop_id=True, ensure_ascii=False), encoding="utf-8")


def save_access(results: AccessResults, target: Path) -> Path:
    """Write results into ``target`` (``build/<region>/access``) atomically."""
    target = Path(target)
    with atomic_dir(target) as tmp:
        res = results.residents
        xy = shapely.get_coordinates(res.geometry.values)
        np.savez(tmp / "residents.npz", crs=np.array(res.crs.to_wkt()), xy=xy,
                 population=res["population"].to_numpy(float),
                 population_65plus=res["population_65plus"].to_numpy(float),
                 unit_id=res["unit_id"].astype(str).to_numpy(dtype=str),
                 source=res["source"].astype(str).to_numpy(dtype=str),
                 status=res["status"].astype(str).to_numpy(dtype=str),
                 place_id=res["place_id"].astype(str).to_numpy(dtype=str),
                 distance_m=res["distance_m"].to_numpy(float),
                 time_min=res["time_min"].to_numpy(float),
                 straight_m=res["straight_m"].to_numpy(float),
                 snap_m=res["snap_m"].to_numpy(float))
        _write_geojson(results.places, tmp / "places.geojson")
        _write_geojson(results.gaps, tmp / "gaps.geojson")
        _write_geojson(results.suggestions, tmp / "suggestions.geojson")
        if results.surface_path is not None and results.surface_path.is_file():
            shutil.copyfile(results.surface_path, tmp / "surface.tif")
        meta = {"format": _FORMAT, "options": results.options.to_dict(),
                "info": results.info, "coverage": results.coverage,
                "surface": "surface.tif" if (tmp / "surface.tif").is_file() else None}
        (tmp / "access.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1,
                                                    default=_json_default), encoding="utf-8")
    return target


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return str(x)


def _read_geojson(path: Path, crs: CRS) -> gpd.GeoDataFrame | None:
    if not path.is_file():
        return None
    gdf = gpd.read_file(path, engine="pyogrio")
    return gdf.to_crs(crs) if len(gdf) else gdf.set_crs(crs, allow_override=True)


def load_access(build_dir: Path) -> AccessResults:
    """Read the results :func:`run_access_for_build` stored under ``build_dir/access``."""
    folder = Path(build_dir) / ACCESS_DIR
    meta_path = folder / "access.json"
    if not meta_path.is_file():
        from kennai.errors import BuildNotFoundError

        raise BuildNotFoundError(t("アクセスの計算結果がまだありません", "no access results yet"),
                                 path=folder, hint=t("kennai build をやり直してください",
                                                     "run kennai build again"))
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    with np.load(folder / "residents.npz", allow_pickle=False) as z:
        crs = CRS.from_wkt(str(z["crs"]))
        residents = gpd.GeoDataFrame(
            {k: z[k] for k in ("population", "population_65plus", "unit_id", "source", "status",
                               "place_id", "distance_m", "time_min", "straight_m", "snap_m")},
            geometry=shapely.points(z["xy"]), crs=crs)
    for col in ("unit_id", "source", "status", "place_id"):
        residents[col] = residents[col].astype(object)
    places = _read_geojson(folder / "places.geojson", crs)
    surface = folder / meta["surface"] if meta.get("surface") else None
    return AccessResults(residents, places, AccessOptions.from_dict(meta["options"]), meta["info"],
                         meta["coverage"], _read_geojson(folder / "gaps.geojson", crs),
                         _read_geojson(folder / "suggestions.geojson", crs), surface)


def analyse(region: Any, options: AccessOptions | None = None, *, progress: Progress = _noop,
            surface_path: Path | None = None) -> AccessResults:
    """Everything for a region: distances, coverage for every district layer and plan (and the
    whole region), gaps, site suggestions and, when ``surface_path`` is given, the surface."""
    results = compute_access(region, options, progress=progress)
    progress("coverage")
    results.coverage = {"region": coverage_table(results, region_name=region.config.title)}
    for key, polys in polygon_layers(region).items():
        results.coverage[key] = coverage_table(results, polys)
    progress("gaps")
    results.gaps = gap_polygons(results)
    progress("suggestions")
    results.suggestions = suggest_sites(region, results)
    if surface_path is not None:
        progress("surface")
        results.surface_path = write_surface(region, results, surface_path)
    return results


def run_access_for_build(region: Any, build_dir: Path, *, progress: Progress = _noop,
                         options: AccessOptions | None = None) -> dict[str, Any]:
    """Compute the default access results for a built region and store them in
    ``build_dir/access`` atomically; return a small summary for ``metadata.json``.

    Does nothing (returns ``{"skipped": reason}``) when the region has no network or places.
    """
    if region.network is None:
        return {"skipped": "no network"}
    if not region.has_layer("places"):
        return {"skipped": "no places"}
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    surface_tmp = build_dir / f".surface-{os.getpid()}.tif"
    try:
        results = analyse(region, options, progress=progress, surface_path=surface_tmp)
        progress("write access")
        save_access(results, build_dir / ACCESS_DIR)
    finally:
        surface_tmp.unlink(missing_ok=True)
    whole = results.coverage["region"][0]
    return {"dir": ACCESS_DIR, "profile": results.options.profile,
            "places": results.info["places"], "places_on_network": results.info["places_on_network"],
            "locations": len(results.residents), "coverage": whole["coverage"],
            "no_network_population": whole["no_network_population"],
            "gaps": 0 if results.gaps is None else len(results.gaps),
            "suggestions": 0 if results.suggestions is None else len(results.suggestions)}


def results_for(region: Any, options: AccessOptions, *, progress: Progress = _noop
                ) -> AccessResults:
    """Stored results when they were computed with the same routing options, else fresh ones."""
    if region.build_dir is not None and (Path(region.build_dir) / ACCESS_DIR / "access.json").is_file():
        stored = load_access(region.build_dir)
        if stored.options.routing_key() == options.routing_key():
            stored.options = replace(stored.options, thresholds=options.thresholds)
            return stored
    return compute_access(region, options, progress=progress)
