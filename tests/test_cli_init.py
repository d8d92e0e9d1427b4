"""`kennai init` and `kennai fetch` from the command line, as a new user runs them: Yaizu's files
as published (copied under names that say nothing) give a YAML whose splits and access table
equal pipelines/yaizu.yaml's, and `kennai fetch` works against a loopback copy of the sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import needs_shared
from tests.test_fetch import Site, site, yaizu_site  # noqa: F401  (fixtures)
from tests.test_recognise import yaizu_folder

ROOT = Path(__file__).resolve().parents[1]


def _kennai(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kennai", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def _table(rows: list[dict]) -> list[tuple]:
    return [(r["name"], r["population"], r["coverage"], r["no_network_population"]) for r in rows]


@needs_shared
@pytest.mark.slow
def test_init_then_splits_and_access_equal_the_pipeline(tmp_path: Path) -> None:
    folder = yaizu_folder(tmp_path / "city")
    env = {**os.environ, "KENNAI_BUILD_ROOT": str(tmp_path / "build")}
    yaml_path = tmp_path / "yaizu_init.yaml"
    done = _kennai("init", str(folder), "-o", str(yaml_path), "--name", "yaizu_init", env=env)
    assert done.returncode == 0, done.stderr
    assert "kennai build" in done.stderr
    split = {}
    access = {}
    for cfg in (str(yaml_path), "pipelines/yaizu.yaml"):
        out = _kennai("splits", cfg, "--plan", "junior_high", "--units", "elementary", "--json", env=env)
        assert out.returncode == 0, out.stderr
        rep = json.loads(out.stdout)
        split[cfg] = sorted((u["name"], tuple((pc["area"], round(pc["area_share"], 6))
                                              for pc in u["pieces"])) for u in rep["units"]
                            if u["split"])
        acc = _kennai("access", cfg, "--by", "elementary", "--json", env=env)
        assert acc.returncode == 0, acc.stderr
        access[cfg] = _table(json.loads(acc.stdout))
    assert split[str(yaml_path)] == split["pipelines/yaizu.yaml"]
    assert [n for n, _ in split[str(yaml_path)]] == ["焼津東小学校", "焼津西小学校"]
    assert access[str(yaml_path)] == access["pipelines/yaizu.yaml"]


def test_init_on_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    done = _kennai("init", str(tmp_path / "nowhere"), env=dict(os.environ))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "nowhere" in done.stderr


@needs_shared
def test_fetch_command_downloads_and_inits(yaizu_site: Site, tmp_path: Path) -> None:  # noqa: F811
    env = {**os.environ, **{f"KENNAI_{k.upper()}_URL": v for k, v in yaizu_site.bases.items()}}
    folder = tmp_path / "22212"
    done = _kennai("fetch", "22212", "--to", str(folder), env=env)
    assert done.returncode == 0, done.stderr
    assert (folder / "22212.yaml").is_file() and "焼津市" in done.stderr
    before = len(yaizu_site.requests)
    again = _kennai("fetch", "22212", "--to", str(folder), env=env)
    assert again.returncode == 0 and "新しく 0 バイト" in again.stderr
    # A second run asks only for the checksum of the OSM file, never a whole file again.
    assert all(path.endswith(".md5") for path, _ in yaizu_site.requests[before:])
