"""GeoDataFrames as GeoJSON FeatureCollections in EPSG:4326, a page at a time.

Everything kennai hands out leaves in longitude/latitude (RFC 7946), whatever the analysis CRS.
Large layers are paged (``offset``/``limit``) so a browser never has to take a whole layer at
once; the collection says how many features matched and how many it returns, as OGC API
Features does (``numberMatched``/``numberReturned``).
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

#: Coordinates are rounded to 7 decimals (about 1 cm): enough for any map, smaller JSON.
COORD_PRECISION = 7


def plain_value(value: Any) -> Any:
    """A JSON-safe Python value: NaN/NaT/NA → None, numpy scalars → Python scalars, dates and
    times (a register's start times read back from GeoJSON) → ISO 8601 text."""
    kind = type(value)
    if kind is str or kind is int or kind is bool:  # most values: nothing to change
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime.date | datetime.time):  # pd.Timestamp is a datetime
        return value.isoformat()
    return value


def feature_properties(row: pd.Series | dict[str, Any]) -> dict[str, Any]:
    """A feature's properties as JSON-safe values."""
    return {str(k): plain_value(v) for k, v in dict(row).items()}


def to_feature_collection(
    gdf: gpd.GeoDataFrame,
    *,
    offset: int = 0,
    limit: int | None = None,
    id_column: str | None = None,
    columns: list[str] | None = None,
) -> dict[str, Any]:
    """Turn (a page of) a GeoDataFrame into a GeoJSON FeatureCollection in EPSG:4326.

    Parameters
    ----------
    gdf
        Features in any CRS (a missing CRS is taken as EPSG:4326).
    offset, limit
        The page: features ``offset`` … ``offset + limit - 1`` in the frame's order.
    id_column
        Column whose value becomes each feature's ``id`` (e.g. ``name`` or ``place_id``).
    columns
        Properties to keep (default: every column but the geometry).

    Returns
    -------
    dict
        A FeatureCollection with ``numberMatched``, ``numberReturned``, ``offset`` and
        ``limit``.
    """
    if offset < 0 or (limit is not None and limit < 0):
        raise ValueError("offset and limit must not be negative")
    matched = len(gdf)
    page = gdf.iloc[offset: None if limit is None else offset + limit]
    if page.crs is not None and not page.crs.equals("EPSG:4326"):
        page = page.to_crs("EPSG:4326")
    geom_name = page.geometry.name
    keep = [c for c in (columns if columns is not None else page.columns) if c != geom_name]
    geoms = shapely.set_precision(page.geometry.values, 10 ** -COORD_PRECISION, mode="pointwise")
    geo_json = shapely.to_geojson(geoms)
    features = []
    # Records keep each column's own type (iterrows would turn whole numbers into floats
    # whenever a row mixes ints and floats).
    records = pd.DataFrame(page[keep]).to_dict("records")
    for i, row in enumerate(records):
        feature: dict[str, Any] = {
            "type": "Feature",
            "properties": feature_properties(row),
            "geometry": None if geo_json[i] is None else json.loads(geo_json[i]),
        }
        if id_column is not None:
            feature["id"] = plain_value(page[id_column].iloc[i])
        features.append(feature)
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "offset": offset,
        "limit": limit,
    }


def feature_collection_text(gdf: gpd.GeoDataFrame) -> str:
    """A whole frame as GeoJSON FeatureCollection text in EPSG:4326, at full precision.

    The same collection as geopandas' ``to_json(na="null", drop_id=True)`` (NaN as null, equal
    values once parsed), written from GEOS's GeoJSON of every geometry at once instead of a
    Python mapping a feature: a build writes its gaps and places several times over.
    """
    frame = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
    geom_name = frame.geometry.name
    keep = [c for c in frame.columns if c != geom_name]
    geo_json = shapely.to_geojson(frame.geometry.values)
    records = pd.DataFrame(frame[keep]).to_dict("records")
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    features = [
        '{"type": "Feature", "properties": '
        f'{dumps(feature_properties(row))}, "geometry": {"null" if geom is None else geom}}}'
        for row, geom in zip(records, geo_json, strict=True)]
    return '{"type": "FeatureCollection", "features": [' + ", ".join(features) + "]}"


def bounds_lonlat(gdf: gpd.GeoDataFrame) -> list[float]:
    """``[west, south, east, north]`` of a frame in degrees (for map fitting)."""
    frame = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
    return [float(v) for v in frame.total_bounds]
