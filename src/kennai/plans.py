"""Layer-2 (第2層) plans: read as polygons, as a table assigning units to areas, or a layer.

Whatever its form, a plan becomes polygons with a ``name`` per area in the analysis CRS, so the
split analysis treats every plan alike. An assignment table (e.g. census 小地域 KEY_CODE → area)
is turned into polygons by dissolving the assigned units.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from kennai.checks import Finding, repair_geometries
from kennai.config import PlanConfig, Source
from kennai.errors import ConfigError, CRSError, InputError, KennaiError
from kennai.i18n import t
from kennai.io.geojson_shape import check_geojson_shapes
from kennai.io.layers import detect_name_column, read_districts
from kennai.io.tables import read_csv_table, read_xlsx_table
from kennai.io.vector import read_vector

#: Suffixes of an assignment table (unit → area), as opposed to a polygon file.
TABLE_SUFFIXES = (".csv", ".xlsx")

#: Layers an assignment table may assign, tried in this order when it does not say.
ASSIGNABLE_LAYERS = ("population", "neighbourhood", "elementary", "junior_high")

#: Column names that say "this column is the area" in an assignment table.
_AREA_WORDS = ("圏域", "第2層", "第２層", "エリア", "area", "plan", "案")

#: Kinds whose naming patterns are tried to find a plan's name column (plans are most often
#: junior-high districts, sometimes groups of elementary districts or 町丁目).
_PLAN_NAME_KINDS = ("plan", "junior_high", "elementary", "neighbourhood")


def read_plan(
    plan: PlanConfig,
    layers: Mapping[str, gpd.GeoDataFrame],
    crs: CRS,
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Read a plan into area polygons (``name``) in ``crs``, with findings about it."""
    if plan.from_layer is not None:
        if plan.from_layer not in layers:
            raise ConfigError(t(f"計画「{plan.name}」の from_layer「{plan.from_layer}」がありません",
                                f"plan {plan.name!r}: no layer {plan.from_layer!r}"),
                              feature=f"plans.{plan.name}.from_layer",
                              hint=t("layers にある面のレイヤ名を書いてください",
                                     "name a polygon layer of the region"))
        src = layers[plan.from_layer]
        return gpd.GeoDataFrame({"name": src["name"].to_numpy()}, geometry=src.geometry.values,
                                crs=src.crs), []
    assert plan.path is not None
    if plan.path.suffix.lower() in TABLE_SUFFIXES:
        return plan_from_table(plan, layers, crs)
    src_cfg = Source(path=plan.path, layer=plan.layer, encoding=plan.encoding, crs=plan.crs,
                     name_column=plan.name_column)
    return _plan_polygons(src_cfg, crs), []


def _plan_polygons(src: Source, crs: CRS) -> gpd.GeoDataFrame:
    """Read a polygon plan file: one dissolved polygon per area ``name``, in ``crs``."""
    gdf = read_districts(src, "plan").to_crs(crs)
    return gdf.dissolve(by="name", as_index=False, sort=False)[["name", "geometry"]]


def _upload_file(data: bytes, folder: Path) -> Path:
    """Store uploaded bytes under a suffix GDAL recognises (zip → shapefile, else GeoJSON)."""
    suffix = ".zip" if data[:4] == b"PK\x03\x04" else ".geojson"
    if suffix == ".geojson":  # its shapes, before GDAL or GEOS reads a coordinate
        check_geojson_shapes(data, path=UPLOAD_PATH)
    path = folder / f"plan{suffix}"
    path.write_bytes(data)
    return path


#: How an upload is named in error bodies (language-neutral; never the server's temp path).
UPLOAD_PATH = "upload"


def _source_crs(text: str | None) -> str | None:
    """Check the CRS an uploader declares for a file without ``.prj``."""
    if text is None or not text.strip():
        return None
    try:
        CRS.from_user_input(text.strip())
    except PyprojCRSError:
        raise CRSError(t(f"CRS「{text}」が分かりません", f"unknown CRS {text!r}"),
                       feature="crs", hint=t("EPSG:6676 のように書いてください",
                                             "write it as e.g. EPSG:6676")) from None
    return text.strip()


