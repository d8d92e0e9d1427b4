"""Kinds of destination: the gathering places, and whatever else a region names (shops, stops).

The seeds' 買い物環境マップ asks where older residents can walk to a shop; a region's config may
name such layers under ``destinations`` (a file, or OSM tags from a ``.pbf``). Each kind is read
into the places schema (:func:`kennai.io.layers.read_points`) in the region's CRS and routed to
exactly like the gathering places (:func:`kennai.access.compute.compute_access`); its results
are stored in the build beside theirs (:mod:`kennai.access.store`).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from kennai.errors import NotFoundError
from kennai.i18n import t
from kennai.region import Region

#: The kind of destination of the default access results: the region's gathering places.
PLACES_KIND = "places"
_PLACES_TITLE = ("集いの場", "gathering places")


def destination_kinds(region: Region) -> list[str]:
    """Every kind of destination of a region: ``places`` first, then the config's in order."""
    kinds = [PLACES_KIND] if region.has_layer(PLACES_KIND) else []
    return kinds + list(region.config.destinations)


def kind_title(region: Region, kind: str) -> str:
    """A kind's title (「食料品店」), in the language of the session."""
    if kind == PLACES_KIND:
        return t(*_PLACES_TITLE).get()
    cfg = region.config.destinations.get(kind)
    if cfg is None:
        return kind
    return t(cfg.title or kind, cfg.title_en or cfg.title or kind).get()


def check_kind(region: Region, kind: str) -> str:
    """``kind`` when the region has it, else a one-line :class:`NotFoundError`."""
    kinds = destination_kinds(region)
    if kind not in kinds:
        raise NotFoundError(t(f"行き先の種類「{kind}」はありません（あるもの: {', '.join(kinds)}）",
                              f"no destination kind {kind!r} (there are: {', '.join(kinds)})"),
                            feature="--kind", hint=t("設定の destinations を確認してください",
                                                     "check the config's destinations"))
    return kind


def read_destinations(region: Region, kind: str) -> gpd.GeoDataFrame:
    """The destinations of one kind in the places schema, in the region's CRS.

    ``places`` is the region's own places layer; another kind is read from its sources (each
    source's ``category`` or OSM tag becomes the category).

    Raises
    ------
    NotFoundError
        For a kind the region does not name; reader errors for unreadable sources.
    """
    check_kind(region, kind)
    if kind == PLACES_KIND:
        return region.layer(PLACES_KIND)
    from kennai.io.layers import read_points  # the readers, only for a kind read from its sources

    parts = [read_points(src, "places").to_crs(region.crs)
             for src in region.config.destinations[kind].sources]
    gdf = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return gpd.GeoDataFrame(gdf, geometry="geometry", crs=region.crs)
