"""Read point tables: facility CSVs with latitude/longitude columns.

The Digital Agency 推奨データセット schema (名称, 住所, 緯度, 経度, 利用可能曜日, 開始時間, 終了時間 …)
is recognised, and so are generic CSVs with ``lat``/``lon`` style columns. Files come as UTF-8
(with or without BOM) or cp932; the encoding is decided from the bytes. Rows are never dropped
silently: a row without usable coordinates is an error that names the row.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from kennai.errors import EmptyLayerError, InputError
from kennai.i18n import t
from kennai.io.encoding import text_encoding

#: Column names tried, in order, for latitude and longitude (compared case-insensitively).
LAT_NAMES = ("緯度", "lat", "latitude", "y", "ido", "緯度（世界測地系）")
LON_NAMES = ("経度", "lon", "lng", "long", "longitude", "x", "keido", "経度（世界測地系）")

#: Japan's extent with a margin, for telling latitude from longitude.
_JP_LAT = (20.0, 46.5)
_JP_LON = (122.0, 154.5)


def read_csv_table(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV as text columns, detecting the encoding and keeping every row."""
    path = Path(path)
    if not path.is_file():
        raise InputError(t("ファイルが見つかりません", "file not found"), path=path,
                         hint=t("設定の path を確認してください", "check the path in the config"))
    try:
        enc = encoding or text_encoding(path)
    except UnicodeError:
        raise InputError(
            t("文字コードが UTF-8 でも Shift_JIS でもありません",
              "the text is neither UTF-8 nor Shift_JIS"),
            path=path, hint=t("設定に encoding を指定してください", "set 'encoding' for this source"),
        ) from None
    try:
        text = path.read_text(encoding=enc)
    except (UnicodeDecodeError, LookupError):
        raise InputError(t(f"文字コード {enc} で読めません", f"cannot decode it as {enc}"),
                         path=path, hint=t("設定の encoding を確認してください",
                                           "check 'encoding' in the config")) from None
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise InputError(t(f"CSV として読めません（{detail}）", f"not a readable CSV ({detail})"),
                         path=path, hint=t("区切り文字と引用符を確認してください",
                                           "check the delimiters and quotes")) from None
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    if df.empty:
        raise EmptyLayerError(t("データ行が 1 行もありません", "the table has no rows"), path=path,
                              hint=t("正しいファイルか確認してください",
                                     "check that this is the right file"))
    return df


def find_column(columns: list[str], names: tuple[str, ...]) -> str | None:
    """The first column whose name matches one of ``names`` (case-insensitive)."""
    lowered = {c.lower(): c for c in columns}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _coordinate_column(col: str | None, columns: list[str], label: tuple[str, str],
                       path: Path) -> str:
    """The latitude or longitude column ``col``, or the error saying the table has none."""
    if col is None or col not in columns:
        raise InputError(
            t(f"{label[0]}の列が見つかりません（列: {', '.join(columns[:12])}）",
              f"no {label[1]} column (columns: {', '.join(columns[:12])})"),
            path=path,
            hint=t("列名を 緯度/経度 にするか、設定に lat_column / lon_column を書いてください",
                   "name the columns 緯度/経度 or lat/lon, or set lat_column / lon_column"),
        )
    return col


