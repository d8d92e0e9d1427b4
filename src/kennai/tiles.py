"""Mapbox Vector Tiles (MVT) of a region's layers, with TileJSON and two caches.

A :class:`TileSet` holds the layers to draw in Web Mercator (EPSG:3857) with a spatial index
each. A tile is cut by clipping every layer to the tile (plus a small buffer so strokes do not
stop at tile edges), simplifying to half a pixel at that zoom, dropping polygons and lines
smaller than a pixel (they draw as nothing), scaling to the tile's 4096-unit grid (which
quantises the coordinates) and encoding with ``mapbox-vector-tile``. Rendered tiles are kept in
an in-memory LRU and on disk under the build (keyed by the build's version, so a rebuild never
serves old tiles).

Tile size policy: no tile is larger than :data:`MAX_TILE_BYTES`. A tile over it is cut again
with coarser detail (simplified to 1, 2, 4 … pixels and dropping what is smaller, see
:data:`COARSER`), and if it still does not fit, whole layers are left out of that tile in the
order of :data:`DROP_FIRST` (the least needed to read the map first). A layer's points are
never thinned: gathering places and labels always show.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import mapbox_vector_tile
import mercantile
import numpy as np
import pandas as pd
import shapely

from kennai.atomic import atomic_path
from kennai.basemap import BASEMAP_LAYERS, load_basemap
from kennai.errors import EmptyLayerError, InputError, NotFoundError
from kennai.geojson import plain_value
from kennai.i18n import t
from kennai.progress import Progress, no_progress
from kennai.roads import road_class
from kennai.schedule import is_weekly

if TYPE_CHECKING:  # types only: serving tiles needs neither the access engine nor a build
    from kennai.access.results import AccessResults
    from kennai.region import Region

#: Tile grid size (MVT default) and the clip buffer in grid units (of 4096).
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
#: Half a pixel of a 512-px tile in grid units: finer detail is invisible.
_SIMPLIFY_GRID_UNITS = EXTENT / 512 / 2
#: One pixel of a 512-px tile in grid units: a line shorter, or a polygon smaller, draws nothing.
_PIXEL = EXTENT / 512
#: The largest tile served or exported (bytes).
MAX_TILE_BYTES = 500_000
#: Coarser and coarser detail (a multiple of the default) tried for a tile over the cap.
COARSER = (2.0, 4.0, 8.0, 16.0)
#: Layers left out of an over-size tile, in this order, once coarser detail is not enough.
DROP_FIRST = ("buildings", "roads", "population", "waterways", "major_roads", "rail",
              "neighbourhood", "gaps")


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

    def features(self, bounds: tuple[float, float, float, float], z: int, *,
                 detail: float = 1.0) -> list[dict[str, Any]]:
        """The layer's features cut to ``bounds`` (EPSG:3857) and scaled to the tile grid,
        simplified to ``detail`` half-pixels and without lines or polygons under ``detail``
        pixels."""
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
                              shapely.simplify(clipped, detail * _SIMPLIFY_GRID_UNITS / scale,
                                               preserve_topology=True))
        grid = shapely.transform(simplified, lambda xy: np.column_stack(
            ((xy[:, 0] - west) * scale, (north - xy[:, 1]) * scale)))
        props = self.frame.drop(columns=self.frame.geometry.name).iloc[idx]
        out = []
        smallest = detail * _PIXEL
        for fid, geom, (_, row) in zip(idx, grid, props.iterrows(), strict=True):
            if geom is None or geom.is_empty or (
                    geom.geom_type.endswith("Polygon") and geom.area < smallest * smallest) or (
                    geom.geom_type.endswith("LineString") and geom.length < smallest):
                continue
            clean = {str(k): v for k, v in ((k, plain_value(v)) for k, v in row.items())
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


def encode_tile(layers: list[TileLayer], z: int, x: int, y: int, *,
                max_bytes: int = MAX_TILE_BYTES) -> bytes:
    """Render one tile of ``layers`` as MVT bytes (empty bytes when nothing falls in it), at
    most ``max_bytes`` long by the size policy of this module."""
    check_tile(z, x, y)
    b = mercantile.xy_bounds(x, y, z)
    bounds = (b.left, b.bottom, b.right, b.top)
    data = _encode(layers, bounds, z, 1.0)
    for detail in COARSER:
        if len(data) <= max_bytes:
            return data
        data = _encode(layers, bounds, z, detail)
    kept = list(layers)
    for name in DROP_FIRST:
        if len(data) <= max_bytes:
            break
        kept = [layer for layer in kept if layer.name != name]
        data = _encode(kept, bounds, z, COARSER[-1])
    return data


def _encode(layers: list[TileLayer], bounds: tuple[float, float, float, float], z: int,
            detail: float) -> bytes:
    payload = []
    for layer in layers:
        feats = layer.features(bounds, z, detail=detail)
        if feats:
            payload.append({"name": layer.name, "features": feats})
    if not payload:
        return b""
    return mapbox_vector_tile.encode(payload, default_options={
        "y_coord_down": True, "extents": EXTENT,
        "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid})


class TileLRU:
    """A thread-safe in-memory LRU of encoded tiles keyed by ``(z, x, y)``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: tuple[int, int, int]) -> bytes | None:
        """The tile, marked as most recently used, or ``None``."""
        with self._lock:
            data = self._data.get(key)
            if data is not None:
                self._data.move_to_end(key)
            return data

    def put(self, key: tuple[int, int, int], data: bytes) -> None:
        """Keep a tile, dropping the least recently used beyond ``size``."""
        with self._lock:
            self._data[key] = data
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


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
        self.memory = TileLRU(memory_tiles)
        self.stats = {"memory_hits": 0, "disk_hits": 0, "rendered": 0}

    def render(self, z: int, x: int, y: int) -> bytes:
        """Render a tile without any cache."""
        return encode_tile(self.layers, z, x, y)

    def cached(self, z: int, x: int, y: int) -> bytes | None:
        """The tile when the memory cache holds it (cheap: no disk, no rendering), else ``None``.

        Lets an async server answer hits on its event loop and send only misses to a thread.
        """
        data = self.memory.get((z, x, y))
        if data is not None:
            self.stats["memory_hits"] += 1
        return data

    def tile(self, z: int, x: int, y: int) -> bytes:
        """A tile from the memory cache, else the disk cache, else freshly rendered."""
        data = self.cached(z, x, y)
        if data is not None:
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
        self.memory.put((z, x, y), data)
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


