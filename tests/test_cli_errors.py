"""The command never shows a traceback: user errors are one line (exit 2/3), and even a bug is
one line (exit 1) unless KENNAI_DEBUG asks for the trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# `kennai build` with the build step replaced by one that fails the way a bug does (--force: a
# current build is reopened without the build step).
BUGGY = """
import sys
import kennai.build
def broken(*args, **kwargs):
    raise RuntimeError("an unexpected [state]")
kennai.build.build_region = broken
from kennai.cli import main
sys.argv = ["kennai", "build", "--force", "pipelines/demo.yaml"]
main()
"""


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_a_bug_is_one_line_naming_it_and_how_to_report() -> None:
    done = _run(BUGGY)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "RuntimeError: an unexpected [state]" in lines[0] and "KENNAI_DEBUG=1" in lines[0]


def test_kennai_debug_shows_the_trace() -> None:
    done = _run(BUGGY, KENNAI_DEBUG="1")
    assert done.returncode == 1 and "Traceback" in done.stderr and "RuntimeError" in done.stderr


def test_a_user_error_naming_brackets_is_printed_as_written(tmp_path: Path) -> None:
    bad = tmp_path / "[draft].yaml"
    bad.write_text("name: x\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "kennai", "build", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "[draft].yaml" in done.stderr