def _coords(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(df[col].str.strip().str.replace("，", ".", regex=False), errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            t(f"列「{col}」に数値でない値「{df[col].iloc[row]}」があります（{int(bad.sum())} 行）",
              f"column {col!r} has a non-numeric value {df[col].iloc[row]!r} "
              f"({int(bad.sum())} rows)"),
            path=path,
            feature=t(f"{row + 2} 行目", f"line {row + 2}"),
            hint=t("緯度・経度を十進の度で入れてください",
                   "give latitude and longitude in decimal degrees"),
        )
    return values.to_numpy(dtype=float)


def points_from_table(
    df: pd.DataFrame,
    path: Path,
    *,
    lat_column: str | None = None,
    lon_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Turn a table with latitude/longitude columns into points in EPSG:4326.

    Coordinates are checked: every row must have numbers, inside Japan's extent, and
    latitude and longitude must not be swapped (a common mistake in hand-made CSVs).
    """
    columns = list(df.columns)
    lat_col = _coordinate_column(lat_column or find_column(columns, LAT_NAMES), columns,
                                 ("緯度", "latitude"), path)
    lon_col = _coordinate_column(lon_column or find_column(columns, LON_NAMES), columns,
                                 ("経度", "longitude"), path)
    lat = _coords(df, lat_col, path)
    lon = _coords(df, lon_col, path)
    in_lat = (lat >= _JP_LAT[0]) & (lat <= _JP_LAT[1])
    in_lon = (lon >= _JP_LON[0]) & (lon <= _JP_LON[1])
    swapped = (lat >= _JP_LON[0]) & (lat <= _JP_LON[1]) & (lon >= _JP_LAT[0]) & (lon <= _JP_LAT[1])
    if swapped.any():
        row = int(np.flatnonzero(swapped)[0])
        raise InputError(
            t(f"緯度と経度が入れ替わっています（{int(swapped.sum())} 行; 緯度={lat[row]}, "
              f"経度={lon[row]}）",
              f"latitude and longitude are swapped ({int(swapped.sum())} rows; "
              f"lat={lat[row]}, lon={lon[row]})"),
            path=path,
            feature=t(f"{row + 2} 行目", f"line {row + 2}"),
            hint=t(f"列「{lat_col}」と「{lon_col}」の中身を入れ替えてください",
                   f"swap the contents of columns {lat_col!r} and {lon_col!r}"),
        )
    outside = ~(in_lat & in_lon)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise InputError(
            t(f"日本の範囲外の座標があります（{int(outside.sum())} 行; 緯度={lat[row]}, "
              f"経度={lon[row]}）",
              f"coordinates outside Japan ({int(outside.sum())} rows; "
              f"lat={lat[row]}, lon={lon[row]})"),
            path=path,
            feature=t(f"{row + 2} 行目", f"line {row + 2}"),
            hint=t("十進の度（例 34.86, 138.32）で入れてください",
                   "use decimal degrees (e.g. 34.86, 138.32)"),
        )
    geometry = gpd.points_from_xy(lon, lat, crs="EPSG:4326")
    return gpd.GeoDataFrame(df.reset_index(drop=True), geometry=geometry, crs="EPSG:4326")


def _phonetic_fix(path: Path) -> dict[str, str]:
    """Shared strings as GDAL reads them (readings appended) → the text alone.

    Excel stores furigana (``<rPh>``) inside a cell's shared string; GDAL joins them onto the
    text (``仏生山交流センターブッショウザン…``). This maps each joined string back.
    """
    from xml.etree.ElementTree import fromstring

    try:
        with zipfile.ZipFile(path) as zf:
            root = fromstring(zf.read("xl/sharedStrings.xml"))
    except (KeyError, zipfile.BadZipFile):
        return {}
    fixes = {}
    for si in root:
        joined = "".join(el.text or "" for el in si.iter() if el.tag.endswith("}t"))
        text = "".join(el.text or "" for el in si.iter() if el.tag.endswith("}t")
                       and not any(el in ph.iter() for ph in si if ph.tag.endswith("}rPh")))
        if joined != text:
            fixes[joined] = text
    return fixes


def read_xlsx_table(path: str | Path) -> pd.DataFrame:
    """The first sheet of an xlsx as a table (through GDAL), as a city publishes it.

    Furigana that GDAL appends to a cell's text (Excel keeps readings inside shared strings) are
    removed, and rows with nothing in them are dropped.
    """
    path = Path(path)
    try:
        df = pd.DataFrame(pyogrio.read_dataframe(path, read_geometry=False, layer=0,
                                                 HEADERS="FORCE"))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(t("Excel ファイルとして読めません", "not a readable Excel file"), path=path,
                         hint=t(f"xlsx を確認してください（{str(exc)[:80]}）",
                                f"check the xlsx ({str(exc)[:80]})")) from None
    fixes = _phonetic_fix(path)
    if fixes:
        df = df.rename(columns=lambda c: fixes.get(str(c), c))
        for col in df.columns:
            df[col] = df[col].map(lambda v: fixes.get(v, v) if isinstance(v, str) else v)
    # Template rows: empty but for the row number the 推奨データセット form puts in column one.
    blank = df.iloc[:, 1:].apply(lambda row: all(str(v).strip() in ("", "nan", "None", "<NA>")
                                                 for v in row), axis=1)
    df = df[~blank] if df.shape[1] > 1 else df.dropna(how="all")
    if df.empty:
        raise EmptyLayerError(t("表に行がありません", "the table has no rows"), path=path,
                              hint=t("中身のあるシートを確認してください", "check the sheet"))
    # Cells as text, like a CSV read: the layer readers parse numbers and codes themselves.
    return df.astype(object).where(df.notna(), None).map(
        lambda v: v if v is None or isinstance(v, str) else
        (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))).reset_index(drop=True)
