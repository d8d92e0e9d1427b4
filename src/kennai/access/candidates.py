"""Where a new gathering place could go: the candidate sites site suggestion chooses from.

Candidates are the region's ``candidates`` layer, each given a kind
(:mod:`kennai.candidate_kinds`) and kept when its kind is allowed and it is not a place already
there, and, when ``street`` is
allowed or the region has no candidates layer, free points on the network near uncovered
residents (an empty shop on a street is such a point).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from kennai.access.results import AccessResults
from kennai.access.routing import region_network
from kennai.arrays import unique_sorted
from kennai.candidate_kinds import DEFAULT_ALLOWED, KINDS_BY_KEY, candidate_kind, unknown_kinds
from kennai.errors import ConfigError
from kennai.i18n import t
from kennai.nearest import nearest_points
from kennai.region import Region

#: A candidate this close to a place already there (metres) is that place, not a new one.
SAME_PLACE_M = 30.0

#: The columns of a candidate table, in order.
CANDIDATE_COLUMNS = ["candidate_id", "name", "category", "kind", "source", "geometry"]


def allowed_kinds(region: Region, allow: Sequence[str] | None = None) -> tuple[str, ...]:
    """The candidate kinds to pick from: ``allow`` when given, else the region's
    ``suggest_kinds``, else :data:`kennai.candidate_kinds.DEFAULT_ALLOWED`.

    Raises :class:`ConfigError` naming any kind that does not exist.
    """
    kinds = tuple(allow) if allow else tuple(region.config.suggest_kinds or DEFAULT_ALLOWED)
    bad = unknown_kinds(kinds)
    if bad:
        known = ", ".join(KINDS_BY_KEY)
        raise ConfigError(t(f"候補地の種類「{', '.join(bad)}」はありません（あるもの: {known}）",
                            f"no candidate kind {', '.join(bad)} (there are: {known})"),
                          feature=", ".join(bad),
                          hint=t("例: hall,school,welfare", "e.g. hall,school,welfare"))
    return kinds


def candidate_points(region: Region, results: AccessResults, *, allow: Sequence[str],
                     within: shapely.Geometry | None = None, limit: int = 400) -> gpd.GeoDataFrame:
    """The candidate sites of the allowed kinds, in the network's CRS, inside ``within`` (a
    district in that CRS) when it is given; at most ``limit`` network points, spread evenly."""
    net = region_network(region)
    frames = []
    if region.has_layer("candidates"):
        cand = region.layer("candidates").to_crs(net.crs)
        category = cand["category"] if "category" in cand.columns else pd.Series("", index=cand.index)
        kinds = [candidate_kind(n, c) for n, c in zip(cand["name"], category, strict=True)]
        frames.append(gpd.GeoDataFrame(
            {"candidate_id": cand["place_id"].astype(str), "name": cand["name"].astype(str),
             "category": category.fillna("").astype(str), "kind": kinds, "source": "candidates"},
            geometry=cand.geometry.values, crs=net.crs))
    if "street" in allow or not region.has_layer("candidates"):
        frames.append(_network_points(region, results, limit))
    out = pd.concat(frames, ignore_index=True) if frames else gpd.GeoDataFrame(
        columns=CANDIDATE_COLUMNS, geometry="geometry", crs=net.crs)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=net.crs)
    keep = out["kind"].isin(allow) | (out["source"] == "network_nodes")
    keep &= ~_is_a_place(out, results.places)
    if within is not None:
        shapely.prepare(within)
        keep &= shapely.contains(within, out.geometry.values)
    return out[keep].reset_index(drop=True)[CANDIDATE_COLUMNS]


def _is_a_place(cand: gpd.GeoDataFrame, places: gpd.GeoDataFrame) -> np.ndarray:
    """Candidates within :data:`SAME_PLACE_M` of a place already there (the same hall listed
    twice, as a place and as a public facility)."""
    if places.empty or cand.empty:
        return np.zeros(len(cand), dtype=bool)
    tree = shapely.STRtree(places.to_crs(cand.crs).geometry.values)
    hit = tree.query(cand.geometry.values, predicate="dwithin", distance=SAME_PLACE_M)[0]
    out = np.zeros(len(cand), dtype=bool)
    out[hit] = True
    return out


def _network_points(region: Region, results: AccessResults, limit: int) -> gpd.GeoDataFrame:
    """Network nodes nearest to uncovered residents, an even sample of at most ``limit``."""
    net = region_network(region)
    res = results.residents
    far = res[(res["status"] == "ok") & ~(res["distance_m"] <= results.options.gap_threshold_m)]
    if far.empty:
        nodes = np.arange(0)
    else:
        geoms = far.geometry.values
        if bool(np.all(shapely.get_type_id(geoms) == 0)):  # points: ties to the lower node
            nearest = nearest_points(net.node_xy, shapely.get_coordinates(geoms))
        else:
            ntree = shapely.STRtree(shapely.points(net.node_xy))
            nearest = ntree.query_nearest(geoms, all_matches=False)[1]
        nodes = unique_sorted(nearest)
        if len(nodes) > limit:  # spread over space: keep an even sample
            nodes = nodes[np.linspace(0, len(nodes) - 1, limit).astype(np.int64)]
    street = KINDS_BY_KEY["street"].title
    return gpd.GeoDataFrame({"candidate_id": [f"node:{net.node_id[i]}" for i in nodes],
                             "name": [t(f"交差点 {net.node_id[i]}", f"node {net.node_id[i]}").get()
                                      for i in nodes],
                             "category": street.get(), "kind": "street", "source": "network_nodes"},
                            geometry=shapely.points(net.node_xy[nodes]), crs=net.crs)