def export_pmtiles(tiles: TileSet, path: Path, *, minzoom: int = 0, maxzoom: int = 16,
                   name: str = "", attribution: str = "",
                   progress: Progress = no_progress) -> dict[str, Any]:
    """Write the set's tiles between two zooms into one PMTiles v3 archive (static hosting).

    The tiles are the ones the server sends (same cache, same bytes, uncompressed MVT); empty
    tiles are left out, identical tiles stored once. The archive is written to a temporary file
    beside ``path`` and moved into place, so a failed export never leaves half a file.

    Parameters
    ----------
    tiles
        The tile set (e.g. the served one, so its cache is reused).
    path
        The ``.pmtiles`` file to write.
    minzoom, maxzoom
        Zoom range (0–22, ``minzoom <= maxzoom``).
    name, attribution
        Stored in the archive's metadata (with the TileJSON ``vector_layers``).
    progress
        Called with 「ベクトルタイル」/"vector tiles", tiles done and tiles in all, now and then.

    Returns
    -------
    dict
        ``tiles`` written, ``addressed`` (tiles looked at), ``bytes`` and the zooms.
    """
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    if not 0 <= minzoom <= maxzoom <= MAX_ZOOM:
        raise InputError(t(f"ズーム {minzoom}〜{maxzoom} は使えません",
                           f"bad zoom range {minzoom}–{maxzoom}"),
                         feature=f"{minzoom}-{maxzoom}",
                         hint=t(f"0 ≤ minzoom ≤ maxzoom ≤ {MAX_ZOOM} にしてください",
                                f"use 0 ≤ minzoom ≤ maxzoom ≤ {MAX_ZOOM}"))
    order = sorted((zxy_to_tileid(z, x, y), z, x, y) for z, x, y in tiles.tiles_in(minzoom, maxzoom))
    path = Path(path)
    written = 0
    label = t("ベクトルタイル", "vector tiles").get()
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        writer = Writer(f)
        for i, (tile_id, z, x, y) in enumerate(order):
            data = tiles.tile(z, x, y)
            if data:
                writer.write_tile(tile_id, data)
                written += 1
            if i % 256 == 0 or i == len(order) - 1:
                progress(label, i + 1, len(order))
        if not written:
            raise EmptyLayerError(t(f"ズーム {minzoom}〜{maxzoom} に描くものがありません",
                                    f"nothing to draw at zooms {minzoom}–{maxzoom}"),
                                  path=path, hint=t("ズームの範囲を確認してください",
                                                    "check the zoom range"))
        tj = tiles.tilejson("", name=name, attribution=attribution, maxzoom=maxzoom)
        west, south, east, north = tj["bounds"]
        lon, lat, _ = tj["center"]
        e7 = 10_000_000
        writer.finalize({
            "tile_type": TileType.MVT, "tile_compression": Compression.NONE,
            "min_lon_e7": int(west * e7), "min_lat_e7": int(south * e7),
            "max_lon_e7": int(east * e7), "max_lat_e7": int(north * e7),
            "center_zoom": max(minzoom, min(maxzoom, 13)),
            "center_lon_e7": int(lon * e7), "center_lat_e7": int(lat * e7),
        }, {"name": name, "attribution": attribution, "format": "pbf", "minzoom": minzoom,
            "maxzoom": maxzoom, "vector_layers": tj["vector_layers"]})
    return {"path": str(path), "tiles": written, "addressed": len(order),
            "bytes": path.stat().st_size, "minzoom": minzoom, "maxzoom": maxzoom}


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path, mkdir=True) as tmp:
        tmp.write_bytes(data)


