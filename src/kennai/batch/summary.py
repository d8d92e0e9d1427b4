"""The national summary: one row per municipality, and one per district, as Parquet and CSV.

The rows come from the task records (``DIR/tasks/<code>.json``) of every municipality that is
done, those of this run and those a rerun skipped alike, in code order, so the summary always
describes the whole batch output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kennai.batch.outputs import DISTRICT_SUMMARY, SUMMARY, write_table


def summary_frames(records: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(municipalities, districts) tables from the records of the tasks that succeeded."""
    done = sorted((r for r in records if r.get("status") == "ok"),
                  key=lambda r: str(r["summary"]["municipality"]))
    municipalities = pd.DataFrame([r["summary"] for r in done])
    districts = pd.DataFrame([row for r in done for row in r.get("districts", [])])
    return municipalities, districts


def write_summaries(out_dir: Path, records: list[dict[str, Any]]) -> list[Path]:
    """Write ``summary.parquet/.csv`` and ``summary_districts.parquet/.csv``."""
    municipalities, districts = summary_frames(records)
    return [*write_table(municipalities, out_dir, SUMMARY),
            *write_table(districts, out_dir, DISTRICT_SUMMARY)]
