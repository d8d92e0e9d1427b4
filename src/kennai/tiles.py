"""Mapbox Vector Tiles (MVT) of a region's layers, with TileJSON and two caches.

A :class:`TileSet` holds the layers to draw in Web Mercator (EPSG:3857) with a spatial index
each. A tile is cut by clipping every layer to the tile (plus a small buffer so strokes do not
stop at tile edges), simplifying to half a pixel at that zoom, scaling to the tile's 4096-unit
grid and encoding with ``mapbox-vector-tile``. Rendered tiles are kept in an in-memory LRU and
on disk under the build (keyed by the build's version, so a rebuild never serves old tiles).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import mercantile
import numpy as np
import pandas as pd
import shapely

from kennai.errors import NotFoundError
from kennai.geojson import _plain
from kennai.i18n import t

#: Tile grid size (MVT default) and the clip buffer in grid units (of 4096).
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
#: Half a pixel of a 512-px tile in grid units: finer detail is invisible.
_SIMPLIFY_GRID_UNITS = EXTENT / 512 / 2
#: OSM highway values grouped into basemap road classes.
_ROAD_CLASSES = {
    "major": {"motorway", "trunk", "primary", "secondary", "motorway_link", "trunk_link",
              "primary_link", "secondary_link"},
    "minor": {"tertiary", "tertiary_link", "unclassified", "residential", "living_street",
              "service", "road"},
}


@dataclass
class TileLayer:
    """One layer of a tile set: features in EPSG:3857 and the zooms it is drawn at.

    ``frame`` keeps only the properties to put in the tiles (plus the geometry).
    """

    name: str
    frame: gpd.GeoDataFrame
    minzoom: int = 0
    maxzoom: int = MAX_ZOOM
    description: str = ""
    _tree: shapely.STRtree | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.frame.crs is not None and not self.frame.crs.equals("EPSG:3857"):
            self.frame = self.frame.to_crs("EPSG:3857")
        geoms = self.frame.geometry.values
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        self.frame = self.frame.loc[keep].reset_index(drop=True)
        self._tree = shapely.STRtree(self.frame.geometry.values)

    @property
    def fields(self) -> dict[str, str]:
        """TileJSON ``fields``: property name → ``String``/``Number``/``Boolean``."""
        out = {}
        for col in self.frame.columns:
            if col == self.frame.geometry.name:
                continue
            dtype = self.frame[col].dtype
            out[str(col)] = ("Boolean" if pd.api.types.is_bool_dtype(dtype) else
                             "Number" if pd.api.types.is_numeric_dtype(dtype) else "String")
        return out

    def features(self, bounds: tuple[float, float, float, float], z: int
                 ) -> list[dict[str, Any]]:
        """The layer's features cut to ``bounds`` (EPSG:3857) and scaled to the tile grid."""
        if not self.minzoom <= z <= self.maxzoom:
            return []
        west, south, east, north = bounds
        scale = EXTENT / (east - west)
        pad = BUFFER / scale
        box = (west - pad, south - pad, east + pad, north + pad)
        assert self._tree is not None
        idx = np.sort(self._tree.query(shapely.box(*box)))
        if not len(idx):
            return []
        geoms = self.frame.geometry.values[idx]
        points = shapely.get_type_id(geoms) == 0
        clipped = np.where(points, geoms, shapely.clip_by_rect(geoms, *box))
        simplified = np.where(points, clipped,
                              shapely.simplify(clipped, _SIMPLIFY_GRID_UNITS / scale,
                                               preserve_topology=True))
        grid = shapely.transform(simplified, lambda xy: np.column_stack(
            ((xy[:, 0] - west) * scale, (north - xy[:, 1]) * scale)))
        props = self.frame.drop(columns=self.frame.geometry.name).iloc[idx]
        out = []
        for fid, geom, (_, row) in zip(idx, grid, props.iterrows(), strict=True):
            if geom is None or geom.is_empty or (geom.geom_type.endswith("Polygon")
                                                 and geom.area < 1.0):
                continue
            clean = {str(k): v for k, v in ((k, _plain(v)) for k, v in row.items())
                     if v is not None and v != ""}
            # Stable ids (row numbers) let the web map highlight a feature across tiles.
            out.append({"geometry": geom, "properties": clean, "id": int(fid)})
        return out


