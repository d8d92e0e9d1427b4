"""Read OpenStreetMap files (``.osm.pbf`` and ``.osm`` XML) with pyosmium.

pyosmium does the parsing, the node-location index and the polygon assembly in C++; Python
only sees the ways and areas that pass the filters, which is why this is several times faster
than going through pyrosm + networkx. What is walkable follows OSMnx's ``network_type="walk"``
filter, except that pedestrian areas are kept (people walk across squares).

Every reader takes ``clip``: a polygon in EPSG:4326 (e.g. the region's outline buffered by the
largest walking threshold). The file is then streamed with node locations on disk, and only the
ways, areas and nodes touching the polygon are kept (:mod:`kennai.io.osm_clip`): the result
equals reading a file pre-clipped to that polygon with ``osmium extract``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import osmium
import shapely

from kennai.config import Source
from kennai.errors import EmptyLayerError, InputError
from kennai.i18n import t
from kennai.io.osm_clip import Clip, disk_locations, located_nodes
from kennai.io.osm_pass import Collector, Want, stream, take

_C = TypeVar("_C", bound=Collector)

#: ``highway`` values nobody walks on (OSMnx's walk filter, ``motor`` covering motorways).
EXCLUDED_HIGHWAY = frozenset({
    "abandoned", "bus_guideway", "construction", "cycleway", "motorway", "motorway_link",
    "no", "planned", "platform", "proposed", "raceway", "razed", "bus_stop", "elevator",
    "rest_area", "services", "corridor_proposed",
})
_NO_ACCESS = frozenset({"no", "private"})

#: Default OSM tags for gathering places (公民館 are often tagged amenity=townhall in Japan).
DEFAULT_PLACE_TAGS: dict[str, list[str]] = {
    "amenity": ["community_centre", "townhall", "social_facility", "library"],
}


@dataclass(frozen=True, slots=True)
class OSMWays:
    """Walkable ways as flat arrays: way ``i`` has nodes ``offsets[i]:offsets[i+1]``."""

    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    offsets: np.ndarray
    highway: np.ndarray
    name: np.ndarray


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise InputError(t("ファイルが見つかりません", "file not found"), path=path,
                         hint=t("設定の path を確認してください", "check the path in the config"))


def osm_error(path: Path, exc: Exception) -> InputError:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(t(f"OSM ファイルとして読めません（{detail}）",
                        f"not a readable OSM file ({detail})"), path=path,
                      hint=t(".osm.pbf か .osm (XML) を指定してください",
                             "give an .osm.pbf or .osm (XML) file"))


def is_walkable(tags: osmium.osm.TagList) -> bool:
    """OSMnx's walk filter on one way's tags (pedestrian areas kept)."""
    hw = tags.get("highway")
    if hw is None or hw in EXCLUDED_HIGHWAY:
        return False
    if tags.get("area") == "yes" and hw != "pedestrian":
        return False
    if tags.get("foot") == "no" or tags.get("service") == "private":
        return False
    return not (tags.get("access") in _NO_ACCESS and tags.get("foot") not in {"yes", "designated"})


def location_storage(clip: Clip | None) -> AbstractContextManager[str]:
    """Node locations in memory (the whole file) or, when clipping, on disk."""
    return disk_locations() if clip is not None else nullcontext("flex_mem")


def read_walk_ways(path: str | Path, *, clip: shapely.Geometry | None = None) -> OSMWays:
    """All walkable ways of an OSM file, with node ids and coordinates.

    Parameters
    ----------
    path
        An ``.osm.pbf`` or ``.osm`` file.
    clip
        A polygon in EPSG:4326: keep only the ways with a node inside it (whole, with all their
        nodes), streaming the file with node locations on disk. ``None`` reads every way.
    """
    path = Path(path)
    _check_file(path)
    test = Clip(clip) if clip is not None else None
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    last = _LAST_UNCLIPPED[0]  # one read of the slot: another thread may replace it
    if last is not None and last[0] == key:
        ways = last[1] if test is None else _clipped(last[1], test)
    else:
        ways = collect(path, WALK_WAYS, lambda: WalkWays(test), test=test).result()
        if test is None:  # kept for the clipped read that follows it in a build
            _LAST_UNCLIPPED[0] = (key, ways)
    if len(ways.offsets) == 1:
        if test is not None:
            raise EmptyLayerError(t("輪郭の中に歩ける道（highway）が 1 本もありません",
                                    "no walkable ways (highway=*) inside the outline"), path=path,
                                  hint=t("輪郭（outline）とファイルの範囲が重なるか確認してください",
                                         "check that the outline and the file cover the same place"))
        raise EmptyLayerError(t("歩ける道（highway）が 1 本もありません",
                                "no walkable ways (highway=*) in the file"), path=path,
                              hint=t("道路を含む OSM 抽出を指定してください",
                                     "give an OSM extract that contains streets"))
    return ways


#: The last file whose walkable ways were read unclipped, as ((path, size, mtime), ways): a
#: build with only OSM layers reads the network once unclipped to find where the region is,
#: then again, clipped to it or (nothing bounding it) whole; the second read is the cached ways,
#: filtered by the same test when clipped (0.33 s of parsing saved on Ishigaki, 0.7 s on
#: Malta). One file only, so memory stays bounded.
_LAST_UNCLIPPED: list[tuple[tuple[str, int, int], OSMWays] | None] = [None]


def _clipped(ways: OSMWays, test: Clip) -> OSMWays:
    """The ways with a node inside ``test`` (whole): what streaming the file with it keeps."""
    lon, lat = ways.lon, ways.lat
    inside = ((lon >= test.minx) & (lon <= test.maxx) & (lat >= test.miny) & (lat <= test.maxy))
    at = np.flatnonzero(inside)
    inside[at] = shapely.intersects_xy(test.polygon, lon[at], lat[at])
    keep = np.logical_or.reduceat(inside, ways.offsets[:-1]) if len(lon) else inside
    sizes = np.diff(ways.offsets)
    points = np.repeat(keep, sizes)
    return OSMWays(ways.node_ids[points], lon[points], lat[points],
                   np.concatenate([[0], np.cumsum(sizes[keep])]).astype(np.int64),
                   ways.highway[keep], ways.name[keep])


def collect(path: Path, key: Hashable, make: Callable[[], _C], *, test: Clip | None,
            shared_when_clipped: bool = False) -> _C:
    """A reader's collector, filled: taken from the build's shared pass over the whole file
    when the build planned this read (``key``), else ``make()`` run over a pass of its own
    (node locations on disk when clipping to ``test``). A reader that clips what it takes
    afterwards (the basemap) asks with ``shared_when_clipped``. pyosmium's errors reach the
    user as the file's one-line :class:`InputError`.
    """
    collector = make()
    try:
        shared = take(path, key) if test is None or shared_when_clipped else None
        if isinstance(shared, type(collector)):
            return shared
        with location_storage(test) as storage:
            stream(path, [collector], locations=storage)
        return collector
    except (RuntimeError, osmium.InvalidLocationError) as exc:
        raise osm_error(path, exc) from None


#: The shared-pass keys of the readers (:func:`kennai.io.osm_pass.take`).
WALK_WAYS: Hashable = "walk_ways"
BUILDINGS: Hashable = ("areas", "building")


def places_key(wanted: dict[str, list[str]]) -> Hashable:
    """The shared-pass key of a places read with these tags."""
    return ("places", tuple((k, tuple(v)) for k, v in wanted.items()))


class WalkWays:
    """Collects the walkable ways (those touching ``test`` when given) as :class:`OSMWays`."""

    node_keys: tuple[Want, ...] = ()
    way_keys: tuple[Want, ...] = ("highway",)
    area_keys: tuple[Want, ...] = ()

    def __init__(self, test: Clip | None = None) -> None:
        self.test = test
        self.ids: list[int] = []
        self.lons: list[float] = []
        self.lats: list[float] = []
        self.offsets = [0]
        self.highway: list[str] = []
        self.names: list[str] = []

    def node(self, node: osmium.osm.Node) -> None:
        """Nodes are not asked for."""

    def area(self, area: osmium.osm.Area) -> None:
        """Areas are not asked for."""

    def way(self, way: osmium.osm.Way) -> None:
        """Keep a walkable way with at least two located nodes."""
        if not is_walkable(way.tags) or (kept := located_nodes(way, self.test)) is None:
            return
        ok, way_lon, way_lat = kept
        self.ids.extend(nd.ref for nd in ok)
        self.lons.extend(way_lon)
        self.lats.extend(way_lat)
        self.offsets.append(len(self.ids))
        self.highway.append(way.tags["highway"])
        self.names.append(way.tags.get("name") or "")

    def result(self) -> OSMWays:
        """The ways kept, as flat arrays."""
        return OSMWays(np.asarray(self.ids, dtype=np.int64), np.asarray(self.lons),
                       np.asarray(self.lats), np.asarray(self.offsets, dtype=np.int64),
                       np.asarray(self.highway, dtype=object), np.asarray(self.names, dtype=object))


class Buildings:
    """Collects the areas tagged ``building`` (touching ``test`` when given): WKB and the value."""

    node_keys: tuple[Want, ...] = ()
    way_keys: tuple[Want, ...] = ()
    area_keys: tuple[Want, ...] = ("building",)

    def __init__(self, test: Clip | None = None) -> None:
        self.test = test
        self.wkb = osmium.geom.WKBFactory()
        self.geoms: list[bytes] = []
        self.values: list[str] = []

    def node(self, node: osmium.osm.Node) -> None:
        """Nodes are not asked for."""

    def way(self, way: osmium.osm.Way) -> None:
        """Ways are not asked for."""

    def area(self, area: osmium.osm.Area) -> None:
        """Keep a building whose rings osmium could assemble."""
        value = area.tags.get("building")
        if value is None:  # another reader's area, in a shared pass
            return
        try:
            raw = bytes.fromhex(self.wkb.create_multipolygon(area))
        except RuntimeError:
            return  # broken ring in the source data; osmium could not assemble it
        if self.test is not None and not self.test.touches_area(shapely.from_wkb(raw)):
            return
        self.geoms.append(raw)
        self.values.append(value)  # the one tag a building layer keeps (by key: no tag walk)


def read_osm_buildings(path: str | Path, *, clip: shapely.Geometry | None = None
                       ) -> gpd.GeoDataFrame:
    """Building footprints (ways and multipolygon relations tagged ``building``).

    ``clip`` (a polygon in EPSG:4326) keeps the buildings with a vertex inside it, whole.
    """
    path = Path(path)
    _check_file(path)
    test = Clip(clip) if clip is not None else None
    found = collect(path, BUILDINGS, lambda: Buildings(test), test=test)
    geoms = found.geoms
    if not geoms:
        raise EmptyLayerError(t("建物（building）が 1 件もありません",
                                "no buildings (building=*) in the file"), path=path,
                              hint=t("建物を含む OSM 抽出を指定するか、buildings を外してください",
                                     "give an extract with buildings, or drop the layer"))
    return gpd.GeoDataFrame({"building": found.values},
                            geometry=shapely.from_wkb(geoms), crs="EPSG:4326")


def read_osm_places(src: Source, *, clip: shapely.Geometry | None = None) -> gpd.GeoDataFrame:
    """Gathering places from OSM tags (nodes as points, areas by a point inside them).

    ``clip`` (a polygon in EPSG:4326) keeps the nodes inside it and the areas with a vertex
    inside it.
    """
    path = Path(src.path)
    _check_file(path)
    wanted = src.osm_tags or DEFAULT_PLACE_TAGS
    test = Clip(clip) if clip is not None else None
    rows, xy = collect(path, places_key(wanted), lambda: Places(wanted, test), test=test).result()
    return _places_frame(path, wanted, rows, xy)


class Places:
    """Collects the nodes and areas with the wanted tags (an area by a point inside it)."""

    way_keys: tuple[Want, ...] = ()

    def __init__(self, wanted: dict[str, list[str]], test: Clip | None = None) -> None:
        self.wanted, self.test = wanted, test
        self.node_keys: tuple[Want, ...] = tuple(wanted)
        self.area_keys: tuple[Want, ...] = tuple(wanted)
        self.wkb = osmium.geom.WKBFactory()
        self.nodes: list[tuple[dict[str, str | float], tuple[float, float]]] = []
        self.areas: list[tuple[dict[str, str | float], tuple[float, float]]] = []

    def _match(self, tags: osmium.osm.TagList) -> str | None:
        for key, values in self.wanted.items():
            v = tags.get(key)
            if v is not None and (not values or v in values):
                return f"{key}={v}"
        return None

    def way(self, way: osmium.osm.Way) -> None:
        """Ways are not asked for (closed ones come as areas)."""

    def node(self, node: osmium.osm.Node) -> None:
        """Keep a matching node with a location (inside the clip)."""
        cat = self._match(node.tags)
        if cat and node.location.valid() and (
                self.test is None
                or self.test.contains_point(node.location.lon, node.location.lat)):
            self.nodes.append(({"osm": f"n{node.id}", "name": node.tags.get("name") or "",
                                "category": cat, "address": node.tags.get("addr:full") or ""},
                               (node.location.lon, node.location.lat)))

    def area(self, area: osmium.osm.Area) -> None:
        """Keep a matching area (touching the clip) by a point inside it."""
        cat = self._match(area.tags)
        if not cat:
            return
        try:
            geom = shapely.from_wkb(bytes.fromhex(self.wkb.create_multipolygon(area)))
        except RuntimeError:
            return
        if self.test is not None and not self.test.touches_area(geom):
            return
        pt = geom.representative_point()
        kind = "w" if area.from_way() else "r"
        self.areas.append(({"osm": f"{kind}{area.orig_id()}", "name": area.tags.get("name") or "",
                            "category": cat, "address": area.tags.get("addr:full") or ""},
                           (pt.x, pt.y)))

    def result(self) -> tuple[list[dict[str, str | float]], list[tuple[float, float]]]:
        """The rows and their points: the nodes, then the areas."""
        both = self.nodes + self.areas
        return [r for r, _ in both], [xy for _, xy in both]


def _places_frame(path: Path, wanted: dict[str, list[str]], rows: list[dict[str, str | float]],
                  xy: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    """The places schema from the matched nodes and areas (an error when there are none)."""
    if not rows:
        tags_text = ", ".join(f"{k}={'|'.join(v)}" for k, v in wanted.items())
        raise EmptyLayerError(t(f"条件（{tags_text}）に合う地点がありません",
                                f"no features match {tags_text}"), path=path,
                              hint=t("設定の osm_tags を確認してください", "check 'osm_tags'"))
    arr = np.asarray(xy)
    gdf = gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(arr[:, 0], arr[:, 1]),
                           crs="EPSG:4326")
    unnamed = gdf["name"] == ""
    gdf.loc[unnamed, "name"] = gdf.loc[unnamed, "category"] + " (" + gdf.loc[unnamed, "osm"] + ")"
    for col in ("weekdays", "start_time", "end_time", "schedule_note", "description"):
        gdf[col] = ""
    gdf["place_id"] = "osm:" + gdf["osm"]
    gdf["source_file"] = path.name
    cols = ["place_id", "name", "category", "address", "weekdays", "start_time", "end_time",
            "schedule_note", "description", "source_file", "geometry"]
    return gdf[cols].sort_values("place_id").reset_index(drop=True)
