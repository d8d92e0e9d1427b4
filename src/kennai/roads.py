"""Road classes: which OSM ``highway`` value is drawn as which kind of road, on every map.

One table for the vector tiles of the web map and the printed treasure maps, following OSM's
own hierarchy (motorway > trunk > primary > secondary > tertiary > unclassified / residential >
service > paths). In Japan ``primary`` is a 国道 and ``secondary`` a 主要地方道 — the roads a
printed town map draws boldest — while ``tertiary`` (一般県道) sits between them and the streets:

========  ====================================================================
class     OSM ``highway``
========  ====================================================================
major     motorway, trunk, primary, secondary (and their ``_link`` ramps)
medium    tertiary, tertiary_link
minor     unclassified, residential, living_street, service, road — and any
          value not listed here (a centre-line file's own class, a connector)
path      footway, path, pedestrian, steps, track, cycleway, bridleway,
          corridor, crossing, sidewalk
========  ====================================================================
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: The classes from the widest road to the narrowest.
ROAD_CLASSES = ("major", "medium", "minor", "path")
#: The order to draw them in, so that wider roads lie on top of narrower ones.
DRAW_ORDER = tuple(reversed(ROAD_CLASSES))
#: The class of a way whose ``highway`` value is not in :data:`HIGHWAY_CLASS` (or missing).
DEFAULT_CLASS = "minor"
#: OSM ``highway`` value → road class.
HIGHWAY_CLASS: dict[str, str] = {
    **dict.fromkeys(("motorway", "motorway_link", "trunk", "trunk_link", "primary",
                     "primary_link", "secondary", "secondary_link"), "major"),
    **dict.fromkeys(("tertiary", "tertiary_link"), "medium"),
    **dict.fromkeys(("unclassified", "residential", "living_street", "service", "road"),
                    "minor"),
    **dict.fromkeys(("footway", "path", "pedestrian", "steps", "track", "cycleway", "bridleway",
                     "corridor", "crossing", "sidewalk"), "path"),
}


def road_class(highway: Iterable[object]) -> np.ndarray:
    """The class of each OSM ``highway`` value (:data:`DEFAULT_CLASS` when unknown or missing)."""
    return np.array([HIGHWAY_CLASS.get(str(h), DEFAULT_CLASS) for h in highway], dtype=object)
