"""Read what a map needs around the walk network from an OpenStreetMap file: water, coastline,
rivers, railways, major roads and place names, for an offline basemap.

One pass over the file (:mod:`kennai.io.osm_pass`, shared with the build's other readers of the
file when it plans them) gives the ways, water areas and place nodes, each filtered by key in
pyosmium's C++ before Python sees anything; ``clip`` keeps what touches a polygon (EPSG:4326)
as in :mod:`kennai.io.osm`.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import shapely

from kennai.errors import InputError
from kennai.i18n import t
from kennai.io.osm import collect
from kennai.io.osm_clip import Clip, located_nodes
from kennai.io.osm_pass import Want

#: ``highway`` values drawn as major roads, by their class on the map.
MAJOR_ROADS = {"motorway": "motorway", "motorway_link": "motorway", "trunk": "trunk",
               "trunk_link": "trunk", "primary": "primary", "primary_link": "primary",
               "secondary": "secondary", "secondary_link": "secondary", "tertiary": "tertiary"}
#: ``railway`` values drawn as railways.
RAILWAYS = frozenset({"rail", "light_rail", "subway", "narrow_gauge", "monorail", "tram"})
#: ``waterway`` values drawn as rivers (lines).
RIVERS = frozenset({"river", "stream", "canal", "drain", "ditch"})
#: ``place`` values whose names label the map.
PLACES = frozenset({"city", "town", "village", "suburb", "quarter", "neighbourhood", "hamlet",
                    "locality", "island", "islet"})
#: Area tags that are water.
_WATER = {"natural": {"water", "bay", "strait"}, "waterway": {"riverbank", "dock"},
          "landuse": {"reservoir", "basin"}}

#: The columns of a basemap frame.
BASEMAP_COLUMNS = ["kind", "class", "name", "geometry"]


def read_osm_basemap(path: str | Path, *, clip: shapely.Geometry | None = None
                     ) -> gpd.GeoDataFrame:
    """The basemap features of an OSM file (EPSG:4326): ``kind`` is ``water`` (polygons),
    ``coastline``, ``river``, ``rail`` or ``road`` (lines) or ``place`` (named points);
    ``class`` is the tag value (``river``, ``primary``, ``town`` …) and ``name`` its name.

    Parameters
    ----------
    path
        An ``.osm.pbf`` or ``.osm`` file.
    clip
        A polygon in EPSG:4326: keep the features touching it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(t("ファイルが見つかりません", "file not found"), path=path,
                         hint=t("設定の path を確認してください", "check the path in the config"))
    test = Clip(clip) if clip is not None else None
    found = collect(path, BASEMAP, lambda: Basemap(test), test=test, shared_when_clipped=True)
    rows = found.rows()
    if found.test is not test and test is not None and rows:
        # The build's whole-file pass (planned when it reads the file whole anyway), clipped
        # here, afterwards, by the same vertex test the clipped stream applies.
        keep = test.keeps(np.asarray([r[3] for r in rows], dtype=object))
        rows = [r for r, k in zip(rows, keep, strict=True) if k]
    if not rows:
        return gpd.GeoDataFrame(columns=BASEMAP_COLUMNS, geometry="geometry", crs="EPSG:4326")
    kind, cls, name, geom = zip(*rows, strict=True)
    return gpd.GeoDataFrame({"kind": kind, "class": cls, "name": name}, geometry=list(geom),
                            crs="EPSG:4326")


def _line_kind(tags: osmium.osm.TagList) -> tuple[str, str] | None:
    """The basemap kind and class of a way, or None when it is not drawn."""
    if tags.get("natural") == "coastline":
        return "coastline", "coastline"
    waterway = tags.get("waterway")
    if waterway in RIVERS:
        return "river", waterway
    railway = tags.get("railway")
    if railway in RAILWAYS and tags.get("area") != "yes":
        return "rail", railway
    highway = tags.get("highway")
    if highway in MAJOR_ROADS:
        return "road", MAJOR_ROADS[highway]
    return None


#: The (key, value) pairs of the ways :func:`_line_kind` draws: osmium passes only these
#: ways to Python when the basemap reads alone (every highway way passed before, most only to
#: be dropped: 0.23 -> 0.20 s on Ishigaki, 0.42 -> 0.39 s on Malta, the same features).
_LINE_TAGS = (("natural", "coastline"), *(("waterway", v) for v in sorted(RIVERS)),
              *(("railway", v) for v in sorted(RAILWAYS)),
              *(("highway", v) for v in sorted(MAJOR_ROADS)))

#: The shared-pass key of the basemap read (:func:`kennai.io.osm_pass.take`).
BASEMAP: Hashable = "basemap"

_Row = tuple[str, str, str, shapely.Geometry]


class Basemap:
    """Collects the basemap's lines, water areas and named places (touching ``test``)."""

    node_keys: tuple[Want, ...] = ("place",)
    way_keys: tuple[Want, ...] = _LINE_TAGS
    area_keys: tuple[Want, ...] = tuple(_WATER)

    def __init__(self, test: Clip | None = None) -> None:
        self.test = test
        self.wkb = osmium.geom.WKBFactory()
        self.lines: list[_Row] = []
        self.water: list[_Row] = []
        self.places: list[_Row] = []

    def way(self, way: osmium.osm.Way) -> None:
        """Keep a coastline, river, railway or major road with two located nodes or more."""
        what = _line_kind(way.tags)
        if what is None or (kept := located_nodes(way, self.test)) is None:
            return
        _, lon, lat = kept
        self.lines.append((*what, way.tags.get("name") or "",
                           shapely.linestrings(list(zip(lon, lat, strict=True)))))

    def area(self, area: osmium.osm.Area) -> None:
        """Keep a water area whose rings osmium could assemble."""
        tags = area.tags  # a shared pass gives every building too: a plain loop, no generator
        for key, values in _WATER.items():
            cls = tags.get(key)
            if cls in values:
                break
        else:
            return
        try:
            geom = shapely.from_wkb(bytes.fromhex(self.wkb.create_multipolygon(area)))
        except RuntimeError:
            return  # a broken ring in the source data
        if self.test is not None and not self.test.touches_area(geom):
            return
        self.water.append(("water", cls, area.tags.get("name") or "", geom))

    def node(self, node: osmium.osm.Node) -> None:
        """Keep a named place node (city, town, … islet)."""
        cls = node.tags.get("place")
        name = node.tags.get("name")
        if cls not in PLACES or not name or not node.location.valid():
            return
        if self.test is not None and not self.test.contains_point(node.location.lon,
                                                                   node.location.lat):
            return
        self.places.append(("place", cls, name,
                            shapely.Point(node.location.lon, node.location.lat)))

    def rows(self) -> list[_Row]:
        """The features: lines, then water, then places (the order of the map's layers)."""
        return self.lines + self.water + self.places
