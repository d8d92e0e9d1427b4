"""Recognise what each file in a folder is, from its columns and contents, not from its name.

``kennai init FOLDER`` starts here. Every file a city or a national body publishes is looked at
for what it holds:

- district polygons: 国土数値情報 A27 (小学校区) / A32 (中学校区) in every published version
  (2010: ``A27_005``–``A27_008``; 2016: ``A27_001``–``A27_004``; 2021: ``A27_001``–``A27_005``
  with a 学校コード; A32 2013: ``A32_006``–``A32_009``; 2016 and 2021 likewise), and municipal
  files, whose kind and name column are read from the values (「…小学校」, 「…中学校」,
  「…自治会」/「…町内会」);
- e-Stat 国勢調査 小地域 boundaries (``KEY_CODE``, ``JINKO``, ``SETAI``) and 小地域集計 tables
  (``KEY_CODE`` and ``T0nnnnnnn`` columns, e.g. the age table ``tblT001082``);
- facility lists with coordinates (推奨データセット CSV or xlsx, KSJ P20 shelters ``P20_002``),
  with the rows that are halls where people can gather (公民館, 交流センター, 集会所 …) marked;
- the 推奨データセット 「地域・年齢別人口」 (``regionName``/``地域名``, ``totalPopulation``/``総人口``);
- OpenStreetMap PBF/XML (from the bytes), walk-network line layers (``u``/``v``, ``highway``),
  DEM GeoTIFFs and 国土地理院 基盤地図情報 DEM XML (and zips of it).

:func:`recognise_folder` returns what it recognised and, for every other file, why not.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyogrio

from kennai.errors import KennaiError
from kennai.i18n import Text, t
from kennai.io.gsi_dem import is_gsi_dem
from kennai.io.tables import LAT_NAMES, LON_NAMES, find_column, read_csv_table, read_xlsx_table
from kennai.io.vector import list_layers, read_vector

#: Values that mark a polygon layer's kind (the share of names that end so decides).
KIND_PATTERNS = {
    "elementary": re.compile(r"(?:小学校|小)$"),
    "junior_high": re.compile(r"(?:中学校|中)$"),
    "neighbourhood": re.compile(r"(?:自治会|町内会|町会|区会|自治区|部落会)$"),
}
#: Words in a facility's name that make it a hall where people can gather.
HALL_WORDS = ("コミュニティ防災センター", "地域交流センター", "交流センター", "コミュニティセンター",
              "公民館", "集会所", "集会場", "集会施設", "自治会館", "町民会館", "福祉会館",
              "福祉センター", "老人いこいの家", "いこいの家", "憩いの家", "総合センター",
              "地区センター", "市民センター", "ふれあいセンター", "コミュニティハウス",
              "コミュニティ会館")
#: Column names of the 推奨データセット templates, English keys included (the xlsx lists).
FACILITY_KEYS = {"name": "名称", "latitude": "緯度", "longitude": "経度", "address": "住所",
                 "availableDate": "利用可能曜日", "startTime": "開始時間", "endTime": "終了時間",
                 "availableDateNote": "利用可能日時特記事項", "note": "備考", "description": "説明"}
_CATEGORY_COLUMNS = ("団体名", "種別", "区分", "分類", "備考", "P20_004")
_SIDECARS = {".dbf", ".shx", ".prj", ".cpg", ".sbn", ".sbx", ".qix", ".qmd", ".fix", ".xml"}
_VECTOR = {".shp", ".geojson", ".json", ".topojson", ".gpkg", ".fgb", ".gml"}
_SKIP = {".md", ".pdf", ".html", ".htm", ".txt~", ".yaml", ".yml", ".py", ".log"}
_AGE_STAT = re.compile(r"^T\d{6}\d{3}$")


@dataclass(frozen=True)
class Recognised:
    """One layer of one file, and what it is.

    ``role`` is ``elementary``, ``junior_high``, ``neighbourhood``, ``population``,
    ``facilities``, ``network``, ``osm``, ``dem``, ``gsi_dem``, ``age_table`` or
    ``age_population``. For facility lists, ``names`` holds every row's name, ``halls`` marks
    the rows that are halls and ``categories`` the row's category value (when there is one).
    """

    path: Path
    role: str
    what: Text
    source: str = ""
    layer: str | None = None
    name_column: str | None = None
    rows: int = 0
    category_column: str | None = None
    code: str | None = None
    names: tuple[str, ...] = field(default=(), repr=False)
    halls: tuple[bool, ...] = field(default=(), repr=False)
    categories: tuple[str, ...] = field(default=(), repr=False)
    needs_conversion: bool = False


Unplaced = tuple[Path, Text]


def _fold(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip()


def hall_word(name: str) -> str | None:
    """The hall word a facility's name contains (``公民館`` …), or ``None``.

    What is in brackets is not the facility (``地域包括支援センター（山田総合センター内）`` is an
    office inside a hall, not a hall).
    """
    folded = re.sub(r"\([^)]*\)", "", _fold(name))
    return next((w for w in HALL_WORDS if w in folded), None)


def _text_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c != "geometry" and (
        df[c].dtype == object or pd.api.types.is_string_dtype(df[c]))]


def _kind_scores(df: pd.DataFrame) -> list[tuple[float, str, str]]:
    """(share of distinct names that end like a kind, kind, column), best first."""
    scores = []
    for col in _text_columns(df):
        values = df[col].dropna().map(_fold)
        values = values[values != ""]
        if values.empty:
            continue
        distinct = values.nunique() / len(values)
        for kind, pattern in KIND_PATTERNS.items():
            share = float(values.str.contains(pattern).mean()) * distinct
            if share > 0:
                scores.append((share, kind, str(col)))
    return sorted(scores, key=lambda s: (-s[0], list(KIND_PATTERNS).index(s[1])))


def _code_from(df: pd.DataFrame) -> str | None:
    """The 5-digit municipality code the rows share (e-Stat, KSJ, 推奨データセット columns)."""
    cols = {str(c).upper(): c for c in df.columns}
    if "PREF" in cols and "CITY" in cols:
        codes = (df[cols["PREF"]].astype(str).str.zfill(2) + df[cols["CITY"]].astype(str).str.zfill(3))
    else:
        col = next((cols[c] for c in ("A27_001", "A32_001", "A27_005", "A32_006", "P20_001",
                                      "PREFCODE", "市区町村コード") if c in cols),
                   next((c for c in df.columns if str(c).startswith("都道府県コード又は")), None))
        if col is None:
            return None
        codes = df[col].astype(str).str.strip().str[:5]
    common = codes[codes.str.fullmatch(r"\d{5}")].value_counts()
    return str(common.index[0]) if len(common) and common.iloc[0] >= 0.5 * len(df) else None


def _facilities(path: Path, df: pd.DataFrame, *, source: str, layer: str | None = None,
                name_column: str | None = None, needs_conversion: bool = False
                ) -> Recognised | Unplaced:
    cols = [str(c) for c in df.columns]
    name_col = name_column or next((c for c in ("名称", "name", "P20_002") if c in cols), None) \
        or next((c for c in cols if "名称" in c and "カナ" not in c and "通称" not in c), None)
    if name_col is None:
        return path, t(f"地点の表ですが名称の列がありません（列: {', '.join(cols[:8])}）",
                       f"a point table without a name column (columns: {', '.join(cols[:8])})")
    names = tuple(df[name_col].fillna("").map(_fold))
    halls = tuple(hall_word(n) is not None for n in names)
    cat_col = next((c for c in _CATEGORY_COLUMNS if c in cols), None)
    cats = tuple(df[cat_col].fillna("").map(_fold)) if cat_col else ()
    what = t(f"施設の一覧 {len(names)} 件（名称は「{name_col}」、集いの場になる施設 {sum(halls)} 件）",
             f"a facility list of {len(names)} (names in {name_col!r}, {sum(halls)} halls)")
    return Recognised(path, "facilities", what, source, layer, name_col, len(names), cat_col,
                      _code_from(df), names, halls, cats, needs_conversion)


def _vector_layer(path: Path, layer: str | None) -> Recognised | Unplaced:
    gdf = read_vector(path, layer=layer)
    cols = {str(c).upper(): str(c) for c in gdf.columns if c != gdf.geometry.name}
    geom = set(gdf.geom_type.dropna().unique())
    polygons = geom <= {"Polygon", "MultiPolygon"}
    points = geom <= {"Point", "MultiPoint"}
    lines = geom <= {"LineString", "MultiLineString"}
    code = _code_from(gdf)
    if polygons and "KEY_CODE" in cols:
        if "JINKO" not in cols:
            return path, t("国勢調査の小地域境界ですが人口（JINKO）がありません",
                           "census small areas without population (JINKO)")
        people = int(pd.to_numeric(gdf[cols["JINKO"]], errors="coerce").sum())
        return Recognised(path, "population", t(
            f"国勢調査 小地域 {len(gdf)} 件（人口 JINKO {people:,} 人）",
            f"census small areas, {len(gdf)} features (JINKO {people:,})"),
            "estat", layer, cols.get("S_NAME"), len(gdf), code=code)
    ksj = next((k for k in ("A27", "A32") if any(c.startswith(k + "_") for c in cols)), None)
    if ksj and polygons:
        kind = "elementary" if ksj == "A27" else "junior_high"
        scored = [s for s in _kind_scores(gdf[[c for c in gdf.columns if str(c).startswith(ksj)]])
                  if s[1] == kind]
        name_col = scored[0][2] if scored else None
        label = ("小学校区", "elementary school districts") if kind == "elementary" else \
            ("中学校区", "junior-high school districts")
        return Recognised(path, kind, t(
            f"国土数値情報 {ksj} {label[0]} {len(gdf)} 件（名称は「{name_col}」）",
            f"国土数値情報 {ksj} {label[1]}, {len(gdf)} (names in {name_col!r})"),
            "ksj", layer, name_col, len(gdf), code=code)
    if points and "P20_002" in cols:
        return _facilities(path, pd.DataFrame(gdf.drop(columns=gdf.geometry.name)),
                           source="ksj_p20", layer=layer, name_column=cols["P20_002"])
    if polygons:
        scores = _kind_scores(gdf)
        if scores and scores[0][0] >= 0.5:
            share, kind, col = scores[0]
            label = {"elementary": ("小学校区", "elementary school districts"),
                     "junior_high": ("中学校区", "junior-high school districts"),
                     "neighbourhood": ("自治会・町内会", "neighbourhood associations")}[kind]
            return Recognised(path, kind, t(
                f"{label[0]} {len(gdf)} 件（名称は「{col}」、{share:.0%} が該当する名前）",
                f"{label[1]}, {len(gdf)} (names in {col!r}; {share:.0%} of names fit)"),
                "city", layer, col, len(gdf), code=code)
        text_cols = _text_columns(gdf)
        top = max(text_cols, key=lambda c: gdf[c].nunique()) if text_cols else None
        sample = ", ".join(str(v) for v in gdf[top].dropna().head(3)) if top else ""
        if top and gdf[top].astype(str).str.endswith("防災会").mean() >= 0.5:
            return path, t(f"自主防災会の区域です（{sample} …）。kennai の自治会レイヤには"
                           "「…自治会」「…町内会」の区域を使います",
                           f"自主防災会 areas ({sample} …); kennai's neighbourhood layer takes "
                           "the 自治会/町内会 areas")
        return path, t(f"区域（面）ですが、名前が学校区にも自治会にも見えません（例: {sample}）",
                       f"polygons whose names are neither schools nor 自治会 (e.g. {sample})")
    if lines:
        if {"U", "V"} <= set(cols) or "HIGHWAY" in cols or "OSMID" in cols:
            return Recognised(path, "network", t(f"歩行ネットワーク（線 {len(gdf)} 本）",
                                                 f"a walk network ({len(gdf)} lines)"),
                              "osm" if "OSMID" in cols or "HIGHWAY" in cols else "network", layer,
                              rows=len(gdf))
        return path, t("線のレイヤですが道路網の属性（u, v, highway）がありません（境界線など）",
                       "lines without network attributes (u, v, highway): boundary lines?")
    if points:
        return _facilities(path, pd.DataFrame(gdf.drop(columns=gdf.geometry.name)), source="",
                           layer=layer)
    return path, t(f"形の種類が混ざっています（{', '.join(sorted(geom))}）",
                   f"mixed geometry types ({', '.join(sorted(geom))})")


def _table(path: Path, df: pd.DataFrame, *, needs_conversion: bool = False
           ) -> Recognised | Unplaced:
    cols = [str(c) for c in df.columns]
    upper = {c.upper() for c in cols}
    if "KEY_CODE" in upper and any(_AGE_STAT.match(c) for c in cols):
        stats = sorted({c[:7] for c in cols if _AGE_STAT.match(c)})
        return Recognised(path, "age_table", t(
            f"国勢調査 小地域集計の表 {', '.join(stats)}（{len(df)} 行）",
            f"a census small-area table {', '.join(stats)} ({len(df)} rows)"), "estat", rows=len(df))
    region = next((c for c in cols if c in ("regionName", "地域名", "町丁名")), None)
    total = next((c for c in cols if c in ("totalPopulation", "総人口")), None)
    if region and total:
        return Recognised(path, "age_population", t(
            f"地域・年齢別人口 {len(df)} 地域（推奨データセット）",
            f"population by area and age, {len(df)} areas (推奨データセット)"),
            "digital_agency", name_column=region, rows=len(df), code=_code_from(df),
            needs_conversion=needs_conversion)
    if find_column(cols, LAT_NAMES) and find_column(cols, LON_NAMES):
        return _facilities(path, df, source="city", needs_conversion=needs_conversion)
    return path, t(f"位置も人口も読み取れない表です（列: {', '.join(cols[:8])}）",
                   f"a table with neither coordinates nor population (columns: {', '.join(cols[:8])})")


def read_xlsx(path: Path) -> pd.DataFrame:
    """The first sheet of an xlsx (:func:`kennai.io.tables.read_xlsx_table`), with 推奨データセット
    columns named as in the CSVs."""
    df = read_xlsx_table(path)
    rename = {}
    for col in df.columns:
        key = str(col).split("\n")[-1].strip()
        if key in FACILITY_KEYS:
            rename[col] = FACILITY_KEYS[key]
            continue
        for field_name in ("名称_カナ", "名称_通称", *FACILITY_KEYS.values()):
            if key.startswith(field_name) and not any(
                    key.startswith(f) for f in ("名称_カナ", "名称_通称") if f != field_name):
                rename[col] = field_name
                break
    df = df.rename(columns=rename)
    if "名称" in df.columns:  # template rows left blank
        df = df[df["名称"].fillna("").astype(str).str.strip() != ""]
    return df.reset_index(drop=True)


def _osm_kind(path: Path) -> str | None:
    with path.open("rb") as fh:
        head = fh.read(512)
    if b"OSMHeader" in head[:32]:
        return "pbf"
    if b"<osm" in head:
        return "xml"
    return None


def recognise_file(path: str | Path) -> list[Recognised | Unplaced]:
    """What one file holds: a :class:`Recognised` per layer, or ``(path, reason)``."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        osm = _osm_kind(path) if suffix in {".pbf", ".osm", ".xml"} else None
        if osm:
            what = t(f"OpenStreetMap の {osm.upper()}（道路・建物・施設）",
                     f"OpenStreetMap {osm.upper()} (streets, buildings, amenities)")
            return [Recognised(path, "osm", what, "osm")]
        if suffix in {".xml", ".zip"} and is_gsi_dem(path):
            return [Recognised(path, "gsi_dem", t("国土地理院 基盤地図情報 DEM（JPGIS GML）",
                                                  "国土地理院 基盤地図情報 DEM (JPGIS GML)"), "gsi")]
        if suffix in {".tif", ".tiff"}:
            return [_raster(path)]
        if suffix == ".zip":
            return _zip(path)
        if suffix in _VECTOR:
            names: list[str | None] = list(list_layers(path)) if suffix in {".gpkg", ".topojson"} \
                else [None]
            multi = len(names) > 1
            if suffix == ".topojson" and "town" in names:
                names = ["town"]  # e-Stat/Geoshape small areas, not the city outline
            return [_vector_layer(path, layer if multi else None) for layer in names]
        if suffix in {".csv", ".txt"}:
            return [_table(path, read_csv_table(path))]
        if suffix in {".xlsx", ".xlsm"}:
            return [_table(path, read_xlsx(path), needs_conversion=True)]
    except KennaiError as exc:
        return [(path, t(f"読み込めません: {exc.message.ja}", f"cannot read it: {exc.message.en}"))]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError,
            ValueError, zipfile.BadZipFile) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        return [(path, t(f"読み込めません（{detail}）", f"cannot read it ({detail})"))]
    return [(path, t("kennai が扱う形式ではありません", "not a format kennai reads"))]


