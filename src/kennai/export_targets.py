"""What ``kennai export --layer …`` names, turned into one table with its title and attribution.

A target is a built layer's kind (``population``, ``elementary``, ``places`` …), ``access``
(coverage per district of ``by``, or region-wide), ``gaps``, ``suggestions`` or
``splits[:PLAN]`` (the pieces of a plan over ``units``). The CLI and the exported site both ask
here, so a table means the same thing wherever it is handed out; :mod:`kennai.export` writes it.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from kennai.access import (
    AccessOptions,
    AccessResults,
    coverage_frame,
    coverage_table,
    region_gaps,
    resolve_polygons,
    results_for,
    suggest_sites,
)
from kennai.errors import NotFoundError
from kennai.export import ExportTable
from kennai.i18n import t
from kennai.progress import Progress, no_progress
from kennai.region import Region

#: The result tables besides the layers (target → title in Japanese and English).
RESULT_TARGETS = {
    "access": t("徒歩アクセス", "walking access"),
    "gaps": t("空白地帯", "gaps"),
    "suggestions": t("候補地の提案", "site suggestions"),
    "splits": t("分断の断片", "split pieces"),
}


def _attribution(region: Region, kind: str | None = None) -> list[str]:
    layer = region.config.layers.get(kind) if kind else None
    own = [layer.attribution] if layer is not None and layer.attribution else []
    return own + list(region.config.attribution)


def _title(region: Region, what: str) -> str:
    return f"{what} — {region.config.title}"


def suggestions_export(region: Region, frame: gpd.GeoDataFrame, district: str | None = None
                       ) -> ExportTable:
    """Site suggestions (of one district when ``district`` is given) as a table to write."""
    what = RESULT_TARGETS["suggestions"].get()
    return ExportTable(frame, "suggestions", _title(region, f"{what} {district}" if district else what),
                       _attribution(region, "candidates"))


def coverage_export(region: Region, results: AccessResults, by: str | None = None
                    ) -> ExportTable:
    """Coverage per district of ``by`` (with its polygons), or one region-wide row (outline)."""
    title = RESULT_TARGETS["access"].get()
    if by is None:
        rows = coverage_table(results, region_name=region.config.title)
        frame = gpd.GeoDataFrame(coverage_frame(rows), geometry=[region.outline], crs=region.crs)
        return ExportTable(frame, "access", _title(region, title), _attribution(region))
    key, polygons = resolve_polygons(region, by)
    rows = coverage_table(results, polygons, region_name=region.config.title)
    shapes = polygons[["name", "geometry"]].assign(name=polygons["name"].astype(str)) \
        .dissolve(by="name", as_index=False)
    flat = coverage_frame(rows)
    merged = flat.merge(shapes, on="name", how="left")
    frame = gpd.GeoDataFrame(merged, geometry="geometry", crs=polygons.crs)
    slug = key.replace(":", "_")
    return ExportTable(frame, f"access_{slug}", _title(region, f"{title}（{key}）"),
                       _attribution(region))


def export_table(region: Region, target: str, *, by: str | None = None,
                 units: str = "elementary", options: AccessOptions | None = None,
                 progress: Progress = no_progress) -> ExportTable:
    """The table ``target`` names for ``region``.

    Parameters
    ----------
    region
        A built region.
    target
        A layer kind, ``network`` (the walk network's edges), ``access``, ``gaps``,
        ``suggestions`` or ``splits[:PLAN]`` (the first plan when none is named).
    by
        For ``access``: the district layer or plan to summarise by (region-wide without it).
    units
        For ``splits``: the layer the plan is checked against.
    options
        Access options (default: those the build stored).
    progress
        Called with each step's name.

    Raises
    ------
    NotFoundError
        When the region has no such layer, plan or district layer.
    """
    base, _, plan = target.partition(":")
    if base in RESULT_TARGETS:
        if base == "splits":
            return _splits(region, plan or None, units)
        results = results_for(region, options or AccessOptions(), progress=progress)
        if base == "access":
            return coverage_export(region, results, by)
        title = _title(region, RESULT_TARGETS[base].get())
        if base == "gaps":
            return ExportTable(region_gaps(region, results), "gaps", title, _attribution(region))
        progress(RESULT_TARGETS["suggestions"].get())
        return suggestions_export(region, suggest_sites(region, results))
    network = region.network if target == "network" else None
    if network is not None:  # the walk network's edges (lengths in metres), for QGIS
        layer = region.config.layers.get("network")
        title = layer.title if layer is not None and layer.title else "network"
        return ExportTable(network.edges_frame(), "network", _title(region, title),
                           _attribution(region, "network"))
    if not region.has_layer(target):
        known = ", ".join([*region.layer_names, *(["network"] if region.network else []),
                           *RESULT_TARGETS])
        raise NotFoundError(t(f"「{target}」というレイヤはありません（あるもの: {known}）",
                              f"no layer {target!r} (there are: {known})"), feature=target,
                            hint=t("--layer に上のどれかを指定してください",
                                   "give --layer one of these"))
    layer = region.config.layers.get(target)
    title = layer.title if layer is not None and layer.title else target
    return ExportTable(region.layer(target), target, _title(region, title),
                       _attribution(region, target))


def _splits(region: Region, plan: str | None, units: str) -> ExportTable:
    from kennai.splits import split_report_for_region

    if plan is None:
        if not region.plan_names:
            raise NotFoundError(t("この地域には計画がありません", "the region has no plan"),
                                feature="splits", hint=t("設定の plans に計画を書いてください",
                                                         "add a plan under plans in the config"))
        plan = region.plan_names[0]
    report = split_report_for_region(region, plan, units)
    pieces = report.pieces_frame()
    frame = gpd.GeoDataFrame(pd.DataFrame(pieces).assign(plan=plan, units_layer=units),
                             geometry="geometry", crs=pieces.crs)
    title = _title(region, f"{RESULT_TARGETS['splits'].get()}（{plan} × {units}）")
    return ExportTable(frame, f"splits_{plan}_{units}", title, _attribution(region))
