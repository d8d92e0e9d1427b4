"""A region's own basemap, offline: water, coastline, rivers, railways, major roads and place
names, so that the web map and the exported site show where things are without a tile server.

They come from the region's OpenStreetMap file when it has one (:mod:`kennai.io.osm_basemap`);
place names come from its census small areas (町丁・字) when OSM has none. The build stores them
as ``basemap.parquet`` and the vector tiles serve them (:func:`kennai.tiles.region_tile_layers`).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from kennai.config import RegionConfig
from kennai.io.osm_basemap import BASEMAP_COLUMNS, read_osm_basemap
from kennai.region import Region

#: The file of a build holding the basemap.
BASEMAP_FILE = "basemap.parquet"

#: How far beyond the region's outline the basemap reaches (metres): context, not analysis.
BASEMAP_MARGIN_M = 1500.0

#: Basemap kind → (tile layer, its description, lowest zoom it is drawn at).
BASEMAP_LAYERS: dict[str, tuple[str, str, int]] = {
    "water": ("water", "水面 water (natural=water …)", 0),
    "coastline": ("coastline", "海岸線 coastline", 0),
    "river": ("waterways", "河川・水路 rivers and streams", 11),
    "rail": ("rail", "鉄道 railways", 9),
    "road": ("major_roads", "主要道路 major roads (class)", 9),
    "place": ("place_names", "地名 place names (class, name)", 11),
}


def osm_sources(config: RegionConfig) -> list[Path]:
    """The region's OSM files, the network's first, each once."""
    layers = sorted(config.layers.items(), key=lambda kv: kv[0] != "network")
    paths = [Path(src.path) for _, layer in layers for src in layer.sources if src.is_osm]
    return list(dict.fromkeys(paths))


def make_basemap(config: RegionConfig, region: Region) -> gpd.GeoDataFrame:
    """The basemap of a region in EPSG:4326 (``kind``, ``class``, ``name``, geometry): its OSM
    files' features within :data:`BASEMAP_MARGIN_M` of its outline, and place names from its
    census small areas when OSM names no place."""
    clip = gpd.GeoSeries([region.outline.buffer(BASEMAP_MARGIN_M)], crs=region.crs).to_crs(
        "EPSG:4326").iloc[0]
    parts = [read_osm_basemap(path, clip=clip) for path in osm_sources(config)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=BASEMAP_COLUMNS)
    if not (frame["kind"] == "place").any() and region.has_layer("population"):
        frame = pd.concat([frame, _area_names(region.layer("population"))], ignore_index=True)
    return gpd.GeoDataFrame(frame[BASEMAP_COLUMNS], geometry="geometry", crs="EPSG:4326")


def _area_names(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One label per census area name (町丁・字), at a point inside its largest piece."""
    polys = areas[areas.geom_type.isin(["Polygon", "MultiPolygon"]) & areas["name"].notna()
                  & (areas["name"].astype(str).str.strip() != "")]
    if polys.empty:
        return gpd.GeoDataFrame(columns=BASEMAP_COLUMNS, geometry="geometry", crs="EPSG:4326")
    largest = polys.assign(_a=polys.geometry.area).sort_values("_a", ascending=False)
    largest = largest.drop_duplicates("name")
    points = largest.geometry.representative_point().to_crs("EPSG:4326")
    return gpd.GeoDataFrame({"kind": "place", "class": "town_area",
                             "name": largest["name"].astype(str).to_numpy()},
                            geometry=points.values, crs="EPSG:4326")


def load_basemap(region: Region) -> gpd.GeoDataFrame | None:
    """The stored basemap of a built region, or None (a build without one)."""
    if region.build_dir is None or not (region.build_dir / BASEMAP_FILE).is_file():
        return None
    return gpd.read_parquet(region.build_dir / BASEMAP_FILE)
