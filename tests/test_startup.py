"""A command imports only what it uses: ``kennai --help`` no scientific stack and no config
reader, ``kennai info`` and ``kennai build`` on a current build nothing of the analysis (no
pyproj, geopandas, scipy, rasterio), a printed treasure map neither folium nor the access
machinery (scipy, rasterio), and a bad map request is refused before the drawing stack loads.
Checked on the real command in a fresh interpreter, from the modules ``python -X importtime``
reports (not by timing: ``bench/startup.py`` times them)."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pyproj import CRS

import kennai.access
from kennai.build import build_region
from kennai.config import load_config
from kennai.region import open_region

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo.yaml"
SCIENCE = {"numpy", "pandas", "geopandas", "shapely", "scipy", "pyproj", "pyogrio", "rasterio",
           "osmium", "matplotlib", "folium", "fastapi", "uvicorn", "networkx", "pyarrow"}
#: What a printed map without a walking area has no use for.
ACCESS_STACK = {"scipy", "rasterio", "networkx", "folium", "fastapi", "uvicorn"}
#: What reading stored access results has no use for: the routing, the rasters, the drawing.
ROUTING_STACK = {"scipy", "rasterio", "networkx", "osmium", "matplotlib", "folium", "fastapi",
                 "uvicorn"}


def imported(args: list[str], env: dict[str, str], *, exit_code: int = 0) -> set[str]:
    """Top-level packages a ``kennai`` command imports (it must end with ``exit_code``)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kennai", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == exit_code, proc.stderr[-2000:]
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:")}
    assert "kennai.cli" in names  # the report is the command's own
    return {n.split(".")[0] for n in names}


def loaded_after(code: str, env: dict[str, str]) -> set[str]:
    """Top-level packages in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(proc.stdout.split())


@pytest.fixture(scope="module")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose build root holds a current build of the demo."""
    root = tmp_path_factory.mktemp("startup")
    build_region(load_config(DEMO), build_dir=root / "demo")
    src = str(ROOT / "src")
    return {**os.environ, "KENNAI_BUILD_ROOT": str(root),
            "PYTHONPATH": os.pathsep.join([src, str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_help_imports_no_scientific_stack_nor_the_config(built_demo: dict[str, str]) -> None:
    got = imported(["--help"], built_demo)
    assert got & SCIENCE == set()
    assert {"pydantic", "yaml"} & got == set()  # no config is read
    assert imported(["info", "--help"], built_demo) & SCIENCE == set()


def test_info_on_a_current_build_reads_its_report_alone(built_demo: dict[str, str]) -> None:
    assert imported(["info", str(DEMO), "--json"], built_demo) & SCIENCE == set()
    assert imported(["info", str(DEMO)], built_demo) & SCIENCE == set()


def test_reloading_a_current_build_imports_no_build_machinery(built_demo: dict[str, str]) -> None:
    assert imported(["build", str(DEMO), "--json"], built_demo) & SCIENCE == set()


def test_a_printed_treasure_map_loads_neither_folium_nor_the_access_stack(
        built_demo: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "map.pdf"
    got = imported(["treasure-map", str(DEMO), "--layer", "elementary",
                    "--district", "みなと東小学校", "-o", str(out)], built_demo)
    assert out.stat().st_size > 10_000
    assert "matplotlib" in got and got & ACCESS_STACK == set()
    if shutil.which("pdffonts") and shutil.which("pdftotext"):
        # The Japanese font is embedded once (one subset), and the text stays text.
        fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True,
                               check=True).stdout.splitlines()[2:]
        assert len(fonts) == 1 and "CID TrueType" in fonts[0] and " yes yes yes " in fonts[0]
        text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "みなと東小学校" in text and "通いの場・集いの場" in text
    # The next map reads the basemap the build kept: no OSM reader.
    again = imported(["treasure-map", str(DEMO), "--district", "みなと東小学校", "-o", str(out)],
                     built_demo)
    assert "osmium" not in again and again & ACCESS_STACK == set()


def test_a_bad_map_request_is_refused_before_the_drawing_stack(built_demo: dict[str, str],
                                                               tmp_path: Path) -> None:
    got = imported(["treasure-map", str(DEMO), "-o", str(tmp_path / "map.pdf")], built_demo,
                   exit_code=2)  # no --district
    assert got & {"geopandas", "pandas", "matplotlib", "scipy", "rasterio"} == set()


def test_access_on_stored_results_loads_no_routing(built_demo: dict[str, str]) -> None:
    """``kennai access`` with the build's own options reads its stored results: no scipy."""
    for extra in (["--json"], ["--json", "--by", "elementary"], ["--csv"]):
        assert imported(["access", str(DEMO), *extra], built_demo) & ROUTING_STACK == set()


def test_checking_a_build_opens_no_register_store(built_demo: dict[str, str]) -> None:
    """The register's fingerprint is read without importing either store (SQLite, PostGIS);
    a register opened through the package still finds its store."""
    script = ("import sys, kennai.freshness\n"
              "print(sorted(m for m in sys.modules if m.startswith('kennai.register.')))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=built_demo, cwd=ROOT, timeout=300, check=True)
    loaded = set(ast.literal_eval(proc.stdout))
    assert "kennai.register.source" in loaded
    assert loaded & {"kennai.register.sqlite", "kennai.register.postgis"} == set()
    script = ("from kennai.register import PlaceRegister\n"
              "print(type(PlaceRegister('/nonexistent/r.sqlite')).__name__)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=built_demo, cwd=ROOT, timeout=300, check=True)
    assert proc.stdout.strip() == "SQLiteRegister"


def test_one_access_name_loads_its_module_alone(built_demo: dict[str, str]) -> None:
    got = loaded_after("from kennai.access import AccessOptions", built_demo)
    assert got & SCIENCE == set()


def test_every_access_name_is_the_one_its_module_defines() -> None:
    """The lazy re-exports of kennai.access: the names mypy sees (its TYPE_CHECKING imports)
    are ``__all__``, and each resolves to its module's own object."""
    tree = ast.parse(Path(kennai.access.__file__).read_text(encoding="utf-8"))
    typed = {(node.module, alias.name) for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kennai.access.")
             for alias in node.names}
    assert {name for _, name in typed} == set(kennai.access.__all__)
    for module, name in typed:
        assert getattr(kennai.access, name) is getattr(importlib.import_module(str(module)), name)
    with pytest.raises(AttributeError):
        kennai.access.no_such_name  # noqa: B018
    assert set(kennai.access.__all__) <= set(dir(kennai.access))


def test_a_reopened_region_makes_its_crs_once(built_demo: dict[str, str]) -> None:
    region = open_region(load_config(DEMO), build_dir=Path(built_demo["KENNAI_BUILD_ROOT"]) / "demo")
    assert region.crs == CRS.from_epsg(region.metadata["crs"]["epsg"])
    assert region.crs is region.crs


def test_the_collector_is_paused_for_the_imports_alone() -> None:
    """``collector_paused`` freezes what was made under it and gives the collector back as it
    was: on after it when it was on (an atlas's pages are collected), off when it was off."""
    import gc

    from kennai.cli.app import collector_paused

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with collector_paused():
        assert not gc.isenabled()
        made = [[] for _ in range(100)]
    assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(made)
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
