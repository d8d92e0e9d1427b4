"""A command imports only what it uses: ``kennai --help`` no scientific stack at all, ``kennai
info`` on a current build nothing of the analysis (no geopandas, scipy, shapely, rasterio), a
printed treasure map no folium. Checked on the real command in a fresh interpreter, from the
modules ``python -X importtime`` reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kennai.build import build_region
from kennai.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SCIENCE = {"numpy", "pandas", "geopandas", "shapely", "scipy", "pyproj", "pyogrio", "rasterio",
           "osmium", "matplotlib", "folium", "fastapi", "uvicorn", "networkx", "pyarrow"}


def imported(args: list[str], env: dict[str, str]) -> set[str]:
    """Top-level packages a ``kennai`` command imports (it must succeed)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kennai", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:")}
    assert "kennai.cli" in names  # the report is the command's own
    return {n.split(".")[0] for n in names}


@pytest.fixture(scope="module")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose build root holds a current build of the demo."""
    root = tmp_path_factory.mktemp("startup")
    build_region(load_config(ROOT / "pipelines" / "demo.yaml"), build_dir=root / "demo")
    src = str(ROOT / "src")
    return {**os.environ, "KENNAI_BUILD_ROOT": str(root),
            "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def test_help_imports_no_scientific_stack(built_demo: dict[str, str]) -> None:
    assert imported(["--help"], built_demo) & SCIENCE == set()
    assert imported(["info", "--help"], built_demo) & SCIENCE == set()


def test_info_on_a_current_build_reads_its_report_alone(built_demo: dict[str, str]) -> None:
    got = imported(["info", "pipelines/demo.yaml", "--json"], built_demo)
    assert got & SCIENCE <= {"pyproj"}  # the region's CRS


def test_a_printed_treasure_map_does_not_import_folium(built_demo: dict[str, str],
                                                       tmp_path: Path) -> None:
    out = tmp_path / "map.pdf"
    got = imported(["treasure-map", "pipelines/demo.yaml", "--layer", "elementary",
                    "--district", "みなと東小学校", "-o", str(out)], built_demo)
    assert out.stat().st_size > 10_000
    assert "matplotlib" in got and "folium" not in got
