"""One municipality, one Dask task: build the region, read its access, check its splits, write.

:func:`run_task` runs on a worker. It builds the region into ``DIR/regions/<name>`` (with its
neighbours' places when it has any, :mod:`kennai.batch.neighbours`), takes the default access
results the build stored, runs the default split checks (every plan over the elementary
districts and the 自治会), writes its partitions of the result datasets and, last, its record.
A failure is returned as a :class:`~kennai.batch.failures.Failure`, never raised, so that the
other municipalities go on.
"""

from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from kennai.access import ACCESS_DIR, AccessResults, coverage_frame, load_access, polygon_layers
from kennai.batch.failures import Failure, failure_from
from kennai.batch.manifest import BatchItem
from kennai.batch.neighbours import with_neighbour_places
from kennai.batch.outputs import REGIONS_DIR, write_partition, write_task_record
from kennai.build import build_region
from kennai.config import load_config
from kennai.export_targets import coverage_export
from kennai.i18n import set_lang
from kennai.region import Region

#: The district layers every plan is checked against by default.
SPLIT_UNITS = ("elementary", "neighbourhood")


@dataclass(frozen=True)
class TaskSpec:
    """What a worker needs for one municipality."""

    item: BatchItem
    out_dir: Path
    digest: str
    neighbour_file: Path | None = None
    neighbour_places: int = 0
    lang: str = "ja"


@dataclass
class TaskResult:
    """What a task hands back: its summary rows, or its failure, and what it cost."""

    item: BatchItem
    seconds: float
    peak_rss_mb: float
    worker: str
    summary: dict[str, Any] | None = None
    districts: list[dict[str, Any]] = field(default_factory=list)
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def _peak_rss_mb() -> float:
    """The largest resident memory this worker process has had (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def split_checks(region: Region) -> list[tuple[str, str]]:
    """The default split checks: (plan, units) for every plan over each district layer of
    :data:`SPLIT_UNITS` the region has (not the layer the plan is made of)."""
    made_of = {p.name: p.from_layer for p in region.config.plans}
    return [(plan, units) for plan in region.plan_names for units in SPLIT_UNITS
            if region.has_layer(units) and made_of.get(plan) != units]


def district_frame(region: Region, results: AccessResults) -> gpd.GeoDataFrame:
    """Coverage of the whole region (``layer`` ``region``, its outline) and of every district
    layer and plan, one row per district with its polygon, the flattened figures and the row as
    the CLI's ``--json`` prints it (``row_json``)."""
    frames = []
    for key in ["region", *polygon_layers(region)]:
        rows = results.coverage.get(key)
        if rows is None:
            continue
        table = coverage_export(region, results, None if key == "region" else key).frame
        as_json = {str(r["name"]): json.dumps(r, ensure_ascii=False, default=str) for r in rows}
        frames.append(table.to_crs("EPSG:4326").assign(
            layer=key, region=region.name, row_json=table["name"].astype(str).map(as_json)))
    if not frames:
        return gpd.GeoDataFrame({"layer": [], "name": []}, geometry=gpd.GeoSeries([]),
                                crs="EPSG:4326")
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                            crs="EPSG:4326")


def _splits_frame(region: Region) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    from kennai.splits import split_report_for_region

    frames, summaries = [], []
    for plan, units in split_checks(region):
        report = split_report_for_region(region, plan, units)
        frames.append(report.units.to_crs("EPSG:4326").assign(plan=plan, units_layer=units,
                                                              region=region.name))
        summaries.append({"plan": plan, "units_layer": units, **report.summary})
    if not frames:
        return gpd.GeoDataFrame({"plan": []}, geometry=gpd.GeoSeries([]), crs="EPSG:4326"), []
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                            crs="EPSG:4326"), summaries


def _summary_row(spec: TaskSpec, region: Region, results: AccessResults | None,
                 n_districts: int, n_gaps: int, splits: list[dict[str, Any]]) -> dict[str, Any]:
    item = spec.item
    row: dict[str, Any] = {"municipality": item.code, "prefecture": item.prefecture,
                           "region": region.name, "title": region.config.title,
                           "config": str(item.config)}
    if results is not None:
        whole = coverage_frame(results.coverage["region"]).iloc[0].to_dict()
        row |= {k: v for k, v in whole.items() if k != "name"}
        row["places"] = int(results.info.get("places", 0)) - spec.neighbour_places
    network = region.metadata.get("network") or {}
    row |= {"network_km": network.get("length_km"), "network_nodes": network.get("nodes"),
            "neighbour_places": spec.neighbour_places, "districts": n_districts, "gaps": n_gaps,
            "units_split": sum(int(s.get("units_split", 0) or 0) for s in splits)}
    return row


def _run(spec: TaskSpec) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    config = load_config(spec.item.config)
    if spec.neighbour_file is not None:
        config = with_neighbour_places(config, spec.neighbour_file)
    region, _ = build_region(config, build_dir=spec.out_dir / REGIONS_DIR / config.name)
    assert region.build_dir is not None
    stored = (region.build_dir / ACCESS_DIR / "access.json").is_file()
    results = load_access(region.build_dir) if stored else None
    districts = district_frame(region, results) if results is not None else \
        gpd.GeoDataFrame({"layer": []}, geometry=gpd.GeoSeries([]), crs="EPSG:4326")
    gaps = results.gaps if results is not None and results.gaps is not None else None
    splits, split_summaries = _splits_frame(region)
    write_partition(districts, spec.out_dir, "districts", spec.item)
    gap_frame = gaps.assign(region=region.name) if gaps is not None else \
        gpd.GeoDataFrame({"rank": []}, geometry=gpd.GeoSeries([]), crs="EPSG:4326")
    write_partition(gap_frame, spec.out_dir, "gaps", spec.item)
    write_partition(splits, spec.out_dir, "splits", spec.item)
    summary = _summary_row(spec, region, results, len(districts), len(gap_frame), split_summaries)
    district_rows = [
        {"municipality": spec.item.code, "prefecture": spec.item.prefecture,
         **{k: v for k, v in r.items() if k not in ("geometry", "row_json")}}
        for r in pd.DataFrame(districts.drop(columns="geometry")).to_dict("records")]
    return summary, district_rows


def run_task(spec: TaskSpec) -> TaskResult:
    """Build and analyse one municipality and write its results (runs on a Dask worker)."""
    set_lang(spec.lang)
    started = time.perf_counter()
    try:
        summary, districts = _run(spec)
    except Exception as exc:
        failure = failure_from(spec.item, "build", exc)
        seconds = time.perf_counter() - started
        write_task_record(spec.out_dir, spec.item.code, {
            "status": "failed", "digest": spec.digest, "item": spec.item.to_dict(),
            "seconds": seconds, "failure": failure.to_dict()})
        return TaskResult(spec.item, seconds, _peak_rss_mb(), _worker_name(), failure=failure)
    seconds = time.perf_counter() - started
    summary["seconds"] = round(seconds, 3)
    write_task_record(spec.out_dir, spec.item.code, {
        "status": "ok", "digest": spec.digest, "item": spec.item.to_dict(), "seconds": seconds,
        "summary": summary, "districts": districts})
    return TaskResult(spec.item, seconds, _peak_rss_mb(), _worker_name(), summary=summary,
                      districts=districts)
