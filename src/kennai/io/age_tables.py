"""Age tables joined to the areas they describe: how many residents are 65 or older, per area.

Census boundary files carry only totals (``JINKO``); the age groups Japan publishes come in
separate tables. Two kinds are read here:

- e-Stat 国勢調査 小地域集計「年齢（5歳階級、4区分）別、男女別人口」: 2020 ``tblT001082*`` and 2015
  ``tblT000849*`` as e-Stat serves them (see :mod:`kennai.io.age_estat`). Joined to the boundary
  layer by ``KEY_CODE``; 秘匿 (hidden) and 合算 (merged into a neighbour) areas keep an unknown
  65+ and are reported, never counted as 0.
- The Digital Agency 推奨データセット「地域・年齢別人口」(住民基本台帳, published monthly by many
  cities): xlsx or CSV, with the English keys of e.g. Takamatsu's file (``regionName``,
  ``totalPopulation``, ``man1`` … ``man18``, ``woman1`` … ``woman18``, ``location``) or the
  schema's Japanese headers (地域名, 総人口, ``0-4歳の男性`` … ``85歳以上の女性``, 世帯数). 18
  five-year groups per sex, the last 85+. Joined to 町丁 polygons by normalised name
  (:func:`normalise_area_name`), or used as points (:func:`read_age_points`) when it carries a
  location. It then gives the population and households too, so that the share of 65+ is never
  a ratio of two sources.

In a region YAML the table belongs to the population layer::

    population:
      path: r2ka22212.shp               # e-Stat 小地域 boundaries (KEY_CODE, S_NAME, JINKO)
      age_table:
        path: tblT001082C22.txt         # the prefecture's table as downloaded
        # encoding: cp932                 detected when omitted
        # id_column: KEY_CODE             the key of the table (e-Stat)
        # population_65plus_column: T001082019   the 65+ column, found from its label if omitted
    population:
      path: chocho.geojson              # 町丁 polygons with their names
      name_column: S_NAME
      age_table: {path: 0066_202602.xlsx, layer: Sheet0, name_column: regionName}
    population: {path: population_0066_202602.xlsx}   # the table alone, as points

Every bad table is one :class:`~kennai.errors.InputError` naming the file, the line and what to
do: names that match no area, a table for another city, negative counts, 65+ above the total.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from kennai.checks import Finding
from kennai.config import Source
from kennai.errors import InputError
from kennai.i18n import t
from kennai.io.age_estat import (
    EstatAges,
    check_not_above_total,
    is_estat_table,
    line_label,
    parse_estat,
)
from kennai.io.tables import find_column, points_from_table, read_csv_table

#: Columns of the 推奨データセット「地域・年齢別人口」: English keys and the schema's Japanese headers.
_NAME_COLUMNS = ("regionName", "地域名", "町丁名", "町名")
_TOTAL_COLUMNS = ("totalPopulation", "総人口", "人口")
_HOUSEHOLD_COLUMNS = ("numberOfHouseholds", "世帯数")
_CODE_COLUMNS = ("regionCode", "地域コード")
_LOCATION_COLUMNS = ("location", "位置", "座標")
_ENGLISH_GROUP = re.compile(r"^(man|woman)(\d{1,2})$")
_JAPANESE_GROUP = re.compile(r"^(\d+)(?:-(\d+))?歳(以上)?の(男性|女性)$")
_KANJI_DIGITS = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                 "九": 9}
_KANJI_CHOME = re.compile(r"([〇一二三四五六七八九十]+)丁目")


def normalise_area_name(name: object) -> str:
    """One spelling for a 町丁 name, so a table and a boundary layer can be joined by it.

    Full-width letters and digits become half-width (NFKC), spaces go, 一丁目/1丁目/１丁目 become
    ``1丁目``, ヶ/ケ are one letter, and a leading 大字 or 字 is dropped.

    Examples
    --------
    >>> normalise_area_name("大字 塩上町　十二丁目") == normalise_area_name("塩上町１２丁目")
    True
    """
    text = unicodedata.normalize("NFKC", str(name or ""))
    text = re.sub(r"\s+", "", text).replace("ヶ", "ケ").replace("ヵ", "カ")
    text = re.sub(r"^(大字|字)", "", text)
    return _KANJI_CHOME.sub(lambda m: f"{_kanji_number(m.group(1))}丁目", text)


def _kanji_number(text: str) -> int:
    if "十" not in text:
        return int("".join(str(_KANJI_DIGITS[c]) for c in text))
    tens, _, ones = text.partition("十")
    return (_KANJI_DIGITS[tens] if tens else 1) * 10 + (_KANJI_DIGITS[ones] if ones else 0)


# --- reading any table ------------------------------------------------------------------------

def read_table_frame(src: Source) -> pd.DataFrame:
    """The table as text cells (xlsx/xls via openpyxl, CSV/TXT with the encoding detected)."""
    path = Path(src.path)
    if path.suffix.lower() not in {".xlsx", ".xlsm", ".xls"}:
        return read_csv_table(path, encoding=src.encoding)
    if not path.is_file():
        raise InputError(t("ファイルが見つかりません", "file not found"), path=path,
                         hint=t("設定の path を確認してください", "check the path in the config"))
    try:
        df = pd.read_excel(path, sheet_name=src.layer or 0, dtype=str)
    except ImportError:
        raise InputError(t("Excel ファイルを読むには openpyxl が必要です",
                           "reading Excel files needs openpyxl"), path=path,
                         hint=t("pip install openpyxl を実行するか CSV で保存してください",
                                "run pip install openpyxl, or save the sheet as CSV")) from None
    except (ValueError, KeyError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(t(f"Excel ファイルとして読めません（{detail}）",
                           f"not a readable Excel file ({detail})"), path=path,
                         hint=t("シート名（layer）とファイルを確認してください",
                                "check the file and the sheet name ('layer')")) from None
    df.columns = [str(c).strip() for c in df.columns]
    return df.fillna("").astype(str)


def _counts(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    """A count column as floats; any non-number or negative count is an error naming the row."""
    text = df[col].astype(str).str.strip().str.replace(",", "", regex=False)
    text = text.where(~text.isin(["-", "－"]), "0")  # 「-」: 該当数値なし, i.e. none
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & (text != "").to_numpy()
    for mask, what in ((bad, ("数値でない値", "a non-numeric value")),
                       (values < 0, ("負の人数", "a negative count"))):
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            raise InputError(
                t(f"列「{col}」に{what[0]}「{df[col].iloc[row]}」があります（{int(mask.sum())} 行）",
                  f"column {col!r} has {what[1]} {df[col].iloc[row]!r} ({int(mask.sum())} rows)"),
                path=path, feature=line_label(row + 2),
                hint=t("人数は 0 以上の数で入れてください", "counts must be numbers ≥ 0"))
    return values


def _register_groups(columns: list[str]) -> dict[str, tuple[int, int | None]]:
    """Age-group columns of a 地域・年齢別人口 table: column → (lowest age, highest or None)."""
    groups: dict[str, tuple[int, int | None]] = {}
    english = {c: _ENGLISH_GROUP.match(c) for c in columns}
    english_n = max((int(m.group(2)) for m in english.values() if m), default=0)
    for col in columns:
        m = english[col]
        if m:  # man1 … man18: 0–4 … 80–84, then 85+ (the last group is open)
            k = int(m.group(2))
            groups[col] = (5 * (k - 1), None if k == english_n else 5 * k - 1)
            continue
        j = _JAPANESE_GROUP.match(unicodedata.normalize("NFKC", col).replace(" ", ""))
        if j:
            lo = int(j.group(1))
            groups[col] = (lo, None if j.group(3) else int(j.group(2) or lo))
    return groups


def _register_rows(df: pd.DataFrame, src: Source) -> pd.DataFrame:
    """key/name/total/age65/households of every row of a 地域・年齢別人口 table."""
    path = Path(src.path)
    columns = list(df.columns)
    name_col = src.name_column or find_column(columns, _NAME_COLUMNS)
    total_col = src.population_column or find_column(columns, _TOTAL_COLUMNS)
    groups = _register_groups(columns)
    old = [c for c, (lo, _) in groups.items() if lo >= 65]
    if name_col is None or total_col is None or name_col not in columns \
            or total_col not in columns or not any(
            hi is None for c, (_, hi) in groups.items() if c in old):
        raise InputError(
            t("地域・年齢別人口の表として読めません（地域名・総人口・65歳以上の年齢階級の列が必要）",
              "not a 地域・年齢別人口 table (it needs region names, totals and age groups from 65 "
              "up to an open last group)"), path=path,
            hint=t("推奨データセットの列名（地域名, 総人口, 65-69歳の男性 … 85歳以上の女性）か"
                   " regionName, totalPopulation, man1…man18 の表を指定してください",
                   "give a table with the 推奨データセット headers or regionName, "
                   "totalPopulation, man1…man18"))
    total = _counts(df, total_col, path)
    age65 = np.sum([_counts(df, c, path) for c in old], axis=0)
    hh_col = src.households_column or find_column(columns, _HOUSEHOLD_COLUMNS)
    code_col = src.id_column or find_column(columns, _CODE_COLUMNS)
    names = df[name_col].astype(str).str.strip()
    codes = df[code_col].astype(str).str.strip() if code_col else pd.Series("", index=df.index)
    out = pd.DataFrame({
        "line": np.arange(len(df)) + 2,
        "key": codes.where(codes != "", names).to_numpy(),
        "name": names.to_numpy(),
        "total": total,
        "age65": age65,
        "households": _counts(df, hh_col, path) if hh_col else np.nan,
        "status": "ok",
        "merged_into": "",
    })
    check_not_above_total(out, path)
    return out


# --- e-Stat tables joined by KEY_CODE ---------------------------------------------------------

def _join_by_key(population: gpd.GeoDataFrame, ages: EstatAges
                 ) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    rows = ages.rows.set_index("key")
    keys = population["unit_id"].astype(str).map(ages.normalise_key)
    matched = keys.map(ages.resolve)
    if not matched.notna().any():
        cities = sorted({k[:5] for k in rows.index if len(k) >= 5})[:5]
        raise InputError(
            t(f"表の KEY_CODE が小地域と 1 つも一致しません（表の市区町村: {', '.join(cities)}…; "
              f"小地域の例: {keys.iloc[0]}）",
              f"no KEY_CODE of the table matches an area (table's municipalities: "
              f"{', '.join(cities)}…; an area: {keys.iloc[0]})"), path=ages.path,
            hint=t("境界データと同じ都道府県・同じ年次の表を指定してください",
                   "give the table of the same prefecture and census year as the boundaries"))
    out = population.copy()
    found = matched.dropna()
    out["population_65plus"] = np.nan
    out.loc[found.index, "population_65plus"] = rows.loc[found, "age65"].to_numpy()
    out["age_status"] = "no_row"
    out.loc[found.index, "age_status"] = rows.loc[found, "status"].to_numpy()
    out["age_merged_into"] = ""
    out.loc[found.index, "age_merged_into"] = rows.loc[found, "merged_into"].to_numpy()
    names = dict(zip(keys, out["name"].astype(str), strict=True))
    source = ages.path.name
    findings = [Finding("info", "age_table", "population", t(
        f"65歳以上人口を {source} から {len(found)} 地域に付けました",
        f"65+ population from {source} for {len(found)} areas"), source=source)]
    for key, status, into, unit in zip(keys, out["age_status"], out["age_merged_into"],
                                       out["unit_id"], strict=True):
        name = f"{names[key]} ({unit})"
        if status == "merged_into":
            target = f"{names.get(into, into)} ({into})"
            findings.append(Finding("warning", "age_merged", "population", t(
                f"秘匿のため年齢別人口が「{target}」に合算されています（65歳以上は不明として扱います）",
                f"its ages are merged into {target!r} for secrecy (65+ kept unknown here)"),
                feature=name, source=source))
        elif status == "hidden":
            findings.append(Finding("warning", "age_hidden", "population", t(
                "年齢別人口が秘匿されています（65歳以上は不明として扱います）",
                "its ages are hidden for secrecy (65+ kept unknown)"), feature=name, source=source))
        elif status == "no_row":
            findings.append(Finding("warning", "age_no_row", "population", t(
                "年齢別人口の表にこの地域の行がありません（65歳以上は不明）",
                "the age table has no row for this area (65+ unknown)"),
                feature=name, source=source))
    present = set(found)
    for key, donors in ages.merged_from.items():
        if key in present:
            shown = ", ".join(f"{names.get(d, d)} ({d})" for d in donors)
            findings.append(Finding("info", "age_includes_merged", "population", t(
                f"65歳以上には秘匿された近隣地域の分（{shown}）を含みます",
                f"its 65+ includes the hidden neighbouring areas {shown}"),
                feature=f"{names.get(key, key)} ({key})", source=source))
    return out, findings


# --- 地域・年齢別人口 joined by name ---------------------------------------------------------

def _join_by_name(population: gpd.GeoDataFrame, rows: pd.DataFrame, path: Path
                  ) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    rows = rows.assign(norm=rows["name"].map(normalise_area_name))
    dup = rows["norm"].duplicated(keep=False).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(
            t(f"同じ地域名の行が複数あります（「{rows['name'].iloc[i]}」）",
              f"several rows have the same area name ({rows['name'].iloc[i]!r})"),
            path=path, feature=line_label(int(rows["line"].iloc[i]), str(rows["name"].iloc[i])),
            hint=t("地域名を一意にしてください", "make the area names unique"))
    area_norm = population["name"].map(normalise_area_name)
    by_name = rows.set_index("norm")
    unmatched = rows[~rows["norm"].isin(set(area_norm))]
    with_people = unmatched[unmatched["total"] > 0]
    if len(with_people):
        shown = "、".join(with_people["name"].head(8))
        raise InputError(
            t(f"どの地域とも名前が一致しない行が {len(with_people)} 行あります（{shown}）",
              f"{len(with_people)} row(s) match no area by name ({shown})"), path=path,
            feature=line_label(int(with_people["line"].iloc[0]), str(with_people["name"].iloc[0])),
            hint=t("表の地域名を境界データの名称に合わせるか、population の name_column を確認して"
                   "ください", "make the table's names match the areas', or check the "
                   "population layer's name_column"))
    out = population.copy()
    hit = area_norm.isin(by_name.index).to_numpy()
    idx = area_norm[hit]
    for col, src_col in (("population", "total"), ("population_65plus", "age65"),
                         ("households", "households")):
        out[col] = out[col].astype(float)
        out.loc[hit, col] = by_name.loc[idx, src_col].to_numpy()
    out["age_status"] = np.where(hit, "ok", "no_row")
    out["age_merged_into"] = ""
    source = path.name
    findings = [Finding("info", "age_table", "population", t(
        f"人口・65歳以上人口・世帯数を {source}（住民基本台帳）から {int(hit.sum())} 地域に付けました",
        f"population, 65+ and households from {source} (resident register) for "
        f"{int(hit.sum())} areas"), source=source)]
    for name in out.loc[~hit, "name"]:
        findings.append(Finding("warning", "age_no_row", "population", t(
            "年齢別人口の表にこの地域の行がありません（人口・65歳以上は不明）",
            "the age table has no row for this area (population and 65+ unknown)"),
            feature=str(name), source=source))
    if len(unmatched):
        findings.append(Finding("info", "age_rows_unmatched", "population", t(
            f"住民のいない {len(unmatched)} 行はどの地域とも一致しません（{'、'.join(unmatched['name'])}）",
            f"{len(unmatched)} row(s) without residents match no area "
            f"({', '.join(unmatched['name'])})"), source=source))
    return out, findings


# --- entry points -----------------------------------------------------------------------------

def apply_age_table(population: gpd.GeoDataFrame, source: Source
                    ) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Give each area of a population layer its 65+ from an age table.

    Parameters
    ----------
    population
        A layer in the population schema (``unit_id``, ``name``, ``population``,
        ``population_65plus``, ``households``), e.g. e-Stat 小地域 polygons.
    source
        The age table: an e-Stat ``tblT001082``/``tblT000849`` file (joined by KEY_CODE) or a
        地域・年齢別人口 table (joined by normalised name).

    Returns
    -------
    tuple
        The layer with ``population_65plus`` (NaN where unknown), ``age_status``
        (``ok``/``hidden``/``merged_into``/``no_row``) and ``age_merged_into`` (the KEY_CODE that
        holds a merged area's figures), and the findings that report every area not ``ok``.

    Raises
    ------
    InputError
        For unreadable tables, names or keys that match nothing, negative counts, 65+ above
        the total.
    """
    df = read_table_frame(source)
    if is_estat_table(df):
        return _join_by_key(population, parse_estat(df, source))
    return _join_by_name(population, _register_rows(df, source), Path(source.path))


