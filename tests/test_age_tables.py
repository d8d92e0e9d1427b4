"""Age tables joined to the areas they describe: e-Stat 小地域 tables and 地域・年齢別人口.

The e-Stat files under tests/data/age_tables/ were made for these tests by
tests/data/age_tables/make.py in the layout e-Stat serves (Shift_JIS, two header rows, 秘匿 marks,
HTKSYORI/HTKSAKI/GASSAN; the documentation followed is cited in kennai/io/age_estat.py). Their
numbers are invented. The real files are Takamatsu's 地域・年齢別人口 and Yaizu's 2015 boundaries.
"""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from kennai.config import Source
from kennai.errors import InputError
from kennai.io.age_tables import apply_age_table, normalise_area_name, read_age_points
from kennai.io.layers import read_population
from tests.conftest import shared

DATA = Path(__file__).resolve().parent / "data" / "age_tables"
ESTAT_2020 = DATA / "tblT001082C22_mihon.txt"
ESTAT_2015 = DATA / "tblT000849C22_mihon.txt"
REGISTER_CSV = DATA / "chiiki_nenrei_mihon.csv"
TAKAMATSU = ("takamatsu", "original", "population_0066_202602.xlsx")
needs_openpyxl = pytest.mark.skipif(importlib.util.find_spec("openpyxl") is None,
                                    reason="openpyxl is not installed (needed for .xlsx)")


def _need(*parts: str) -> Path:
    path = shared(*parts)
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    return path


def _areas(units: list[tuple[str, str]]) -> gpd.GeoDataFrame:
    """A population layer of unit squares: (unit_id, name) each."""
    return gpd.GeoDataFrame({
        "unit_id": [u for u, _ in units], "name": [n for _, n in units],
        "population": 10.0, "population_65plus": np.nan, "households": np.nan,
    }, geometry=[shapely.box(i, 0, i + 1, 1) for i in range(len(units))], crs="EPSG:6676")


MIHON = [("22999001000", "本町"), ("22999002001", "中町１丁目"), ("22999002002", "中町２丁目"),
         ("229990030", "浜町"), ("229990040", "山町"), ("229990050", "無人町"),
         ("229990060", "新町")]


# --- e-Stat tables ----------------------------------------------------------------------------

def test_estat_2020_gives_65plus_and_reports_hidden_and_merged_areas() -> None:
    out, findings = apply_age_table(_areas(MIHON), Source(path=ESTAT_2020))
    by = out.set_index("unit_id")
    # 本町 is 9 digits in the table and 11 (…00) in the boundary file.
    assert by.loc["22999001000", "population_65plus"] == 229
    assert by.loc["22999002001", "population_65plus"] == 68  # holds 中町２丁目's figures
    assert by.loc["229990030", "population_65plus"] == 7  # 「-」 groups are none, not unknown
    assert by.loc["229990050", "population_65plus"] == 0  # nobody lives there
    # Hidden and merged areas stay unknown: never 0, never shared out.
    for unit in ("22999002002", "229990040", "229990060"):
        assert math.isnan(by.loc[unit, "population_65plus"])
    assert by["age_status"].to_dict() == {
        "22999001000": "ok", "22999002001": "ok", "22999002002": "merged_into",
        "229990030": "ok", "229990040": "hidden", "229990050": "ok", "229990060": "no_row"}
    assert by.loc["22999002002", "age_merged_into"] == "22999002001"
    assert out["population_65plus"].sum() == 229 + 68 + 7  # NaN are skipped, not zero
    assert (out["population"] == 10).all()  # the boundary's totals are kept
    codes = {(f.code, f.feature) for f in findings}
    assert ("age_merged", "中町２丁目 (22999002002)") in codes
    assert ("age_hidden", "山町 (229990040)") in codes
    assert ("age_no_row", "新町 (229990060)") in codes
    assert ("age_includes_merged", "中町１丁目 (22999002001)") in codes
    merged = next(f for f in findings if f.code == "age_merged")
    assert "中町１丁目" in merged.message.ja and merged.level == "warning"


def test_estat_2015_layout_with_full_width_spaces_in_labels() -> None:
    out, _ = apply_age_table(_areas([("229990010", "本町")]), Source(path=ESTAT_2015))
    assert out["population_65plus"].tolist() == [229]
    assert out["age_status"].tolist() == ["ok"]


def test_estat_table_own_65plus_column_can_be_named(tmp_path: Path) -> None:
    # Naming 総数７５歳以上 as the column must be honoured (and it is smaller than 65+).
    out, _ = apply_age_table(_areas([("229990010", "本町")]),
                             Source(path=ESTAT_2020, population_65plus_column="T001082020"))
    assert out["population_65plus"].tolist() == [100]


def _edited(tmp_path: Path, old: str, new: str, *, line: int | None = None) -> Path:
    lines = ESTAT_2020.read_bytes().decode("cp932").split("\r\n")
    rng = [line - 1] if line else range(len(lines))
    for i in rng:
        lines[i] = lines[i].replace(old, new)
    out = tmp_path / "tblT001082C22_bad.txt"
    out.write_bytes("\r\n".join(lines).encode("cp932"))
    return out


