"""Access for a whole region in one go: every table, gap, suggestion and the surface, stored.

:func:`run_access_for_build` is the step ``kennai build`` runs after writing the layers: the
default results are computed once and stored in ``build/<region>/access`` for the CLI, the
API and the maps to read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kennai.access.compute import compute_access
from kennai.access.coverage import coverage_table
from kennai.access.districts import polygon_layers
from kennai.access.gaps import gap_polygons
from kennai.access.options import AccessOptions
from kennai.access.results import AccessResults
from kennai.access.sites import suggest_sites
from kennai.access.store import ACCESS_DIR, save_access
from kennai.access.surface import write_surface
from kennai.progress import Progress, no_progress
from kennai.region import Region


def analyse(region: Region, options: AccessOptions | None = None, *, progress: Progress = no_progress,
            surface_path: Path | None = None) -> AccessResults:
    """Everything for a region: distances, coverage for every district layer and plan (and the
    whole region), gaps, site suggestions and, when ``surface_path`` is given, the surface."""
    results = compute_access(region, options, progress=progress)
    progress("coverage")
    results.coverage = {"region": coverage_table(results, region_name=region.config.title)}
    for key, polys in polygon_layers(region).items():
        results.coverage[key] = coverage_table(results, polys)
    progress("gaps")
    results.gaps = gap_polygons(results)
    progress("suggestions")
    results.suggestions = suggest_sites(region, results)
    if surface_path is not None:
        progress("surface")
        results.surface_path = write_surface(region, results, surface_path)
    return results


def run_access_for_build(region: Region, build_dir: Path, *, progress: Progress = no_progress,
                         options: AccessOptions | None = None) -> dict[str, Any]:
    """Compute the default access results for a built region and store them in
    ``build_dir/access`` atomically; return a small summary for ``metadata.json``.

    Does nothing (returns ``{"skipped": reason}``) when the region has no network or places.
    """
    if region.network is None:
        return {"skipped": "no network"}
    if not region.has_layer("places"):
        return {"skipped": "no places"}
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    surface_tmp = build_dir / f".surface-{os.getpid()}.tif"
    try:
        results = analyse(region, options, progress=progress, surface_path=surface_tmp)
        progress("write access")
        save_access(results, build_dir / ACCESS_DIR)
    finally:
        surface_tmp.unlink(missing_ok=True)
    whole = results.coverage["region"][0]
    return {"dir": ACCESS_DIR, "profile": results.options.profile,
            "places": results.info["places"], "places_on_network": results.info["places_on_network"],
            "locations": len(results.residents), "coverage": whole["coverage"],
            "no_network_population": whole["no_network_population"],
            "gaps": 0 if results.gaps is None else len(results.gaps),
            "suggestions": 0 if results.suggestions is None else len(results.suggestions)}