def _upload_error(exc: KennaiError) -> KennaiError:
    """The error as the uploader can act on it: no server path, no GDAL text, no config."""
    exc.path = UPLOAD_PATH
    context = exc.__context__
    if isinstance(exc, CRSError) and exc.feature != "crs":
        exc.hint = t("ZIP に正しい .prj ファイルを入れるか、crs パラメータで座標系を指定してください"
                     "（例 EPSG:6676）",
                     "include the right .prj file in the zip, or give the crs parameter "
                     "(e.g. EPSG:6676)")
    elif isinstance(context, pyogrio.errors.DataSourceError | pyogrio.errors.DataLayerError
                    | zipfile.BadZipFile):
        exc.message = t("GeoJSON か ZIP 圧縮したシェープファイルとして読めません",
                        "not a GeoJSON or zipped shapefile")
        exc.hint = t("GeoJSON（.geojson）か、.shp・.dbf・.shx・.prj を入れた ZIP を送ってください",
                     "send a GeoJSON (.geojson) or a zip holding the .shp, .dbf, .shx and .prj")
    elif exc.hint is not None and "name_column" in exc.hint.en:
        exc.hint = t("name_column パラメータに圏域名の列を指定してください",
                     "give the column naming the areas as the name_column parameter")
    elif exc.hint is not None and "encoding" in exc.hint.en:
        exc.hint = t("属性の文字コードを UTF-8 か Shift_JIS にするか、ZIP に .cpg ファイルを"
                     "入れてください",
                     "save the attributes as UTF-8 or Shift_JIS, or include a .cpg file in the zip")
    return exc


