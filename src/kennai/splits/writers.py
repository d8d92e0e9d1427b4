"""Split reports written to files: JSON, CSV for Excel, GeoPackage and the readable report.

Every writer goes through :func:`kennai.atomic.atomic_path`, so a report appears whole or not
at all, and returns the path it wrote.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Literal

import pandas as pd

from kennai.atomic import atomic_path
from kennai.splits.model import PlanComparison, SplitReport
from kennai.splits.report import render_report


def _write_text(path: Path, text: str, *, encoding: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_json(result: SplitReport | PlanComparison, path: Path) -> Path:
    """Write a report or a comparison as UTF-8 JSON."""
    text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
    return _write_text(path, text + "\n", encoding="utf-8")


def pieces_table(report: SplitReport) -> pd.DataFrame:
    """The detailed pieces (slivers included) as a flat table, one row per piece."""
    pieces = report.pieces_frame()
    df = pd.DataFrame({
        "plan": report.plan_name, "units_layer": report.units_layer,
        "unit": pieces["unit"], "unit_split": pieces["split"], "area": pieces["area"],
        "area_m2": pieces["area_m2"].round(2), "area_share": pieces["area_share"].round(6),
        "population": pieces["population"].round(1),
        "population_share": pieces["population_share"].round(6),
    })
    if report.has_population_65plus:
        df["population_65plus"] = pieces["population_65plus"].round(1)
        df["population_65plus_share"] = pieces["population_65plus_share"].round(6)
    df["mean_width_m"] = pieces["mean_width_m"].round(2)
    df["counted"] = pieces["counted"]
    df["reason"] = pieces["reason"]
    return df.sort_values(["unit", "area_m2"], ascending=[True, False], kind="stable")


def write_csv(result: SplitReport | PlanComparison, path: Path) -> Path:
    """Write the pieces (a report) or the plans' scores (a comparison) as CSV for Excel.

    UTF-8 with a byte-order mark, so Excel on Japanese Windows opens it without mojibake.
    """
    if isinstance(result, SplitReport):
        df = pieces_table(result)
    else:
        df = result.table()
        unknown = [c for c in df.columns if c.startswith("population_65plus") and df[c].isna().all()]
        df = df.drop(columns=unknown)
    buf = io.StringIO()
    df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    return _write_text(path, buf.getvalue(), encoding="utf-8-sig")


def write_gpkg(report: SplitReport, path: Path) -> Path:
    """Write the pieces (layer ``pieces``) and the split-free alternative (``alternative``)
    to a GeoPackage in EPSG:4326."""
    pieces = report.pieces_frame().assign(units_layer=report.units_layer, plan=report.plan_name)
    with atomic_path(path) as tmp:
        pieces.to_file(tmp, layer="pieces", driver="GPKG", engine="pyogrio")
        report.alternative_plan().to_crs("EPSG:4326").to_file(
            tmp, layer="alternative", driver="GPKG", engine="pyogrio")
    return Path(path)


def write_report(result: SplitReport | PlanComparison, path: Path, *,
                 lang: str | None = None) -> Path:
    """Write the readable report: HTML when ``path`` ends in .html/.htm, else Markdown."""
    fmt: Literal["md", "html"] = "html" if Path(path).suffix.lower() in (".html", ".htm") else "md"
    text = render_report(result, fmt=fmt, lang=lang)
    return _write_text(path, text, encoding="utf-8")
