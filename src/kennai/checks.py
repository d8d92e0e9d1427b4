"""Validation of a region's layers, with findings a planner can read.

Checks repair what can be repaired (invalid rings) and say so, and report what a person must
judge: gaps and overlaps in layers that should tile the city, points outside the region,
duplicate names. Problems that make the data unusable are raised as errors by the readers;
what is found here is reported and, for ``error`` findings, stops the build. What a finding
is lives in :mod:`kennai.findings` (light, for reading a build's report).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from kennai.findings import Finding, Level, summarise
from kennai.i18n import t

__all__ = ["TILING_KINDS", "Finding", "Level", "check_coverage", "check_duplicate_names",
           "check_identical_areas", "check_outliers", "check_points_inside", "check_tiling",
           "covered_share", "repair_geometries", "summarise"]

#: Layers that should cover the city without gaps or overlaps.
TILING_KINDS = ("elementary", "junior_high")


def repair_geometries(gdf: gpd.GeoDataFrame, layer: str) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Make invalid polygons valid (keeping their polygonal part) and report each repair."""
    valid = gdf.geometry.is_valid.to_numpy()
    if valid.all():
        return gdf, []
    findings = []
    out = gdf.copy()
    for i in np.flatnonzero(~valid):
        geom = out.geometry.iloc[i]
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        if fixed.geom_type == "GeometryCollection":
            fixed = shapely.union_all([g for g in fixed.geoms
                                       if g.geom_type in ("Polygon", "MultiPolygon")])
        delta = abs(fixed.area - geom.buffer(0).area)
        out.iloc[i, out.columns.get_loc(out.geometry.name)] = fixed
        name = str(out["name"].iloc[i]) if "name" in out.columns else f"#{i + 1}"
        findings.append(Finding(
            "warning", "repaired_geometry", layer,
            t(f"不正な形状を修復しました（{reason}; 面積の変化 {delta:.1f} m²）",
              f"repaired an invalid geometry ({reason}; area changed by {delta:.1f} m²)"),
            feature=name, source=str(out["source_file"].iloc[i]) if "source_file" in out else None))
    return out, findings


def check_duplicate_names(gdf: gpd.GeoDataFrame, layer: str, *, level: Level) -> list[Finding]:
    """Report names used by more than one feature."""
    names = gdf["name"].astype(str)
    dups = names[names.duplicated(keep=False)]
    return [
        Finding(level, "duplicate_name", layer,
                t(f"同じ名称の地物が {int((names == n).sum())} 件あります",
                  f"{int((names == n).sum())} features share this name"), feature=n)
        for n in sorted(dups.unique())
    ]


def check_tiling(gdf: gpd.GeoDataFrame, layer: str, *, tolerance_m2: float) -> list[Finding]:
    """Find overlaps between features and gaps inside the layer's union above a tolerance.

    Areas are in the layer's (projected) CRS units. Slivers below the tolerance are counted
    in one ``info`` finding so they stay visible.
    """
    findings: list[Finding] = []
    geoms = gdf.geometry.values
    left, right = gdf.sindex.query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    inter = shapely.intersection(geoms[left], geoms[right])
    areas = shapely.area(inter)
    small = 0
    for i, j, a in zip(left, right, areas, strict=True):
        if a <= 0:
            continue
        if a < tolerance_m2:
            small += 1
            continue
        findings.append(Finding(
            "warning", "overlap", layer,
            t(f"「{gdf['name'].iloc[i]}」と「{gdf['name'].iloc[j]}」が {a:,.0f} m² 重なっています",
              f"{gdf['name'].iloc[i]!r} and {gdf['name'].iloc[j]!r} overlap by {a:,.0f} m²"),
            feature=f"{gdf['name'].iloc[i]} / {gdf['name'].iloc[j]}"))
    union = shapely.union_all(geoms)
    holes = [shapely.Polygon(r) for p in getattr(union, "geoms", [union])
             for r in getattr(p, "interiors", [])]
    hole_area = np.array([h.area for h in holes])
    big = hole_area >= tolerance_m2
    for h, a in zip(np.array(holes, dtype=object)[big], hole_area[big], strict=True):
        c = h.representative_point()
        findings.append(Finding(
            "warning", "gap", layer,
            t(f"どの区域にも属さない隙間が {a:,.0f} m² あります（位置 {c.x:.0f}, {c.y:.0f}）",
              f"a gap of {a:,.0f} m² belongs to no district (at {c.x:.0f}, {c.y:.0f})")))
    small += int((~big).sum())
    if small:
        findings.append(Finding(
            "info", "slivers", layer,
            t(f"{tolerance_m2:,.0f} m² 未満の重なり・隙間が {small} か所あります"
              "（デジタイズの誤差として無視）",
              f"{small} overlaps/gaps under {tolerance_m2:,.0f} m² (digitising noise, ignored)")))
    return findings


