"""Benchmark: start-up of ``kennai`` commands, each a fresh process (issue #13's start-up targets).

Every command runs as its own ``python -m kennai …`` child, timed from spawn to exit: ``--help``,
an argument error (a treasure map without a district), ``kennai info`` on a current build
(demo, and yaizu when ../shared/data is there), ``kennai build`` on a current build (reloading
a built region), ``kennai access --json`` on the build's stored results and a printed treasure
map (PDF), again and as the first map of a build (which keeps its basemap in the build, so
that the next maps read it). Figures are the median [min–max] of
``--runs`` runs, the sides interleaved round by round; ``--src`` names another checkout's
``src`` (say ``/work/main/src``) to time beside this one in the same run, with the ratio.
Each side builds its regions first, into its own build root, so every timed command finds a
current build.

Run: ``PYTHONPATH=src:. .venv/bin/python bench/startup.py [--src ../main/src] [--runs 5]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.stats import ProcessRun, Spread, interleaved, load_average, ratio, run_process
from kennai.maps.basemap import CACHE_DIR

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo.yaml"
YAIZU = ROOT / "pipelines" / "yaizu.yaml"
DATA = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Command:
    """One timed command: its arguments, the exit code it must end with, its #13 target (s)."""

    name: str
    args: tuple[str, ...]
    exit_code: int = 0
    target: float | None = None
    #: Remove what the command keeps in the demo's build (its printed basemap) before each run.
    uncached: bool = False


def commands(out_dir: Path, *, yaizu: bool) -> list[Command]:
    """The commands timed, in the order printed."""
    pdf = str(out_dir / "map.pdf")
    found = [
        Command("--help", ("--help",)),
        Command("treasure-map, no district (argument error)",
                ("treasure-map", str(DEMO), "-o", pdf), exit_code=2),
        Command("info demo", ("info", str(DEMO)), target=0.4),
    ]
    if yaizu:
        found.append(Command("info yaizu", ("info", str(YAIZU)), target=0.4))
    found += [
        Command("build demo, current (reload)", ("build", str(DEMO)), target=0.5),
        Command("access demo --json (stored results)", ("access", str(DEMO), "--json")),
        Command("treasure-map demo → PDF", ("treasure-map", str(DEMO), "--district",
                                            "みなと東小学校", "-o", pdf, "-q"), target=1.2),
        Command("treasure-map demo → PDF, first of a build", (
            "treasure-map", str(DEMO), "--district", "みなと東小学校", "-o", pdf, "-q"),
            target=1.2, uncached=True),
    ]
    return found


def side_env(src: Path, build_root: Path) -> dict[str, str]:
    """The environment of one side: its ``src`` (and its checkout, for ``api``) first on the path."""
    path = os.pathsep.join([str(src), str(src.parent)])
    return {**os.environ, "PYTHONPATH": path, "KENNAI_BUILD_ROOT": str(build_root)}


def prepare(env: dict[str, str], configs: list[Path]) -> None:
    """Build each region with this side's code, so that the timed commands find it current."""
    for config in configs:
        subprocess.run([sys.executable, "-m", "kennai", "build", str(config), "-q"], env=env,
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def runner(cmd: Command, env: dict[str, str], seconds: list[float]) -> Callable[[], ProcessRun]:
    """A call that runs ``cmd`` once, checks its exit code and adds the child's own wall time
    (from spawn to exit, without the timing wrapper's start) to ``seconds``."""
    def run() -> ProcessRun:
        if cmd.uncached:
            shutil.rmtree(Path(env["KENNAI_BUILD_ROOT"]) / "demo" / CACHE_DIR, ignore_errors=True)
        done = run_process([sys.executable, "-m", "kennai", *cmd.args], env=env, cwd=str(ROOT))
        if done.returncode != cmd.exit_code:
            raise SystemExit(f"{cmd.name}: exit {done.returncode}, expected {cmd.exit_code}\n"
                             f"{done.stderr[-2000:]}")
        seconds.append(done.seconds)
        return done
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--src", type=Path, help="another checkout's src/ to time beside this one")
    args = ap.parse_args()
    yaizu = (DATA / "yaizu").is_dir()
    sides = {"this": ROOT / "src"}
    if args.src is not None:
        sides = {"other": args.src.resolve(), **sides}
    with tempfile.TemporaryDirectory(prefix="kennai-startup-") as tmp:
        envs = {name: side_env(src, Path(tmp) / name) for name, src in sides.items()}
        configs = [DEMO, *([YAIZU] if yaizu else [])]
        for env in envs.values():
            prepare(env, configs)
        print(f"start-up, {args.runs} runs each, sides interleaved; load {load_average()}")
        for name, src in sides.items():
            print(f"  {name}: {src}")
        for cmd in commands(Path(tmp), yaizu=yaizu):
            seconds: dict[str, list[float]] = {name: [] for name in envs}
            interleaved({name: runner(cmd, env, seconds[name]) for name, env in envs.items()},
                        runs=args.runs)
            report(cmd, {name: Spread(tuple(v)) for name, v in seconds.items()})
        print(f"load {load_average()}")


def report(cmd: Command, spreads: dict[str, Spread]) -> None:
    """One command's line: each side's median [min–max], the ratio, and the target."""
    parts = [f"{name} {s.text(unit='s')}" for name, s in spreads.items()]
    if "other" in spreads:
        parts.append(f"{ratio(spreads['other'], spreads['this']):.2f}× faster")
    if cmd.target is not None:
        met = spreads["this"].median < cmd.target
        parts.append(f"target < {cmd.target} s: {'met' if met else 'NOT met'}")
    print(f"{cmd.name:44s} " + "  ".join(parts))


if __name__ == "__main__":
    main()
