"""The analysis zone comes from where the data lie: prefecture polygons and the 告示's rules."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import affinity

from kennai import crs as crs_mod
from kennai.crs import (
    choose_crs,
    choose_crs_for_layers,
    far_features,
    hokkaido_zone,
    prefecture_at,
    rule_zone,
    zone_at,
)
from kennai.errors import InputError
from kennai.io.osm import read_walk_ways
from tests.conftest import shared


def _need(*parts: str) -> Path:
    path = shared(*parts)
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    return path


def _points(lon: np.ndarray, lat: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


# --- the zone of a point: every kind of prefecture ---------------------------------------------

@pytest.mark.parametrize(("lon", "lat", "zone", "where"), [
    (139.700, 35.643, 9, "中目黒 (Tokyo mainland)"),
    (139.79, 33.10, 9, "八丈島 (Tokyo, north of 28°N)"),
    (142.19, 27.09, 14, "父島 (Tokyo, XIV)"),
    (136.08, 20.42, 18, "沖ノ鳥島 (Tokyo, XVIII)"),
    (153.98, 24.29, 19, "南鳥島 (Tokyo, XIX)"),
    (131.25, 33.95, 3, "宇部 (Yamaguchi, whose EPSG box overlaps II)"),
    (138.30, 34.85, 8, "焼津 (Shizuoka)"),
    (134.05, 34.34, 4, "高松 (Kagawa)"),
    (134.72, 34.25, 5, "南あわじ (Hyogo, on an island next to Tokushima's IV)"),
    (124.16, 24.34, 16, "石垣 (Okinawa, XVI)"),
    (127.68, 26.21, 15, "那覇 (Okinawa, XV)"),
    (131.24, 25.83, 17, "南大東島 (Okinawa, XVII)"),
    (129.78, 31.78, 1, "甑島 (Kagoshima island, I)"),
    (129.97, 28.32, 1, "喜界島 (奄美群島 east of 130°E, I)"),
    (130.16, 31.41, 2, "野間岬 (Kagoshima mainland, II)"),
    (130.53, 30.35, 2, "屋久島 (Kagoshima, II)"),
    (129.30, 34.40, 1, "対馬 (Nagasaki)"),
    (140.73, 41.77, 11, "函館 (Hokkaido XI)"),
    (141.00, 43.19, 11, "小樽 (Hokkaido XI)"),
    (141.35, 43.06, 12, "札幌 (Hokkaido XII)"),
    (143.35, 44.35, 12, "紋別 (オホーツク, XII)"),
    (144.27, 44.02, 13, "網走 (オホーツク, XIII)"),
    (144.38, 42.98, 13, "釧路 (Hokkaido XIII)"),
    (141.24, 45.18, 12, "利尻島 (Hokkaido XII)"),
])
def test_zone_at_every_kind_of_prefecture(lon: float, lat: float, zone: int, where: str) -> None:
    assert zone_at(lon, lat) == zone, where


def test_outside_japan_is_no_zone_but_utm() -> None:
    assert zone_at(14.514, 35.899) is None
    assert prefecture_at(135.0, 30.0) is None  # open sea, far from any coast
    assert choose_crs("auto", (14.2, 35.8, 14.6, 36.1)).to_epsg() == 32633


def test_port_at_sea_takes_the_nearest_prefecture() -> None:
    # 2 km off 焼津港 in 駿河湾: still Shizuoka.
    assert prefecture_at(138.35, 34.86) == (22, None)


def test_municipality_code_decides_where_the_kokuji_does() -> None:
    far = (0.0, 0.0)  # the location must not matter for these
    assert zone_at(*far, municipality="01202") == 11  # 函館市
    assert zone_at(*far, municipality="012131") == 12  # 苫小牧市, 6 digits with check digit
    assert zone_at(*far, municipality="01691") == 13  # 別海町
    assert zone_at(*far, municipality="47207") == 16  # 石垣市
    assert zone_at(*far, municipality="47357") == 17  # 南大東村
    assert zone_at(*far, municipality="47201") == 15  # 那覇市
    assert zone_at(*far, municipality="46222") == 1  # 奄美市
    assert zone_at(*far, municipality="46201") == 2  # 鹿児島市
    assert zone_at(*far, municipality="13110") == 9  # 目黒区
    assert zone_at(*far, municipality="37201") == 4  # 高松市
    # Split municipalities fall back to location within the prefecture.
    assert zone_at(142.19, 27.09, municipality="13421") == 14  # 小笠原村 父島
    assert zone_at(153.98, 24.29, municipality="13421") == 19  # 小笠原村 南鳥島
    assert zone_at(129.78, 31.78, municipality="46215") == 1  # 薩摩川内市 甑島
    assert zone_at(130.30, 31.82, municipality="46215") == 2  # 薩摩川内市 本土


def test_rules_and_hokkaido_table() -> None:
    assert rule_zone(13, 139.7, 35.6) == 9
    assert rule_zone(47, 126.0, 26.0) == 15  # the 126°E line itself belongs to XV
    assert rule_zone(22, 0.0, 0.0) == 8
    assert hokkaido_zone("01233") == 11  # 伊達市
    assert hokkaido_zone("01578") == 12  # 白老町 (胆振, but not 豊浦・壮瞥・洞爺湖)
    with pytest.raises(ValueError):
        rule_zone(1, 141.0, 43.0)


def test_prefecture_code_still_decides_single_zone_prefectures() -> None:
    assert choose_crs("auto", (139.6, 35.6, 139.8, 35.7), prefecture=13).to_epsg() == 6677
    assert zone_at(0.0, 0.0, prefecture=22) == 8


# --- real data: the zone of each city ----------------------------------------------------------

@pytest.mark.realdata
def test_meguro_osm_is_zone_ix() -> None:
    ways = read_walk_ways(_need("tokyo-meguro", "network", "nakameguro_ebisu_2018.osm"))
    crs, findings = choose_crs_for_layers("auto", {"network": _points(ways.lon, ways.lat)})
    assert crs.to_epsg() == 6677
    assert findings == []


@pytest.mark.realdata
def test_ube_edges_are_zone_iii() -> None:
    edges = gpd.read_file(_need("ube", "network", "ube_central_walk_edges_osm.gpkg"), layer="edges")
    crs, _ = choose_crs_for_layers("auto", {"network": edges})
    assert crs.to_epsg() == 6671


@pytest.mark.realdata
def test_ishigaki_pbf_is_zone_xvi() -> None:
    ways = read_walk_ways(_need("ishigaki", "network", "ishigaki_city_osm_2024-04-11.osm.pbf"))
    crs, _ = choose_crs_for_layers("auto", {"network": _points(ways.lon, ways.lat)})
    assert crs.to_epsg() == 6684


@pytest.mark.realdata
def test_takamatsu_points_are_zone_iv() -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("openpyxl", reason="openpyxl is needed to read .xlsx")
    df = pd.read_excel(_need("takamatsu", "original", "population_0066_202602.xlsx"), dtype=str)
    latlon = df["location"].str.split(",", expand=True).astype(float)
    crs, _ = choose_crs_for_layers("auto", {"population": _points(latlon[1], latlon[0])})
    assert crs.to_epsg() == 6672


@pytest.mark.realdata
def test_a_district_900_km_away_is_a_finding_not_a_zone_change() -> None:
    gdf = gpd.read_file(_need("yaizu", "boundaries", "elementary_school_districts.geojson"))
    gdf["name"] = gdf["school_name"]
    crs, findings = choose_crs_for_layers("auto", {"elementary": gdf})
    assert crs.to_epsg() == 6676 and findings == []
    stray = gdf.iloc[[0]].copy()
    stray["name"] = "迷子小学校"
    stray["geometry"] = [affinity.translate(stray.geometry.iloc[0], xoff=0.0, yoff=8.1)]  # ≈900 km N
    moved = gpd.GeoDataFrame(gpd.pd.concat([gdf, stray], ignore_index=True), crs=gdf.crs)
    crs, findings = choose_crs_for_layers("auto", {"elementary": moved})
    assert crs.to_epsg() == 6676  # the stray lies in Hokkaido; the zone does not follow it
    assert [(f.code, f.layer, f.feature) for f in findings] == [
        ("far_from_region", "elementary", "迷子小学校")]
    assert "km" in findings[0].message.en and findings[0].level == "warning"
    # The old way, from the bounds' centre, is what moved the zone.
    lonlat = moved.total_bounds
    assert choose_crs("auto", tuple(lonlat)).to_epsg() != 6676


def test_far_features_keeps_a_long_city_together() -> None:
    lon = np.linspace(138.0, 138.6, 50)  # a 55 km long city: nothing is far
    lat = np.full(50, 34.9)
    assert not far_features(lon, lat)[2].any()
    lon = np.append(lon, 147.0)  # one point ~800 km east
    lat = np.append(lat, 34.9)
    far = far_features(lon, lat)[2]
    assert far.sum() == 1 and far[-1]


def test_no_located_feature_is_an_error() -> None:
    empty = gpd.GeoDataFrame(geometry=[shapely.Point()], crs="EPSG:4326")
    with pytest.raises(InputError, match="coordinate system"):
        choose_crs_for_layers("auto", {"places": empty})
    crs, findings = choose_crs_for_layers("EPSG:6676", {"places": empty})
    assert crs.to_epsg() == 6676 and findings == []


def test_zone_area_properties_are_the_geojson_features_own() -> None:
    """The zone areas' prefecture and zone, found in the file's text, are every feature's
    properties as a JSON parser reads them, in feature order; a geometry without its
    properties is an error, not a shifted table."""
    import json
    from importlib import resources

    text = (resources.files("kennai") / "data" / "jgd2011_zone_areas.geojson").read_text("utf-8")
    features = json.loads(text)["features"]
    _, prefs, zones, _ = crs_mod._zone_areas()
    assert prefs.tolist() == [f["properties"]["pref"] for f in features]
    assert zones.tolist() == [f["properties"]["zone"] or 0 for f in features]
    assert sorted(set(prefs.tolist())) == list(range(1, 48))
    assert sorted(set(zones.tolist()) - {0}) == [11, 12, 13]