def check_points_inside(points: gpd.GeoDataFrame, outline: shapely.Geometry, layer: str, *,
                        tolerance_m: float = 50.0) -> list[Finding]:
    """Report points farther than ``tolerance_m`` outside the region's outline."""
    dist = shapely.distance(outline, points.geometry.values)
    out = np.flatnonzero(dist > tolerance_m)
    return [
        Finding("warning", "outside_region", layer,
                t(f"地域の外にあります（境界から {dist[i]:,.0f} m）",
                  f"lies outside the region ({dist[i]:,.0f} m from its edge)"),
                feature=str(points["name"].iloc[i]),
                source=str(points["source_file"].iloc[i]) if "source_file" in points else None)
        for i in out
    ]


def covered_share(extent: shapely.Geometry, outline: shapely.Geometry) -> float:
    """The share of the region's outline (by area) that ``extent`` covers, 0–1."""
    total = float(shapely.area(outline))
    if total <= 0 or extent is None or shapely.is_empty(extent):
        return 0.0
    return float(shapely.area(shapely.intersection(outline, extent))) / total


def check_coverage(extent: shapely.Geometry, outline: shapely.Geometry, layer: str, code: str, *,
                   error_below: float | None = None, warn_below: float = 0.5) -> list[Finding]:
    """Report an input that covers too little of the region (a network of another city, a DEM
    that lies elsewhere, a plan drawn on the wrong map).

    Below ``error_below`` the input is unusable (an ``error``); below ``warn_below`` it is
    suspect but may be meant (a ``warning``). The share is in the message either way.
    """
    share = covered_share(extent, outline)
    if error_below is not None and share < error_below:
        level: Level = "error"
    elif share < warn_below:
        level = "warning"
    else:
        return []
    far = float(shapely.distance(outline, extent)) if share == 0 else 0.0
    away = t(f"（{far / 1000:,.0f} km 離れています）", f" ({far / 1000:,.0f} km away)") \
        if far > 0 else t("", "")
    text = (t(f"地域をまったく覆っていません{away.ja}", f"covers none of the region{away.en}")
            if share == 0 else t(f"地域の {share:.0%} しか覆っていません{away.ja}",
                                 f"covers only {share:.0%} of the region{away.en}"))
    return [Finding(level, code, layer, text)]


def check_identical_areas(gdf: gpd.GeoDataFrame, layer: str, *,
                          share: float = 0.99) -> list[Finding]:
    """Report pairs of areas that are the same polygon (each unit would count twice)."""
    geoms = gdf.geometry.values
    left, right = gdf.sindex.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return []
    inter = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    larger = np.maximum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    same = inter >= share * np.where(larger > 0, larger, np.inf)
    names = gdf["name"].astype(str).to_numpy()
    return [Finding("error", "identical_areas", layer,
                    t(f"「{names[i]}」と「{names[j]}」が同じ形です（同じ範囲が 2 度数えられます）",
                      f"{names[i]!r} and {names[j]!r} are identical areas (the same ground "
                      "would count twice)"), feature=f"{names[i]} / {names[j]}")
            for i, j in zip(left[same], right[same], strict=True)]


def check_outliers(gdf: gpd.GeoDataFrame, layer: str, *, limit_m: float = 50_000.0
                   ) -> list[Finding]:
    """Report features lying more than ``limit_m`` from every other feature of the layer
    (a district digitised in the wrong place, or another city's file mixed in)."""
    if len(gdf) < 2:
        return []
    geoms = gdf.geometry.values
    tree = shapely.STRtree(geoms)
    (src, _), dist = tree.query_nearest(geoms, exclusive=True, return_distance=True,
                                        all_matches=False)
    nearest = np.full(len(gdf), np.inf)
    np.minimum.at(nearest, src, dist)
    far = np.flatnonzero(nearest > limit_m)
    if len(far) * 2 >= len(gdf):  # a scattered layer (islands): nothing stands out
        return []
    return [Finding("warning", "district_outlier", layer,
                    t(f"他の区域から {nearest[i] / 1000:,.0f} km 離れています（位置の誤りか、"
                      "別の市町村のデータでは？）",
                      f"lies {nearest[i] / 1000:,.0f} km from every other district (misplaced, "
                      "or another municipality's data?)"),
                    feature=str(gdf["name"].iloc[i]))
            for i in far]
