"""The first pass of a batch: each region's outline, reach and places, and its input digest.

Border handling needs, before any region is built, where every region lies and where its
gathering places are; a rerun needs to know whether a region's inputs changed. A scan reads
only the district (or outline, or census) polygons and the places of a region, never the
network or buildings, so it is cheap next to a build. It runs as a Dask task per region.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from kennai import __version__
from kennai.batch.manifest import BatchItem
from kennai.build import clip_margin_m, input_hashes
from kennai.config import POLYGON_KINDS, RegionConfig, load_config
from kennai.crs import choose_crs_for_layers
from kennai.io.layers import read_districts, read_points, read_population
from kennai.io.vector import read_vector
from kennai.register import PLACE_FIELDS

#: The columns of the places a region hands to its neighbours (EPSG:4326): the places schema.
PLACE_COLUMNS = ("place_id", *PLACE_FIELDS)


@dataclass(frozen=True)
class Scan:
    """What the batch knows of a region before building it.

    ``outline`` and ``reach`` (the outline widened by the largest walking threshold) are in
    EPSG:4326 and None when nothing bounds the region; ``places`` are its own places (EPSG:4326);
    ``digest`` hashes its input files, config and the kennai version; ``input_bytes`` is their
    size (the batch starts the largest regions first, so that they do not end it alone).
    """

    item: BatchItem
    name: str
    title: str
    digest: str
    outline: shapely.Geometry | None
    reach: shapely.Geometry | None
    places: gpd.GeoDataFrame
    input_bytes: int = 0


def _outline_layer(config: RegionConfig) -> gpd.GeoDataFrame | None:
    """The polygons that bound the region, as :attr:`kennai.region.Region.outline` takes them."""
    for kind in ("outline", *POLYGON_KINDS, "population"):
        layer = config.layers.get(kind)
        if layer is None or any(src.is_osm for src in layer.sources):
            continue
        parts = []
        for src in layer.sources:
            if kind in POLYGON_KINDS:
                parts.append(read_districts(src, kind))
            elif kind == "population":
                parts.append(read_population(src))
            else:
                parts.append(read_vector(src.path, layer=src.layer, encoding=src.encoding,
                                         crs=src.crs))
        crs = parts[0].crs
        gdf = gpd.GeoDataFrame(pd.concat([p.to_crs(crs) for p in parts], ignore_index=True),
                               geometry="geometry", crs=crs)
        if gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all() and len(gdf):
            return gdf
    return None


def input_digest(config: RegionConfig, build_dir: Path) -> tuple[str, int]:
    """One hash of a region's input files (sha256 each), config and kennai version, and the
    files' total size."""
    inputs = input_hashes(config, build_dir)
    payload = {"inputs": inputs, "config": config.digest(), "kennai": __version__}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return digest, sum(int(x.get("bytes", 0)) for x in inputs)


def _empty_places() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=str) for c in PLACE_COLUMNS},
                            geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def scan_region(item: BatchItem, regions_root: Path) -> Scan:
    """Scan one region (a Dask task): outline, reach, places and input digest.

    Raises
    ------
    KennaiError
        When the config or one of the files read here is broken (the batch records it).
    """
    config = load_config(item.config)
    digest, size = input_digest(config, regions_root / config.name)
    bounds = _outline_layer(config)
    outline = reach = None
    if bounds is not None:
        crs, _ = choose_crs_for_layers(config.crs, {"outline": bounds}, prefecture=config.prefecture)
        local = shapely.union_all(bounds.to_crs(crs).geometry.values)
        shapes = gpd.GeoSeries([local, local.buffer(clip_margin_m())], crs=crs).to_crs("EPSG:4326")
        outline, reach = shapes.iloc[0], shapes.iloc[1]
    places = _empty_places()
    if "places" in config.layers:
        parts = [read_points(src, "places", clip=reach) for src in config.layers["places"].sources]
        frame = pd.concat([p.to_crs("EPSG:4326") for p in parts], ignore_index=True)
        places = gpd.GeoDataFrame(frame[list(PLACE_COLUMNS)], geometry=frame.geometry.values,
                                  crs="EPSG:4326")
    return Scan(item, config.name, config.title, digest, outline, reach, places, size)
