"""Exports for the office: any layer or result as GeoPackage, GeoParquet, FlatGeobuf, CSV or xlsx.

One writer for every table kennai hands out (``kennai export``, the access CSV, the exported
site): the format follows the file's extension, geometries are written in EPSG:4326, every
table carries its title and attribution (GeoPackage identifier/description, FlatGeobuf title,
GeoParquet and xlsx metadata) and every file is written atomically. Spreadsheet formats (CSV,
xlsx) get readable headers from :data:`COLUMN_LABELS` — Japanese by default, English with
``lang="en"`` — and CSV is UTF-8 with a byte-order mark so that Excel on Japanese Windows reads
it without mojibake. GIS formats keep the field keys (``population_65plus`` …), which QGIS and
scripts address by name.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from kennai.atomic import atomic_path
from kennai.errors import OutputError
from kennai.i18n import Text, get_lang, t
from kennai.progress import Progress, no_progress

#: File extension → format name (what :func:`write_table` writes).
FORMATS: dict[str, str] = {".gpkg": "GeoPackage", ".parquet": "GeoParquet",
                           ".geoparquet": "GeoParquet", ".fgb": "FlatGeobuf", ".csv": "CSV",
                           ".xlsx": "xlsx"}

#: Every column kennai writes → its header in Japanese and English (the one table of them).
COLUMN_LABELS: dict[str, Text] = {
    "name": t("名称", "name"),
    "code": t("コード", "code"),
    "rank": t("順位", "rank"),
    "district": t("区域", "district"),
    "district_rank": t("区域内の順位", "rank in the district"),
    "unit_id": t("区域ID", "area id"),
    "place_id": t("場所ID", "place id"),
    "candidate_id": t("候補ID", "candidate id"),
    "category": t("種別", "category"),
    "address": t("住所", "address"),
    "weekdays": t("曜日", "weekdays"),
    "start_time": t("開始時刻", "start time"),
    "end_time": t("終了時刻", "end time"),
    "schedule_note": t("曜日・日時特記事項", "schedule note"),
    "description": t("説明", "description"),
    "source": t("出典", "source"),
    "source_file": t("元ファイル", "source file"),
    "building": t("建物種別", "building"),
    "households": t("世帯数", "households"),
    "population": t("人口", "population"),
    "population_65plus": t("65歳以上人口", "population 65+"),
    "population_on_network": t("ネットワーク上の人口", "population on the network"),
    "no_network_population": t("ネットワーク外の人口", "population off the network"),
    "unreachable_population": t("通いの場のない道の先の人口", "population on streets with no place"),
    "unreachable_population_65plus": t("通いの場のない道の先の65歳以上人口",
                                       "65+ on streets with no place"),
    "method": t("測り方（network: 道のり / straight_line: 直線）", "method"),
    "base": t("割合の分母", "base of the shares"),
    "base_share": t("分母が全人口に占める割合", "base as a share of everyone"),
    "reach": t("圏外の理由（far: 遠い / unreachable: 通いの場のない道）", "why beyond reach"),
    "no_network_population_65plus": t("ネットワーク外の65歳以上人口", "population 65+ off the network"),
    "median_distance_m": t("距離の中央値（m）", "median distance (m)"),
    "median_time_min": t("時間の中央値（分）", "median time (min)"),
    "beyond_worst_threshold": t("最大しきい値", "largest threshold"),
    "population_beyond_worst": t("最大しきい値より遠い人口", "population beyond the largest threshold"),
    "population_65plus_beyond_worst": t("最大しきい値より遠い65歳以上人口",
                                        "population 65+ beyond the largest threshold"),
    "locations": t("地点数", "locations"),
    "area_ha": t("面積（ha）", "area (ha)"),
    "added_population": t("増える人口", "population added"),
    "added_population_65plus": t("増える65歳以上人口", "population 65+ added"),
    "coverage_after": t("追加後のカバー率", "coverage after"),
    "kind": t("候補地の種類", "kind of site"),
    "threshold_m": t("道のり（m）以内", "within (m of walk)"),
    "plan": t("計画", "plan"),
    "units_layer": t("区域レイヤ", "units layer"),
    "unit": t("区域", "unit"),
    "unit_split": t("分断", "split"),
    "area": t("圏域", "area"),
    "area_m2": t("面積（m²）", "area (m²)"),
    "area_share": t("面積割合", "area share"),
    "population_share": t("人口割合", "population share"),
    "population_65plus_share": t("65歳以上の割合", "65+ share"),
    "mean_width_m": t("平均幅（m）", "mean width (m)"),
    "counted": t("集計対象", "counted"),
    "reason": t("理由", "reason"),
    "split": t("分断", "split"),
}

#: Columns named after a threshold (``coverage_500m`` …): prefix → header with ``{}`` for it.
_THRESHOLD_LABELS: tuple[tuple[str, Text], ...] = (
    ("straight_line_coverage_", t("直線{}以内の割合", "straight-line share within {}")),
    ("coverage_65plus_", t("65歳以上 {}以内の割合", "65+ share within {}")),
    ("coverage_", t("{}以内の割合", "share within {}")),
)


def column_label(column: str, lang: str | None = None) -> str:
    """The spreadsheet header of ``column`` in ``lang`` (default: the current language).

    Threshold columns read as 「500m以内の割合」/ "share within 500m"; a column the table does
    not know keeps its own name.
    """
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column].get(lang)
    for prefix, label in _THRESHOLD_LABELS:
        match = re.fullmatch(rf"{prefix}([\d.]+(?:m|min))", column)
        if match:
            value = match.group(1)
            if (lang or get_lang()) == "ja":
                value = value.removesuffix("min") + "分" if value.endswith("min") else value
            return label.get(lang).format(value)
    return column


def labelled(frame: pd.DataFrame, lang: str | None = None) -> pd.DataFrame:
    """``frame`` without geometry, its headers turned readable (:func:`column_label`)."""
    plain = pd.DataFrame(frame.drop(columns=["geometry"], errors="ignore"))
    return plain.rename(columns={c: column_label(str(c), lang) for c in plain.columns})


@dataclass(slots=True)
class ExportTable:
    """A table to hand out: its rows (a GeoDataFrame when it has geometry) and what it is.

    Attributes
    ----------
    frame
        The rows; geometries in any CRS (they are written in EPSG:4326).
    name
        The layer identifier in GIS formats (ASCII, e.g. ``gaps``).
    title
        The readable name QGIS shows (e.g. 「空白地帯 — みなと町」).
    attribution
        Where the data come from, one line each.
    """

    frame: pd.DataFrame
    name: str
    title: str
    attribution: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        """The title and attribution as one line of layer metadata."""
        return " / ".join([self.title, *self.attribution])


def output_format(path: str | Path) -> str:
    """The format ``path``'s extension asks for; an :class:`OutputError` for any other.

    Checked before a slow analysis runs, so that a typo in the name costs nothing.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(t(f"この拡張子では書き出せません: {suffix or '（なし）'}",
                            f"cannot export to {suffix or 'a name without extension'}"),
                          path=Path(path), hint=t(f"拡張子を {' '.join(FORMATS)} のどれかにしてください",
                                                  f"use one of {' '.join(FORMATS)}"))
    return FORMATS[suffix]