def read_plan_upload(
    path: Path | str | bytes,
    *,
    name_column: str | None = None,
    crs: CRS,
    source_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a plan someone uploaded (GeoJSON, zipped shapefile, GeoPackage …) for analysis.

    Parameters
    ----------
    path
        The uploaded file, or its bytes (a zip archive is read as a zipped shapefile, anything
        else as GeoJSON). Shift_JIS shapefiles and missing ``.prj`` are handled by
        :func:`kennai.io.vector.read_vector`.
    name_column
        The column naming each area; found from the values (…中学校, …小学校) when omitted.
    crs
        The region's analysis CRS.
    source_crs
        The file's CRS when it declares none (a zipped shapefile without ``.prj``), e.g.
        ``"EPSG:6676"``; a declared CRS wins.

    Returns
    -------
    GeoDataFrame
        ``name`` + one (dissolved, repaired) polygon per area in ``crs``; repairs made are in
        ``.attrs["findings"]`` (a list of :class:`~kennai.checks.Finding`).

    Raises
    ------
    InputError
        When the file cannot be read, holds no polygons, or has no usable name column. For
        bytes the error's ``path`` is ``"upload"`` and its hint speaks to the uploader (what
        to put in the zip, which request parameter to give), not to a config's author.
    """
    source_crs = _source_crs(source_crs)
    if isinstance(path, bytes):
        with tempfile.TemporaryDirectory(prefix="kennai-plan-") as tmp:
            try:
                return read_plan_upload(_upload_file(path, Path(tmp)), name_column=name_column,
                                        crs=crs, source_crs=source_crs)
            except KennaiError as exc:
                raise _upload_error(exc) from None
    path = Path(path)
    if name_column is None:
        probe = read_vector(path, crs=source_crs)
        name_column = next((c for c in (detect_name_column(probe, kind)
                                        for kind in _PLAN_NAME_KINDS) if c), None)
        if name_column is None:
            cols = ", ".join(str(c) for c in probe.columns if c != probe.geometry.name)
            raise InputError(t(f"圏域名の列が分かりません（列: {cols[:200]}）",
                               f"cannot tell which column names the areas (columns: {cols[:200]})"),
                             path=path, hint=t("圏域名の列（name_column）を指定してください",
                                               "give the name column (name_column)"))
    gdf = _plan_polygons(Source(path=path, name_column=name_column, crs=source_crs), crs)
    gdf, findings = repair_geometries(gdf, "plan")
    gdf.attrs["findings"] = findings
    return gdf


def plan_from_table(
    plan: PlanConfig,
    layers: Mapping[str, gpd.GeoDataFrame],
    crs: CRS,
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Dissolve the units an assignment table names into one polygon per area.

    Units are matched on the unit layer's ``unit_id`` (e.g. KEY_CODE) or ``name``. A table row
    naming no unit is an error; a unit the table leaves out is reported.
    """
    assert plan.path is not None and plan.units and plan.unit_column and plan.area_column
    if plan.units not in layers:
        raise ConfigError(t(f"計画「{plan.name}」の units「{plan.units}」がありません",
                            f"plan {plan.name!r}: no layer {plan.units!r}"),
                          feature=f"plans.{plan.name}.units",
                          hint=t("layers にあるレイヤ名を書いてください",
                                 "name a layer of the region"))
    units = layers[plan.units].to_crs(crs)
    table = _read_table(plan.path, plan.encoding)
    for col in (plan.unit_column, plan.area_column):
        if col not in table.columns:
            raise InputError(t(f"列「{col}」がありません（列: {', '.join(table.columns)}）",
                               f"no column {col!r} (columns: {', '.join(table.columns)})"),
                             path=plan.path, hint=t("unit_column / area_column を確認してください",
                                                    "check unit_column / area_column"))
    keys = table[plan.unit_column].astype(str).str.strip()
    areas = table[plan.area_column].astype(str).str.strip()
    id_col = "unit_id" if "unit_id" in units.columns and keys.isin(
        units["unit_id"].astype(str)).mean() > keys.isin(units["name"].astype(str)).mean() else "name"
    unit_keys = units[id_col].astype(str).to_numpy()
    missing = ~keys.isin(unit_keys).to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InputError(t(f"「{keys.iloc[row]}」は {plan.units} にありません"
                           f"（{int(missing.sum())} 行）",
                           f"{keys.iloc[row]!r} is not in layer {plan.units} "
                           f"({int(missing.sum())} rows)"),
                         path=plan.path, feature=t(f"{row + 2} 行目", f"line {row + 2}"),
                         hint=t(f"{plan.units} の名称か ID を書いてください",
                                f"use names or ids of layer {plan.units}"))
    dup = keys.duplicated(keep=False) & ~pd.Series(
        list(zip(keys, areas, strict=True))).duplicated(keep=False)
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(t(f"「{keys.iloc[row]}」が複数の圏域に割り当てられています",
                           f"{keys.iloc[row]!r} is assigned to several areas"),
                         path=plan.path, feature=t(f"{row + 2} 行目", f"line {row + 2}"),
                         hint=t("1 つの単位は 1 つの圏域にしてください",
                                "assign each unit to one area"))
    assign = dict(zip(keys, areas, strict=True))
    area_of = pd.Series(unit_keys).map(assign)
    findings = []
    left_out = units[id_col].astype(str)[area_of.isna().to_numpy()]
    if len(left_out):
        findings.append(Finding(
            "warning", "plan_unassigned", f"plan:{plan.name}",
            t(f"{len(left_out)} 件の単位がどの圏域にも割り当てられていません: "
              f"{', '.join(left_out.head(10))}",
              f"{len(left_out)} units belong to no area: {', '.join(left_out.head(10))}")))
    assigned = units.assign(_area=area_of.to_numpy()).dropna(subset=["_area"])
    gdf = assigned.dissolve(by="_area", as_index=False, sort=False)
    return gpd.GeoDataFrame({"name": gdf["_area"].to_numpy()}, geometry=gdf.geometry.values,
                            crs=crs), findings


def _read_table(path: Path, encoding: str | None = None) -> pd.DataFrame:
    """An assignment table: a CSV (encoding detected) or the first sheet of an xlsx."""
    if path.suffix.lower() == ".xlsx":
        return read_xlsx_table(path)
    return read_csv_table(path, encoding=encoding)


