"""Mapbox Vector Tiles (MVT) of a region's layers: the tile set, its caches, TileJSON, PMTiles.

A :class:`TileSet` holds the layers to draw in Web Mercator (EPSG:3857); how one tile is cut
and encoded, and the size policy that keeps every tile at most :data:`MAX_TILE_BYTES`, are in
:mod:`kennai.tile_encoding`. Rendered tiles are kept in an in-memory LRU and on disk under the
build (keyed by the build's version, so a rebuild never serves old tiles). The PMTiles export
encodes in worker processes (encoding is CPU-bound) and writes no per-tile cache files.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import mercantile
import numpy as np
import pandas as pd

from kennai.atomic import atomic_path
from kennai.basemap import BASEMAP_LAYERS, load_basemap
from kennai.errors import EmptyLayerError, InputError, NotFoundError
from kennai.i18n import t
from kennai.progress import Progress, no_progress
from kennai.roads import road_class
from kennai.schedule import is_weekly
from kennai.tile_encoding import (
    MAX_ZOOM,
    TileLayer,
    check_tile,
    encode_tile,
)

if TYPE_CHECKING:  # types only: serving tiles needs neither the access engine nor a build
    from kennai.access.results import AccessResults
    from kennai.region import Region

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
        self._stats_lock = threading.Lock()
        self._bounds: list[float] | None = None

    def _count(self, what: str) -> None:
        with self._stats_lock:
            self.stats[what] += 1

    def render(self, z: int, x: int, y: int) -> bytes:
        """Render a tile without any cache."""
        return encode_tile(self.layers, z, x, y)

    def cached(self, z: int, x: int, y: int) -> bytes | None:
        """The tile when the memory cache holds it (cheap: no disk, no rendering), else ``None``.

        Lets an async server answer hits on its event loop and send only misses to a thread.
        """
        data = self.memory.get((z, x, y))
        if data is not None:
            self._count("memory_hits")
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
            self._count("disk_hits")
        else:
            data = self.render(z, x, y)
            self._count("rendered")
            if path is not None:
                _write_atomic(path, data)
        self.memory.put((z, x, y), data)
        return data

    def prepare(self, minzoom: int, maxzoom: int) -> None:
        """Make every layer's properties, then simplify every layer for each zoom of a range,
        now rather than in the first tiles that need them."""
        for layer in self.layers:
            layer.properties()
        for layer in self.layers:
            for z in range(max(minzoom, layer.minzoom), min(maxzoom, layer.maxzoom) + 1):
                layer.prepared(z)

    @property
    def minzoom(self) -> int:
        return min((ly.minzoom for ly in self.layers), default=0)

    def bounds(self) -> list[float]:
        """``[west, south, east, north]`` in degrees over every layer (worked out once: every
        region summary and TileJSON says it)."""
        if self._bounds is None:
            frames = [ly.frame for ly in self.layers if len(ly.frame)]
            if not frames:
                self._bounds = [-180.0, -85.0511, 180.0, 85.0511]
            else:
                b = np.vstack([f.total_bounds for f in frames])
                west, south = mercantile.lnglat(b[:, 0].min(), b[:, 1].min())
                east, north = mercantile.lnglat(b[:, 2].max(), b[:, 3].max())
                self._bounds = [round(float(v), 6) for v in (west, south, east, north)]
        return list(self._bounds)

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
                   progress: Progress = no_progress, workers: int | None = None
                   ) -> dict[str, Any]:
    """Write the set's tiles between two zooms into one PMTiles v3 archive (static hosting).

    The tiles are the ones the server sends (same bytes, uncompressed MVT; tiles already in the
    memory cache are reused, nothing is written to the disk cache); empty tiles are left out,
    identical tiles stored once. Tiles are encoded in ``workers`` processes, forked so they
    share the prepared layers; the archive is the same whatever the number. The archive is
    written to a temporary file beside ``path`` and moved into place, so a failed export never
    leaves half a file.

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
    workers
        Encoding processes (default: the CPUs this process may use; 1: in this process).

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
    tiles.prepare(minzoom, maxzoom)
    with atomic_path(path) as tmp, open(tmp, "wb") as f, \
            encoded_tiles(tiles, [(z, x, y) for _, z, x, y in order], workers=workers) as out:
        writer = Writer(f)
        for i, ((tile_id, _, _, _), data) in enumerate(zip(order, out, strict=True)):
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


#: The tile set a forked encoding worker renders (set in the parent just before the fork).
_FORKED: list[TileSet] = []
#: Tiles per task sent to an encoding worker.
CHUNK = 16


def _render_chunk(keys: list[tuple[int, int, int]]) -> list[bytes]:
    tiles = _FORKED[0]
    return [tiles.cached(*key) or tiles.render(*key) for key in keys]


@contextmanager
def encoded_tiles(tiles: TileSet, keys: list[tuple[int, int, int]], *,
                  workers: int | None = None) -> Iterator[Iterator[bytes]]:
    """The tiles ``keys`` (memory cache, else rendered; never the disk cache), in order,
    encoded by ``workers`` forked processes (default: the usable CPUs). Forking a process
    that runs other threads is unsafe, so then (e.g. inside the server) it encodes here."""
    n = workers if workers is not None else len(os.sched_getaffinity(0))
    if n <= 1 or len(keys) <= CHUNK or threading.active_count() > 1:
        yield (tiles.cached(*key) or tiles.render(*key) for key in keys)
        return
    _FORKED[:] = [tiles]
    try:
        chunks = [keys[i:i + CHUNK] for i in range(0, len(keys), CHUNK)]
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
            yield (data for chunk in pool.map(_render_chunk, chunks) for data in chunk)
    finally:
        _FORKED.clear()


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
