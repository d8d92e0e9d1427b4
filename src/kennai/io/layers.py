"""Read a layer of a region (by kind) and bring it to kennai's schema.

Each kind has a small fixed schema that the rest of kennai relies on:

- districts (``elementary``, ``junior_high``, ``neighbourhood``): ``name`` + polygons;
- ``population``: ``unit_id``, ``name``, ``population``, ``population_65plus`` (NaN when
  unknown), ``households``; polygons (census 小地域) or points;
- ``places`` and ``candidates``: ``place_id``, ``name``, ``category``, ``address``,
  ``weekdays``, ``start_time``, ``end_time``, ``schedule_note``, ``description``; points;
- ``buildings``: polygons.

The usual Japanese schemas are recognised: 国土数値情報 A27/A32 (``A27_004`` …), e-Stat
小地域 (``KEY_CODE``, ``S_NAME``, ``JINKO``, ``SETAI``), the 推奨データセット CSV, and municipal
files whose name column is found from its values (…小学校, …中学校, …自治会).
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from kennai.config import POLYGON_KINDS, Source
from kennai.errors import InputError
from kennai.i18n import Text, t
from kennai.io.age_tables import apply_age_table, is_age_points_table, read_age_points
from kennai.io.tables import points_from_table, read_csv_table, read_xlsx_table
from kennai.io.vector import read_vector

#: Values that mark a column as the name of a district of each kind.
_NAME_PATTERNS = {
    "elementary": re.compile(r"(?:小学校|学園|義務教育学校|小)$"),
    "junior_high": re.compile(r"(?:中学校|学園|義務教育学校|中)$"),
    "neighbourhood": re.compile(r"(?:自治会|町内会|町会|区会|区|会|丁目|町)$"),
}
#: Column names tried for names when values do not decide.
_NAME_COLUMNS = ("name", "名称", "名前", "施設名", "S_NAME", "A27_004", "A32_004", "A27_003",
                 "A32_003", "school_name", "jichikai_name", "NAME", "title")
_ADDRESS_COLUMNS = ("住所", "所在地", "address", "A27_005", "A32_005")
_CATEGORY_COLUMNS = ("種別", "category", "カテゴリ", "分類", "区分", "備考")

POINT_KINDS = ("places", "candidates")
DISTRICT_KINDS = POLYGON_KINDS


def _text_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c != df.geometry.name and (
        pd.api.types.is_string_dtype(df[c]) or df[c].dtype == object)]


def detect_name_column(gdf: pd.DataFrame, kind: str) -> str | None:
    """Find the column that names each feature of a layer of ``kind``.

    Prefer a text column whose values look like names of that kind (most end in 小学校 for
    elementary districts, …); otherwise a column with a conventional name.
    """
    pattern = _NAME_PATTERNS.get(kind)
    text_cols = _text_columns(gdf) if isinstance(gdf, gpd.GeoDataFrame) else list(gdf.columns)
    if pattern is not None:
        best, best_share = None, 0.0
        for col in text_cols:
            values = gdf[col].dropna().astype(str).str.strip()
            if values.empty:
                continue
            share = values.str.contains(pattern.pattern, regex=True).mean() * (values.nunique() / len(values))
            if share > best_share:
                best, best_share = col, share
        if best is not None and best_share >= 0.5:
            return best
    lowered = {c.lower(): c for c in gdf.columns}
    for name in _NAME_COLUMNS:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _require_column(df: pd.DataFrame, col: str | None, path: Path, what: tuple[str, str],
                    key: str) -> str:
    if col is None or col not in df.columns:
        cols = ", ".join(str(c) for c in df.columns if c != "geometry")
        shown = f"「{col}」" if col else ""
        hint = (t(f"設定の {key}「{col}」を上の列名のどれかに直してください",
                  f"change '{key}: {col}' in the config to one of the columns above")
                if col else t(f"設定に {key} を書いてください", f"set '{key}' for this source"))
        raise InputError(
            t(f"{what[0]}の列{shown}が見つかりません（列: {cols[:200]}）",
              f"no {what[1]} column{' ' + repr(col) if col else ''} (columns: {cols[:200]})"),
            path=path,
            hint=hint,
        )
    return col


def _require_names(df: pd.DataFrame, path: Path, *, what: tuple[str, str], hint: Text) -> None:
    """Stop on rows without a name: every district and place is shown and joined by its name."""
    blank = (df["name"] == "").to_numpy()
    if blank.any():
        row = int(np.flatnonzero(blank)[0])
        raise InputError(t(f"名称が空の{what[0]}があります（{int(blank.sum())} 件）",
                           f"{int(blank.sum())} {what[1]}(s) have no name"),
                         path=path, feature=t(f"{row + 1} 件目", f"{what[1]} {row + 1}"), hint=hint)


def _apply_where(df: pd.DataFrame, src: Source) -> pd.DataFrame:
    if src.where is None:
        return df
    col = _require_column(df, src.where.column, src.path, ("絞り込み", "filter"), "where.column")
    values = df[col].astype(str)
    keep = np.ones(len(df), dtype=bool)
    if src.where.equals is not None:
        keep &= values.isin(src.where.equals).to_numpy()
    if src.where.contains is not None:
        keep &= values.str.contains(src.where.contains, regex=False).to_numpy()
    return df.loc[keep]


def _clean_text(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.strip()


def read_districts(src: Source, kind: str) -> gpd.GeoDataFrame:
    """Read a district layer (小学校区, 中学校区, 自治会 …) as ``name`` + polygons."""
    gdf = _apply_where(read_vector(src.path, layer=src.layer, encoding=src.encoding, crs=src.crs),
                       src)
    polygonal = gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if not polygonal.all():
        row = int(np.flatnonzero(~polygonal)[0])
        raise InputError(
            t(f"面でない地物があります（{gdf.geometry.iloc[row].geom_type}）",
              f"a feature is not a polygon ({gdf.geometry.iloc[row].geom_type})"),
            path=src.path, feature=t(f"{row + 1} 件目", f"feature {row + 1}"),
            hint=t("区域（ポリゴン）のファイルを指定してください", "give a polygon layer"))
    col = src.name_column or detect_name_column(gdf, kind)
    col = _require_column(gdf, col, src.path, ("名称", "name"), "name_column")
    out = gdf.rename(columns={col: "name"}) if col != "name" else gdf.copy()
    out["name"] = _clean_text(out["name"])
    _require_names(out, src.path, what=("地物", "feature"),
                   hint=t("名称を入れるか name_column を確認してください",
                          "fill in the names or check name_column"))
    out["source_file"] = src.path.name
    return out.reset_index(drop=True)


def read_population(src: Source) -> gpd.GeoDataFrame:
    """Read residents' counts: e-Stat 小地域 polygons (pieces merged by KEY_CODE) or points.

    A 地域・年齢別人口 table with locations is read as points; an ``age_table`` gives each area
    its 65+ (its findings are in ``attrs["findings"]``; see :mod:`kennai.io.age_tables`).
    """
    if is_age_points_table(src.path, encoding=src.encoding):
        return read_age_points(src)
    if src.path.suffix.lower() == ".csv":
        df = read_csv_table(src.path, encoding=src.encoding)
        gdf = points_from_table(df, src.path, lat_column=src.lat_column, lon_column=src.lon_column)
    else:
        gdf = read_vector(src.path, layer=src.layer, encoding=src.encoding, crs=src.crs)
    gdf = _apply_where(gdf, src)
    cols = {c.upper(): c for c in gdf.columns}
    pop_col = src.population_column or cols.get("JINKO") or cols.get("POPULATION")
    pop_col = _require_column(gdf, pop_col, src.path, ("人口", "population"), "population_column")
    old_col = src.population_65plus_column
    if old_col is not None:
        _require_column(gdf, old_col, src.path, ("65歳以上人口", "65+ population"),
                        "population_65plus_column")
    hh_col = src.households_column or cols.get("SETAI")
    id_col = src.id_column or cols.get("KEY_CODE")
    name_col = src.name_column or cols.get("S_NAME") or detect_name_column(gdf, "population")

    def numeric(col: str) -> pd.Series:
        values = pd.to_numeric(gdf[col], errors="coerce")
        # e-Stat marks secret cells with "X" or "-": they are unknown, not zero.
        bad = values.isna() & ~gdf[col].astype(str).str.strip().isin(["", "X", "x", "-", "…"])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(t(f"列「{col}」に数値でない値「{gdf[col].iloc[row]}」があります",
                               f"column {col!r} has a non-numeric value {gdf[col].iloc[row]!r}"),
                             path=src.path,
                             feature=t(f"{row + 1} 件目", f"feature {row + 1}"),
                             hint=t("人口は数値で入れてください", "population must be numbers"))
        return values.astype(float)

    out = gpd.GeoDataFrame(
        {
            "unit_id": (gdf[id_col].astype(str) if id_col else
                        pd.Series([f"u{i + 1}" for i in range(len(gdf))], index=gdf.index)),
            "name": _clean_text(gdf[name_col]) if name_col else "",
            "population": numeric(pop_col).fillna(0.0),
            "population_65plus": numeric(old_col) if old_col else np.nan,
            "households": numeric(hh_col) if hh_col else np.nan,
        },
        geometry=gdf.geometry.values,
        crs=gdf.crs,
    )
    _check_counts(out, src.path, old_col)
    merged = 0
    if out["unit_id"].duplicated().any() and out.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        _check_piece_names(out, src.path, id_col or "id")
        merged = int(out["unit_id"].duplicated().sum())
        # e-Stat splits a small area into pieces (KIGO_E E1, E2 …) that share one KEY_CODE:
        # one unit, one population.
        out = out.dissolve(by="unit_id", aggfunc={"name": "first", "population": "sum",
                                                   "population_65plus": "sum",
                                                   "households": "sum"},
                           as_index=False)
        if old_col is None:
            out["population_65plus"] = np.nan
        if hh_col is None:
            out["households"] = np.nan
    out["source_file"] = src.path.name
    out = out.reset_index(drop=True)
    #: How many pieces were summed into a unit they share a code with (disclosed by the build).
    out.attrs["merged_pieces"] = merged
    if src.age_table is not None:
        out, age_findings = apply_age_table(out, src.age_table)
        out = out.reset_index(drop=True)
        out.attrs["merged_pieces"] = merged
        out.attrs["findings"] = age_findings
    return out


def _check_counts(out: gpd.GeoDataFrame, path: Path, old_col: str | None) -> None:
    """Stop on a negative count or more people aged 65+ than people (a column mix-up)."""
    def stop(mask: np.ndarray, ja: str, en: str) -> None:
        row = int(np.flatnonzero(mask)[0])
        label = out["name"].iloc[row] or out["unit_id"].iloc[row]
        raise InputError(t(f"{ja}（{int(mask.sum())} 件）", f"{en} ({int(mask.sum())} row(s))"),
                         path=path, feature=t(f"{row + 1} 件目（{label}）",
                                              f"feature {row + 1} ({label})"),
                         hint=t("人口の列と値を確かめてください（設定の population_column など）",
                                "check the population columns and values (population_column …)"))

    for col, ja, en in (("population", "人口", "population"),
                        ("population_65plus", "65歳以上人口", "65+ population"),
                        ("households", "世帯数", "households")):
        neg = (out[col] < 0).to_numpy()
        if neg.any():
            stop(neg, f"{ja}が負の値です", f"{en} is negative")
    above = (out["population_65plus"] > out["population"]).to_numpy()
    if old_col is not None and above.any():
        stop(above, "65歳以上人口が総人口を上回っています",
             f"the 65+ population ({old_col}) is above the total")


def _check_piece_names(out: gpd.GeoDataFrame, path: Path, id_col: str) -> None:
    """Pieces merged by a shared code must be one place: the same code under two names is an
    error (two areas would be summed into one), not a merge."""
    named = out[out["name"] != ""]
    names = named.groupby("unit_id")["name"].unique()
    clash = names[names.map(len) > 1]
    if len(clash):
        code, both = clash.index[0], clash.iloc[0]
        raise InputError(
            t(f"{id_col}「{code}」が別々の名称「{both[0]}」と「{both[1]}」に使われています"
              "（合算できません）",
              f"{id_col} {code!r} is used under different names {both[0]!r} and {both[1]!r} "
              "(they cannot be merged)"),
            path=path, feature=f"{id_col} {code}",
            hint=t("コードを直すか、別の地域のファイルが混ざっていないか確かめてください",
                   "fix the code, or check that no other area's file is mixed in"))


def read_points(src: Source, kind: str, *, clip: shapely.Geometry | None = None) -> gpd.GeoDataFrame:
    """Read gathering places or candidate sites into the places schema."""
    suffix = src.path.suffix.lower()
    if src.is_osm:
        from kennai.io.osm import read_osm_places

        return read_osm_places(src, clip=clip)
    if suffix in {".csv", ".txt", ".xlsx", ".xlsm"}:
        df = (read_xlsx_table(src.path) if suffix in {".xlsx", ".xlsm"}
              else read_csv_table(src.path, encoding=src.encoding))
        df = _apply_where(df, src)
        gdf = points_from_table(df, src.path, lat_column=src.lat_column, lon_column=src.lon_column)
    else:
        gdf = _apply_where(read_vector(src.path, layer=src.layer, encoding=src.encoding,
                                       crs=src.crs), src)
        if not gdf.geom_type.eq("Point").all():
            gdf = gdf.set_geometry(gdf.geometry.representative_point())
    if gdf.empty:
        from kennai.errors import EmptyLayerError

        raise EmptyLayerError(t("条件に合う地点が 1 件もありません", "no points match"),
                              path=src.path, hint=t("where の条件を確認してください",
                                                    "check the 'where' filter"))
    columns = list(gdf.columns)
    name_col = src.name_column or next(
        (c for c in _NAME_COLUMNS if c in columns),
        next((c for c in columns if "名称" in str(c) and "カナ" not in str(c)), None))
    name_col = _require_column(gdf, name_col, src.path, ("名称", "name"), "name_column")
    id_col = src.id_column or next((c for c in ("gp_id", "id", "ID", "NO", "No", "№") if c in columns),
                                   None)
    cat_col = src.category_column or (None if src.category else
                                      next((c for c in _CATEGORY_COLUMNS if c in columns), None))
    if src.category_column:
        _require_column(gdf, cat_col, src.path, ("種別", "category"), "category_column")
    addr_col = next((c for c in _ADDRESS_COLUMNS if c in columns), None)

    def col(name: str | None) -> pd.Series:
        if name is None or name not in gdf.columns:
            return pd.Series([""] * len(gdf), index=gdf.index)
        return _clean_text(gdf[name])

    stem = src.path.stem
    ids = col(id_col) if id_col else pd.Series([str(i + 1) for i in range(len(gdf))],
                                               index=gdf.index)
    ids = ids.where(ids != "", pd.Series([str(i + 1) for i in range(len(gdf))], index=gdf.index))
    out = gpd.GeoDataFrame(
        {
            "place_id": (stem + ":" + ids) if id_col != "gp_id" else ids,
            "name": col(name_col),
            "category": (pd.Series([src.category] * len(gdf), index=gdf.index)
                         if src.category else col(cat_col)),
            "address": col(addr_col),
            "weekdays": col("利用可能曜日"),
            "start_time": col("開始時間"),
            "end_time": col("終了時間"),
            "schedule_note": col("利用可能日時特記事項"),
            "description": col("説明"),
            "source_file": src.path.name,
        },
        geometry=gdf.geometry.values,
        crs=gdf.crs,
    )
    _require_names(out, src.path, what=("行", "row"), hint=t("名称を入れてください", "fill in the names"))
    return out.reset_index(drop=True)


def read_buildings(src: Source, *, clip: shapely.Geometry | None = None) -> gpd.GeoDataFrame:
    """Read building footprints (OSM file or any polygon file)."""
    if src.is_osm:
        from kennai.io.osm import read_osm_buildings

        return read_osm_buildings(src.path, clip=clip)
    gdf = read_vector(src.path, layer=src.layer, encoding=src.encoding, crs=src.crs)
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    return gpd.GeoDataFrame({"building": np.full(len(gdf), "yes", dtype=object)},
                            geometry=gdf.geometry.values, crs=gdf.crs).reset_index(drop=True)
