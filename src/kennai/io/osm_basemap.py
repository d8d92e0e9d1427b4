"""Read what a map needs around the walk network from an OpenStreetMap file: water, coastline,
rivers, railways, major roads and place names, for an offline basemap.

One pass over the ways (with node locations), one over the water areas and one over the place
nodes, each filtered by key in pyosmium's C++ before Python sees anything; ``clip`` keeps what
touches a polygon (EPSG:4326) as in :mod:`kennai.io.osm`.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import osmium
import shapely

from kennai.errors import InputError
from kennai.i18n import t
from kennai.io.osm import location_storage, osm_error
from kennai.io.osm_clip import Clip, areas_of, nodes_of, ways_of

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
    rows: list[tuple[str, str, str, shapely.Geometry]] = []
    try:
        _lines(path, test, rows)
        _water(path, test, rows)
        _places(path, test, rows)
    except (RuntimeError, osmium.InvalidLocationError) as exc:
        raise osm_error(path, exc) from None
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
#: ways to Python (every highway way passed before, most only to be dropped; the basemap read
#: went 0.23 -> 0.20 s on Ishigaki, 0.42 -> 0.39 s on Malta, the same features).
_LINE_TAGS = (("natural", "coastline"), *(("waterway", v) for v in sorted(RIVERS)),
              *(("railway", v) for v in sorted(RAILWAYS)),
              *(("highway", v) for v in sorted(MAJOR_ROADS)))


def _lines(path: Path, test: Clip | None, rows: list[tuple[str, str, str, shapely.Geometry]]
           ) -> None:
    with location_storage(test) as storage:
        fp = (osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
              .with_locations(storage)
              .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
              .with_filter(osmium.filter.TagFilter(*_LINE_TAGS)))
        for way in ways_of(fp):
            what = _line_kind(way.tags)
            if what is None:
                continue
            ok = [nd for nd in way.nodes if nd.location.valid()]
            if len(ok) < 2:
                continue
            lon = [nd.location.lon for nd in ok]
            lat = [nd.location.lat for nd in ok]
            if test is not None and not test.any_inside(lon, lat):
                continue
            rows.append((*what, way.tags.get("name") or "",
                         shapely.linestrings(list(zip(lon, lat, strict=True)))))


def _water(path: Path, test: Clip | None, rows: list[tuple[str, str, str, shapely.Geometry]]
           ) -> None:
    wkb = osmium.geom.WKBFactory()
    keys = tuple(_WATER)
    with location_storage(test) as storage:
        fp = (osmium.FileProcessor(str(path))
              .with_locations(storage)
              .with_areas(osmium.filter.KeyFilter(*keys))
              .with_filter(osmium.filter.EntityFilter(osmium.osm.AREA))
              .with_filter(osmium.filter.KeyFilter(*keys)))
        for area in areas_of(fp):
            cls = next((v for k, vs in _WATER.items() if (v := area.tags.get(k)) in vs), None)
            if cls is None:
                continue
            try:
                geom = shapely.from_wkb(bytes.fromhex(wkb.create_multipolygon(area)))
            except RuntimeError:
                continue  # a broken ring in the source data
            if test is not None and not test.touches_area(geom):
                continue
            rows.append(("water", cls, area.tags.get("name") or "", geom))


def _places(path: Path, test: Clip | None, rows: list[tuple[str, str, str, shapely.Geometry]]
            ) -> None:
    for node in nodes_of(osmium.FileProcessor(str(path), osmium.osm.NODE)
                         .with_filter(osmium.filter.KeyFilter("place"))):
        cls = node.tags.get("place")
        name = node.tags.get("name")
        if cls not in PLACES or not name or not node.location.valid():
            continue
        if test is not None and not test.contains_point(node.location.lon, node.location.lat):
            continue
        rows.append(("place", cls, name, shapely.Point(node.location.lon, node.location.lat)))
