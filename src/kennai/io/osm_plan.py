"""Which OSM files a build reads whole, and what it reads of each: the plan of its shared passes.

A region placed only by its OSM files (no outline, district or census layer to clip them by,
as Ishigaki and Malta) reads each file whole several times over: the network, the buildings,
the places, every other destination kind and the basemap. Planned here, those reads come from
one pass per file (:func:`kennai.io.osm_pass.shared_pass`); a region with something to clip
by streams each reader clipped, as before, so memory follows the part of a large extract.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import partial
from pathlib import Path

from kennai.basemap import osm_sources
from kennai.config import POLYGON_KINDS, RegionConfig
from kennai.io.osm import (
    BUILDINGS,
    DEFAULT_PLACE_TAGS,
    WALK_WAYS,
    Buildings,
    Places,
    WalkWays,
    places_key,
)
from kennai.io.osm_basemap import BASEMAP, Basemap
from kennai.io.osm_pass import Collector

#: Layers that bound a region, so that its OSM files are read clipped to them.
_BOUNDING = ("outline", *POLYGON_KINDS, "population")


def whole_file_reads(config: RegionConfig
                     ) -> dict[Path, dict[Hashable, Callable[[], Collector]]]:
    """Per OSM file, the readers a build of ``config`` runs on all of it (none when a layer
    bounds the region and the readers are clipped)."""
    if any(kind in config.layers for kind in _BOUNDING):
        return {}
    plans: dict[Path, dict[Hashable, Callable[[], Collector]]] = {}

    def plan(path: Path, key: Hashable, make: Callable[[], Collector]) -> None:
        plans.setdefault(Path(path), {}).setdefault(key, make)

    for kind, layer in config.layers.items():
        for src in layer.sources:
            if not src.is_osm:
                continue
            if kind == "network":
                plan(src.path, WALK_WAYS, WalkWays)
            elif kind == "buildings":
                plan(src.path, BUILDINGS, Buildings)
            elif kind in ("places", "candidates"):
                wanted = src.osm_tags or DEFAULT_PLACE_TAGS
                plan(src.path, places_key(wanted), partial(Places, wanted))
    for dest in config.destinations.values():
        for src in dest.sources:
            if src.is_osm:
                wanted = src.osm_tags or DEFAULT_PLACE_TAGS
                plan(src.path, places_key(wanted), partial(Places, wanted))
    for path in osm_sources(config):  # the files the basemap is made of
        plan(path, BASEMAP, Basemap)
    return plans