def _raster(path: Path) -> Recognised | Unplaced:
    import rasterio

    with rasterio.open(path) as ds:
        ok = ds.count == 1 and ds.crs is not None and ds.dtypes[0].startswith(("float", "int"))
        size = (ds.width, ds.height)
    if not ok:
        return path, t("標高ラスタに見えません（1 バンドで CRS 付きの数値が必要）",
                       "not a DEM (needs one numeric band and a CRS)")
    return Recognised(path, "dem", t(f"標高ラスタ {size[0]}×{size[1]}", f"a DEM raster {size[0]}x{size[1]}"),
                      "dem")


def _zip(path: Path) -> list[Recognised | Unplaced]:
    with zipfile.ZipFile(path) as zf:
        members = zf.namelist()
    if any(m.lower().endswith(".shp") for m in members):
        layers = list_layers(path)
        return [_vector_layer(path, layer if len(layers) > 1 else None) for layer in layers]
    return [(path, t("シェープファイルも DEM も入っていない ZIP です。展開してください",
                     "a zip without shapefiles or a DEM: unzip it"))]


def recognise_folder(folder: str | Path) -> tuple[list[Recognised], list[Unplaced]]:
    """Recognise every file under ``folder`` (shapefile sidecars and notes are passed over).

    Returns
    -------
    (list of Recognised, list of (path, reason))
        What each recognised layer is, and every file that was not recognised, with why.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    stems = {(p.parent, p.stem.lower()) for p in files if p.suffix.lower() == ".shp"}
    found: list[Recognised] = []
    unplaced: list[Unplaced] = []
    for path in files:
        suffix = path.suffix.lower()
        sidecar = suffix in _SIDECARS and ((path.parent, path.stem.lower()) in stems
                                            or path.name.lower().endswith(".shp.xml"))
        if sidecar or suffix in _SKIP or path.name == "SOURCES.md":
            continue
        for item in recognise_file(path):
            (found if isinstance(item, Recognised) else unplaced).append(item)  # type: ignore[arg-type]
    return found, unplaced


def municipality_code(found: list[Recognised]) -> str | None:
    """The municipality code most recognised layers agree on (``None`` when none says)."""
    votes = Counter(r.code for r in found if r.code and r.role != "age_table")
    return votes.most_common(1)[0][0] if votes else None
