"""Dump kennai's result tables for Yaizu and Ishigaki, or compare two dumps byte for byte.

A refactor must not change what kennai computes. Run this before and after::

    python scripts/result_tables.py dump /tmp/before
    python scripts/result_tables.py dump /tmp/after
    python scripts/result_tables.py compare /tmp/before /tmp/after

`dump` builds both regions into a scratch build root through the `kennai` command (the interface
that stays fixed) and writes every access table (JSON and CSV, per district layer) and the Yaizu
split reports. `compare` exits 1 and names every file that differs.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KENNAI = [sys.executable, "-m", "kennai"]

#: (file name, kennai arguments): every table the refactor must leave identical.
TABLES: list[tuple[str, list[str]]] = [
    ("yaizu_access_elementary.json", ["access", "pipelines/yaizu.yaml", "--by", "elementary", "--json"]),
    ("yaizu_access_junior_high.json", ["access", "pipelines/yaizu.yaml", "--by", "junior_high", "--json"]),
    ("yaizu_access_neighbourhood.json",
     ["access", "pipelines/yaizu.yaml", "--by", "neighbourhood", "--json"]),
    ("yaizu_access_elementary.csv", ["access", "pipelines/yaizu.yaml", "--by", "elementary", "--csv"]),
    ("yaizu_access_10min.json", ["access", "pipelines/yaizu.yaml", "--by", "elementary",
                                 "--threshold", "10min", "--threshold", "300", "--json"]),
    ("ishigaki_access.json", ["access", "pipelines/ishigaki.yaml", "--json"]),
    ("ishigaki_access.csv", ["access", "pipelines/ishigaki.yaml", "--csv"]),
    ("yaizu_splits_elementary.json",
     ["splits", "pipelines/yaizu.yaml", "--plan", "junior_high", "--units", "elementary", "--json"]),
    ("yaizu_splits_neighbourhood.json",
     ["splits", "pipelines/yaizu.yaml", "--plan", "junior_high", "--units", "neighbourhood", "--json"]),
]


def dump(out: Path) -> None:
    """Build both regions in a scratch root and write every table of TABLES into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kennai-tables-") as root:
        env = {**os.environ, "KENNAI_BUILD_ROOT": root}
        for name, args in TABLES:
            done = subprocess.run([*KENNAI, *args], cwd=ROOT, env=env, capture_output=True)
            if done.returncode != 0:
                sys.exit(f"{name}: kennai {' '.join(args)} failed: {done.stderr.decode()[-500:]}")
            (out / name).write_bytes(done.stdout)
        for region in ("yaizu", "ishigaki"):
            stored = Path(root) / region / "access" / "access.json"
            (out / f"{region}_build_access.json").write_bytes(stored.read_bytes())
    print(f"{len(TABLES) + 2} tables in {out}")


def compare(a: Path, b: Path) -> int:
    """Name every file that differs between two dumps; 0 when all are byte-identical."""
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    bad = [n for n in names if not (a / n).exists() or not (b / n).exists()
           or not filecmp.cmp(a / n, b / n, shallow=False)]
    for n in bad:
        print(f"differs: {n}")
    print(f"{len(names) - len(bad)} of {len(names)} tables identical")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
