"""``town.osm``: the demo town's streets, bypass, railway, river, park and buildings as OSM XML."""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence
from xml.sax.saxutils import quoteattr

import numpy as np
from shapely.geometry import LineString, Point

from kennai.demo.buildings import Building, street_buildings
from kennai.demo.frame import Frame, Point2, lonlat, point2, vertex_key
from kennai.demo.noding import largest_component, node_streets
from kennai.demo.streets import Street, curve, grid_streets, hill_streets, with_crossings
from kennai.demo.terrain import Geo


class Osm:
    """Nodes and ways of ``town.osm``, collected in local metres."""

    def __init__(self) -> None:
        self.coords: list[Point2] = []
        self.node_tags: dict[int, dict[str, str]] = {}
        self.ids: dict[tuple[float, float], int] = {}
        self.ways: list[tuple[list[int], dict[str, str]]] = []

    def node(self, p: Point2, *, shared: bool = True) -> int:
        """The id of the node at ``p`` (one node per millimetre cell when ``shared``)."""
        k = vertex_key(p)
        if shared and k in self.ids:
            return self.ids[k]
        self.coords.append(p)
        nid = len(self.coords)
        if shared:
            self.ids[k] = nid
        return nid

    def way(self, nodes: list[int], tags: dict[str, str]) -> None:
        """Add a way over existing node ids."""
        self.ways.append((nodes, dict(sorted(tags.items()))))

    def xml(self, frame: Frame) -> str:
        """The OSM XML 0.6 document."""
        ll = lonlat(frame, np.asarray(self.coords))
        lines = ['<?xml version="1.0" encoding="UTF-8"?>',
                 '<osm version="0.6" generator="kennai demo">',
                 f'  <bounds minlat="{ll[:, 1].min():.7f}" minlon="{ll[:, 0].min():.7f}" '
                 f'maxlat="{ll[:, 1].max():.7f}" maxlon="{ll[:, 0].max():.7f}"/>']
        for i, (lon, lat) in enumerate(ll.tolist(), start=1):
            head = f'  <node id="{i}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"'
            tags = self.node_tags.get(i)
            if not tags:
                lines.append(head + "/>")
                continue
            lines.append(head + ">")
            lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
            lines.append("  </node>")
        for i, (nodes, tags) in enumerate(self.ways, start=1):
            lines.append(f'  <way id="{i}" version="1">')
            lines += [f'    <nd ref="{n}"/>' for n in nodes]
            lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
            lines.append("  </way>")
        lines.append("</osm>")
        return "\n".join(lines) + "\n"


def _split_ways(osm: Osm, ids: list[int], seg_tags: list[dict[str, str]], junction: set[int],
                rng: np.random.Generator) -> None:
    """Cut one street into OSM ways: at tag changes and at every few junctions."""
    start, target = 0, int(rng.integers(3, 9))
    for k in range(1, len(ids)):
        last = k == len(ids) - 1
        change = not last and seg_tags[k] != seg_tags[k - 1]
        long_enough = not last and k - start >= target and ids[k] in junction
        if last or change or long_enough:
            osm.way(ids[start : k + 1], seg_tags[k - 1])
            start, target = k, int(rng.integers(3, 9))


