"""Every reader on real published files, and on small bad files that must fail clearly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS

from kennai.config import Source
from kennai.errors import CRSError, EmptyLayerError, InputError
from kennai.io.encoding import dbf_encoding, sniff_bytes
from kennai.io.layers import read_districts, read_points, read_population
from kennai.io.network import network_from_graphml, read_network
from kennai.io.osm import read_osm_buildings, read_osm_places, read_walk_ways
from kennai.io.tables import points_from_table, read_csv_table
from kennai.io.vector import read_vector
from tests.conftest import needs_shared, shared

YAIZU_SHP = "yaizu/boundaries/original_shapefiles"
JGD2011_VIII = CRS.from_epsg(6676)


# --- real files -------------------------------------------------------------------------------

@needs_shared
@pytest.mark.realdata
def test_shift_jis_shapefile_with_cpg_gives_japanese_names() -> None:
    src = Source(path=shared(YAIZU_SHP, "elementary_school_districts", "小学校区.shp"))
    gdf = read_districts(src, "elementary")
    assert len(gdf) == 13
    assert gdf.crs.to_epsg() == 2450
    assert "焼津東小学校" in set(gdf["name"])  # name column found from its values (SAFIELD001)
    assert all(n.endswith("小学校") for n in gdf["name"])


@needs_shared
@pytest.mark.realdata
def test_shift_jis_shapefile_without_cpg_is_detected(tmp_path: Path) -> None:
    folder = shared(YAIZU_SHP, "jichikai_areas")
    for f in folder.iterdir():
        if f.suffix.lower() != ".cpg":
            shutil.copy(f, tmp_path / f.name)
    shp = tmp_path / "自治会区域.shp"
    assert dbf_encoding(shp.with_suffix(".dbf").read_bytes()) == "cp932"
    gdf = read_districts(Source(path=shp), "neighbourhood")
    assert len(gdf) == 35
    assert "小川第13自治会" in set(gdf["name"])


@needs_shared
@pytest.mark.realdata
def test_junior_high_in_jgd2011_geographic() -> None:
    gdf = read_districts(Source(path=shared(YAIZU_SHP, "junior_high_school_districts",
                                            "中学校区.shp")), "junior_high")
    assert len(gdf) == 9
    assert gdf.crs.to_epsg() == 6668
    assert "大村中学校" in set(gdf["name"])


@needs_shared
@pytest.mark.realdata
def test_utf8_geojson_copy_matches_shapefile() -> None:
    shp = read_districts(Source(path=shared(YAIZU_SHP, "elementary_school_districts",
                                            "小学校区.shp")), "elementary")
    gj = read_districts(Source(path=shared("yaizu/boundaries/elementary_school_districts.geojson"),
                               name_column="school_name"), "elementary")
    assert sorted(shp["name"]) == sorted(gj["name"])
    a = shp.to_crs(JGD2011_VIII).set_index("name").area.sort_index()
    b = gj.to_crs(JGD2011_VIII).set_index("name").area.sort_index()
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-6)


@needs_shared
@pytest.mark.realdata
def test_estat_small_areas_merge_pieces_by_key_code() -> None:
    gdf = read_population(Source(path=shared(
        "yaizu/small_areas/original_shapefiles/jikai_kuiki_estat_h27/字界区域.shp")))
    assert len(gdf) == 143  # 154 features, 143 KEY_CODEs
    assert gdf["population"].sum() == 139_462
    assert gdf["households"].sum() == 50_648
    assert gdf["population_65plus"].isna().all()  # the 2015 file has no age breakdown
    assert gdf["unit_id"].is_unique


@needs_shared
@pytest.mark.realdata
def test_estat_r2ka_topojson() -> None:
    gdf = read_population(Source(path=shared("omaezaki/small_areas/r2ka22223.topojson")))
    assert gdf.crs.to_epsg() == 4326  # TopoJSON declares no CRS: lon/lat by convention
    assert gdf["population"].sum() == 31_103
    assert len(gdf) == 39


@needs_shared
@pytest.mark.realdata
def test_recommended_dataset_csv_places() -> None:
    gdf = read_points(Source(path=shared("yaizu/facilities/community_centers_chiiki_koryu.csv"),
                             category="公民館"), "places")
    assert len(gdf) == 9
    assert set(gdf.columns) >= {"place_id", "name", "category", "address", "weekdays"}
    assert "港地域交流センター" in set(gdf["name"])
    assert gdf["place_id"].is_unique


@needs_shared
@pytest.mark.realdata
def test_cp932_csv_with_newlines_in_quotes() -> None:
    orig = read_points(Source(path=shared("yaizu/facilities/original_csv/yohairyosya_cp932.csv")),
                       "places")
    utf8 = read_points(Source(path=shared("yaizu/facilities/care_facilities_yohairyosya.csv")),
                       "places")
    assert len(orig) == len(utf8) == 277
    assert list(orig["name"]) == list(utf8["name"])


@needs_shared
@pytest.mark.realdata
def test_geojson_points_with_filter() -> None:
    src = Source(path=shared("yaizu/facilities/gathering_place_candidates.geojson"),
                 category_column="category_ja",
                 where={"column": "category", "equals": ["welfare_hall"]})
    gdf = read_points(src, "places")
    assert len(gdf) == 2
    assert gdf["place_id"].str.startswith("YZ-GP-").all()


@needs_shared
@pytest.mark.realdata
def test_edge_file_with_node_ids() -> None:
    net = read_network(Source(path=shared("yaizu/network/yaizu_station_800m_walk_edges_osm.geojson")),
                       JGD2011_VIII)
    assert net.n_nodes == 658
    assert net.n_edges == 1090
    assert net.summary()["components"] == 1
    src = gpd.read_file(shared("yaizu/network/yaizu_station_800m_walk_edges_osm.geojson"))
    np.testing.assert_allclose(net.edge_length.sum(), src["length_m"].sum(), rtol=1e-3)


@needs_shared
@pytest.mark.realdata
def test_osmnx_edges_geopackage() -> None:
    net = read_network(Source(path=shared("ube/network/ube_central_walk_edges_osm.gpkg")),
                       CRS.from_epsg(6671))
    assert net.n_nodes == 10_403
    assert net.summary()["components"] == 6


@needs_shared
@pytest.mark.realdata
def test_osm_xml_walk_filter() -> None:
    path = shared("tokyo-meguro/network/nakameguro_ebisu_2018.osm")
    ways = read_walk_ways(path)
    assert "motorway" not in set(ways.highway)
    assert {"footway", "steps", "pedestrian", "residential"} <= set(ways.highway)
    net = read_network(Source(path=path), CRS.from_epsg(6677))
    assert net.n_edges > 500
    places = read_osm_places(Source(path=path))
    assert {"amenity=social_facility", "amenity=community_centre"} <= set(places["category"])


@needs_shared
@pytest.mark.realdata
def test_osm_pbf_network_and_buildings() -> None:
    path = shared("ishigaki/network/ishigaki_city_osm_2024-04-11.osm.pbf")
    net = read_network(Source(path=path), CRS.from_epsg(6684))
    s = net.summary()
    assert s["largest_component_length_share"] > 0.95
    assert 5_000 < net.n_nodes < 10_000  # simplified graph (≈6,200 nodes of degree ≠ 2)
    b = read_osm_buildings(path)
    assert 22_000 < len(b) < 23_000
    assert b.geom_type.isin(["MultiPolygon"]).all()


@needs_shared
@pytest.mark.realdata
def test_graphml(tmp_path: Path) -> None:
    ox = pytest.importorskip("osmnx")
    graph = ox.graph_from_xml(shared("tokyo-meguro/network/nakameguro_ebisu_2018.osm"),
                              retain_all=True)
    path = tmp_path / "g.graphml"
    ox.save_graphml(graph, path)
    net = network_from_graphml(path, CRS.from_epsg(6677))
    assert net.n_edges > 500
    assert (net.edge_length > 0).all()


def test_ksj_a27_names_detected(tmp_path: Path) -> None:
    """国土数値情報 A27: the name (A27_004) is found among the coded columns."""
    poly = shapely.box(138.30, 34.85, 138.31, 34.86)
    gdf = gpd.GeoDataFrame({"A27_001": ["22212", "22212"], "A27_002": ["焼津市", "焼津市"],
                            "A27_003": ["22212001", "22212002"],
                            "A27_004": ["焼津東小学校", "焼津西小学校"],
                            "A27_005": ["焼津市本町", "焼津市西小川"]},
                           geometry=[poly, shapely.affinity.translate(poly, 0.01)], crs=6668)
    path = tmp_path / "A27-21_22.geojson"
    gdf.to_file(path)
    out = read_districts(Source(path=path), "elementary")
    assert list(out["name"]) == ["焼津東小学校", "焼津西小学校"]


# --- bad files --------------------------------------------------------------------------------

def _one_line(exc: pytest.ExceptionInfo[Exception]) -> str:
    text = exc.value.format("en")  # type: ignore[attr-defined]
    assert "\n" not in text
    return text


def test_broken_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_vector(path)
    line = _one_line(exc)
    assert "broken.geojson" in line and "cannot read" in line


def test_missing_crs(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["A小学校"]},
                           geometry=[shapely.box(-16000, -127000, -15000, -126000)])
    path = tmp_path / "noprj.shp"
    gdf.to_file(path, engine="pyogrio")
    path.with_suffix(".prj").unlink(missing_ok=True)
    with pytest.raises(CRSError) as exc:
        read_districts(Source(path=path), "elementary")
    line = _one_line(exc)
    assert "noprj.shp" in line and "EPSG:66" in line  # hint names the zone CRSs
    # ...and the config's crs fixes it.
    ok = read_districts(Source(path=path, crs="EPSG:6676"), "elementary")
    assert ok.crs.to_epsg() == 6676


def test_wrong_crs_is_caught(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["A小学校"]},
                           geometry=[shapely.box(-16000, -127000, -15000, -126000)], crs=4326)
    path = tmp_path / "metres_as_degrees.gpkg"
    gdf.to_file(path, engine="pyogrio")
    with pytest.raises(CRSError, match="lon/lat"):
        read_vector(path)


def test_cp932_without_cpg(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"NAME": ["東小学校", "西小学校"]},
                           geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=6676)
    path = tmp_path / "sjis.shp"
    gdf.to_file(path, engine="pyogrio", encoding="cp932")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    out = read_districts(Source(path=path), "elementary")
    assert list(out["name"]) == ["東小学校", "西小学校"]


def test_undecodable_text(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("名称,緯度,経度\n".encode() + b"\xff\xfe\xfa,34.8,138.3\n")
    with pytest.raises(InputError, match="neither UTF-8 nor Shift_JIS"):
        read_csv_table(path)


def test_swapped_lat_lon(tmp_path: Path) -> None:
    path = tmp_path / "swapped.csv"
    path.write_text("名称,緯度,経度\nA,34.86,138.32\nB,138.31,34.85\n", encoding="utf-8-sig")
    with pytest.raises(InputError) as exc:
        read_points(Source(path=path), "places")
    line = _one_line(exc)
    assert "swapped" in line and "line 3" in line


def test_non_numeric_coordinate(tmp_path: Path) -> None:
    path = tmp_path / "text.csv"
    path.write_text("名称,緯度,経度\nA,34.86,138.32\nB,北緯34度,138.3\n", encoding="cp932")
    with pytest.raises(InputError) as exc:
        read_points(Source(path=path), "places")
    assert "line 3" in _one_line(exc)


def test_empty_layer(tmp_path: Path) -> None:
    path = tmp_path / "empty.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}), encoding="utf-8")
    with pytest.raises(EmptyLayerError) as exc:
        read_vector(path)
    assert "no features" in _one_line(exc)


def test_empty_csv(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("名称,緯度,経度\n", encoding="utf-8")
    with pytest.raises(EmptyLayerError):
        read_points(Source(path=path), "places")


def test_missing_file() -> None:
    with pytest.raises(InputError, match="file not found"):
        read_vector(Path("/nonexistent/districts.geojson"))


def test_no_name_column(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"code": [1, 2]},
                           geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=6676)
    path = tmp_path / "codes.gpkg"
    gdf.to_file(path)
    with pytest.raises(InputError, match="name_column"):
        read_districts(Source(path=path), "elementary")


def test_points_not_polygons(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["A小学校"]}, geometry=[shapely.Point(138.3, 34.8)], crs=4326)
    path = tmp_path / "points.geojson"
    gdf.to_file(path)
    with pytest.raises(InputError, match="not a polygon"):
        read_districts(Source(path=path), "elementary")


def test_sniff_bytes() -> None:
    assert sniff_bytes("焼津".encode("cp932")) == "cp932"
    assert sniff_bytes("焼津".encode()) == "utf-8"
    assert sniff_bytes(b"abc") is None
    assert sniff_bytes("焼津".encode()[:-1], final=False) == "utf-8"


def test_points_outside_japan_rejected() -> None:
    import pandas as pd

    df = pd.DataFrame({"名称": ["A"], "lat": ["51.5"], "lon": ["-0.1"]})
    with pytest.raises(InputError, match="outside Japan"):
        points_from_table(df, Path("x.csv"))


@needs_shared
@pytest.mark.realdata
def test_flatgeobuf_and_zipped_shapefile_read_like_the_original(tmp_path: Path) -> None:
    import zipfile

    folder = shared(YAIZU_SHP, "elementary_school_districts")
    original = read_districts(Source(path=folder / "小学校区.shp"), "elementary")
    fgb = tmp_path / "es.fgb"
    original.to_file(fgb, driver="FlatGeobuf")
    zipped = tmp_path / "es.zip"
    no_cpg = tmp_path / "es_no_cpg.zip"
    with zipfile.ZipFile(zipped, "w") as zf, zipfile.ZipFile(no_cpg, "w") as zn:
        for f in folder.iterdir():
            zf.write(f, f.name)  # Shift_JIS attributes, .cpg included, as a city zips them
            if f.suffix != ".cpg":
                zn.write(f, f.name)  # ... and without it: the encoding comes from the bytes
    for path in (fgb, zipped, no_cpg):
        gdf = read_districts(Source(path=path), "elementary")
        assert sorted(gdf["name"]) == sorted(original["name"]), path.name
        assert gdf.crs.to_epsg() == 2450