def _geographic(frame: pd.DataFrame) -> gpd.GeoDataFrame | None:
    """``frame`` in EPSG:4326 when it has geometry, else None."""
    if not isinstance(frame, gpd.GeoDataFrame) or "geometry" not in frame:
        return None
    if frame.crs is None:
        return frame.set_crs("EPSG:4326")
    return frame.to_crs("EPSG:4326")


def _csv_text(frame: pd.DataFrame, lang: str | None) -> str:
    buf = io.StringIO()
    labelled(frame, lang).to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    return buf.getvalue()


def table_csv(frame: pd.DataFrame, lang: str | None = None) -> str:
    """The CSV text of ``frame`` with readable headers (no byte-order mark: for a pipe)."""
    return _csv_text(frame, lang)


def _write_xlsx(table: ExportTable, tmp: Path, lang: str | None) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.name[:31]
    plain = labelled(table.frame, lang)
    sheet.append(list(plain.columns))
    for row in plain.itertuples(index=False):
        sheet.append([None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)
                      for v in row])
    sheet.freeze_panes = "A2"
    book.properties.title = table.title
    book.properties.description = table.description
    book.save(tmp)


def _write_geo(table: ExportTable, geo: gpd.GeoDataFrame, tmp: Path, fmt: str) -> None:
    if fmt == "GeoPackage":
        geo.to_file(tmp, layer=table.name, driver="GPKG", engine="pyogrio",
                    layer_options={"IDENTIFIER": table.title, "DESCRIPTION": table.description})
    elif fmt == "FlatGeobuf":
        geo.to_file(tmp, driver="FlatGeobuf", engine="pyogrio",
                    layer_options={"TITLE": table.title, "DESCRIPTION": table.description})
    else:
        import pyarrow.parquet as pq

        geo.to_parquet(tmp, index=False)
        arrow = pq.read_table(tmp)
        meta = dict(arrow.schema.metadata or {})
        meta[b"kennai"] = json.dumps({
            "name": table.name, "title": table.title, "attribution": table.attribution,
            "columns": {c: {"ja": column_label(c, "ja"), "en": column_label(c, "en")}
                        for c in geo.columns if c != "geometry"}}, ensure_ascii=False).encode()
        pq.write_table(arrow.replace_schema_metadata(meta), tmp)


def write_table(table: ExportTable, path: str | Path, *, lang: str | None = None,
                progress: Progress = no_progress) -> Path:
    """Write ``table`` to ``path`` in the format its extension names, atomically.

    Parameters
    ----------
    table
        The rows and their title and attribution.
    path
        The output file: ``.gpkg``, ``.parquet``/``.geoparquet``, ``.fgb``, ``.csv`` or ``.xlsx``.
    lang
        Header language of CSV and xlsx (default: the current language).
    progress
        Told 「書き出し」/"writing" with the rows (written in one go: 0 of n, then n of n).

    Raises
    ------
    OutputError
        For an unknown extension, a missing folder, or a GIS format asked of a table without
        geometry.
    """
    path = Path(path)
    fmt = output_format(path)
    geo = _geographic(table.frame)
    if fmt in ("GeoPackage", "FlatGeobuf", "GeoParquet") and geo is None:
        raise OutputError(t(f"「{table.title}」には形がないので {fmt} にできません",
                            f"{table.title!r} has no geometry, so it cannot be {fmt}"),
                          path=path, hint=t("拡張子を .csv か .xlsx にしてください",
                                            "use .csv or .xlsx"))
    label = t(f"書き出し {path.name}", f"writing {path.name}").get()
    progress(label, 0, len(table.frame))
    with atomic_path(path) as tmp:
        if fmt == "CSV":
            tmp.write_text(_csv_text(table.frame, lang), encoding="utf-8-sig", newline="")
        elif fmt == "xlsx":
            _write_xlsx(table, tmp, lang)
        else:
            assert geo is not None
            _write_geo(table, geo, tmp, fmt)
    progress(label, len(table.frame), len(table.frame))
    return path
