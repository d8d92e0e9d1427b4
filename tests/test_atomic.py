"""Outputs appear whole or not at all, and bad output paths get one clear error."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kennai.atomic import (
    atomic_dir,
    atomic_path,
    current_version,
    remove_dead_temporaries,
    verify_manifest,
    versioned_dir,
    versions,
)
from kennai.config import load_config
from kennai.errors import OutputError
from kennai.region import open_region

ROOT = Path(__file__).resolve().parents[1]


def test_file_replaced_only_when_the_block_succeeds(tmp_path: Path) -> None:
    out = tmp_path / "report.csv"
    out.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("boom")
    assert out.read_text(encoding="utf-8") == "old"
    with atomic_path(out) as tmp:
        assert tmp.suffix == ".csv" and tmp.parent == out.parent
        tmp.write_text("new", encoding="utf-8")
    assert out.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]  # no leftovers


def test_folder_as_output_and_missing_folder_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "isdir.csv").mkdir()
    with pytest.raises(OutputError, match="is a folder"), atomic_path(tmp_path / "isdir.csv"):
        pass
    with pytest.raises(OutputError, match="does not exist"), atomic_path(tmp_path / "no" / "x.csv"):
        pass
    assert not (tmp_path / "no").exists()
    with atomic_path(tmp_path / "made" / "x.bin", mkdir=True) as tmp:
        tmp.write_bytes(b"1")
    assert (tmp_path / "made" / "x.bin").read_bytes() == b"1"


def test_folder_replaced_only_when_the_block_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "build"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1", encoding="utf-8")
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("2", encoding="utf-8")
        raise ValueError
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["build"]


def _kennai_build(config: Path, root: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KENNAI_BUILD_ROOT": str(root), "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "kennai", "build", str(config), *extra],
                            env=env, cwd=root.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if ".tmp-" in p.name or ".link-" in p.name)


def test_versioned_swap_keeps_current_and_previous(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    seen = []
    for i in range(4):
        with versioned_dir(target) as tmp:
            (tmp / "n.txt").write_text(str(i), encoding="utf-8")
        seen.append(current_version(target))
        assert (target / "n.txt").read_text(encoding="utf-8") == str(i)
        assert verify_manifest(target) == []
    assert target.is_symlink()
    assert versions(target) == sorted(seen[-2:])  # the current and the one it replaced
    with pytest.raises(RuntimeError), versioned_dir(target) as tmp:
        (tmp / "n.txt").write_text("half", encoding="utf-8")
        raise RuntimeError
    assert (target / "n.txt").read_text(encoding="utf-8") == "3"
    assert _leftovers(tmp_path) == []


def test_builders_racing_on_one_region_leave_the_pointer_on_a_whole_version(
        tmp_path: Path) -> None:
    """Two servers' background rebuilds (threads here) finishing together: one's pruning must
    never remove the version the other has just made current (the full suite once left the
    pointer on a folder pruned beneath it)."""
    import threading

    target = tmp_path / "demo"
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def build(i: int) -> None:
        start.wait()
        try:
            for k in range(5):
                with versioned_dir(target) as tmp:
                    (tmp / "n.txt").write_text(f"{i}-{k}", encoding="utf-8")
                    time.sleep(random.random() / 200)
        except BaseException as exc:  # any failure of a builder fails the test
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert (target / "n.txt").is_file() and verify_manifest(target) == []
    assert len(versions(target)) <= 2 and _leftovers(tmp_path) == []


def test_plain_folder_from_an_older_build_becomes_a_version(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    target.mkdir()
    (target / "old.txt").write_text("old", encoding="utf-8")
    with versioned_dir(target) as tmp:
        (tmp / "new.txt").write_text("new", encoding="utf-8")
    assert target.is_symlink() and (target / "new.txt").is_file()
    assert [p for p in versions(target) if (p / "old.txt").is_file()]  # kept as the previous


def test_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "demo"
    (tmp_path / f".demo.tmp-{dead.pid}-x").mkdir()
    (tmp_path / f".demo.tmp-{os.getppid()}-y").mkdir()  # a live process (our parent)
    (tmp_path / f".other.tmp-{dead.pid}-z").mkdir()  # another target's: not ours to remove
    removed = remove_dead_temporaries(target)
    assert [p.name for p in removed] == [f".demo.tmp-{dead.pid}-x"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".demo.tmp-{os.getppid()}-y", f".other.tmp-{dead.pid}-z"])


def test_kill_9_during_builds_always_leaves_a_complete_build(tmp_path: Path) -> None:
    """SIGKILL `kennai build --force` 20 times at seeded random points of its run: after each
    kill the region opens and its files match their manifest; the next good build leaves no
    temporary folder and at most two versions."""
    config = ROOT / "pipelines" / "demo.yaml"
    root = tmp_path / "root"
    root.mkdir()
    started = time.perf_counter()
    first = _kennai_build(config, root)
    assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    duration = time.perf_counter() - started
    cfg = load_config(config)
    rng = random.Random(14)
    left_temporaries = 0
    for _ in range(20):
        proc = _kennai_build(config, root, "--force")
        time.sleep(rng.uniform(0.2, 1.1) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        left_temporaries += bool(_leftovers(root))
        region = open_region(cfg, build_dir=root / "demo")
        assert region.build_dir is not None and verify_manifest(region.build_dir) == []
        assert len(region.layer("elementary")) == 4 and region.network is not None
    final = _kennai_build(config, root, "--force")
    assert final.wait(timeout=300) == 0
    assert _leftovers(root) == []
    assert len(versions(root / "demo")) <= 2
    assert verify_manifest(root / "demo") == []
    # The kills did land inside the write phase (else this test could not fail).
    assert left_temporaries >= 1
