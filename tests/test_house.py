"""The house rules, checked on the code itself: small modules, no import cycles, typed rooms.

Every import counts, the lazy ones inside functions too, because a cycle hidden in a function
body still ties two rooms together. A package's ``__init__`` importing its own submodules (its
public interface) is not a cycle; a submodule importing the package ``__init__`` back would be.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "src" / "kennai").rglob("*.py"), *(ROOT / "api").rglob("*.py")])
MAX_LINES = 500


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT / "src") if path.is_relative_to(ROOT / "src") else path.relative_to(ROOT)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in SOURCES}


def _resolve(name: str) -> str | None:
    """The project module an import names (``kennai.a.b.c`` → the longest existing prefix)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path) -> set[str]:
    """Every project module ``path`` imports, at the top or inside functions."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for n in names:
            target = _resolve(n)
            if target and target != me:
                found.add(target)
    if path.name == "__init__.py":  # a package's own submodules are its interface
        found = {m for m in found if not m.startswith(me + ".")}
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycles.append([*stack[stack.index(n):], n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return cycles


def test_no_import_cycles_between_modules() -> None:
    assert _cycles({m: _imports(p) for m, p in MODULES.items()}) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_has_at_most_500_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


def test_no_untyped_region_or_results() -> None:
    pattern = re.compile(r"\b(region|results): Any\b")
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in SOURCES
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if pattern.search(line)]
    assert hits == []


def test_no_private_names_imported_across_modules() -> None:
    hits = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("kennai", "api")):
                hits += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names
                         if a.name.startswith("_") and not a.name.startswith("__")]
    assert hits == []


def test_the_checks_can_fail() -> None:
    """The checker finds a lazy import (cli.app builds inside a function) and a real cycle."""
    assert "kennai.build" in _imports(MODULES["kennai.cli.app"])
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