def _add_streets(osm: Osm, streets: list[Street], geo: Geo, rng: np.random.Generator) -> None:
    """Write the walking network; river segments of bridge streets become ``bridge=yes``."""
    water = geo.river.buffer(4.0)
    all_ids = [[osm.node(c) for c in st.coords] for st in streets]
    count: dict[int, int] = {}
    for ids in all_ids:
        for i in ids:
            count[i] = count.get(i, 0) + 1
    junction = {i for i, n in count.items() if n > 1}
    for st, ids in zip(streets, all_ids, strict=True):
        seg_tags = []
        for a, b in itertools.pairwise(st.coords):
            tags = dict(st.tags)
            if st.bridge and water.contains(Point((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)):
                tags.update({"bridge": "yes", "layer": "1", "name": st.bridge})
            seg_tags.append(tags)
        _split_ways(osm, ids, seg_tags, junction, rng)


def _add_line(osm: Osm, coords: Sequence[Point2], tags: dict[str, str], geo: Geo,
              *, bridge: str, cuts: Collection[int] = ()) -> list[int]:
    """Write the railway or the bypass: own nodes, a bridge over the river, split at ``cuts``."""
    coords = with_crossings(coords, geo.river.buffer(4.0).exterior)
    ids = [osm.node(c) for c in coords]
    water = geo.river.buffer(4.0)
    seg_tags = []
    for a, b in itertools.pairwise(coords):
        t = dict(tags)
        if water.contains(Point((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)):
            t.update({"bridge": "yes", "layer": "1", "name": bridge})
        seg_tags.append(t)
    start = 0
    for k in range(1, len(ids)):
        last = k == len(ids) - 1
        if last or seg_tags[k] != seg_tags[k - 1] or ids[k] in cuts:
            osm.way(ids[start : k + 1], seg_tags[k - 1])
            start = k
    return ids


def town_osm(geo: Geo, rng: np.random.Generator) -> tuple[Osm, list[Street], list[Building]]:
    """Streets, bypass, railway, river, park and buildings as OSM nodes and ways."""
    grid, rim = grid_streets(geo, rng)
    streets = largest_component(node_streets(grid + hill_streets(rim, rng)))
    osm = Osm()
    _add_streets(osm, streets, geo, rng)

    def street_node(name: str, target: Point2) -> Point2:
        pts = [c for st in streets if st.tags.get("name") == name for c in st.coords]
        return min(pts, key=lambda c: (math.dist(c, target), c))

    # The bypass meets the walking network only through its two links (no foot traffic).
    mway = [point2(*c) for c in geo.motorway.coords]
    west_m = min(mway, key=lambda c: abs(c[0] + 430.0))
    east_m = min(mway, key=lambda c: abs(c[0] - 1050.0))
    _add_line(osm, mway, {"highway": "motorway", "name": "みなとバイパス", "ref": "E99"}, geo,
              bridge="みなとバイパス橋", cuts={osm.node(west_m), osm.node(east_m)})
    w_end = street_node("駅前通り", (west_m[0] + 80.0, west_m[1] - 110.0))
    e_end = street_node("川向通り", (east_m[0] + 80.0, east_m[1] - 110.0))
    links = [curve(west_m, w_end, 25.0, n=8), curve(east_m, e_end, -25.0, n=8)]
    for coords in links:
        osm.way([osm.node(c) for c in coords], {"highway": "motorway_link"})

    rail = [point2(*c) for c in geo.rail.coords]
    station = min(rail, key=lambda c: abs(c[0] + 250.0))
    _add_line(osm, rail, {"railway": "rail", "name": "みなと鉄道線"}, geo, bridge="みなと川橋梁")
    osm.node_tags[osm.node(station)] = {"name": "みなと駅", "name:en": "Minato",
                                        "public_transport": "station", "railway": "station"}

    river_ids = [osm.node(point2(*c), shared=False) for c in geo.river.exterior.coords[:-1]]
    osm.way([*river_ids, river_ids[0]], {"name": "みなと川", "natural": "water", "water": "river",
                                         "waterway": "riverbank"})
    osm.way([osm.node(point2(*c), shared=False) for c in geo.river_line.coords],
            {"name": "みなと川", "waterway": "river"})
    park_ids = [osm.node(point2(*c), shared=False) for c in geo.park.exterior.coords[:-1]]
    osm.way([*park_ids, park_ids[0]], {"leisure": "park", "name": "丘の上公園"})

    buildings = street_buildings(streets, geo, rng, avoid=[LineString(c).buffer(8.0) for c in links])
    for b in buildings:
        ids = [osm.node(point2(*c), shared=False) for c in b.polygon.exterior.coords[:-1]]
        tags = {"building": b.kind}
        if b.kind == "apartments":
            tags["building:levels"] = str(b.levels)
        osm.way([*ids, ids[0]], tags)
    return osm, streets, buildings
