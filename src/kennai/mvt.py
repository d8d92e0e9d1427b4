"""One MVT layer encoded with numpy: the bytes ``mapbox_vector_tile.encode`` gives, faster.

``mapbox_vector_tile`` walks every coordinate of every feature in Python, which made a cold
low-zoom tile of a city's street network (10,000 lines) take a quarter of a second. Here the
commands of points and lines are made for all features at once (rounded to the grid half to
even, repeated points dropped, a line with no length after rounding left out, the cursor carried
from part to part), the properties are numbered per layer once and per tile by first use, and
the protobuf is written as one array of varints. Polygons (few per tile) take the library's own
winding-order and validity handling, feature by feature. The result is byte for byte the
library's (``tests/test_mvt.py`` compares them on real tiles); a layer whose property values
could be told apart by the library only by their type (``1`` and ``1.0``) is left to it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from mapbox_vector_tile.encoder import VectorTile
from mapbox_vector_tile.geom_encoder import GeometryEncoder

#: MVT command integers: MoveTo with one point, and the LineTo command id.
_MOVE_TO_1 = (1 << 3) | 1
_LINE_TO = 2
_CLOSE_PATH_1 = (1 << 3) | 7
#: Protobuf field tags (field number << 3 | wire type) of the vector tile schema.
_TILE_LAYER = (3 << 3) | 2
_LAYER_NAME, _LAYER_FEATURE, _LAYER_KEY, _LAYER_VALUE = (1 << 3) | 2, (2 << 3) | 2, \
    (3 << 3) | 2, (4 << 3) | 2
_LAYER_EXTENT, _LAYER_VERSION = (5 << 3) | 0, (15 << 3) | 0
_FEATURE_ID, _FEATURE_TAGS, _FEATURE_TYPE, _FEATURE_GEOMETRY = (1 << 3) | 0, (2 << 3) | 2, \
    (3 << 3) | 0, (4 << 3) | 2
_POINT, _LINE, _POLYGON = 1, 2, 3
#: ``shapely.geometry.polygon.orient`` (the library's) is ``shapely.orient_polygons`` from GEOS
#: 3.12 on: only then is orienting here the same.
_ORIENTS_ALIKE = shapely.geos_version >= (3, 12, 0)
#: Below this many features (and eight times as many coordinates) in a tile's layer the library
#: is as fast (numpy's per-call cost dominates): it encodes them.
FEW = 16


@dataclass(frozen=True)
class LayerProperties:
    """A layer's properties numbered once: per row its (key id, value id) pairs, as the library
    would tag the row, the key of every key id, and per pair the value itself. Values the
    library would share (equal ones: ``1`` and ``1.0``) share a value id; a tile writes the
    value its first feature using that id has, as the library does."""

    row_start: np.ndarray
    pair_keys: np.ndarray
    pair_values: np.ndarray
    pair_reprs: np.ndarray
    keys: list[str]
    reprs: list[Any]
    records: list[dict[str, Any]]
    key_fields: np.ndarray = field(init=False, repr=False)
    value_fields: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:  # each key and value as its layer field, once per layer
        keys = np.empty(len(self.keys), dtype=object)
        keys[:] = [_field_bytes(_LAYER_KEY, k.encode()) for k in self.keys]
        values = np.empty(len(self.reprs), dtype=object)
        values[:] = [_field_bytes(_LAYER_VALUE, _value_bytes(v)) for v in self.reprs]
        object.__setattr__(self, "key_fields", keys)
        object.__setattr__(self, "value_fields", values)


def layer_properties(records: list[dict[str, Any]]) -> LayerProperties:
    """Number the properties of every row as ``mapbox_vector_tile`` would tag them."""
    key_ids: dict[str, int] = {}
    value_ids: dict[Any, int] = {}
    bool_ids: dict[Any, int] = {}
    repr_ids: dict[tuple[Any, ...], int] = {}
    reprs: list[Any] = []
    starts, pk, pv, pr = [0], [], [], []
    for row in records:
        for k, v in row.items():
            if not isinstance(k, str) or not isinstance(v, str | bool | int | float):
                continue
            ids = bool_ids if isinstance(v, bool) else value_ids
            pk.append(key_ids.setdefault(k, len(key_ids)))
            pv.append(ids.setdefault(v, len(value_ids) + len(bool_ids)))
            exact = (type(v), v, math.copysign(1.0, v) if isinstance(v, float) else 0.0)
            rid = repr_ids.get(exact)
            if rid is None:
                rid = repr_ids[exact] = len(reprs)
                reprs.append(v)
            pr.append(rid)
        starts.append(len(pk))
    def ints(a: list[int]) -> np.ndarray:
        return np.asarray(a, dtype=np.int64)

    return LayerProperties(ints(starts), ints(pk), ints(pv), ints(pr), list(key_ids), reprs,
                           records)


def encode_layer(name: str, geoms: np.ndarray, rows: np.ndarray, props: LayerProperties,
                 *, extent: int, options: dict[str, Any]) -> bytes:
    """One layer of a tile as MVT bytes (``b""`` when nothing is drawn): ``geoms`` in tile grid
    units (y down), ``rows`` their row numbers (the feature ids and property rows)."""
    if not len(geoms):
        return b""
    if len(geoms) < FEW and int(shapely.get_num_coordinates(geoms).sum()) < FEW * 8:
        feats = [{"geometry": g, "properties": props.records[r], "id": int(r)}
                 for g, r in zip(geoms, rows, strict=True)]
        return mapbox_vector_tile.encode([{"name": name, "features": feats}],
                                         default_options=options)
    kind = np.where(shapely.is_empty(geoms), -1, shapely.get_type_id(geoms))  # -1: skipped
    counts = np.zeros(len(geoms), dtype=np.int64)
    parts: list[tuple[np.ndarray, np.ndarray]] = []  # (feature index per value, values)
    ftype = np.zeros(len(geoms), dtype=np.int64)
    points = np.flatnonzero(kind == 0)
    if len(points):
        parts.append(_points(geoms[points], points, counts))
        ftype[points] = _POINT
    lines = np.flatnonzero((kind == 1) | (kind == 5))
    if len(lines):
        parts.append(_lines(geoms[lines], lines, counts))
        ftype[lines] = _LINE
    polygons = np.flatnonzero(((kind == 3) | (kind == 6)) & _ORIENTS_ALIKE)
    if len(polygons):
        shapes = _oriented(geoms[polygons], _library_tile(options))
        t = shapely.get_type_id(shapes)  # -1: dropped by the library
        fast = ((t == 3) | (t == 6)) & ~shapely.is_empty(shapes)
        if fast.any():
            parts.append(_polygons(shapes[fast], polygons[fast], counts))
            ftype[polygons[fast]] = _POLYGON
        made = (t != -1) & ~fast & ~shapely.is_empty(shapes)
        if made.any():  # something else made of an invalid polygon: the library's encoder
            parts.append(_commands(shapes[made], polygons[made], counts, ftype, extent=extent))
        kind[polygons] = -1
    other = np.flatnonzero((kind != -1) & (kind != 0) & (kind != 1) & (kind != 5))
    if len(other):
        parts.append(_by_library(geoms, other, counts, ftype, extent=extent, options=options))
    drawn = np.flatnonzero(counts > 0)
    if not len(drawn):  # the library still writes the layer, with no features
        return _field_bytes(_TILE_LAYER, _layer_frame(name, [], extent))
    geom_feature = np.concatenate([p[0] for p in parts])
    geom_values = np.concatenate([p[1] for p in parts])
    if len(parts) > 1:  # every feature's values, in feature order (each part is in order)
        geom_values = geom_values[np.argsort(geom_feature, kind="stable")]
    return _layer_bytes(name, rows, drawn, counts, ftype, geom_values, props, extent=extent)


def _zigzag(v: np.ndarray) -> np.ndarray:
    return (v << 1) ^ (v >> 63)


def _points(geoms: np.ndarray, index: np.ndarray, counts: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """MoveTo(1) and the point's grid position, for each point."""
    xy = np.rint(shapely.get_coordinates(geoms)).astype(np.int64)
    values = np.column_stack([np.full(len(xy), _MOVE_TO_1), _zigzag(xy[:, 0]),
                              _zigzag(xy[:, 1])]).ravel()
    counts[index] = 3
    return np.repeat(index, 3), values


