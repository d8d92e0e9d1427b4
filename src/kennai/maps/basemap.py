"""A basemap drawn from the region's own data: roads by class, rail, water, coast, buildings.

Printed maps never fetch online tiles: roads come from the walk network (``highway`` class),
buildings from the ``buildings`` layer, 町丁 boundaries and names from the population layer,
and rail, rivers, water areas and the coastline from the region's OSM file when the network is
read from one (read with pyosmium in the style of :mod:`kennai.io.osm`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import geopandas as gpd
import numpy as np
import shapely

from kennai.atomic import atomic_dir
from kennai.errors import KennaiError
from kennai.region import Region
from kennai.roads import road_class

if TYPE_CHECKING:  # the OSM reader only when the build has not kept the features yet
    import osmium

_RAIL = frozenset({"rail", "light_rail", "subway", "tram", "narrow_gauge", "monorail"})
_WATERWAY_LINES = frozenset({"river", "stream", "canal", "drain", "ditch"})
_EMPTY_LINES = ("geometry",)


@dataclass(frozen=True)
class Basemap:
    """Background layers in the region's CRS (each may be empty).

    ``roads`` has a ``cls`` column (one of :data:`kennai.roads.ROAD_CLASSES`); ``towns`` has ``name``.
    ``osm`` says whether any layer came from OpenStreetMap (for the attribution).
    """

    roads: gpd.GeoDataFrame
    rail: gpd.GeoDataFrame
    waterways: gpd.GeoDataFrame
    water: gpd.GeoDataFrame
    coastline: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    osm: bool

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The layers by name, for drawing or exporting."""
        return {"roads": self.roads, "rail": self.rail, "waterways": self.waterways,
                "water": self.water, "coastline": self.coastline, "buildings": self.buildings,
                "towns": self.towns}

    def clip(self, bbox: tuple[float, float, float, float]) -> Basemap:
        """Only the features touching ``bbox`` (minx, miny, maxx, maxy), for fast drawing."""
        box = shapely.box(*bbox)

        def _clip(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
            if gdf.empty:
                return gdf
            return gdf.iloc[gdf.sindex.query(box, predicate="intersects")]

        return Basemap(**{k: _clip(v) for k, v in self.layers().items()}, osm=self.osm)


def _empty(crs: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kind": np.array([], dtype=object)},
                            geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _way_line(way: osmium.osm.Way) -> shapely.LineString | None:
    pts = [(nd.location.lon, nd.location.lat) for nd in way.nodes if nd.location.valid()]
    return shapely.linestrings(pts) if len(pts) >= 2 else None


@functools.lru_cache(maxsize=4)
def _read_osm_features_cached(path: str, _mtime_ns: int) -> tuple[gpd.GeoDataFrame, ...]:
    import osmium

    from kennai.io.osm import osm_error

    rail: list[tuple[str, shapely.LineString]] = []
    waterways: list[tuple[str, shapely.LineString]] = []
    coast: list[tuple[str, shapely.LineString]] = []
    try:
        fp = (osmium.FileProcessor(path, osmium.osm.NODE | osmium.osm.WAY)
              .with_locations()
              .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
              .with_filter(osmium.filter.KeyFilter("railway", "waterway", "natural")))
        for obj in fp:
            way = cast(osmium.osm.Way, obj)
            tags = way.tags
            rw, ww, nat = tags.get("railway"), tags.get("waterway"), tags.get("natural")
            target = (rail if rw in _RAIL else waterways if ww in _WATERWAY_LINES
                      else coast if nat == "coastline" else None)
            if target is None:
                continue
            line = _way_line(way)
            if line is not None:
                target.append((rw or ww or nat or "", line))
        wkb = osmium.geom.WKBFactory()
        water: list[tuple[str, bytes]] = []
        for obj in (osmium.FileProcessor(path)
                    .with_areas(osmium.filter.KeyFilter("natural", "waterway", "landuse", "water"))
                    .with_filter(osmium.filter.EntityFilter(osmium.osm.AREA))):
            area = cast(osmium.osm.Area, obj)
            tags = area.tags
            if not (tags.get("natural") == "water" or tags.get("waterway") == "riverbank"
                    or tags.get("landuse") in {"reservoir", "basin"} or "water" in tags):
                continue
            try:
                water.append(("water", bytes.fromhex(wkb.create_multipolygon(area))))
            except RuntimeError:
                continue  # a broken ring in the source; osmium could not assemble it
    except (RuntimeError, osmium.InvalidLocationError) as exc:
        raise osm_error(Path(path), exc) from None

    def frame(rows: Sequence[tuple[str, object]], wkb_geoms: bool = False) -> gpd.GeoDataFrame:
        geoms = [g for _, g in rows]
        geom = shapely.from_wkb(geoms) if wkb_geoms else np.asarray(geoms, dtype=object)
        return gpd.GeoDataFrame({"kind": [k for k, _ in rows]},
                                geometry=gpd.GeoSeries(geom, crs="EPSG:4326"), crs="EPSG:4326")

    return frame(rail), frame(waterways), frame(water, wkb_geoms=True), frame(coast)


def read_osm_features(path: str | Path) -> dict[str, gpd.GeoDataFrame]:
    """Rail lines, waterway lines, water areas and coastline of an OSM file, in EPSG:4326.

    Results are cached per file and modification time, so an atlas reads the file once.
    """
    path = Path(path)
    rail, waterways, water, coast = _read_osm_features_cached(str(path), path.stat().st_mtime_ns)
    return {"rail": rail, "waterways": waterways, "water": water, "coastline": coast}


def _roads(region: Region) -> gpd.GeoDataFrame:
    net = region.network
    if net is None:
        return _empty(region.crs).assign(cls=np.array([], dtype=object))
    edges = net.edges_frame()[["highway", "geometry"]]
    return edges.assign(cls=road_class(edges["highway"].to_numpy()))


def _osm_sources(region: Region) -> list[Path]:
    paths = []
    for kind in ("network", "buildings"):
        if kind in region.config.layers:
            paths += [Path(s.path) for s in region.config.layers[kind].sources
                      if s.is_osm]
    return list(dict.fromkeys(paths))


#: Where a build keeps the layers a printed map makes from its OSM file and network, projected:
#: a map reads them back instead of parsing the OSM file and loading the network (bump the
#: number when what is stored changes). A build's folder is made once per set of inputs.
CACHE_DIR = "maps/basemap-1"
_MADE = ("roads", "rail", "waterways", "water", "coastline")


def _made_layers(region: Region, osm_files: list[Path]) -> dict[str, gpd.GeoDataFrame]:
    """The roads (from the network) and the OSM features, in the region's CRS."""
    crs = region.crs
    features = {k: _empty(crs) for k in ("rail", "waterways", "water", "coastline")}
    if osm_files:
        found = read_osm_features(osm_files[0])
        features = {k: v.to_crs(crs) for k, v in found.items()}
    return {"roads": _roads(region), **features}


def _cached_layers(region: Region, osm_files: list[Path]) -> dict[str, gpd.GeoDataFrame]:
    """:func:`_made_layers`, read from the build's cache when it has them, else made and kept
    there for the next map (a build that cannot be written to is only not cached)."""
    if region.build_dir is None:
        return _made_layers(region, osm_files)
    folder = region.build_dir / CACHE_DIR
    try:
        return {k: gpd.read_parquet(folder / f"{k}.parquet") for k in _MADE}
    except (OSError, ValueError):  # not cached yet (or a cache that cannot be read)
        pass
    layers = _made_layers(region, osm_files)
    try:
        with atomic_dir(folder) as tmp:
            for name, frame in layers.items():
                frame.to_parquet(tmp / f"{name}.parquet")
    except (OSError, KennaiError):
        pass
    return layers


def load_basemap(region: Region) -> Basemap:
    """The region's basemap in its CRS, from its own layers and OSM file (no online tiles)."""
    crs = region.crs
    osm_files = [p for p in _osm_sources(region) if p.is_file()]
    layers = _cached_layers(region, osm_files)
    buildings = (region.layer("buildings")[["geometry"]] if region.has_layer("buildings")
                 else _empty(crs))
    towns = _empty(crs).assign(name=np.array([], dtype=object))
    if region.has_layer("population"):
        pop = region.layer("population")
        if pop.geom_type.isin(["Polygon", "MultiPolygon"]).all():
            towns = pop[["name", "geometry"]]
    return Basemap(buildings=buildings, towns=towns, osm=bool(osm_files), **layers)
