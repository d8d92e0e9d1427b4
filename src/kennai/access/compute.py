"""Every resident location's nearest gathering place, walking distance and time, for a region.

:func:`compute_access` reads the region's places (filtered by category and schedule), its
residents (:mod:`kennai.residents`) and its network, snaps them all onto the network's edges
and runs one multi-source Dijkstra per graph (:mod:`kennai.access.routing`). Residents outside
the network's extent are ``no_network``: reported apart, never "not covered".
:func:`results_for` reuses the results a build stored when the routing options match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from kennai.access.destinations import PLACES_KIND, check_kind
from kennai.access.options import AccessOptions
from kennai.access.results import AccessResults
from kennai.access.store import access_dir, load_access
from kennai.errors import EmptyLayerError, NotFoundError
from kennai.i18n import t
from kennai.progress import Progress, no_progress
from kennai.region import Region
from kennai.schedule import is_weekly

# The routing (scipy), the snapping and the readers of other destinations are imported by the
# functions that compute, so that a command reading stored results (kennai access --json on a
# current build) loads none of them.


def select_places(places: gpd.GeoDataFrame, *, categories: Iterable[str] | None = None,
                  schedule: str | None = None, weekly: bool = False) -> gpd.GeoDataFrame:
    """Places whose category contains one of ``categories``, whose schedule mentions
    ``schedule`` and, with ``weekly``, that are open at least weekly
    (:func:`kennai.schedule.is_weekly`); raises when nothing is left (an empty set would make
    everyone "far")."""
    keep = np.ones(len(places), dtype=bool)
    if categories:
        cat = places["category"].fillna("").astype(str)
        keep &= np.logical_or.reduce([cat.str.contains(c, regex=False).to_numpy()
                                      for c in categories])
    if schedule:
        text = (places["weekdays"].fillna("").astype(str) + " "
                + places["schedule_note"].fillna("").astype(str))
        keep &= text.str.contains(schedule, regex=False).to_numpy()
    if weekly:
        freq = places["frequency"] if "frequency" in places.columns else [None] * len(places)
        keep &= np.array([is_weekly(f, d) for f, d in zip(freq, places["weekdays"], strict=True)],
                         dtype=bool)
    out = places[keep].reset_index(drop=True)
    if out.empty:
        cats = ", ".join(sorted(places["category"].astype(str).unique())[:10])
        raise EmptyLayerError(t(f"条件に合う通いの場がありません（種別: {cats}）",
                                f"no gathering place matches (categories: {cats})"),
                              feature="places",
                              hint=t("--category / --schedule / --weekly を確認してください",
                                     "check --category / --schedule / --weekly"))
    return out


def compute_access(region: Region, options: AccessOptions | None = None, *,
                   kind: str = PLACES_KIND, progress: Progress = no_progress) -> AccessResults:
    """Nearest place, walking distance and time for every resident location of a region.

    Parameters
    ----------
    region
        A :class:`kennai.region.Region` with a network, places, and population or buildings.
    options
        Profile, place filters, snapping limits (defaults: elderly, all places).
    kind
        The kind of destination: ``places`` (the gathering places), or one the config names
        under ``destinations`` (food shops, bus stops …), routed to in exactly the same way.

    Returns
    -------
    AccessResults
        ``residents`` with ``status`` (``ok`` / ``no_network``), ``place_id``, ``distance_m``,
        ``time_min`` and ``straight_m``; coverage, gaps and suggestions are left empty.
    """
    options = options or AccessOptions()
    _require_places(region)
    if region.network is None:
        return straight_line_access(region, options, kind=kind, progress=progress)
    from kennai.access.destinations import read_destinations
    from kennai.access.routing import nearest_places, network_extent, region_network, walk_graphs
    from kennai.residents import resident_locations
    from kennai.snapping import snap_to_edges

    net = region_network(region)
    destinations = read_destinations(region, kind) if kind != PLACES_KIND else \
        region.layer("places")
    progress("residents")
    places = select_places(destinations, categories=options.categories, schedule=options.schedule,
                           weekly=options.weekly)
    extent = network_extent(net, margin_m=options.extent_margin_m)
    residents, res_info = resident_locations(
        population=region.layer("population") if region.has_layer("population") else None,
        buildings=region.layer("buildings") if region.has_layer("buildings") else None,
        network=net, extent=extent)
    progress("graph")
    length, time = walk_graphs(region, options)
    progress("snap")
    r_xy = shapely.get_coordinates(residents.geometry.values)
    r_snap = snap_to_edges(net, r_xy, max_distance_m=options.max_snap_m)
    inside = shapely.contains_xy(extent, r_xy[:, 0], r_xy[:, 1])
    r_snap.edge[~inside] = -1
    p_xy = shapely.get_coordinates(places.geometry.values)
    p_snap = snap_to_edges(net, p_xy, max_distance_m=options.max_snap_m)
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
        "method": "network",
    }
    if kind != PLACES_KIND:  # the gathering places' stored info stays as it always was
        info["kind"] = kind
    return AccessResults(residents, places, options, info)


def _require_places(region: Region) -> None:
    if not region.has_layer("places"):
        raise NotFoundError(t("この地域には通いの場（places）がありません", "the region has no places"),
                            feature="places", hint=t("設定の layers に places を追加してください",
                                                     "add a places layer to the config"))


def straight_line_access(region: Region, options: AccessOptions | None = None, *,
                         kind: str = PLACES_KIND, progress: Progress = no_progress
                         ) -> AccessResults:
    """Straight-line distance to the nearest place for a region without a walk network.

    The MAFF-style fallback (e.g. "within 500 m as the crow flies"): every resident location
    gets ``straight_m``; ``distance_m`` and ``time_min`` are the straight line and the time to
    walk it at the profile's speed, and the results say ``method: straight_line`` so every table
    built from them is labelled as straight-line only, never as walking coverage.
    """
    from kennai.access.destinations import read_destinations
    from kennai.graph import speed_for
    from kennai.residents import resident_locations

    options = options or AccessOptions()
    _require_places(region)
    progress("residents")
    destinations = read_destinations(region, kind) if kind != PLACES_KIND else \
        region.layer("places")
    places = select_places(destinations, categories=options.categories, schedule=options.schedule,
                           weekly=options.weekly)
    residents, res_info = resident_locations(
        population=region.layer("population") if region.has_layer("population") else None,
        buildings=region.layer("buildings") if region.has_layer("buildings") else None,
        network=None)
    progress("distances")
    r_xy = shapely.get_coordinates(residents.geometry.values)
    p_xy = shapely.get_coordinates(places.geometry.values)
    straight = np.full(len(r_xy), np.inf)
    nearest = np.full(len(r_xy), -1, dtype=np.int64)
    if len(p_xy) and len(r_xy):
        ptree = shapely.STRtree(shapely.points(p_xy))
        (ri, pi), sd = ptree.query_nearest(shapely.points(r_xy), return_distance=True,
                                           all_matches=False)
        straight[ri], nearest[ri] = sd, pi
    ids = places["place_id"].astype(str).to_numpy()
    speed = speed_for(options.profile, options.speed_mps)
    residents = residents.assign(
        status="straight_line",
        place_id=np.where(nearest >= 0, ids[np.maximum(nearest, 0)], ""),
        distance_m=straight, time_min=straight / speed / 60.0, straight_m=straight,
        snap_m=np.nan)
    places = places.assign(on_network=False, snap_m=np.nan)
    info = {"residents": res_info, "network": None, "places": len(places),
            "places_on_network": 0, "locations_no_network": len(residents),
            "population_no_network": round(float(residents["population"].sum()), 3),
            "locations_unreachable": 0, "method": "straight_line"}
    if kind != PLACES_KIND:
        info["kind"] = kind
    return AccessResults(residents, places, options, info)


def results_for(region: Region, options: AccessOptions, *, kind: str = PLACES_KIND,
                progress: Progress = no_progress) -> AccessResults:
    """Stored results (of ``kind``) when they were computed with the same routing options, else
    fresh ones."""
    if kind != PLACES_KIND:
        check_kind(region, kind)
    folder = access_dir(kind)
    if region.build_dir is not None and (Path(region.build_dir) / folder / "access.json").is_file():
        stored = load_access(region.build_dir, kind=kind)
        if stored.options.routing_key() == options.routing_key():
            stored.options = replace(stored.options, thresholds=options.thresholds)
            return stored
    return compute_access(region, options, kind=kind, progress=progress)
