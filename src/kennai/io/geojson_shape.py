"""The shape of a GeoJSON's geometries, checked from the JSON text before GDAL or GEOS sees it.

An uploaded plan comes from anyone: a ring left open, a coordinate written ``NaN`` or a
Polygon nested one level too shallow would otherwise reach GDAL (which prints its own text and
drops the feature) or GEOS (which raises deep inside). Each is named here, with the feature, in
one line. Text that is not JSON is left to the reader, which says what it can read.
"""

from __future__ import annotations

import json
import math
from typing import Any

from kennai.errors import InputError
from kennai.i18n import Text, t

#: Nesting depth of each geometry type's ``coordinates`` (a position is depth 1).
_DEPTH = {"Point": 1, "MultiPoint": 2, "LineString": 2, "MultiLineString": 3, "Polygon": 3,
          "MultiPolygon": 4}
_EXAMPLE = {"Point": "[lon, lat]", "MultiPoint": "[[lon, lat], …]",
            "LineString": "[[lon, lat], …]", "MultiLineString": "[[[lon, lat], …], …]",
            "Polygon": "[[[lon, lat], …]]", "MultiPolygon": "[[[[lon, lat], …]]]"}
_FIX = t("GIS で形状を修正してください（輪は 4 点以上で、最後の点は最初の点と同じ）",
         "fix the shape in a GIS: a ring needs 4 or more points, the last equal to the first")


class _BadShapeError(Exception):
    def __init__(self, message: Text, hint: Text = _FIX) -> None:
        super().__init__(message.en)
        self.message = message
        self.hint = hint


def _position(value: Any, kind: str) -> None:
    if not isinstance(value, list) or not 2 <= len(value) <= 4 \
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise _BadShapeError(t(
            f"{kind} の座標の入れ子が正しくありません（{_EXAMPLE[kind]} の形にしてください）",
            f"the {kind}'s coordinates are nested wrongly (write them as "
                     f"{_EXAMPLE[kind]})"))
    if not all(math.isfinite(v) for v in value):  # NaN, Infinity, 1e999
        raise _BadShapeError(t("座標に NaN（数でない値）か無限大があります",
                     "a coordinate is NaN (not a number) or infinite"),
                   t("座標は有限の数にしてください（NaN・Infinity は使えません）",
                     "write every coordinate as a finite number (no NaN or Infinity)"))


def _walk(value: Any, depth: int, kind: str) -> None:
    """Check ``value`` is ``depth`` levels of lists down to positions."""
    if depth == 1:
        _position(value, kind)
        return
    if not isinstance(value, list):
        _position(None, kind)
    for item in value:
        _walk(item, depth - 1, kind)


def _rings(polygon: list[Any]) -> None:
    for ring in polygon:
        if len(ring) < 4:
            raise _BadShapeError(t(f"ポリゴンの輪の点が足りません（{len(ring)} 点）",
                         f"a polygon ring has too few points ({len(ring)})"))
        if ring[0][:2] != ring[-1][:2]:
            raise _BadShapeError(t("ポリゴンの輪が閉じていません（始点と終点が違う）",
                         "a polygon ring is not closed (its first and last points differ)"))


def _geometry(geom: Any, nested: int = 0) -> None:
    if geom is None:
        return  # a feature without geometry: the reader reports what it finds
    if not isinstance(geom, dict) or not isinstance(geom.get("type"), str):
        raise _BadShapeError(t("geometry にはオブジェクト（type と coordinates）を書いてください",
                     "a geometry is an object with a type and coordinates"))
    kind = geom["type"]
    if kind == "GeometryCollection" and nested < 8:
        for part in geom.get("geometries") or []:
            _geometry(part, nested + 1)
        return
    if kind not in _DEPTH:
        raise _BadShapeError(t(f"知らない形状の種類「{kind[:40]}」です",
                               f"unknown geometry type {kind[:40]!r}"))
    coords = geom.get("coordinates")
    if not isinstance(coords, list):
        raise _BadShapeError(t(f"{kind} に coordinates がありません", f"the {kind} has no coordinates"))
    _walk(coords, _DEPTH[kind], kind)
    if kind == "Polygon":
        _rings(coords)
    elif kind == "MultiPolygon":
        for polygon in coords:
            _rings(polygon)


def _features(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
        return features if isinstance(features, list) else []
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        return [doc]
    if isinstance(doc, dict) and isinstance(doc.get("type"), str):
        return [{"geometry": doc}]
    return []


def check_geojson_shapes(data: bytes, *, path: str) -> None:
    """Raise :class:`InputError` naming the first feature whose geometry is malformed.

    Parameters
    ----------
    data
        The file's bytes (anything that does not parse as JSON passes: it is not GeoJSON).
    path
        How the file is named in the error (``"upload"`` for an upload).
    """
    try:
        doc = json.loads(data)  # NaN and Infinity parse, and are named with their feature below
    except (ValueError, RecursionError):
        return
    for i, feature in enumerate(_features(doc)):
        try:
            if not isinstance(feature, dict):
                raise _BadShapeError(t("Feature はオブジェクトにしてください", "a feature is an object"))
            _geometry(feature.get("geometry"))
        except _BadShapeError as exc:
            raise InputError(exc.message, path=path, feature=t(f"{i + 1} 件目", f"feature {i + 1}"),
                             hint=exc.hint) from None