def _one_line(exc: pytest.ExceptionInfo[InputError]) -> str:
    text = exc.value.format("en")
    assert "\n" not in text
    return text


def test_table_for_another_city_is_one_line_error(tmp_path: Path) -> None:
    other = _edited(tmp_path, "22999", "22998")
    with pytest.raises(InputError) as exc:
        apply_age_table(_areas(MIHON), Source(path=other))
    text = _one_line(exc)
    assert "no KEY_CODE of the table matches" in text and "22998" in text
    assert str(other) in text and "same prefecture" in text


def test_negative_count_names_the_line(tmp_path: Path) -> None:
    # 浜町 is line 8; its 65歳以上 (総数) is item 019.
    bad = _edited(tmp_path, ",10,7,3,", ",10,-5,3,", line=8)
    with pytest.raises(InputError) as exc:
        apply_age_table(_areas(MIHON), Source(path=bad))
    text = _one_line(exc)
    assert "negative count '-5'" in text and "line 8" in text


def test_65plus_above_total_names_the_line(tmp_path: Path) -> None:
    bad = _edited(tmp_path, ",10,7,3,", ",10,99,3,", line=8)
    with pytest.raises(InputError) as exc:
        apply_age_table(_areas(MIHON), Source(path=bad))
    text = _one_line(exc)
    assert "65+ (99) is above the total (20)" in text and "line 8 (229990030)" in text


def test_garbage_cell_and_duplicate_key_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="neither a number nor a secrecy mark"):
        apply_age_table(_areas(MIHON), Source(path=_edited(tmp_path, ",10,7,3,", ",10,abc,3,",
                                                           line=8)))
    with pytest.raises(InputError, match="appears twice"):
        apply_age_table(_areas(MIHON), Source(path=_edited(tmp_path, "229990040", "229990030")))


