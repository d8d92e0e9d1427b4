"""Layer-2 (第2層) plans: read as polygons, as a table assigning units to areas, or a layer.

Whatever its form, a plan becomes polygons with a ``name`` per area in the analysis CRS, so the
split analysis treats every plan alike. An assignment table (e.g. census 小地域 KEY_CODE → area)
is turned into polygons by dissolving the assigned units.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from kennai.checks import Finding
from kennai.config import PlanConfig, Source
from kennai.errors import ConfigError, InputError
from kennai.i18n import t
from kennai.io.layers import read_districts
from kennai.io.tables import read_csv_table


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
    if plan.path.suffix.lower() == ".csv":
        return plan_from_table(plan, layers, crs)
    src_cfg = Source(path=plan.path, layer=plan.layer, encoding=plan.encoding, crs=plan.crs,
                     name_column=plan.name_column)
    gdf = read_districts(src_cfg, "plan").to_crs(crs)
    gdf = gdf.dissolve(by="name", as_index=False, sort=False)[["name", "geometry"]]
    return gdf, []


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
    table = read_csv_table(plan.path, encoding=plan.encoding)
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
