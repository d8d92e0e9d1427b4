"""The FeatureCollection text a build writes (kennai.geojson.feature_collection_text) equals,
once parsed, geopandas' ``to_json(na="null", drop_id=True)``: every value and every coordinate
(GEOS writes each double so that it reads back as the same double)."""

from __future__ import annotations

import datetime
import json

import geopandas as gpd
import numpy as np
import shapely

from kennai.access.store import load_access
from kennai.geojson import feature_collection_text, plain_value
from kennai.region import Region


def _reference(gdf: gpd.GeoDataFrame) -> object:
    return json.loads(gdf.to_crs("EPSG:4326").to_json(na="null", drop_id=True,
                                                      ensure_ascii=False))


def test_equal_to_geopandas_on_mixed_values_and_geometries() -> None:
    square = shapely.box(138000.0, -43000.0, 138123.456789, -42876.54321)
    holed = shapely.Polygon(square.exterior.coords,
                            [shapely.box(138010, -42990, 138020, -42980).exterior.coords])
    gdf = gpd.GeoDataFrame({
        "rank": np.array([1, 2, 3, 4], dtype=np.int64),
        "name": ['東小学校区 "北"', "a\\b", "", "改行\nあり"],
        "population": [12.5, np.nan, 0.0, 1e-7],
        "flag": [True, False, True, False],
        "note": [None, "x", None, "y"],
    }, geometry=[square, holed, shapely.MultiPolygon([square, shapely.box(0, 0, 1, 1)]),
                 shapely.Point(138001.25, -42999.75)], crs="EPSG:6676")
    text = feature_collection_text(gdf)
    assert json.loads(text) == _reference(gdf)
    assert "東小学校区" in text  # not escaped to \\u sequences


def test_missing_geometry_and_empty_frame() -> None:
    gdf = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[None, shapely.Point(139.5, 35.5)],
                           crs="EPSG:4326")
    assert json.loads(feature_collection_text(gdf)) == _reference(gdf)
    empty = gdf.iloc[:0]
    assert json.loads(feature_collection_text(empty)) == {"type": "FeatureCollection",
                                                          "features": []}


def test_times_and_dates_as_iso_text() -> None:
    """A register's times read back from GeoJSON come as datetime.time (geopandas' writer
    fails on them)."""
    assert plain_value(datetime.time(9, 30)) == "09:30:00"
    assert plain_value(datetime.date(2026, 12, 4)) == "2026-12-04"
    assert plain_value(np.float64("nan")) is None
    assert plain_value(float("inf")) is None
    assert plain_value(np.int64(3)) == 3 and type(plain_value(np.int64(3))) is int


def test_equal_to_geopandas_on_a_built_region(demo: Region) -> None:
    """The embedded demo region's places, gaps and suggestions, as its build stored them."""
    results = load_access(demo.build_dir)
    frames = [results.places, results.gaps, results.suggestions]
    for frame in frames:
        assert frame is not None and len(frame)
        frame = frame.copy()
        for col in frame.columns.drop(frame.geometry.name):  # what the old writer could take
            frame[col] = frame[col].map(lambda v: v.isoformat()
                                        if isinstance(v, datetime.time) else v)
        assert json.loads(feature_collection_text(frame)) == _reference(frame)
