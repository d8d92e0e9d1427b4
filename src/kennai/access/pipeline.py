"""Access for a whole region in one go: every table, gap, suggestion and the surface, stored.

:func:`run_access_for_build` is the step ``kennai build`` runs after writing the layers: the
default results are computed once and stored in ``build/<region>/access`` for the CLI, the
API and the maps to read, and those of every other kind of destination the region names in
``build/<region>/access-<kind>``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kennai.access.compute import compute_access
from kennai.access.coverage import OUTSIDE_NAME, coverage_table
from kennai.access.destinations import PLACES_KIND
from kennai.access.districts import polygon_layers
from kennai.access.gaps import region_gaps
from kennai.access.options import AccessOptions
from kennai.access.results import AccessResults
from kennai.access.sites import suggest_sites
from kennai.access.store import ACCESS_DIR, access_dir, save_access
from kennai.access.surface import write_surface
from kennai.checks import Finding
from kennai.i18n import t
from kennai.progress import Progress, counted, no_progress, within
from kennai.region import Region


def analyse(region: Region, options: AccessOptions | None = None, *, progress: Progress = no_progress,
            surface_path: Path | None = None, kind: str = PLACES_KIND) -> AccessResults:
    """Everything for a region: distances, coverage for every district layer and plan (and the
    whole region), gaps, site suggestions and, when ``surface_path`` is given, the surface.

    For a kind of destination other than the gathering places there are no site suggestions
    (the candidates are sites for gathering places, not for shops or stops).
    """
    results = compute_access(region, options, kind=kind, progress=progress)
    results.coverage = {"region": coverage_table(results, region_name=region.config.title)}
    layers = list(polygon_layers(region).items())
    for key, polys in counted(progress, t("区域ごとのカバー率", "coverage per district layer").get(),
                              layers):
        results.coverage[key] = coverage_table(results, polys)
    if results.info.get("method") == "straight_line":
        return results  # gaps, suggestions and the surface need walking distances
    progress(t("空白地帯", "gaps").get())
    results.gaps = region_gaps(region, results)
    if kind == PLACES_KIND:
        progress(t("候補地の提案", "site suggestions").get())
        results.suggestions = suggest_sites(region, results)
    if surface_path is not None:
        progress(t("徒歩時間の面", "walking-minutes surface").get())
        results.surface_path = write_surface(region, results, surface_path)
    return results


def run_access_for_build(region: Region, build_dir: Path, *, progress: Progress = no_progress,
                         options: AccessOptions | None = None) -> dict[str, Any]:
    """Compute the default access results for a built region and store them in
    ``build_dir/access`` atomically, then those of each kind of destination the config names
    in ``build_dir/access-<kind>``; return a small summary for ``metadata.json`` (the other
    kinds under ``kinds``).

    Does nothing (returns ``{"skipped": reason}``) when the region has no network or places.
    """
    if not region.has_layer("places"):
        return {"skipped": "no places"}
    if not (region.has_layer("population") or region.has_layer("buildings")):
        return {"skipped": "no residents"}  # nobody to measure: places are shown, not analysed
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    surface_tmp = build_dir / f".surface-{os.getpid()}.tif"
    try:
        results = analyse(region, options, progress=progress, surface_path=surface_tmp)
        progress(t("アクセス結果の書き込み", "writing access results").get())
        save_access(results, build_dir / ACCESS_DIR)
    finally:
        surface_tmp.unlink(missing_ok=True)
    summary = _summary(results, ACCESS_DIR)
    kinds: dict[str, dict[str, Any]] = {}
    kind_label = t("行き先の種類", "kinds of destination").get()
    for kind in counted(progress, kind_label, list(region.config.destinations)):
        kind_results = analyse(region, options, progress=within(progress, kind), kind=kind)
        save_access(kind_results, build_dir / access_dir(kind))
        kinds[kind] = _summary(kind_results, access_dir(kind))
    if kinds:
        summary["kinds"] = kinds
    return summary


def _summary(results: AccessResults, folder: str) -> dict[str, Any]:
    """What ``metadata.json`` says about one kind's stored results."""
    whole = results.coverage["region"][0]
    return {"dir": folder, "method": whole["method"], "base_share": whole["base_share"],
            "population": whole["population"],
            "profile": results.options.profile,
            "places": results.info["places"], "places_on_network": results.info["places_on_network"],
            "locations": len(results.residents), "coverage": whole["coverage"],
            "no_network_population": whole["no_network_population"],
            "gaps": 0 if results.gaps is None else len(results.gaps),
            "suggestions": 0 if results.suggestions is None else len(results.suggestions),
            "findings": [f.to_dict() for f in access_findings(results)]}


#: Above this share of residents off the network, a district's or the region's figures are
#: about a minority of its people, and the build says so.
OFF_NETWORK_WARNING = 0.05


def access_findings(results: AccessResults) -> list[Finding]:
    """Warnings a planner must read beside the figures: residents off the network, per region and
    per district (more than 5 %), and a region measured by straight lines only."""
    findings: list[Finding] = []
    if results.info.get("method") == "straight_line":
        findings.append(Finding("warning", "straight_line_only", "network", t(
            "歩行ネットワークがないため、通いの場までの距離は直線距離だけで示します",
            "no walk network: distances to places are straight lines only"),
            figures={"share_off_network": 1.0}))
        return findings
    for key, rows in results.coverage.items():
        for row in rows:
            total, off = row["population"], row["no_network_population"]
            if total <= 0 or off / total <= OFF_NETWORK_WARNING or row["name"] == OUTSIDE_NAME:
                continue
            share = round(off / total, 4)
            layer = "network" if key == "region" else key.removeprefix("layer:")
            where = None if key == "region" else str(row["name"])
            findings.append(Finding("warning", "off_network", layer,
                                    t(f"住民 {off:,.0f} 人（{share:.0%}）が歩行ネットワークの外にいます。"
                                      f"割合はネットワーク上の住民 {1 - share:.0%} についての数字です",
                                      f"{off:,.0f} residents ({share:.0%}) are off the walk network; "
                                      f"shares are of the {1 - share:.0%} on it"),
                                    feature=where, figures={"share_off_network": share,
                                                            "population_off_network": off}))
    return findings
