"""kennai init's engine: files recognised from their contents, and a region YAML that builds.

The Yaizu test copies the city's files as published into a temporary folder under meaningless
names (so nothing can be guessed from a file name) and checks that the YAML written from them
builds into the same split and access results as ``pipelines/yaizu.yaml``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Polygon

from kennai.build import build_region
from kennai.config import load_config
from kennai.recognise import Recognised, hall_word, recognise_file, recognise_folder
from kennai.region import Region
from kennai.region_yaml import write_region_yaml
from kennai.splits import split_report_for_region
from tests.conftest import needs_shared, shared

YAIZU_CSVS = ("community_centers_chiiki_koryu.csv", "welfare_halls.csv", "shelters_hinanjo.csv",
              "public_facilities_2024-12.csv")


def _copy_shapefile(shp: Path, dest: Path, stem: str) -> None:
    for part in shp.parent.glob(shp.stem + ".*"):
        shutil.copy(part, dest / (stem + part.suffix))


def yaizu_folder(dest: Path) -> Path:
    """Copies of Yaizu's files as published, under names that say nothing."""
    dest.mkdir(parents=True)
    originals = sorted(shared("yaizu", "boundaries", "original_shapefiles").rglob("*.shp"))
    originals += sorted(shared("yaizu", "small_areas", "original_shapefiles").rglob("*.shp"))
    for i, shp in enumerate(originals):
        _copy_shapefile(shp, dest, f"layer{i}")
    for i, name in enumerate(YAIZU_CSVS):
        shutil.copy(shared("yaizu", "facilities", name), dest / f"list{i}.csv")
    shutil.copy(shared("yaizu", "network", "yaizu_station_800m_walk_edges_osm.geojson"),
                dest / "lines.geojson")
    return dest


def _roles(found: list[Recognised]) -> dict[str, list[Recognised]]:
    out: dict[str, list[Recognised]] = {}
    for rec in found:
        out.setdefault(rec.role, []).append(rec)
    return out


@needs_shared
@pytest.mark.slow
def test_yaizu_init_builds_like_the_pipeline(tmp_path: Path, yaizu: Region) -> None:
    folder = yaizu_folder(tmp_path / "files")
    out = tmp_path / "pipelines" / "yaizu.yaml"
    out.parent.mkdir()
    text, unplaced = write_region_yaml(folder, out)
    assert "from_layer: junior_high" in text and "prefecture: 22" in text
    assert {p.name for p, _ in unplaced} == {"layer0.shp", "layer3.shp"}  # lines, 自主防災会
    cfg = load_config(out)
    assert [p.name for p in cfg.plans] == ["junior_high"]
    assert cfg.layers["elementary"].sources[0].name_column == "SAFIELD001"
    assert cfg.layers["junior_high"].sources[0].name_column == "item2"
    assert cfg.layers["neighbourhood"].sources[0].name_column == "SAFIELD000"
    region, built = build_region(cfg, build_dir=tmp_path / "build")
    assert built
    for kind in ("elementary", "junior_high", "neighbourhood", "population", "places", "candidates"):
        assert region.metadata["layers"][kind]["count"] == yaizu.metadata["layers"][kind]["count"]
    def points(r: Region, kind: str) -> list[tuple[str, float, float]]:
        gdf = r.layer(kind)
        return sorted(zip(gdf["name"], gdf.geometry.x.round(3), gdf.geometry.y.round(3),
                          strict=True))

    assert points(region, "places") == points(yaizu, "places")
    assert points(region, "candidates") == points(yaizu, "candidates")

    # kennai splits … --plan junior_high --units elementary: the same split districts and shares.
    a = split_report_for_region(region, "junior_high", "elementary")
    b = split_report_for_region(yaizu, "junior_high", "elementary")
    pd.testing.assert_frame_equal(a.units.reset_index(drop=True), b.units.reset_index(drop=True))
    cols = ["unit", "area", "area_share", "population_share", "counted"]
    pd.testing.assert_frame_equal(pd.DataFrame(a.pieces[cols]).reset_index(drop=True),
                                  pd.DataFrame(b.pieces[cols]).reset_index(drop=True))
    assert sorted(a.units.loc[a.units["split"], "name"]) == ["焼津東小学校", "焼津西小学校"]
    assert a.summary == b.summary

    # kennai access … --by elementary: the same table (the build's stored results).
    def coverage(r: Region) -> dict:
        assert r.build_dir is not None
        stored = json.loads((r.build_dir / "access" / "access.json").read_text(encoding="utf-8"))
        return {k: v for k, v in stored["coverage"].items() if k != "plan:junior_high"} | {
            "plan": stored["coverage"].get("plan:junior_high")}

    assert coverage(region) == coverage(yaizu)


