"""Cutting and encoding one Mapbox Vector Tile (MVT) from layers in EPSG:3857, by a size policy.

Per zoom, once per layer: every geometry is simplified to half a pixel of that zoom (a 512-px
tile) and features smaller than a pixel (lines shorter, polygons of less area) are dropped,
with an STRtree of what is left. Per tile: the prepared geometries in the tile (plus a small
buffer so strokes do not stop at tile edges) are clipped, scaled to the 4096-unit grid (the
encoder rounds to it: the quantisation) and pieces under a pixel after the clip are dropped; only
what crosses the clip box is clipped. Properties are made into plain dicts, and numbered for the
encoder (:mod:`kennai.mvt`, the bytes ``mapbox_vector_tile`` makes, made with numpy), once per
layer. Simplifying before clipping (rather than
per tile after it) is the one difference from cutting every tile from the full geometries: a
line or polygon edge can differ by at most half a pixel, as before.

Tile size policy: no tile is larger than :data:`MAX_TILE_BYTES` (500 KB). Each layer is encoded
on its own (MVT layers concatenate), so a tile over the cap costs few re-encodes:

1. the layers with lines or polygons are cut again with coarser detail, :data:`COARSER` times
   the default (simplified to, and dropping what is under, 4 then 16 pixels);
2. if that is not enough, whole layers are left out in the order of :data:`DROP_FIRST` (the
   least needed to read the map first), then any other line or polygon layer, largest first;
3. point layers are never thinned: gathering places and labels always show.

A tile cut down like this says so in one extra layer, :data:`POLICY_LAYER`, holding one point
(the tile's centre) with ``detail`` (the multiple used) and ``dropped`` (the layers left out,
comma-separated; empty when none).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import mercantile
import numpy as np
import pandas as pd
import shapely

from kennai.errors import NotFoundError
from kennai.geojson import plain_value
from kennai.i18n import t
from kennai.mvt import LayerProperties, encode_layer, layer_properties

#: Tile grid size (MVT default) and the clip buffer in grid units (of 4096).
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
#: Half a pixel of a 512-px tile in grid units: finer detail is invisible.
SIMPLIFY_GRID_UNITS = EXTENT / 512 / 2
#: One pixel of a 512-px tile in grid units: a line shorter, or a polygon smaller, draws nothing.
PIXEL = EXTENT / 512
#: The largest tile served or exported (bytes).
MAX_TILE_BYTES = 500_000
#: Coarser detail (a multiple of the default) tried, in turn, for a tile over the cap.
COARSER = (4.0, 16.0)
#: Layers left out of an over-size tile, in this order, once coarser detail is not enough.
DROP_FIRST = ("buildings", "roads", "population", "waterways", "major_roads", "rail",
              "neighbourhood", "gaps")
#: The layer by which a tile cut down by the size policy says what was done.
POLICY_LAYER = "tile_policy"
#: Width of the Web Mercator world (metres).
WORLD = 2 * math.pi * 6378137.0

#: How mapbox_vector_tile encodes (y down, the grid, invalid polygons made valid).
MVT_OPTIONS = {"y_coord_down": True, "extents": EXTENT,
            "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid}


@dataclass(frozen=True)
class _Prepared:
    """A layer at one zoom and detail: simplified geometries (all rows), the rows kept and
    their STRtree."""

    geoms: np.ndarray
    kept: np.ndarray
    tree: shapely.STRtree


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
    _zooms: dict[tuple[int, float], _Prepared] = field(default_factory=dict, init=False,
                                                       repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _records: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)
    _properties: LayerProperties | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.frame.crs is not None and not self.frame.crs.equals("EPSG:3857"):
            self.frame = self.frame.to_crs("EPSG:3857")
        geoms = self.frame.geometry.values
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        self.frame = self.frame.loc[keep].reset_index(drop=True)
        self._points = shapely.get_type_id(np.asarray(self.frame.geometry.values)) == 0
        # Records keep each column's own type (iterrows would make whole numbers floats).
        rows = pd.DataFrame(self.frame.drop(columns=self.frame.geometry.name)).to_dict("records")
        self._records = [{str(k): v for k, v in ((k, plain_value(v)) for k, v in row.items())
                          if v is not None and v != ""} for row in rows]

    def __getstate__(self) -> dict[str, Any]:  # the lock and trees are remade, not pickled
        state = dict(self.__dict__)
        state["_zooms"], state["_lock"] = {}, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def points_only(self) -> bool:
        """Whether every feature is a point (never thinned by the size policy)."""
        return bool(self._points.all())

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

    def properties(self) -> LayerProperties:
        """Every feature's properties as MVT keys and values, made once (thread-safe): a
        layer's first tile would otherwise make them for all its features (50 ms for the
        rosenka streets)."""
        done = self._properties
        if done is not None:
            return done
        with self._lock:
            if self._properties is None:
                self._properties = layer_properties(self._records)
            return self._properties

    def prepared(self, z: int, detail: float = 1.0) -> _Prepared:
        """The layer simplified for zoom ``z`` at ``detail`` half-pixels, without features under
        ``detail`` pixels, and its STRtree (made once, thread-safe)."""
        key = (z, detail)
        done = self._zooms.get(key)
        if done is not None:
            return done
        with self._lock:
            done = self._zooms.get(key)
            if done is None:
                done = self._zooms[key] = self._prepare(z, detail)
            return done

    def _prepare(self, z: int, detail: float) -> _Prepared:
        metres = WORLD / 2 ** z / EXTENT  # one grid unit at zoom z
        geoms = np.asarray(self.frame.geometry.values)
        lines = ~self._points
        simple = geoms.copy()
        if lines.any():
            simple[lines] = shapely.simplify(geoms[lines], detail * SIMPLIFY_GRID_UNITS * metres,
                                             preserve_topology=True)
        keep = _visible(simple, detail * PIXEL * metres)
        kept = np.flatnonzero(keep)
        return _Prepared(simple, kept, shapely.STRtree(simple[kept]))

    def grid(self, bounds: tuple[float, float, float, float], z: int, *,
             detail: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """The layer cut to ``bounds`` (EPSG:3857) and scaled to the tile grid: the geometries
        and their row numbers, simplified to ``detail`` half-pixels and without lines or
        polygons under ``detail`` pixels."""
        none = (np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64))
        if not self.minzoom <= z <= self.maxzoom:
            return none
        west, south, east, north = bounds
        scale = EXTENT / (east - west)
        pad = BUFFER / scale
        box = (west - pad, south - pad, east + pad, north + pad)
        prep = self.prepared(z, detail)
        idx = np.sort(prep.kept[prep.tree.query(shapely.box(*box))])
        if not len(idx):
            return none
        geoms = prep.geoms[idx]
        points = self._points[idx]
        clipped = geoms.copy()
        # Only what crosses the clip box is cut (clipping what lies inside returns it as is).
        lo_x, lo_y, hi_x, hi_y = shapely.bounds(geoms).T
        cut = ~points & ~((lo_x >= box[0]) & (lo_y >= box[1]) & (hi_x <= box[2]) & (hi_y <= box[3]))
        if cut.any():
            clipped[cut] = shapely.clip_by_rect(geoms[cut], *box)
        grid = shapely.transform(clipped, lambda xy: np.column_stack(
            ((xy[:, 0] - west) * scale, (north - xy[:, 1]) * scale)))
        keep = _visible(grid, detail * PIXEL)
        return grid[keep], idx[keep]

    def features(self, bounds: tuple[float, float, float, float], z: int, *,
                 detail: float = 1.0) -> list[dict[str, Any]]:
        """:meth:`grid` as ``mapbox_vector_tile`` features (geometry, properties, id)."""
        geoms, rows = self.grid(bounds, z, detail=detail)
        # Stable ids (row numbers) let the web map highlight a feature across tiles.
        return [{"geometry": g, "properties": self._records[fid], "id": int(fid)}
                for g, fid in zip(geoms, rows, strict=True)]

    def encode(self, bounds: tuple[float, float, float, float], z: int, *,
               detail: float = 1.0) -> bytes:
        """One layer of a tile as MVT bytes (``b""`` when nothing falls in it): the bytes
        ``mapbox_vector_tile.encode`` makes of :meth:`features`, by :mod:`kennai.mvt`."""
        geoms, rows = self.grid(bounds, z, detail=detail)
        if not len(rows):
            return b""
        return encode_layer(self.name, geoms, rows, self.properties(), extent=EXTENT,
                            options=MVT_OPTIONS)


def _visible(geoms: np.ndarray, smallest: float) -> np.ndarray:
    """Which geometries draw as something: not empty, lines at least ``smallest`` long and
    polygons at least ``smallest`` squared in area (points always)."""
    kind = shapely.get_type_id(geoms)
    polygon = (kind == 3) | (kind == 6)
    line = (kind == 1) | (kind == 2) | (kind == 5)
    small = (polygon & (shapely.area(geoms) < smallest * smallest)) | (
        line & (shapely.length(geoms) < smallest))
    return ~(shapely.is_missing(geoms) | shapely.is_empty(geoms) | small)


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
    parts = {ly.name: _encode_layer(ly, bounds, z, 1.0) for ly in layers}
    if sum(map(len, parts.values())) <= max_bytes:
        return b"".join(parts.values())
    for detail in COARSER:
        parts.update({ly.name: _encode_layer(ly, bounds, z, detail) for ly in layers
                      if parts[ly.name] and not ly.points_only})
        note = _policy_note(detail, [])
        if sum(map(len, parts.values())) + len(note) <= max_bytes:
            return b"".join(parts.values()) + note
    dropped: list[str] = []
    optional = [ly.name for ly in layers if not ly.points_only]
    order = [n for n in DROP_FIRST if n in optional] + sorted(
        (n for n in optional if n not in DROP_FIRST), key=lambda n: -len(parts[n]))
    for name in order:
        if sum(map(len, parts.values())) + len(note) <= max_bytes:
            break
        if parts[name]:
            parts[name] = b""
            dropped.append(name)
            note = _policy_note(detail, dropped)
    return b"".join(parts.values()) + note


def _policy_note(detail: float, dropped: list[str]) -> bytes:
    """The :data:`POLICY_LAYER` of a tile cut down by the size policy."""
    half = EXTENT / 2
    feature = {"geometry": shapely.Point(half, half), "id": 0,
               "properties": {"detail": detail, "dropped": ",".join(dropped)}}
    return mapbox_vector_tile.encode([{"name": POLICY_LAYER, "features": [feature]}],
                                     default_options=MVT_OPTIONS)


def _encode_layer(layer: TileLayer, bounds: tuple[float, float, float, float], z: int,
                  detail: float) -> bytes:
    """One layer of a tile as MVT bytes (``b""`` when empty): an MVT tile is its layers'
    encodings one after another, so layers are encoded, kept and dropped separately."""
    return layer.encode(bounds, z, detail=detail)