def check_tile(z: int, x: int, y: int) -> None:
    """Raise :class:`NotFoundError` unless ``z/x/y`` is a tile of the XYZ grid."""
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise NotFoundError(t(f"タイル {z}/{x}/{y} はありません", f"there is no tile {z}/{x}/{y}"),
                            feature=f"{z}/{x}/{y}",
                            hint=t(f"ズームは 0〜{MAX_ZOOM}、x と y は 0〜2^z−1 です",
                                   f"zoom is 0–{MAX_ZOOM}, x and y are 0–2^z−1"))


def encode_tile(layers: list[TileLayer], z: int, x: int, y: int) -> bytes:
    """Render one tile of ``layers`` as MVT bytes (empty bytes when nothing falls in it)."""
    check_tile(z, x, y)
    b = mercantile.xy_bounds(x, y, z)
    bounds = (b.left, b.bottom, b.right, b.top)
    payload = []
    for layer in layers:
        feats = layer.features(bounds, z)
        if feats:
            payload.append({"name": layer.name, "features": feats})
    if not payload:
        return b""
    return mapbox_vector_tile.encode(payload, default_options={
        "y_coord_down": True, "extents": EXTENT,
        "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid})


class TileSet:
    """The tiles of a set of layers, with an in-memory LRU and an optional disk cache.

    Parameters
    ----------
    layers
        What to draw.
    version
        A string that changes whenever the data changes (e.g. the build's time and digest);
        it keys the disk cache.
    cache_dir
        Folder for cached tiles (``None``: memory only).
    memory_tiles
        How many tiles the in-memory LRU keeps.
    """

    def __init__(self, layers: list[TileLayer], *, version: str, cache_dir: Path | None = None,
                 memory_tiles: int = 4096) -> None:
        self.layers = layers
        self.version = hashlib.sha256(
            (version + "|" + "|".join(f"{ly.name}:{len(ly.frame)}" for ly in layers)).encode()
        ).hexdigest()[:16]
        self.cache_dir = cache_dir / self.version if cache_dir is not None else None
        self.memory_tiles = memory_tiles
        self._lru: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = {"memory_hits": 0, "disk_hits": 0, "rendered": 0}

    def render(self, z: int, x: int, y: int) -> bytes:
        """Render a tile without any cache."""
        return encode_tile(self.layers, z, x, y)

    def tile(self, z: int, x: int, y: int) -> bytes:
        """A tile from the memory cache, else the disk cache, else freshly rendered."""
        key = (z, x, y)
        with self._lock:
            data = self._lru.get(key)
            if data is not None:
                self._lru.move_to_end(key)
                self.stats["memory_hits"] += 1
                return data
        check_tile(z, x, y)
        path = self.cache_dir / str(z) / str(x) / f"{y}.mvt" if self.cache_dir else None
        if path is not None and path.is_file():
            data = path.read_bytes()
            self.stats["disk_hits"] += 1
        else:
            data = self.render(z, x, y)
            self.stats["rendered"] += 1
            if path is not None:
                _write_atomic(path, data)
        with self._lock:
            self._lru[key] = data
            while len(self._lru) > self.memory_tiles:
                self._lru.popitem(last=False)
        return data

    @property
    def minzoom(self) -> int:
        return min((ly.minzoom for ly in self.layers), default=0)

    def bounds(self) -> list[float]:
        """``[west, south, east, north]`` in degrees over every layer."""
        frames = [ly.frame for ly in self.layers if len(ly.frame)]
        if not frames:
            return [-180.0, -85.0511, 180.0, 85.0511]
        b = np.vstack([f.total_bounds for f in frames])
        west, south = mercantile.lnglat(b[:, 0].min(), b[:, 1].min())
        east, north = mercantile.lnglat(b[:, 2].max(), b[:, 3].max())
        return [round(float(v), 6) for v in (west, south, east, north)]

    def tilejson(self, tiles_url: str, *, name: str, attribution: str = "",
                 maxzoom: int = 18) -> dict[str, Any]:
        """A TileJSON 3.0.0 document for the set (``tiles_url`` has ``{z}/{x}/{y}``)."""
        west, south, east, north = self.bounds()
        return {
            "tilejson": "3.0.0",
            "name": name,
            "version": "1.0.0",
            "attribution": attribution,
            "scheme": "xyz",
            "format": "pbf",
            "tiles": [tiles_url],
            "minzoom": 0,
            "maxzoom": maxzoom,
            "bounds": [west, south, east, north],
            "center": [round((west + east) / 2, 6), round((south + north) / 2, 6), 13],
            "vector_layers": [
                {"id": ly.name, "description": ly.description, "minzoom": ly.minzoom,
                 "maxzoom": min(ly.maxzoom, maxzoom), "fields": ly.fields}
                for ly in self.layers],
        }

    def tiles_in(self, minzoom: int, maxzoom: int) -> Iterator[tuple[int, int, int]]:
        """Every ``(z, x, y)`` covering the set's bounds between two zooms."""
        west, south, east, north = self.bounds()
        for tile in mercantile.tiles(west, south, east, north, range(minzoom, maxzoom + 1)):
            yield tile.z, tile.x, tile.y


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def road_class(highway: pd.Series) -> pd.Series:
    """OSM ``highway`` values → basemap classes ``major``/``minor``/``path``."""
    values = highway.fillna("").astype(str)
    out = pd.Series("path", index=highway.index, dtype=object)
    for cls, tags in _ROAD_CLASSES.items():
        out[values.isin(tags)] = cls
    return out


def region_tile_layers(region: Any) -> list[TileLayer]:
    """The tile layers of a built region: districts, plans, places, basemap roads, buildings.

    Parameters
    ----------
    region
        A :class:`kennai.region.Region`.
    """
    layers: list[TileLayer] = []
    if region.has_layer("buildings"):
        b = region.layer("buildings")
        layers.append(TileLayer("buildings", gpd.GeoDataFrame(geometry=b.geometry.values,
                                                               crs=b.crs),
                                minzoom=14, description="建物 buildings"))
    net = region.network
    if net is not None:
        edges = net.edges_frame()
        layers.append(TileLayer("roads", gpd.GeoDataFrame(
            {"class": road_class(edges["highway"]), "highway": edges["highway"].astype(str)},
            geometry=edges.geometry.values, crs=edges.crs), minzoom=10,
            description="道路（歩行ネットワーク） roads of the walk network"))
    if region.has_layer("population"):
        p = region.layer("population")
        layers.append(TileLayer("population", p[["unit_id", "name", "population",
                                                 "population_65plus", "geometry"]],
                                minzoom=10, description="小地域人口 census small areas"))
    for kind, desc in (("elementary", "小学校区 elementary school districts"),
                       ("junior_high", "中学校区 junior-high school districts"),
                       ("neighbourhood", "自治会 neighbourhood associations")):
        if region.has_layer(kind):
            layers.append(TileLayer(kind, region.layer(kind)[["name", "geometry"]],
                                    description=desc))
    labels = [region.layer(kind)[["name", "geometry"]].assign(kind=kind)
              for kind in ("elementary", "junior_high") if region.has_layer(kind)]
    if labels:
        frame = pd.concat(labels, ignore_index=True)
        layers.append(TileLayer("district_labels", gpd.GeoDataFrame(
            frame[["kind", "name"]], geometry=frame.geometry.representative_point().values,
            crs=labels[0].crs), description="区域名の位置 one label point per district (kind, name)"))
    plans = [region.plan(name).assign(plan=name)[["plan", "name", "geometry"]]
             for name in region.plan_names]
    if plans:
        layers.append(TileLayer("plans", gpd.GeoDataFrame(pd.concat(plans, ignore_index=True),
                                                          crs=plans[0].crs),
                                description="第2層圏域の案 layer-2 plans (plan, name)"))
    for kind, desc in (("candidates", "候補地 candidate sites"),
                       ("places", "通いの場 gathering places (by category)")):
        if region.has_layer(kind):
            layers.append(TileLayer(kind, region.layer(kind)[["place_id", "name", "category",
                                                              "geometry"]], description=desc))
    return layers