def region_tile_layers(region: Region) -> list[TileLayer]:
    """The tile layers of a built region: its basemap (water, rail, major roads, place names),
    districts, plans, places, the walk network's roads, buildings.

    Parameters
    ----------
    region
        A :class:`kennai.region.Region`.
    """
    layers: list[TileLayer] = []
    basemap = load_basemap(region)
    if basemap is not None:
        for kind, (name, desc, minzoom) in BASEMAP_LAYERS.items():
            part = basemap[basemap["kind"] == kind]
            if len(part):
                layers.append(TileLayer(name, part[["class", "name", "geometry"]].reset_index(
                    drop=True), minzoom=minzoom, description=desc))
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
                       ("places", "通いの場 gathering places (by category; weekly: open at least "
                                  "weekly)")):
        if region.has_layer(kind):
            pts = region.layer(kind)
            freq = pts["frequency"] if "frequency" in pts.columns else [None] * len(pts)
            weekly = [is_weekly(f, d) for f, d in zip(freq, pts["weekdays"], strict=True)] \
                if "weekdays" in pts.columns else [False] * len(pts)
            layers.append(TileLayer(kind, pts[["place_id", "name", "category", "geometry"]].assign(
                weekly=weekly), description=desc))
    return layers


def access_tile_layers(results: AccessResults) -> list[TileLayer]:
    """Tile layers of stored access results: the ranked gap polygons (default threshold).

    Parameters
    ----------
    results
        A :class:`kennai.access.AccessResults`.
    """
    gaps = getattr(results, "gaps", None)
    if gaps is None or gaps.empty:
        return []
    cols = [c for c in gaps.columns if c != gaps.geometry.name]  # kennai.access.GAP_COLUMNS
    threshold = results.options.gap_threshold_m
    return [TileLayer("gaps", gaps[[*cols, gaps.geometry.name]], minzoom=10,
                      description=f"徒歩 {threshold:g} m 圏外の人口の多い所 gaps beyond "
                                  f"{threshold:g} m (rank, population)")]


def region_tile_set(region: Region, *, access: AccessResults | None = None) -> TileSet:
    """The vector tile set of a built region, as the server sends it and ``kennai export-tiles``
    and ``kennai export-site`` write it: its layers plus the access gaps (the stored ones when
    ``access`` is not given), cached under the build and keyed by what it was made from."""
    from kennai.access.store import ACCESS_DIR, load_access

    if region.build_dir is None:
        raise NotFoundError(t("地域がまだ build されていません", "the region is not built yet"),
                            hint=t("kennai build を実行してください", "run kennai build"))
    stored = region.build_dir / ACCESS_DIR / "access.json"
    if access is None and stored.is_file():
        access = load_access(region.build_dir)
    stamp = f"{stored.stat().st_mtime_ns}" if stored.is_file() else "none"
    return TileSet(region_tile_layers(region) + (access_tile_layers(access) if access else []),
                   version=f"{region.metadata.get('built_at')}|{region.metadata.get('config_digest')}"
                           f"|{stamp}",
                   cache_dir=region.build_dir / "tiles")
