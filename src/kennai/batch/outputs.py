"""Where a batch writes: the folder layout and the atomic writers of one task's files.

``DIR/districts``, ``DIR/gaps`` and ``DIR/splits`` are GeoParquet datasets partitioned the
Hive way by prefecture and municipality code (``prefecture=22/municipality=22212/part-0.parquet``;
the two keys live in the folder names, not in the files). Every file is written under a
temporary name and moved into place; a task's record (``DIR/tasks/<code>.json``) is written
last, so a region counts as done only when all its files are there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from kennai.atomic import atomic_path
from kennai.batch.manifest import BatchItem

#: The partitioned result tables a task writes.
RESULT_KINDS = ("districts", "gaps", "splits")
REGIONS_DIR = "regions"
NEIGHBOURS_DIR = "neighbours"
TASKS_DIR = "tasks"
SUMMARY = "summary"
DISTRICT_SUMMARY = "summary_districts"
FAILURES = "failures"
PART = "part-0.parquet"
#: The partition keys, read back as text (``00``, ``22212``) rather than as numbers.
PARTITIONING = ds.partitioning(pa.schema([("prefecture", pa.string()),
                                          ("municipality", pa.string())]), flavor="hive")


def partition_file(out_dir: Path, kind: str, item: BatchItem) -> Path:
    """The file of one municipality in the dataset ``kind``."""
    return out_dir / kind / f"prefecture={item.prefecture}" / f"municipality={item.code}" / PART


def write_partition(frame: gpd.GeoDataFrame, out_dir: Path, kind: str, item: BatchItem) -> Path:
    """Write one municipality's rows of ``kind`` as GeoParquet (EPSG:4326), atomically."""
    path = partition_file(out_dir, kind, item)
    with atomic_path(path, mkdir=True) as tmp:
        frame.to_crs("EPSG:4326").to_parquet(tmp, index=False)
    return path


def read_dataset(out_dir: Path, kind: str, *, municipality: str | None = None) -> gpd.GeoDataFrame:
    """A result dataset of a batch (all municipalities, or one), partition keys as text."""
    root = out_dir / kind
    if not root.is_dir():
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    filters = [("municipality", "==", municipality)] if municipality is not None else None
    return gpd.read_parquet(root, partitioning=PARTITIONING, filters=filters)


def task_record_path(out_dir: Path, code: str) -> Path:
    return out_dir / TASKS_DIR / f"{code}.json"


def write_task_record(out_dir: Path, code: str, record: dict[str, Any]) -> None:
    """The record that marks a task done (written after its files)."""
    with atomic_path(task_record_path(out_dir, code), mkdir=True) as tmp:
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str),
                       encoding="utf-8")


def read_task_record(out_dir: Path, code: str) -> dict[str, Any] | None:
    """The record of an earlier task, or None when there is none (or it is unreadable)."""
    path = task_record_path(out_dir, code)
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def write_table(frame: pd.DataFrame, out_dir: Path, name: str) -> list[Path]:
    """A plain table as Parquet and as CSV (UTF-8 with a BOM, for spreadsheets), atomically."""
    parquet, csv = out_dir / f"{name}.parquet", out_dir / f"{name}.csv"
    with atomic_path(parquet, mkdir=True) as tmp:
        frame.to_parquet(tmp, index=False)
    with atomic_path(csv, mkdir=True) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8-sig")
    return [parquet, csv]