@needs_shared
def test_yaizu_roles_from_contents(tmp_path: Path) -> None:
    found, unplaced = recognise_folder(yaizu_folder(tmp_path / "files"))
    roles = _roles(found)
    assert [r.name_column for r in roles["elementary"]] == ["SAFIELD001"]
    assert [r.name_column for r in roles["junior_high"]] == ["item2"]
    assert [r.name_column for r in roles["neighbourhood"]] == ["SAFIELD000"]
    assert [r.rows for r in roles["population"]] == [154]
    assert len(roles["facilities"]) == 4 and len(roles["network"]) == 1
    why = {p.name: reason.en for p, reason in unplaced}
    assert "自主防災会" in why["layer3.shp"] and "boundary lines" in why["layer0.shp"]


@needs_shared
def test_every_yaizu_facility_list_gives_the_same_places(tmp_path: Path) -> None:
    """With all eleven of the city's facility lists in the folder (schools, towers, care
    facilities …), the places are still the 28 halls, each once, and the candidates the
    public-facility list."""
    folder = tmp_path / "files"
    folder.mkdir()
    for i, csv in enumerate(sorted(shared("yaizu", "facilities").glob("*.csv"))):
        shutil.copy(csv, folder / f"list{i}.csv")
    write_region_yaml(folder, tmp_path / "y.yaml")
    cfg = load_config(tmp_path / "y.yaml")
    used = [s.path.name for s in cfg.layers["places"].sources]
    names = sorted(p.name for p in shared("yaizu", "facilities").glob("*.csv"))
    assert sorted(names[int(u[4:-4])] for u in used) == sorted(YAIZU_CSVS[:3])
    (candidates,) = cfg.layers["candidates"].sources
    assert names[int(candidates.path.name[4:-4])] == "public_facilities_2024-12.csv"
    assert candidates.category_column == "団体名"


def _ksj(tmp_path: Path, name: str, columns: dict[str, list[str]]) -> Path:
    square = [Polygon([(138.25 + i * 0.01, 34.8), (138.26 + i * 0.01, 34.8),
                       (138.26 + i * 0.01, 34.81), (138.25 + i * 0.01, 34.81)]) for i in range(3)]
    path = tmp_path / name
    gpd.GeoDataFrame(columns, geometry=square, crs="EPSG:6668").to_file(path)
    return path


@pytest.mark.parametrize(("version", "columns", "role", "name_col", "code_col"), [
    ("A27-10", {"A27_005": ["22212", "22212", "22213"], "A27_006": ["焼津市立"] * 3,
                "A27_007": ["港小学校", "焼津東小学校", "本町小学校"], "A27_008": ["焼津市港"] * 3},
     "elementary", "A27_007", "A27_005"),
    ("A27-16", {"A27_001": ["22212", "22212", "22213"], "A27_002": ["焼津市立"] * 3,
                "A27_003": ["港小学校", "焼津東小学校", "本町小学校"], "A27_004": ["焼津市港"] * 3},
     "elementary", "A27_003", "A27_001"),
    ("A27-21", {"A27_001": ["22212", "22212", "22213"], "A27_002": ["焼津市立"] * 3,
                "A27_003": ["B122221200011", "B122221200012", "B122221300013"],
                "A27_004": ["港小学校", "焼津東小学校", "本町小学校"], "A27_005": ["焼津市港"] * 3},
     "elementary", "A27_004", "A27_001"),
    ("A32-13", {"A32_006": ["22212", "22212", "22213"], "A32_007": ["焼津市立"] * 3,
                "A32_008": ["港中学校", "焼津中学校", "本町中学校"], "A32_009": ["焼津市港"] * 3},
     "junior_high", "A32_008", "A32_006"),
    ("A32-16", {"A32_001": ["22212", "22212", "22213"], "A32_002": ["焼津市立"] * 3,
                "A32_003": ["港中学校", "焼津中学校", "本町中学校"], "A32_004": ["焼津市港"] * 3},
     "junior_high", "A32_003", "A32_001"),
    ("A32-21", {"A32_001": ["22212", "22212", "22213"], "A32_002": ["焼津市立"] * 3,
                "A32_003": ["C122221200011", "C122221200012", "C122221300013"],
                "A32_004": ["港中学校", "焼津中学校", "本町中学校"], "A32_005": ["焼津市港"] * 3},
     "junior_high", "A32_004", "A32_001"),
])
def test_every_ksj_school_district_version(tmp_path: Path, version: str, columns: dict,
                                           role: str, name_col: str, code_col: str) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    path = _ksj(folder, f"{version}_22.geojson", columns)
    (rec,) = recognise_file(path)
    assert isinstance(rec, Recognised)
    assert (rec.role, rec.name_column, rec.source) == (role, name_col, "ksj")
    text, _ = write_region_yaml(folder, tmp_path / "k.yaml", code="22212")
    cfg = load_config(tmp_path / "k.yaml")
    src = cfg.layers[role].sources[0]
    assert src.name_column == name_col
    assert src.where is not None and (src.where.column, src.where.equals) == (code_col, ["22212"])
    assert "国土数値情報" in text


