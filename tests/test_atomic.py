"""Outputs appear whole or not at all, and bad output paths get one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kennai.atomic import atomic_dir, atomic_path
from kennai.errors import OutputError


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