def is_age_points_table(path: Path, *, encoding: str | None = None) -> bool:
    """Whether a population file is a 地域・年齢別人口 table (read by :func:`read_age_points`)."""
    if path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}:
        return True
    if path.suffix.lower() not in {".csv", ".txt"} or not path.is_file():
        return False
    columns = list(read_csv_table(path, encoding=encoding).columns)
    return bool(find_column(columns, _TOTAL_COLUMNS)) and any(
        lo >= 65 for lo, _ in _register_groups(columns).values())


def read_age_points(source: Source) -> gpd.GeoDataFrame:
    """A 地域・年齢別人口 table that carries a location, as points in the population schema.

    The location is a ``"lat,lon"`` column (``location``, as Takamatsu publishes it) or
    latitude/longitude columns (緯度/経度, or ``lat_column``/``lon_column``). Every row must have
    one; rows are never dropped.

    Returns
    -------
    geopandas.GeoDataFrame
        ``unit_id, name, population, population_65plus, households, age_status,
        age_merged_into, source_file`` and points in EPSG:4326.
    """
    path = Path(source.path)
    df = read_table_frame(source)
    rows = _register_rows(df, source)
    loc_col = find_column(list(df.columns), _LOCATION_COLUMNS)
    if loc_col and not (source.lat_column or source.lon_column):
        parts = df[loc_col].astype(str).str.split(",", n=1, expand=True).reindex(columns=[0, 1])
        table = pd.DataFrame({"lat": parts[0].fillna(""), "lon": parts[1].fillna("")})
        points = points_from_table(table, path, lat_column="lat", lon_column="lon")
    else:
        points = points_from_table(df, path, lat_column=source.lat_column,
                                   lon_column=source.lon_column)
    return gpd.GeoDataFrame({
        "unit_id": rows["key"].to_numpy(), "name": rows["name"].to_numpy(),
        "population": rows["total"].to_numpy(), "population_65plus": rows["age65"].to_numpy(),
        "households": rows["households"].to_numpy(), "age_status": "ok", "age_merged_into": "",
        "source_file": path.name,
    }, geometry=points.geometry.values, crs="EPSG:4326")