def test_halls_and_age_tables(tmp_path: Path) -> None:
    assert hall_word("焼津地域交流センター") == "地域交流センター"
    assert hall_word("大井川福祉センター（ほほえみ）") == "福祉センター"
    assert hall_word("地域包括支援センターサブセンター山田（山田総合センター内）") is None
    assert hall_word("焼津市立港小学校") is None
    table = tmp_path / "tblT001082C22.txt"
    table.write_text("KEY_CODE,HYOSYO,CITYNAME,NAME,HTKSYORI,HTKSAKI,GASSAN,T001082001,T001082002\n"
                     ",,,,,,,総数,0～4歳\n22212001001,2,焼津市,本町１丁目,0,,,512,20\n",
                     encoding="cp932")
    (rec,) = recognise_file(table)
    assert isinstance(rec, Recognised) and rec.role == "age_table" and "T001082" in rec.what.en
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n1,2\n", encoding="utf-8")
    ((path, why),) = recognise_file(notes)  # type: ignore[misc]
    assert path == notes and "neither coordinates nor population" in why.en


@needs_shared
def test_takamatsu_folder(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    shutil.copytree(shared("takamatsu", "original"), folder)
    found, _ = recognise_folder(folder)
    roles = _roles(found)
    assert [r.path.name for r in roles["age_population"]] == ["population_0066_202602.xlsx"]
    assert len(roles["facilities"]) == 6
    halls = {r.path.name: sum(r.halls) for r in roles["facilities"]}
    assert halls["community_center.xlsx"] == 52
    assert halls["regional_comprehensive_support_center.xlsx"] == 0  # offices, not halls
    out = tmp_path / "takamatsu.yaml"
    text, unplaced = write_region_yaml(folder, out)
    assert "prefecture: 37" in text and "EPSG:6672" in text
    cfg = load_config(out)
    region, _ = build_region(cfg, build_dir=tmp_path / "build")
    meta = region.metadata["layers"]
    assert meta["population"]["count"] == 235
    assert meta["population"]["population"] == 418129
    assert meta["population"]["population_65plus"] == 120999
    assert meta["places"]["count"] == 52 + 10 + 1 + 6 + 1
    assert region.crs.to_epsg() == 6672
    assert [p.name for p, _ in unplaced] == ["regional_comprehensive_support_center.xlsx"]


@needs_shared
def test_ishigaki_folder(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    shutil.copytree(shared("ishigaki", "network"), folder)
    found, unplaced = recognise_folder(folder)
    assert [r.role for r in found] == ["osm"] and not unplaced
    out = tmp_path / "ishigaki.yaml"
    write_region_yaml(folder, out, code="47207")
    cfg = load_config(out)
    assert set(cfg.layers) == {"network", "buildings", "places"}
    assert cfg.title == "石垣市" and cfg.prefecture == 47
    region, _ = build_region(cfg, build_dir=tmp_path / "build")
    assert region.crs.to_epsg() == 6684
    assert region.metadata["layers"]["places"]["count"] == 30


@needs_shared
def test_ube_folder(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    shutil.copytree(shared("ube"), folder, ignore=shutil.ignore_patterns("SOURCES.md"))
    found, _ = recognise_folder(folder)
    roles = _roles(found)
    (p20,) = roles["facilities"]
    assert (p20.name_column, p20.source, p20.rows, sum(p20.halls)) == ("P20_002", "ksj_p20", 42, 13)
    assert [r.rows for r in roles["network"]] == [30750]
    out = tmp_path / "ube.yaml"
    text, _ = write_region_yaml(folder, out)
    assert "# places:" in text  # no residents yet: the places wait, commented out
    region, _ = build_region(load_config(out), build_dir=tmp_path / "build")
    assert region.crs.to_epsg() == 6671 and region.metadata["network"] is not None


@needs_shared
def test_other_formats(tmp_path: Path) -> None:
    (meguro,) = recognise_file(shared("tokyo-meguro", "network", "nakameguro_ebisu_2018.osm"))
    assert isinstance(meguro, Recognised) and meguro.role == "osm"
    (omaezaki,) = recognise_file(shared("omaezaki", "small_areas", "r2ka22223.topojson"))
    assert isinstance(omaezaki, Recognised) and omaezaki.role == "population"
    assert (omaezaki.layer, omaezaki.code) == ("town", "22223")
    folder = tmp_path / "dem"
    folder.mkdir()
    shutil.copy(shared("gsi_dem", "FG-GML-5238-74-00-DEM5A-20161001.xml"), folder / "x.xml")
    (dem,) = recognise_file(folder / "x.xml")
    assert isinstance(dem, Recognised) and dem.role == "gsi_dem"
    text, _ = write_region_yaml(folder, tmp_path / "dem.yaml")
    assert (folder / ".kennai" / "dem.tif").is_file() and "国土地理院" in text
