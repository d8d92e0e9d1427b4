"""`kennai batch`: the acceptance run (demo, Yaizu, Ishigaki), failures, exit 3 and reruns.

The CLI runs as a user runs it (a subprocess, a real Dask LocalCluster of two workers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import PIPELINES, ROOT, needs_shared

from kennai.batch.outputs import read_dataset
from kennai.demo.towns import generate_towns

pytestmark = pytest.mark.slow


def _kennai(*args: str, cwd: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "kennai", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=900)


@needs_shared
def test_three_regions_summary_districts_and_yaizu_rows(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _kennai("batch", str(PIPELINES / "demo.yaml"), str(PIPELINES / "yaizu.yaml"),
                  str(PIPELINES / "ishigaki.yaml"), "--workers", "2", "-o", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Dask" in run.stderr and "http://" in run.stderr  # the dashboard address
    summary = pd.read_parquet(out / "summary.parquet")
    assert sorted(summary["municipality"]) == ["22212", "47207", "demo"]
    assert len(pd.read_csv(out / "summary.csv", encoding="utf-8-sig", dtype=str)) == 3
    districts = gpd.read_parquet(out / "districts")  # geopandas reads the partitioned dataset
    assert districts.crs.to_epsg() == 4326 and len(districts) > 0
    assert set(districts["municipality"].astype(str)) == {"22212", "47207", "demo"}
    per_district = pd.read_parquet(out / "summary_districts.parquet")
    assert set(per_district["municipality"]) == {"22212", "47207", "demo"}
    # Yaizu's elementary rows are those of `kennai access … --by elementary --json`.
    alone = _kennai("access", str(PIPELINES / "yaizu.yaml"), "--by", "elementary", "--json",
                    cwd=tmp_path, env={"KENNAI_BUILD_ROOT": str(tmp_path / "alone")})
    assert alone.returncode == 0, alone.stderr
    yaizu = read_dataset(out, "districts", municipality="22212")
    rows = [json.loads(r) for r in yaizu[yaizu["layer"] == "layer:elementary"]["row_json"]]
    assert rows == json.loads(alone.stdout)
    flat = yaizu[yaizu["layer"] == "layer:elementary"].set_index("name")
    for row in rows:  # the flattened columns say the same (NaN where the row has null)
        for column, value in (("population", row["population"]),
                              ("coverage_500m", row["coverage"]["500m"])):
            cell = flat.loc[row["name"], column]
            assert (value is None and pd.isna(cell)) or cell == value, (row["name"], column)


def _mtimes(out: Path, codes: list[str]) -> dict[str, int]:
    files = [p for p in out.rglob("*") if p.is_file()
             and any(f"municipality={c}" in str(p) or p.name == f"{c}.json" for c in codes)]
    assert files
    return {str(p): p.stat().st_mtime_ns for p in files}


def test_broken_configs_fail_alone_exit_3_and_rerun_touches_only_them(tmp_path: Path) -> None:
    towns = tmp_path / "towns"
    manifest = generate_towns(4, towns)
    streets = (towns / "town004" / "town.osm").read_text(encoding="utf-8")
    (towns / "town004" / "town.osm").write_text("<osm><node id=", encoding="utf-8")  # build fails
    (towns / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")  # scan fails
    with manifest.open("a", encoding="utf-8") as fh:
        fh.write("90999,broken.yaml\n")
    out = tmp_path / "out"
    first = _kennai("batch", "--manifest", str(manifest), "--workers", "2", "-o", str(out),
                    "--json", cwd=tmp_path)
    assert first.returncode == 3, first.stderr
    report = json.loads(first.stdout)
    failures = pd.read_parquet(out / "failures.parquet")
    assert sorted(failures["municipality"]) == ["90004", "90999"]
    assert all("\n" not in e and e for e in failures["error"])
    assert "broken.yaml" in failures.set_index("municipality").loc["90999", "error"]
    assert "town.osm" in failures.set_index("municipality").loc["90004", "error"]
    assert sorted(pd.read_parquet(out / "summary.parquet")["municipality"]) == \
        ["90001", "90002", "90003"]
    assert sorted(report["ran"]) == ["90001", "90002", "90003", "90004"]
    good = ["90001", "90002", "90003"]
    before = _mtimes(out, good)

    second = _kennai("batch", "--manifest", str(manifest), "--workers", "2", "-o", str(out),
                     "--json", cwd=tmp_path)
    assert second.returncode == 3, second.stderr
    again = json.loads(second.stdout)
    assert again["ran"] == ["90004"] and sorted(again["skipped"]) == good
    assert _mtimes(out, good) == before  # the others were not touched
    assert len(pd.read_parquet(out / "failures.parquet")) == 2

    # Fixed: town004 gets a street file; broken.yaml becomes a copy of town001 on the same land
    # (so town001's neighbours change, and town001 and its neighbours run again too).
    (towns / "town004" / "town.osm").write_text(streets, encoding="utf-8")
    (towns / "broken.yaml").write_text((towns / "town001.yaml").read_text(encoding="utf-8")
                                       .replace("name: town001", "name: fixed"), encoding="utf-8")
    third = _kennai("batch", "--manifest", str(manifest), "--workers", "2", "-o", str(out),
                    "--json", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert {"90004", "90999"} <= set(json.loads(third.stdout)["ran"])
    assert len(pd.read_parquet(out / "failures.parquet")) == 0
    assert len(pd.read_parquet(out / "summary.parquet")) == 5


def test_configs_and_manifest_exclude_each_other(tmp_path: Path) -> None:
    run = _kennai("batch", "-o", str(tmp_path / "out"), cwd=ROOT)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "--manifest" in run.stderr


def test_bad_manifest_is_one_line_naming_the_file(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("code,yaml\n22212,yaizu.yaml\n", encoding="utf-8")
    run = _kennai("batch", "--manifest", str(manifest), "-o", str(tmp_path / "out"), cwd=ROOT)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "m.csv" in run.stderr and "config" in run.stderr
    manifest.write_text("code,config\n22212,a.yaml\n22212,b.yaml\n", encoding="utf-8")
    run = _kennai("--lang", "en", "batch", "--manifest", str(manifest), "-o",
                  str(tmp_path / "out"), cwd=ROOT)
    assert run.returncode == 2 and "appears twice" in run.stderr and "line 3" in run.stderr
