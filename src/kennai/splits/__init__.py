"""Does a layer-2 (第2層) plan cut a school district or a 自治会 in two?

A plan is laid over a layer of protected units (elementary districts, 自治会, any polygon
layer); each unit's *pieces* (its part in each plan area, with area, population and shares) are
counted above tolerances that keep digitising noise out, and give the plan areas' patterns
(A: the whole municipality, B: whole units only, C: cuts a unit), redistricting-style scores, a
split-free alternative and a side-by-side comparison of plans.

Modules
-------
- :mod:`.model`: the typed results (:class:`SplitTolerances`, :class:`SplitReport`,
  :class:`PlanComparison`) and their JSON.
- :mod:`.overlay`: the unit × plan intersection, the unit × small-area overlap cache and the
  areal weighting of residents.
- :mod:`.scoring`: which pieces count, unit scores, patterns A/B/一致/C, balance, the split-free
  alternative and the summary.
- :mod:`.analysis`: :func:`analyse_splits`, :func:`split_report_for_region`,
  :func:`compare_plans`.
- :mod:`.report`: the report blocks and their renderers (Markdown, HTML, terminal).
- :mod:`.writers`: JSON, CSV, GeoPackage and report files.
"""

from kennai.splits.analysis import analyse_splits, compare_plans, split_report_for_region
from kennai.splits.model import PlanComparison, SplitReport, SplitTolerances, coverage_warning
from kennai.splits.report import render_report, render_terminal
from kennai.splits.writers import pieces_table, write_csv, write_gpkg, write_json, write_report

__all__ = [
    "PlanComparison",
    "SplitReport",
    "SplitTolerances",
    "analyse_splits",
    "compare_plans",
    "coverage_warning",
    "pieces_table",
    "render_report",
    "render_terminal",
    "split_report_for_region",
    "write_csv",
    "write_gpkg",
    "write_json",
    "write_report",
]