def _lines(geoms: np.ndarray, index: np.ndarray, counts: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """MoveTo/LineTo commands of (multi)lines (see :func:`_paths`)."""
    if (shapely.get_type_id(geoms) == 1).all():  # no multi-part lines: each is its own part
        part_geoms, part_feature = geoms, np.arange(len(geoms))
    else:
        part_geoms, part_feature = shapely.get_parts(geoms, return_index=True)
    coords, coord_part = shapely.get_coordinates(part_geoms, return_index=True)
    return _paths(coords, coord_part, index[part_feature], None, counts)


def _oriented(geoms: np.ndarray, tile: VectorTile) -> np.ndarray:
    """(Multi)polygons as the library's ``enforce_winding_order`` leaves them, with the same
    steps from the same functions: rounded to the grid, oriented (exterior rings clockwise on
    the y-down grid) and, where that is invalid, made valid by the library (``None``: dropped).
    Only the rounding and orienting of valid ones is done here for all at once."""
    rounded = shapely.transform(geoms, np.rint)
    shapes = shapely.orient_polygons(rounded)
    for i in np.flatnonzero(~shapely.is_valid(rounded)):
        shapes[i] = _made_valid(tile, rounded[i])
    return shapes


def _made_valid(tile: VectorTile, rounded: shapely.Geometry) -> shapely.Geometry | None:
    """The library's ``enforce_winding_order`` of a (multi)polygon already on the grid."""
    if rounded.geom_type == "Polygon":
        return tile.handle_shape_validity(shapely.orient_polygons(rounded), 1)
    parts: list[shapely.Geometry] = []
    for part in rounded.geoms:
        part = tile.handle_shape_validity(shapely.orient_polygons(part), 1)
        if part is not None and not part.is_empty:
            parts.extend(part.geoms if part.geom_type == "MultiPolygon" else [part])
    if not parts:
        return None
    return tile.handle_shape_validity(parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts),
                                      1)