def read_plan_file(
    path: Path | str | bytes,
    *,
    filename: str,
    layers: Mapping[str, gpd.GeoDataFrame],
    crs: CRS,
    name_column: str | None = None,
    source_crs: str | None = None,
    units: str | None = None,
    unit_column: str | None = None,
    area_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Any plan file someone adds or uploads: polygons (GeoJSON, zipped shapefile …, see
    :func:`read_plan_upload`) or an assignment table (CSV/xlsx: unit code or name → area),
    told apart by ``filename``'s suffix. What the CLI's ``plans add`` and the API both read.

    For a table the unit layer and columns are found from the values when not given: the
    column whose values are most often a unit's id or name in one of
    :data:`ASSIGNABLE_LAYERS`, and the area column (by its header, else the other column).
    """
    suffix = Path(filename).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        return read_plan_upload(path, name_column=name_column, crs=crs, source_crs=source_crs)
    with tempfile.TemporaryDirectory(prefix="kennai-plan-") as tmp:
        if isinstance(path, bytes):
            file = Path(tmp) / f"plan{suffix}"
            file.write_bytes(path)
        else:
            file = Path(path)
        try:
            table = _read_table(file)
            layer, ucol = _unit_column(table, layers, units, unit_column, file)
            acol = area_column or _area_column(table, ucol, file)
            plan = PlanConfig(name="upload", path=file, units=layer, unit_column=ucol,
                              area_column=acol)
            gdf, findings = plan_from_table(plan, layers, crs)
        except KennaiError as exc:
            if isinstance(path, bytes):
                exc.path = UPLOAD_PATH
            raise
    gdf.attrs["findings"] = findings
    return gdf


def _unit_column(table: pd.DataFrame, layers: Mapping[str, gpd.GeoDataFrame], units: str | None,
                 column: str | None, path: Path) -> tuple[str, str]:
    """The layer a table assigns and its unit column: the pair with the most values that are
    a unit's ``unit_id`` or ``name`` (at least 80 %)."""
    kinds = [units] if units else [k for k in ASSIGNABLE_LAYERS if k in layers]
    cols = [column] if column else [str(c) for c in table.columns]
    best: tuple[float, str, str] = (0.0, "", "")
    for kind in kinds:
        if kind not in layers:
            continue
        layer = layers[kind]
        known = set(layer["name"].astype(str))
        if "unit_id" in layer.columns:
            known |= set(layer["unit_id"].astype(str))
        for col in cols:
            if col not in table.columns:
                continue
            share = float(table[col].astype(str).str.strip().isin(known).mean())
            if share > best[0]:
                best = (share, kind, col)
    if best[0] < 0.8:
        raise InputError(t("表のどの列が区域（単位）のコードか名称か分かりません",
                           "cannot tell which column holds the units' codes or names"),
                         path=path, hint=t("1 列目に町丁・自治会・小学校区のコードか名称、2 列目に圏域名を"
                                           "書いてください（units / unit_column でも指定できます）",
                                           "put the units' codes or names in one column and the "
                                           "area in another (or give units / unit_column)"))
    return best[1], best[2]


def _area_column(table: pd.DataFrame, unit_column: str, path: Path) -> str:
    """The column naming each unit's area: by its header, else the only other column."""
    others = [str(c) for c in table.columns if str(c) != unit_column]
    named = [c for c in others if any(w in c.lower() for w in _AREA_WORDS)]
    if named:
        return named[0]
    filled = [c for c in others if table[c].notna().all()]
    if len(filled) == 1:
        return filled[0]
    raise InputError(t(f"どの列が圏域名か分かりません（列: {', '.join(others)}）",
                       f"cannot tell which column names the area (columns: {', '.join(others)})"),
                     path=path, hint=t("圏域名の列の見出しを「圏域」にするか area_column を指定してください",
                                       "head the area column 圏域 or give area_column"))
