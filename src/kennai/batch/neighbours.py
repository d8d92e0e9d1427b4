"""Borders: each region also gets its neighbours' places within reach of its outline.

Residents near a municipal line walk to the salon of the next town. Before the builds, the
batch gives every region the places of the other regions that lie within its reach (its
outline widened by the largest walking threshold, :attr:`kennai.batch.scan.Scan.reach`),
taken from the batch's own place layers. They are written as one GeoJSON per region
(EPSG:4326, coordinates as Python floats so they read back bit for bit) and added to the
region's places layer as a further source, so the build, its stored results, the maps and
the input hashes all include them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from kennai.atomic import atomic_path
from kennai.batch.scan import PLACE_COLUMNS, Scan
from kennai.config import LayerConfig, RegionConfig, Source

#: Columns of the neighbour file as :func:`kennai.io.layers.read_points` reads them.
_FILE_COLUMNS = {"place_id": "gp_id", "name": "name", "category": "category",
                 "address": "address", "weekdays": "利用可能曜日", "start_time": "開始時間",
                 "end_time": "終了時間", "schedule_note": "利用可能日時特記事項",
                 "description": "説明"}


def neighbour_places(scans: list[Scan]) -> dict[str, gpd.GeoDataFrame]:
    """For each region (by code), the other regions' places inside its reach.

    Each place keeps its own id prefixed with the code of the region it belongs to
    (``22212/welfare_halls:3``) and says where it comes from (``municipality``).
    """
    frames = [s.places.assign(municipality=s.item.code) for s in scans if len(s.places)]
    if not frames:
        return {}
    every = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                             crs="EPSG:4326")
    every["place_id"] = every["municipality"] + "/" + every["place_id"].astype(str)
    out: dict[str, gpd.GeoDataFrame] = {}
    xs, ys = shapely.get_x(every.geometry.values), shapely.get_y(every.geometry.values)
    for scan in scans:
        if scan.reach is None:
            continue
        near = shapely.contains_xy(scan.reach, xs, ys) \
            & (every["municipality"] != scan.item.code).to_numpy()
        if near.any():
            out[scan.item.code] = every[near].sort_values(["municipality", "place_id"])
    return out


def _feature(row: pd.Series) -> dict[str, object]:
    props = {_FILE_COLUMNS[c]: str(row[c]) for c in PLACE_COLUMNS}
    props["municipality"] = str(row["municipality"])
    geom = row["geometry"]
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Point", "coordinates": [float(geom.x), float(geom.y)]}}


def write_neighbour_places(places: gpd.GeoDataFrame, path: Path) -> str:
    """Write the places as GeoJSON (only when the content changed); return its sha256."""
    text = json.dumps({"type": "FeatureCollection",
                       "features": [_feature(r) for _, r in places.iterrows()]},
                      ensure_ascii=False, indent=None) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        with atomic_path(path, mkdir=True) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return digest


def with_neighbour_places(config: RegionConfig, path: Path) -> RegionConfig:
    """The config with the neighbour file as one more source of its places layer."""
    source = Source(path=path, name_column="name", id_column="gp_id", category_column="category")
    layers = dict(config.layers)
    old = layers.get("places")
    layers["places"] = LayerConfig(sources=[*(old.sources if old else []), source],
                                   title=old.title if old else None,
                                   attribution=old.attribution if old else None)
    return config.model_copy(update={"layers": layers})