def _library_tile(options: dict[str, Any]) -> VectorTile:
    """The library's encoder state, for its winding-order and validity steps."""
    tile = VectorTile(default_options=options)
    tile.layer_options = mapbox_vector_tile.utils.get_encode_options(
        layer_options=None, default_options=options)
    return tile


def _polygons(geoms: np.ndarray, index: np.ndarray, counts: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """MoveTo/LineTo/ClosePath commands of oriented (multi)polygons on the grid: each ring
    without its closing point, a polygon whose exterior draws nothing left out."""
    polys, poly_feature = shapely.get_parts(geoms, return_index=True)
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    closing = np.ones(len(coords), dtype=bool)
    closing[:-1] = coord_ring[1:] != coord_ring[:-1]
    exterior = np.ones(len(rings), dtype=bool)
    exterior[1:] = ring_poly[1:] != ring_poly[:-1]
    return _paths(coords[~closing], coord_ring[~closing], index[poly_feature[ring_poly]],
                  (ring_poly, exterior), counts)


def _paths(coords: np.ndarray, coord_part: np.ndarray, part_feature: np.ndarray,
           rings: tuple[np.ndarray, np.ndarray] | None, counts: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """The commands of paths, as ``mapbox_vector_tile``'s ``GeometryEncoder`` makes them: each
    part from the cursor (the last point drawn of its feature, else the origin), points equal
    to the one before after rounding dropped, a part with nothing left after its first point
    left out. With ``rings`` (each part's polygon, and whether it is that polygon's exterior)
    every part is closed, and a polygon whose exterior is left out is left out whole."""
    xy = np.rint(coords).astype(np.int64)
    first = np.ones(len(xy), dtype=bool)
    first[1:] = coord_part[1:] != coord_part[:-1]
    moved = np.ones(len(xy), dtype=bool)
    moved[1:] = (xy[1:] != xy[:-1]).any(axis=1)
    keep = first | moved
    n_parts = len(part_feature)
    drawn_part = np.bincount(coord_part[keep & ~first], minlength=n_parts) > 0
    if rings is not None:
        ring_poly, exterior = rings
        poly_drawn = np.zeros(int(ring_poly.max()) + 1 if len(ring_poly) else 0, dtype=bool)
        poly_drawn[ring_poly[exterior]] = drawn_part[exterior]
        drawn_part &= poly_drawn[ring_poly]
    keep &= drawn_part[coord_part]
    kxy, kpart, kstart = xy[keep], coord_part[keep], first[keep]
    kfeat = part_feature[kpart]
    prev = np.zeros_like(kxy)
    prev[1:] = kxy[:-1]
    feature_start = np.ones(len(kxy), dtype=bool)
    feature_start[1:] = kfeat[1:] != kfeat[:-1]
    prev[feature_start] = 0
    delta = _zigzag(kxy - prev)
    starts = np.flatnonzero(kstart)
    extra = 2 if rings is None else 3  # MoveTo and LineTo (and ClosePath) per part
    pair_at = 2 * np.arange(len(kxy)) + extra * (np.cumsum(kstart) - 1) + np.where(kstart, 1, 2)
    out = np.empty(2 * len(kxy) + extra * len(starts), dtype=np.int64)
    feature = np.empty(len(out), dtype=np.int64)
    out[pair_at] = delta[:, 0]
    out[pair_at + 1] = delta[:, 1]
    feature[pair_at] = feature[pair_at + 1] = kfeat
    ends = np.append(starts[1:], len(kxy)) - 1
    out[pair_at[starts] - 1] = _MOVE_TO_1
    out[pair_at[starts] + 2] = ((ends - starts) << 3) | _LINE_TO
    feature[pair_at[starts] - 1] = feature[pair_at[starts] + 2] = kfeat[starts]
    if rings is not None:
        out[pair_at[ends] + 2] = _CLOSE_PATH_1
        feature[pair_at[ends] + 2] = kfeat[ends]
    counts += np.bincount(feature, minlength=len(counts))
    return feature, out


def _by_library(geoms: np.ndarray, index: np.ndarray, counts: np.ndarray, ftype: np.ndarray, *,
                extent: int, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Commands of anything else (multipoints …) as ``mapbox_vector_tile`` makes them, feature
    by feature: its winding-order and validity steps, then its geometry encoder."""
    tile = _library_tile(options)
    shapes = np.empty(len(index), dtype=object)
    shapes[:] = [tile.enforce_winding_order(geoms[i]) for i in index]
    keep = np.array([s is not None and not s.is_empty for s in shapes], dtype=bool)
    return _commands(shapes[keep], index[keep], counts, ftype, extent=extent)


def _commands(shapes: np.ndarray, index: np.ndarray, counts: np.ndarray, ftype: np.ndarray, *,
              extent: int) -> tuple[np.ndarray, np.ndarray]:
    """Commands of shapes made ready by the library, by its geometry encoder, one by one."""
    feats, values = [], []
    for i, shape in zip(index, shapes, strict=True):
        kind = shape.geom_type
        if kind == "GeometryCollection":
            raise ValueError("Encoding geometry collections not supported")  # as the library
        command = GeometryEncoder(True, extent).encode(shape)
        if not command:
            continue
        ftype[i] = _POINT if "Point" in kind else _LINE if "LineString" in kind else _POLYGON
        counts[i] = len(command)
        feats.append(np.full(len(command), i))
        values.append(np.asarray(command, dtype=np.int64))
    if not feats:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(feats), np.concatenate(values)


def _varint_sizes(v: np.ndarray) -> np.ndarray:
    """Bytes of each value (non-negative, below 2**63) as a protobuf varint."""
    size = np.ones(len(v), dtype=np.int64)
    top = int(v.max()) if len(v) else 0
    for bits in range(7, 64, 7):
        if top < (1 << bits):
            break
        size += v >= (1 << bits)
    return size


def _varints(v: np.ndarray) -> bytes:
    """Values (non-negative, below 2**63) as consecutive protobuf varints."""
    v = v.astype(np.int64)
    size = _varint_sizes(v)
    at = np.cumsum(size) - size
    out = np.empty(int(size.sum()), dtype=np.uint8)
    rest, where, more = v, at, size
    for _ in range(10):
        out[where] = (rest & 0x7F) | np.where(more > 1, 0x80, 0)
        go = more > 1
        if not go.any():
            break
        rest, where, more = rest[go] >> 7, where[go] + 1, more[go] - 1
    return out.tobytes()


def _scatter(out: np.ndarray, starts: np.ndarray, counts: np.ndarray, values: np.ndarray) -> None:
    """Write ``values`` (``counts[i]`` of them for segment ``i``) at ``starts[i]`` onwards."""
    seg = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    out[starts[seg] + np.arange(len(values)) - first[seg]] = values


def _layer_bytes(name: str, rows: np.ndarray, drawn: np.ndarray, counts: np.ndarray,
                 ftype: np.ndarray, geom_values: np.ndarray, props: LayerProperties, *,
                 extent: int) -> bytes:
    """The protobuf of a tile holding one layer: the drawn features (id, tags, type, geometry)
    with the keys and values numbered in order of first use, as the library numbers them."""
    geom_counts = counts[drawn]
    geom_seg = geom_values  # the drawn features' values in order (the others have none)
    row = rows[drawn].astype(np.int64)
    tag_counts = props.row_start[row + 1] - props.row_start[row]
    pair = np.repeat(props.row_start[row], tag_counts) + np.arange(int(tag_counts.sum())) - \
        np.repeat(np.cumsum(tag_counts) - tag_counts, tag_counts)
    keys, values = props.pair_keys[pair], props.pair_values[pair]
    used_keys, key_local, _ = _first_use(keys)
    _, value_local, value_first = _first_use(values)
    used_reprs = props.pair_reprs[pair][value_first]
    tags = np.column_stack([key_local, value_local]).ravel()
    tag_counts = tag_counts * 2

    tag_bytes = _segment_sums(_varint_sizes(tags), tag_counts)
    geom_bytes = _segment_sums(_varint_sizes(geom_seg), geom_counts)
    has_tags = tag_counts > 0
    feature_len = (1 + _varint_sizes(row) + np.where(has_tags, 1 + _varint_sizes(tag_bytes)
                                                     + tag_bytes, 0)
                   + 2 + 1 + _varint_sizes(geom_bytes) + geom_bytes)
    head = 4 + np.where(has_tags, 2, 0)  # [feature tag, length, id tag, id] (+ [tags tag, length])
    total = head + tag_counts + 4 + geom_counts
    start = np.cumsum(total) - total
    out = np.empty(int(total.sum()), dtype=np.int64)
    out[start] = _LAYER_FEATURE
    out[start + 1] = feature_len
    out[start + 2] = _FEATURE_ID
    out[start + 3] = row
    tagged = np.flatnonzero(has_tags)
    out[start[tagged] + 4] = _FEATURE_TAGS
    out[start[tagged] + 5] = tag_bytes[tagged]
    _scatter(out, start + head, tag_counts, tags)
    after = start + head + tag_counts
    out[after] = _FEATURE_TYPE
    out[after + 1] = ftype[drawn]
    out[after + 2] = _FEATURE_GEOMETRY
    out[after + 3] = geom_bytes
    _scatter(out, after + 4, geom_counts, geom_seg)
    body = [_varints(out)]
    body += props.key_fields[used_keys].tolist()
    body += props.value_fields[used_reprs].tolist()
    return _field_bytes(_TILE_LAYER, _layer_frame(name, body, extent))


def _layer_frame(name: str, body: list[bytes], extent: int) -> bytes:
    """A layer message: its name, ``body`` (features, keys, values), extent and version 2."""
    return b"".join([_field_bytes(_LAYER_NAME, name.encode()), *body,
                     bytes([_LAYER_EXTENT]) + _varint(extent),
                     bytes([_LAYER_VERSION, 2])])


def _first_use(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ids in order of first appearance, each id's rank in that order, and where
    each distinct id first appears."""
    if not len(ids):
        return ids, ids, ids
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    return uniq[order], rank[inverse], first[order]


def _segment_sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    seg = np.repeat(np.arange(len(counts)), counts)
    return np.bincount(seg, weights=values, minlength=len(counts)).astype(np.int64)


def _field_bytes(tag: int, data: bytes) -> bytes:
    return bytes([tag]) + _varint(len(data)) + data


def _varint(v: int) -> bytes:
    """One value below 2**64 as a protobuf varint."""
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _value_bytes(v: Any) -> bytes:
    """A protobuf ``Value``: string, double, int64 or bool, as the library writes them."""
    if isinstance(v, bool):
        return bytes([(7 << 3) | 0, int(v)])
    if isinstance(v, str):
        return _field_bytes((1 << 3) | 2, v.encode())
    if isinstance(v, int):  # int64: a negative one in two's complement (ten bytes)
        return bytes([(4 << 3) | 0]) + _varint(v + (1 << 64) if v < 0 else v)
    return bytes([(3 << 3) | 1]) + struct.pack("<d", v)
