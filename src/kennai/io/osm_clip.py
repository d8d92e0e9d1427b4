"""Read only the part of an OSM file that lies in a polygon, so memory follows the part.

A regional extract (Geofabrik's ``japan/chubu-latest.osm.pbf``, a few hundred MB) holds far more
than one city. Clipped reading keeps what ``osmium extract -p`` keeps for the objects kennai
reads:

- a node is kept when its location is inside the polygon (boundary included);
- a way is kept, with all its nodes, when any of its nodes is inside (``complete_ways``);
- an area (a closed way, or a multipolygon relation with all its members) is kept when any
  vertex of its rings is inside (``smart``, for the relations).

The file is streamed once: pyosmium decodes it in C++, and the node locations that ways need go
to an on-disk index (``sparse_file_array`` in a temporary folder, 16 bytes a node) instead of the
in-memory index, which grows with the file. Python sees only the ways and areas with the wanted
tags, tests their node locations against the polygon's box first and against the polygon itself
only when the box test passes, and holds only what is kept.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import osmium
import shapely


def located_nodes(way: osmium.osm.Way, test: Clip | None
                  ) -> tuple[list[osmium.osm.NodeRef], list[float], list[float]] | None:
    """A way's nodes that have a location, with their longitudes and latitudes, when there
    are two or more and (given ``test``) one is inside it; else None (nothing to keep)."""
    ok = [nd for nd in way.nodes if nd.location.valid()]
    if len(ok) < 2:
        return None
    lon = [nd.location.lon for nd in ok]
    lat = [nd.location.lat for nd in ok]
    if test is not None and not test.any_inside(lon, lat):
        return None
    return ok, lon, lat


class Clip:
    """A polygon (EPSG:4326) to test node locations against: its box first, then itself.

    Parameters
    ----------
    polygon
        A Polygon or MultiPolygon in longitude/latitude.
    """

    def __init__(self, polygon: shapely.Geometry) -> None:
        if not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon) or polygon.is_empty:
            raise ValueError("clip must be a non-empty Polygon or MultiPolygon in EPSG:4326")
        self.polygon = polygon
        shapely.prepare(polygon)
        self.minx, self.miny, self.maxx, self.maxy = polygon.bounds

    def contains_point(self, lon: float, lat: float) -> bool:
        """Whether one location is inside (or on the edge of) the polygon."""
        if not (self.minx <= lon <= self.maxx and self.miny <= lat <= self.maxy):
            return False
        return bool(shapely.intersects_xy(self.polygon, lon, lat))

    def any_inside(self, lon: Sequence[float], lat: Sequence[float]) -> bool:
        """Whether any of the locations is inside (or on the edge of) the polygon."""
        x0, y0, x1, y1 = self.minx, self.miny, self.maxx, self.maxy
        box = [i for i, (x, y) in enumerate(zip(lon, lat, strict=True))
               if x0 <= x <= x1 and y0 <= y <= y1]
        if not box:
            return False
        xs = np.asarray(lon, dtype=float)[box]
        ys = np.asarray(lat, dtype=float)[box]
        return bool(shapely.intersects_xy(self.polygon, xs, ys).any())

    def touches_area(self, geom: shapely.Geometry) -> bool:
        """Whether any vertex of an area's rings is inside the polygon."""
        gx0, gy0, gx1, gy1 = geom.bounds
        if gx1 < self.minx or gx0 > self.maxx or gy1 < self.miny or gy0 > self.maxy:
            return False
        xy = shapely.get_coordinates(geom)
        return bool(shapely.intersects_xy(self.polygon, xy[:, 0], xy[:, 1]).any())

    def keeps(self, geoms: np.ndarray) -> np.ndarray:
        """Per geometry, whether any vertex is inside the polygon: what a clipped read keeps of
        nodes, ways and areas alike, tested on a whole read's geometries at once."""
        xy, owner = shapely.get_coordinates(geoms, return_index=True)
        x, y = xy[:, 0], xy[:, 1]
        at = np.flatnonzero((x >= self.minx) & (x <= self.maxx)
                            & (y >= self.miny) & (y <= self.maxy))
        inside = at[shapely.intersects_xy(self.polygon, x[at], y[at])]
        out = np.zeros(len(geoms), dtype=bool)
        out[owner[inside]] = True
        return out


@contextmanager
def disk_locations() -> Iterator[str]:
    """A node-location storage on disk (removed afterwards), for ``with_locations``."""
    with tempfile.TemporaryDirectory(prefix="kennai-osm-") as tmp:
        yield f"sparse_file_array,{tmp}/locations.idx"