@pytest.mark.realdata
def test_yaizu_2015_boundaries_join_every_key_code(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Yaizu's real h27 KEY_CODEs (9 and 11 digits, split pieces) against a 2015-layout table."""
    boundaries = _need("yaizu", "small_areas", "census2015_small_areas_estat_h27.geojson")
    import tests.data.age_tables.make as make

    areas = gpd.read_file(boundaries).drop_duplicates("KEY_CODE")
    rows = []
    expected = {}
    for i, (key, name, jinko) in enumerate(zip(areas["KEY_CODE"], areas["S_NAME"],
                                                areas["JINKO"], strict=True)):
        male = [int(jinko) // 40 + (i % 3)] * 16
        female = [int(jinko) // 40] * 16
        expected[key] = 3 * (male[0] + female[0])
        rows.append([key, "2", "焼津市", name, "0", "", "", *make.values(male, female)])
    # The first area's figures are merged into the second's (秘匿): unknown, reported.
    first, second = areas["KEY_CODE"].iloc[0], areas["KEY_CODE"].iloc[1]
    rows[0] = [first, "2", "焼津市", areas["S_NAME"].iloc[0], "2", second[5:], "", *make.hidden()]
    rows[1][4], rows[1][6] = "1", first[5:]
    monkeypatch.setattr(make, "HERE", tmp_path)
    make.write("tblT000849C22.txt", "T000849", "\u3000", rows)
    src = Source(path=boundaries, age_table=Source(path=tmp_path / "tblT000849C22.txt"))
    gdf = read_population(src)
    assert len(gdf) == 143  # pieces (KIGO_E) dissolved into one unit per KEY_CODE
    by = gdf.set_index("unit_id")
    assert by.loc[first, "age_status"] == "merged_into"
    assert by.loc[first, "age_merged_into"] == second
    assert math.isnan(by.loc[first, "population_65plus"])
    ok = by.drop(index=first)
    assert (ok["age_status"] == "ok").all()
    assert all(ok.loc[k, "population_65plus"] == expected[k] for k in ok.index)
    assert gdf["population"].sum() == 139_462  # JINKO kept
    codes = [f.code for f in gdf.attrs["findings"]]
    assert codes.count("age_merged") == 1 and "age_includes_merged" in codes


# --- 地域・年齢別人口 (住民基本台帳) ------------------------------------------------------------

def test_normalise_area_name() -> None:
    same = ["中町1丁目", "中町１丁目", "中町一丁目", " 中町　1丁目", "大字中町1丁目", "字中町1丁目"]
    assert {normalise_area_name(n) for n in same} == {"中町1丁目"}
    assert normalise_area_name("塩上町十二丁目") == "塩上町12丁目"
    assert normalise_area_name("鰯ヶ島") == normalise_area_name("鰯ケ島")
    assert normalise_area_name("大字") == ""  # a bare prefix is not a name
    assert normalise_area_name("中町2丁目") != normalise_area_name("中町12丁目")


REGISTER_AREAS = [("a1", "本町"), ("a2", "中町１丁目"), ("a3", "中町二丁目"), ("a4", "浜ケ町"),
                  ("a5", "山町")]


def test_register_csv_with_japanese_headers_joins_by_name() -> None:
    out, findings = apply_age_table(_areas(REGISTER_AREAS), Source(path=REGISTER_CSV))
    by = out.set_index("name")
    assert by["population_65plus"].drop("山町").to_dict() == {
        "本町": 35, "中町１丁目": 25, "中町二丁目": 15, "浜ケ町": 45}
    assert by.loc["本町", "population"] == 126  # totals from the same table as the 65+
    assert by.loc["本町", "households"] == 21
    assert by.loc["山町", "age_status"] == "no_row" and math.isnan(by.loc["山町", "population_65plus"])
    assert by.loc["山町", "population"] == 10  # an area without a row keeps its own total
    unmatched = next(f for f in findings if f.code == "age_rows_unmatched")
    assert "新港" in unmatched.message.en and unmatched.level == "info"  # no residents there
    assert any(f.code == "age_no_row" and f.feature == "山町" for f in findings)


def test_register_rows_matching_no_area_are_listed_by_name() -> None:
    areas = _areas([a for a in REGISTER_AREAS if a[1] != "浜ケ町"])
    with pytest.raises(InputError) as exc:
        apply_age_table(areas, Source(path=REGISTER_CSV))
    text = _one_line(exc)
    assert "1 row(s) match no area by name (浜ヶ町)" in text and "line 5" in text
    assert "name_column" in text


def test_register_negative_and_above_total(tmp_path: Path) -> None:
    text = REGISTER_CSV.read_bytes().decode("cp932")
    bad = tmp_path / "neg.csv"
    bad.write_bytes(text.replace("浜ヶ町,162,", "浜ヶ町,-162,").encode("cp932"))
    with pytest.raises(InputError, match="negative count") as exc:
        apply_age_table(_areas(REGISTER_AREAS), Source(path=bad))
    assert "line 5" in _one_line(exc)
    bad.write_bytes(text.replace("浜ヶ町,162,", "浜ヶ町,16,").encode("cp932"))
    with pytest.raises(InputError, match=r"65\+ \(45\) is above the total \(16\)"):
        apply_age_table(_areas(REGISTER_AREAS), Source(path=bad))


def test_not_an_age_table_is_explained(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("名称,人数\nA,3\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a 地域・年齢別人口 table"):
        apply_age_table(_areas(REGISTER_AREAS), Source(path=plain))


@pytest.mark.realdata
@needs_openpyxl
def test_takamatsu_as_published_gives_the_city_figures() -> None:
    gdf = read_age_points(Source(path=_need(*TAKAMATSU)))
    assert len(gdf) == 235 and gdf["name"].nunique() == 235
    assert gdf["population"].sum() == 418_129
    assert gdf["population_65plus"].sum() == 120_999
    assert gdf["households"].sum() == 206_171
    assert gdf.crs.to_epsg() == 4326
    minx, miny, maxx, maxy = gdf.total_bounds
    assert 133.9 < minx < maxx < 134.2 and 34.0 < miny < maxy < 34.5
    assert list(gdf.columns[:5]) == ["unit_id", "name", "population", "population_65plus",
                                     "households"]
    # The population reader takes the table as points by itself.
    again = read_population(Source(path=_need(*TAKAMATSU)))
    assert again["population_65plus"].sum() == 120_999 and len(again) == 235


@pytest.mark.realdata
@needs_openpyxl
def test_takamatsu_joined_to_polygons_spelled_otherwise() -> None:
    """The real table against 町 polygons whose names use 一丁目 and 大字 spellings."""
    points = read_age_points(Source(path=_need(*TAKAMATSU)))
    kanji = dict(zip("１２３４５６７８９", "一二三四五六七八九", strict=True))
    names = ["大字" + re.sub("([１-９])丁目", lambda m: kanji[m.group(1)] + "丁目", n)
             for n in points["name"]]
    assert "大字塩上町一丁目" in names
    polygons = gpd.GeoDataFrame({
        "unit_id": [f"p{i}" for i in range(len(points))], "name": names, "population": 0.0,
        "population_65plus": np.nan, "households": np.nan,
    }, geometry=points.to_crs(6672).buffer(50).values, crs="EPSG:6672")
    out, findings = apply_age_table(polygons, Source(path=_need(*TAKAMATSU)))
    assert (out["age_status"] == "ok").all()
    assert out["population_65plus"].sum() == 120_999 and out["population"].sum() == 418_129
    assert [f.code for f in findings] == ["age_table"]


def test_region_yaml_puts_the_age_table_on_the_population_source(tmp_path: Path) -> None:
    from kennai.config import load_config

    (tmp_path / "sub").mkdir()
    cfg = tmp_path / "sub" / "r.yaml"
    cfg.write_text("name: r\ntitle: R\nlayers:\n  population:\n    path: areas.geojson\n"
                   "    age_table: {path: ../tblT001082C22.txt, id_column: KEY_CODE}\n",
                   encoding="utf-8")
    config = load_config(cfg)
    age = config.layers["population"].sources[0].age_table
    assert age is not None and age.path == tmp_path / "tblT001082C22.txt"  # resolved to the YAML
    assert age.id_column == "KEY_CODE"
    assert tmp_path / "tblT001082C22.txt" in config.input_files()  # a changed table rebuilds
