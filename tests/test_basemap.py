"""The region's own basemap: water, rivers, rail, major roads and place names, offline.

The small OSM file below is made for the test (OSM XML 0.6, as osmium writes it): a lake by the
region and one 30 km away, a railway, a primary road and two place nodes.
"""

from __future__ import annotations

from pathlib import Path

import mapbox_vector_tile
import mercantile
import pytest
import shapely

from kennai.basemap import load_basemap
from kennai.build import build_region
from kennai.config import load_config
from kennai.io.osm_basemap import read_osm_basemap
from kennai.tiles import region_tile_set

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ISHIGAKI = SHARED / "ishigaki" / "network" / "ishigaki_city_osm_2024-04-11.osm.pbf"

_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="kennai-test">
  <node id="1" lat="35.000" lon="138.000"/><node id="2" lat="35.000" lon="138.010"/>
  <node id="3" lat="35.010" lon="138.010"/><node id="4" lat="35.010" lon="138.000"/>
  <node id="5" lat="35.300" lon="138.300"/><node id="6" lat="35.300" lon="138.310"/>
  <node id="7" lat="35.310" lon="138.310"/><node id="8" lat="35.310" lon="138.300"/>
  <node id="9" lat="35.020" lon="138.000"/><node id="10" lat="35.020" lon="138.020"/>
  <node id="11" lat="35.030" lon="138.000"/><node id="12" lat="35.030" lon="138.020"/>
  <node id="13" lat="35.005" lon="138.005"><tag k="place" v="suburb"/><tag k="name" v="湖畔町"/></node>
  <node id="14" lat="35.305" lon="138.305"><tag k="place" v="village"/><tag k="name" v="遠い村"/></node>
  <way id="100"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="natural" v="water"/><tag k="name" v="近い池"/></way>
  <way id="101"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="5"/>
    <tag k="natural" v="water"/><tag k="name" v="遠い池"/></way>
  <way id="102"><nd ref="9"/><nd ref="10"/><tag k="railway" v="rail"/></way>
  <way id="103"><nd ref="11"/><nd ref="12"/><tag k="highway" v="primary"/><tag k="name" v="国道"/></way>
</osm>
"""


def test_the_osm_basemap_reads_each_kind_and_keeps_what_touches_the_clip(tmp_path: Path) -> None:
    path = tmp_path / "base.osm"
    path.write_text(_OSM, encoding="utf-8")
    everything = read_osm_basemap(path)
    assert sorted(everything["kind"]) == ["place", "place", "rail", "road", "water", "water"]
    near = read_osm_basemap(path, clip=shapely.box(137.99, 34.99, 138.03, 35.04))
    assert sorted(near["name"]) == ["", "国道", "湖畔町", "近い池"]
    water = near[near["kind"] == "water"].geometry.iloc[0]
    assert water.geom_type in ("Polygon", "MultiPolygon") and water.area > 0
    assert near.crs.to_epsg() == 4326


def _layers_at(tiles, lon: float, lat: float, z: int) -> dict:
    tile = mercantile.tile(lon, lat, z)
    return mapbox_vector_tile.decode(tiles.tile(z, tile.x, tile.y))


def test_the_demo_build_serves_water_rail_roads_and_names(tmp_path: Path) -> None:
    region, _ = build_region(load_config(ROOT / "pipelines" / "demo.yaml"),
                             build_dir=tmp_path / "demo")
    basemap = load_basemap(region)
    assert basemap is not None
    assert {"water", "rail", "road", "place"} <= set(basemap["kind"])
    assert region.metadata["basemap"]["water"] >= 1
    tiles = region_tile_set(region)
    names = {layer.name for layer in tiles.layers}
    assert {"water", "rail", "major_roads", "place_names"} <= names
    lake = basemap[basemap["kind"] == "water"].geometry.iloc[0].representative_point()
    assert "water" in _layers_at(tiles, lake.x, lake.y, 14)
    label = basemap[basemap["kind"] == "place"].iloc[0]
    decoded = _layers_at(tiles, label.geometry.x, label.geometry.y, 14)
    assert label["name"] in {f["properties"]["name"] for f in decoded["place_names"]["features"]}


@pytest.mark.realdata
@pytest.mark.skipif(not ISHIGAKI.is_file(), reason=f"Ishigaki OSM file not found at {ISHIGAKI}")
def test_ishigaki_has_its_coastline_and_place_names_near_the_city(tmp_path: Path) -> None:
    region, _ = build_region(load_config(ROOT / "pipelines" / "ishigaki.yaml"),
                             build_dir=tmp_path / "ishigaki")
    basemap = load_basemap(region)
    assert basemap is not None
    assert (basemap["kind"] == "coastline").sum() > 100
    places = basemap[basemap["kind"] == "place"]
    assert "石垣市" in set(places["name"]) and len(places) > 10
    near = region.outline.buffer(2000)
    inside = places.to_crs(region.crs).geometry.within(near)
    assert inside.all()


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED / "yaizu").is_dir(), reason=f"Yaizu data not found at {SHARED}")
def test_yaizu_without_osm_names_its_town_areas(tmp_path: Path) -> None:
    region, _ = build_region(load_config(ROOT / "pipelines" / "yaizu.yaml"),
                             build_dir=tmp_path / "yaizu")
    basemap = load_basemap(region)
    assert basemap is not None
    names = region.layer("population")["name"].dropna().astype(str)
    assert set(basemap["name"]) == set(names[names.str.strip() != ""])
    assert basemap["name"].is_unique and (basemap["class"] == "town_area").all()
