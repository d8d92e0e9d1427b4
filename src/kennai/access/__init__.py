"""Walkable access: for every resident location, the walk to the nearest gathering place.

One multi-source Dijkstra per graph answers the question for everybody at once
(:mod:`~kennai.access.routing`); :mod:`~kennai.access.compute` runs it on a region's residents
and places. Results are summarised per district (:mod:`~kennai.access.coverage`), drawn as
ranked gap polygons (:mod:`~kennai.access.gaps`), used to suggest new sites
(:mod:`~kennai.access.sites`, greedy maximal coverage) and rendered as a COG of walking minutes
with the walking areas the maps draw (:mod:`~kennai.access.surface`). A build stores them
(:mod:`~kennai.access.pipeline`, :mod:`~kennai.access.store`); :class:`PointRouter` answers
clicks. Besides the gathering places, a region may name other kinds of destination (food
shops, bus stops: :mod:`~kennai.access.destinations`), each routed to the same way.
Residents outside the network's extent are reported as "no network", never as "not
covered".

This package re-exports the public API of its modules, each imported on first use (PEP 562),
so that a command needing one name (a printed map, ``AccessOptions``) does not load scipy,
rasterio and the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as mypy and readers see them; imported by __getattr__ at run time
    from kennai.access.compute import compute_access, results_for, select_places
    from kennai.access.coverage import OUTSIDE_NAME, coverage_frame, coverage_table
    from kennai.access.destinations import (
        PLACES_KIND,
        check_kind,
        destination_kinds,
        kind_title,
        read_destinations,
    )
    from kennai.access.districts import district_geometry, polygon_layers, resolve_polygons
    from kennai.access.gaps import DistrictGaps, district_gaps, gap_polygons, region_gaps
    from kennai.access.options import DEFAULT_THRESHOLDS, AccessOptions, Threshold, parse_threshold
    from kennai.access.pipeline import analyse, run_access_for_build
    from kennai.access.results import AccessResults
    from kennai.access.router import PointRouter
    from kennai.access.routing import (
        Anchors,
        NodeCosts,
        anchors,
        cost_scale,
        nearest_places,
        network_extent,
        node_costs,
        point_costs,
        region_network,
        walk_graphs,
    )
    from kennai.access.sites import (
        SUGGESTION_COLUMNS,
        coverage_matrix,
        district_suggestions,
        greedy_sites,
        suggest_sites,
    )
    from kennai.access.store import ACCESS_DIR, access_dir, load_access, save_access
    from kennai.access.surface import (
        access_results,
        district_place_minutes,
        no_network_area,
        place_minutes,
        walk_area,
        write_surface,
    )

#: The submodule defining each public name, imported by :func:`__getattr__` on first use.
_SOURCES: dict[str, tuple[str, ...]] = {
    "compute": ("compute_access", "results_for", "select_places"),
    "coverage": ("OUTSIDE_NAME", "coverage_frame", "coverage_table"),
    "destinations": ("PLACES_KIND", "check_kind", "destination_kinds", "kind_title", "read_destinations"),
    "districts": ("district_geometry", "polygon_layers", "resolve_polygons"),
    "gaps": ("DistrictGaps", "district_gaps", "gap_polygons", "region_gaps"),
    "options": ("DEFAULT_THRESHOLDS", "AccessOptions", "Threshold", "parse_threshold"),
    "pipeline": ("analyse", "run_access_for_build"),
    "results": ("AccessResults",),
    "router": ("PointRouter",),
    "routing": (
        "Anchors", "NodeCosts", "anchors", "cost_scale", "nearest_places", "network_extent", "node_costs",
        "point_costs", "region_network", "walk_graphs",
    ),
    "sites": (
        "SUGGESTION_COLUMNS", "coverage_matrix", "district_suggestions", "greedy_sites", "suggest_sites",
    ),
    "store": ("ACCESS_DIR", "access_dir", "load_access", "save_access"),
    "surface": (
        "access_results", "district_place_minutes", "no_network_area", "place_minutes", "walk_area",
        "write_surface",
    ),
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

__all__ = [
    "ACCESS_DIR",
    "DEFAULT_THRESHOLDS",
    "OUTSIDE_NAME",
    "PLACES_KIND",
    "SUGGESTION_COLUMNS",
    "AccessOptions",
    "AccessResults",
    "Anchors",
    "DistrictGaps",
    "NodeCosts",
    "PointRouter",
    "Threshold",
    "access_dir",
    "access_results",
    "analyse",
    "anchors",
    "check_kind",
    "compute_access",
    "cost_scale",
    "coverage_frame",
    "coverage_matrix",
    "coverage_table",
    "destination_kinds",
    "district_gaps",
    "district_geometry",
    "district_place_minutes",
    "district_suggestions",
    "gap_polygons",
    "greedy_sites",
    "kind_title",
    "load_access",
    "nearest_places",
    "network_extent",
    "no_network_area",
    "node_costs",
    "parse_threshold",
    "place_minutes",
    "point_costs",
    "polygon_layers",
    "read_destinations",
    "region_gaps",
    "region_network",
    "resolve_polygons",
    "results_for",
    "run_access_for_build",
    "save_access",
    "select_places",
    "suggest_sites",
    "walk_area",
    "walk_graphs",
    "write_surface",
]


def __getattr__(name: str) -> Any:
    """Import a public name's submodule on first use and keep the name here."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
