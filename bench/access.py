"""Benchmark: kennai's access engine against the OSMnx isochrone method, pandana, bare scipy and
pyrosm, with every target of the access issue checked in a final summary table.

The standard job, on one graph per dataset and in one process: 100 places, thresholds
250/500/800/1000 m, every resident location → how many locations lie within each threshold.

- kennai: snap residents and places to edges, one multi-source Dijkstra from virtual nodes
  (exact, edge-based), then thresholds are comparisons;
- bare scipy: ``dijkstra(min_only=True)`` from the places' nearest nodes, residents read at their
  nearest node — the floor any Dijkstra-based engine can reach. The target is checked against
  the faster of its two calls (``directed=True`` on the symmetric matrix; ``directed=False``,
  which transposes the matrix on every call, is printed alongside);
- OSMnx isochrones: ``nx.ego_graph(G, place, radius, distance="length")`` per place and per
  threshold, as in the OSMnx examples (residents at their nearest node);
- pandana (if installed): ``Network(...)`` setup, then ``set_pois`` + ``nearest_pois``. The
  issue's target sets pandana's setup + query against kennai's job (graph and residents
  prepared once, as ``kennai build`` does); the summary adds the like-for-like figures (kennai
  with its own graph and resident snapping; pandana's query alone against kennai's job);
- pyrosm (if installed): ``OSM(path).get_network("walking", nodes=True)`` then
  ``to_graph(..., "networkx")``, against kennai's PBF → walk network → CSR graph.

Also: ``kennai build --force`` end to end (the CLI in a subprocess, into a temporary build root)
for pipelines/ishigaki.yaml and pipelines/malta.yaml, and reloading the built region
(``open_region`` + ``.network`` + ``load_access``, in a fresh process, imports excluded).

Datasets: Ishigaki (OSM PBF, buildings as residents), Malta (OSM PBF, points every 50 m along the
streets as residents) and jittered grids of 10k / 100k / 1M nodes; each grid runs in a child
process of its own, so that its peak RSS is its own (the memory target is the 1M one).
Memory per step is traced with tracemalloc (Python and numpy allocations; pandana's C++ memory
is not seen by it). Times are the best of several runs.

Run: ``PYTHONPATH=src .venv/bin/python bench/access.py [--quick] [--sizes 10000 100000 1000000]``
(``--quick``: no 1M grid, OSMnx and pandana only up to 50k nodes with a short OSMnx budget, one
pyrosm run; about a minute).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import dijkstra

from kennai.access import anchors, node_costs, point_costs
from kennai.graph import build_graph
from kennai.io.network import network_from_osm
from kennai.network import WalkNetwork
from kennai.residents import _edge_points
from kennai.snapping import EdgeIndex

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
THRESHOLDS = (250.0, 500.0, 800.0, 1000.0)
#: Above this many nodes the networkx graph alone needs several GB: the OSMnx method is skipped.
NX_MAX_NODES = 200_000
#: (name, PBF, analysis CRS, residents are buildings, pipeline config, build-time limit in s).
OSM_DATASETS = (
    ("Ishigaki", SHARED / "ishigaki" / "network" / "ishigaki_city_osm_2024-04-11.osm.pbf",
     6684, True, ROOT / "pipelines" / "ishigaki.yaml", 8.0),
    ("Malta", SHARED / "bench" / "malta_osm_2016-11-09.osm.pbf", 32633, False,
     ROOT / "pipelines" / "malta.yaml", 15.0),
)
JOB_SPEEDUP = 100.0
DISTANCE_STEP_MAX = 1.5
LOAD_SPEEDUP = 2.0
RELOAD_MAX_S = 0.5
MEMORY_MAX_MB = 2048.0
MEMORY_NODES = 1_000_000


# --------------------------------------------------------------------------- measuring


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn`` once under tracemalloc: (result, seconds, peak MB of traced allocations).

    tracemalloc slows allocation down: use :func:`best_of` for times."""
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return out, dt, peak


def best_of(fn: Callable[[], Any], *, repeat: int = 3, budget_s: float = 1.0) -> tuple[Any, float]:
    """Result and the best wall time of at least ``repeat`` runs, more while within ``budget_s``."""
    out, best, spent, runs = None, np.inf, 0.0, 0
    while runs < repeat or spent + best < budget_s:
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best, spent, runs = min(best, dt), spent + dt, runs + 1
    return out, best


def paired_best(fns: dict[str, Callable[[], Any]], *, repeat: int = 5, budget_s: float = 2.0
                ) -> dict[str, float]:
    """Best wall time of each function, run in turns so that they share the machine's load
    (other work on a shared machine would otherwise bias whichever ran during a busy spell)."""
    best = dict.fromkeys(fns, np.inf)
    spent, runs = 0.0, 0
    while runs < repeat or spent < budget_s:
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            best[key], spent = min(best[key], dt), spent + dt
        runs += 1
    return best


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    Linux: ``VmHWM`` of /proc/self/status, the peak of this program's own address space.
    (``ru_maxrss`` survives ``exec``: a child started by fork + exec would report at least the
    parent's size.) Elsewhere: ``ru_maxrss`` (kilobytes on Linux, bytes on macOS)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / (1024 if sys.platform == "darwin" else 1)


@dataclass(slots=True)
class Row:
    """One line of the summary: a target, what was measured and whether it holds."""

    target: str
    dataset: str
    kennai: str
    other: str
    ratio: str
    ok: bool | None  # None: not measured (skipped)


def _s(x: float) -> str:
    if x < 0.01:
        return f"{x * 1000:.2f} ms"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def speedup_row(target: str, dataset: str, kennai_s: float, other_s: float | None,
                need: float, note: str = "") -> Row:
    """``other`` must take at least ``need`` times as long as kennai."""
    if other_s is None:
        return Row(target, dataset, _s(kennai_s), note or "skipped", "", None)
    r = other_s / kennai_s
    return Row(target, dataset, _s(kennai_s), _s(other_s) + note, f"{r:,.1f}× (≥ {need:g}×)",
               r >= need)


def limit_row(target: str, dataset: str, value: float, limit: float, unit: str) -> Row:
    """``value`` must stay under ``limit``."""
    shown = _s(value) if unit == "s" else f"{value:,.0f} {unit}"
    lim = _s(limit) if unit == "s" else f"{limit:,.0f} {unit}"
    return Row(target, dataset, shown, f"limit {lim}", f"{value / limit:.2f} of limit",
               value < limit)


def print_summary(rows: list[Row]) -> None:
    head = ("target", "dataset", "kennai", "other / limit", "ratio", "result")
    cells = [head] + [(r.target, r.dataset, r.kennai, r.other, r.ratio,
                       "SKIP" if r.ok is None else ("PASS" if r.ok else "FAIL")) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    print("\n=== summary")
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print(line)
    for c in cells[1:]:
        print("  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)))
    done = [r for r in rows if r.ok is not None]
    print(f"{sum(r.ok for r in done)}/{len(done)} targets pass"
          + (f", {len(rows) - len(done)} skipped" if len(done) < len(rows) else ""))


# --------------------------------------------------------------------------- datasets


def grid(n_nodes: int, spacing: float = 50.0, seed: int = 0) -> WalkNetwork:
    """A jittered square grid of about ``n_nodes`` nodes (straight edges)."""
    rng = np.random.default_rng(seed)
    side = round(float(np.sqrt(n_nodes)))
    ii, jj = np.meshgrid(np.arange(side), np.arange(side))
    xy = np.column_stack([ii.ravel(), jj.ravel()]).astype(float) * spacing
    xy += rng.uniform(-spacing / 5, spacing / 5, size=xy.shape)
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    keep = rng.random(len(u)) > 0.05
    u, v = u[keep], v[keep]
    geoms = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1))
    return WalkNetwork(CRS.from_epsg(6677), np.arange(len(xy)), xy, u, v,
                       np.hypot(*(xy[u] - xy[v]).T), np.full(len(u), "footway", dtype=object),
                       geoms, {"source": f"grid{len(xy)}"})


def pyrosm_load(path: Path, *, repeat: int) -> dict[str, Any]:
    """pyrosm's walking network of a PBF as a networkx graph (as in the issue's orientation)."""
    try:
        import pyrosm
    except ImportError:
        return {"skipped": "pyrosm is not installed (pip install pyrosm to compare)"}

    def load() -> Any:
        osm = pyrosm.OSM(str(path))
        nodes, edges = osm.get_network(network_type="walking", nodes=True)
        return osm.to_graph(nodes, edges, graph_type="networkx")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g, dt = best_of(load, repeat=repeat, budget_s=0.0)
    return {"s": dt, "nodes": g.number_of_nodes(), "edges": g.number_of_edges()}


def osm_dataset(path: Path, crs: CRS, *, buildings: bool, pyrosm_repeat: int
                ) -> tuple[WalkNetwork, np.ndarray, dict[str, Any]]:
    """The walk network and resident locations of a PBF, with load times (kennai and pyrosm)."""
    def kennai_load() -> WalkNetwork:
        net = network_from_osm(path, crs)
        build_graph(net, weight="length")
        return net

    net, t_load = best_of(kennai_load, repeat=2, budget_s=0.0)
    info: dict[str, Any] = {"kennai_load_s": t_load, "pyrosm": pyrosm_load(path, repeat=pyrosm_repeat)}
    tmp = Path(tempfile.gettempdir()) / f"kennai_bench_{os.getpid()}_{path.stem}.npz"
    try:
        net.save(tmp)
        _, info["reload_npz_s"] = best_of(lambda: WalkNetwork.load(tmp))
    finally:
        tmp.unlink(missing_ok=True)
    if buildings:
        from kennai.io.osm import read_osm_buildings

        b = read_osm_buildings(path).to_crs(crs)
        res_xy = shapely.get_coordinates(b.geometry.representative_point().values)
        info["residents"] = "buildings"
    else:
        res_xy = _edge_points(net, 50.0)
        info["residents"] = "street points every 50 m"
    return net, res_xy, info


# --------------------------------------------------------------------------- the standard job


def kennai_job(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray
               ) -> tuple[dict[str, Any], list[int]]:
    """Residents are snapped and prepared once (as ``kennai build`` does); the job is then:
    snap the places, one Dijkstra, read every resident, compare with the thresholds."""
    times: dict[str, Any] = {}
    g, times["graph_s"] = best_of(lambda: build_graph(net, weight="length"), repeat=1)
    index = EdgeIndex(net, remember=0)  # every snap timed is computed, none remembered

    def prepare() -> Any:
        return anchors(g, index.snap(res_xy, max_distance_m=300.0))

    res, times["prepare_residents_s"] = best_of(prepare, repeat=1)

    def job() -> list[int]:
        ps = index.snap(place_xy, max_distance_m=300.0)
        dist = point_costs(g, node_costs(g, ps), res, ps)[0]
        return [int((dist <= th).sum()) for th in THRESHOLDS]

    _, _, times["job_peak_mb"] = measure(job)
    counts, times["job_s"] = best_of(job)
    ps = index.snap(place_xy, max_distance_m=300.0)
    times["distance_fn"] = lambda: point_costs(g, node_costs(g, ps), res, ps)
    return times, counts


def bare_scipy(net: WalkNetwork, res_node: np.ndarray, place_node: np.ndarray
               ) -> tuple[dict[str, Callable[[], Any]], list[int]]:
    """Node-based multi-source Dijkstra, both ways scipy offers on a symmetric matrix: the
    functions to time, and the counts within each threshold."""
    g = build_graph(net, weight="length")
    sources = np.unique(place_node)
    fns = {f"{key}_s": (lambda directed=directed: dijkstra(
        g.matrix, directed=directed, indices=sources, min_only=True)[res_node])
        for key, directed in (("directed", True), ("undirected", False))}
    d = fns["directed_s"]()
    return fns, [int((d <= th).sum()) for th in THRESHOLDS]


def osmnx_isochrones(net: WalkNetwork, res_node: np.ndarray, place_node: np.ndarray,
                     budget_s: float) -> dict[str, Any]:
    """``ego_graph`` per place and threshold; extrapolated when ``budget_s`` runs out."""
    import networkx as nx

    def make() -> nx.MultiGraph:
        g = nx.MultiGraph()
        g.add_nodes_from(range(net.n_nodes))
        g.add_weighted_edges_from(zip(net.edge_u.tolist(), net.edge_v.tolist(),
                                      net.edge_length.tolist(), strict=True), weight="length")
        return g

    g, t_build = best_of(make, repeat=1)
    done = 0
    covered: list[set[int]] = [set() for _ in THRESHOLDS]
    t0 = time.perf_counter()
    for p in place_node:
        for k, th in enumerate(THRESHOLDS):
            covered[k] |= set(nx.ego_graph(g, int(p), radius=th, distance="length").nodes)
        done += 1
        if time.perf_counter() - t0 > budget_s:
            break
    dt = time.perf_counter() - t0
    counts = [int(np.isin(res_node, np.fromiter(c, dtype=np.int64)).sum()) for c in covered]
    return {"build_s": t_build, "query_s": dt * len(place_node) / done, "places_run": done,
            "extrapolated": done < len(place_node),
            "counts": counts if done == len(place_node) else None}


def pandana_job(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray) -> dict[str, Any]:
    """pandana's contraction-hierarchy setup, then the nearest place of every resident."""
    try:
        import pandana
        import pandas as pd
    except ImportError:
        return {"skipped": "pandana is not installed"}
    nodes = pd.DataFrame({"x": net.node_xy[:, 0], "y": net.node_xy[:, 1]})
    edges = pd.DataFrame({"from": net.edge_u, "to": net.edge_v, "w": net.edge_length})

    def setup() -> Any:
        return pandana.Network(nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["w"]],
                               twoway=True)

    # Once more when quick: the contraction runs on OpenMP threads, slowed down by other work.
    pn, t_setup = best_of(setup, repeat=1, budget_s=6.0)

    def query() -> np.ndarray:
        pn.set_pois("places", 1000.0, 1, pd.Series(place_xy[:, 0]), pd.Series(place_xy[:, 1]))
        d = pn.nearest_pois(1000.0, "places", num_pois=1)[1]
        res_nodes = pn.get_node_ids(pd.Series(res_xy[:, 0]), pd.Series(res_xy[:, 1])).to_numpy()
        return d.loc[res_nodes].to_numpy()

    d, t_query = best_of(query, repeat=2, budget_s=0.0)
    return {"setup_s": t_setup, "query_s": t_query,
            "counts": [int((d <= th - 1e-9).sum()) if th < 1000 else int((d < 1000).sum())
                       for th in THRESHOLDS]}


def run(name: str, net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray,
        extra: dict[str, Any], *, nx_budget_s: float, nx_max: int, pandana_max: int
        ) -> dict[str, Any]:
    """The standard job on one dataset, every engine; prints the figures and returns them."""
    print(f"\n=== {name}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, "
          f"{len(res_xy):,} resident locations, {len(place_xy)} places", flush=True)
    for k, v in extra.items():
        print(f"  {k}: {_s(v) if isinstance(v, float) else v}")
    out: dict[str, Any] = {"name": name, "nodes": net.n_nodes}
    kt, kc = kennai_job(net, res_xy, place_xy)
    out |= {"kennai": kt}
    ntree = shapely.STRtree(shapely.points(net.node_xy))
    res_node = ntree.query_nearest(shapely.points(res_xy), all_matches=False)[1]
    place_node = ntree.query_nearest(shapely.points(place_xy), all_matches=False)[1]
    fns, sc = bare_scipy(net, res_node, place_node)
    st = paired_best({"distance_s": kt.pop("distance_fn")} | fns)
    kt["distance_s"] = st.pop("distance_s")
    out["scipy"] = st
    job_k = kt["job_s"]
    print(f"  kennai     graph {_s(kt['graph_s'])}; residents snapped+prepared once "
          f"{_s(kt['prepare_residents_s'])}; job (snap places + distances + thresholds) "
          f"{_s(job_k)} (peak traced {kt['job_peak_mb']:.0f} MB); distance step "
          f"{_s(kt['distance_s'])}; within 250/500/800/1000 m: {kc}")
    print(f"  bare scipy directed {_s(st['directed_s'])}, undirected {_s(st['undirected_s'])} "
          f"(node-based, min_only) → kennai distance step / scipy = "
          f"{kt['distance_s'] / st['directed_s']:.2f}× / {kt['distance_s'] / st['undirected_s']:.2f}×"
          f"; counts {sc}")
    if net.n_nodes <= nx_max:
        ox = osmnx_isochrones(net, res_node, place_node, nx_budget_s)
        out["osmnx"] = ox
        note = f" (extrapolated from {ox['places_run']} places)" if ox["extrapolated"] else ""
        print(f"  OSMnx ego_graph: graph {_s(ox['build_s'])}, isochrones {_s(ox['query_s'])}{note}"
              f" → {ox['query_s'] / job_k:,.0f}× kennai's job; counts {ox['counts']}")
    else:
        out["osmnx"] = {"skipped": f"above {nx_max:,} nodes"}
        print(f"  OSMnx ego_graph: skipped above {nx_max:,} nodes")
    if net.n_nodes > pandana_max:
        out["pandana"] = {"skipped": f"above {pandana_max:,} nodes"}
        print(f"  pandana: skipped above {pandana_max:,} nodes (contraction takes minutes)")
    else:
        pd_ = pandana_job(net, res_xy, place_xy)
        out["pandana"] = pd_
        if "skipped" in pd_:
            print(f"  pandana: {pd_['skipped']}")
        else:
            k_all = kt["graph_s"] + kt["prepare_residents_s"] + job_k
            total = pd_["setup_s"] + pd_["query_s"]
            print(f"  pandana setup {_s(pd_['setup_s'])} + query {_s(pd_['query_s'])} → "
                  f"setup+query {total / k_all:,.0f}× kennai's graph+residents+job "
                  f"({_s(k_all)}), query alone {pd_['query_s'] / job_k:,.0f}× kennai's job; "
                  f"counts {pd_['counts']}")
    sys.stdout.flush()
    return out


def job_rows(r: dict[str, Any]) -> list[Row]:
    """Summary rows of one dataset's standard job."""
    kt, name = r["kennai"], r["name"]
    rows = []
    ox = r["osmnx"]
    if "skipped" in ox:
        rows.append(speedup_row("job ≥100× OSMnx ego_graph", name, kt["job_s"], None, JOB_SPEEDUP,
                                f"skipped ({ox['skipped']})"))
    else:
        rows.append(speedup_row("job ≥100× OSMnx ego_graph", name, kt["job_s"], ox["query_s"],
                                JOB_SPEEDUP, " (extrap.)" if ox["extrapolated"] else ""))
    pd_ = r["pandana"]
    if "skipped" in pd_:
        rows.append(speedup_row("job ≥100× pandana setup+query (kennai job, as in the issue)",
                                name, kt["job_s"], None, JOB_SPEEDUP, f"skipped ({pd_['skipped']})"))
    else:
        k_all = kt["graph_s"] + kt["prepare_residents_s"] + kt["job_s"]
        rows.append(speedup_row("job ≥100× pandana setup+query (kennai job, as in the issue)",
                                name, kt["job_s"], pd_["setup_s"] + pd_["query_s"], JOB_SPEEDUP))
        rows.append(speedup_row("  same, kennai incl. graph + resident snapping", name, k_all,
                                pd_["setup_s"] + pd_["query_s"], JOB_SPEEDUP))
        rows.append(speedup_row("  pandana query alone vs kennai job", name, kt["job_s"],
                                pd_["query_s"], JOB_SPEEDUP))
    d, s = kt["distance_s"], r["scipy"]["directed_s"]
    rows.append(Row("distance step ≤1.5× bare scipy", name, _s(d), _s(s),
                    f"{d / s:.2f}× (≤ {DISTANCE_STEP_MAX:g}×)", d / s <= DISTANCE_STEP_MAX))
    return rows


# --------------------------------------------------------------------------- kennai build


_RELOAD = """
import json, sys, time
from kennai.access import load_access
from kennai.config import load_config
from kennai.region import open_region
t0 = time.perf_counter()
region = open_region(load_config(sys.argv[1]))
net = region.network
res = load_access(region.build_dir)
dt = time.perf_counter() - t0
print(json.dumps({"reload_s": dt, "nodes": net.n_nodes, "locations": len(res.residents)}))
"""


def _env(build_root: Path) -> dict[str, str]:
    env = dict(os.environ, KENNAI_BUILD_ROOT=str(build_root))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def cli_build(config: Path, build_root: Path) -> dict[str, Any]:
    """``kennai build CONFIG --force`` in a subprocess (end to end, interpreter start included),
    then the reload of the built region in a fresh process (imports excluded)."""
    env = _env(build_root)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kennai", "build", str(config), "--force",
                           "--json"], env=env, capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    report = json.loads(proc.stdout)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RELOAD, str(config)], env=env,
                          capture_output=True, text=True, check=False)
    cold = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"build_s": dt, "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    reload = json.loads(proc.stdout.strip().splitlines()[-1])
    acc = report.get("access") or {}
    return {"build_s": dt, "reload_s": reload["reload_s"], "reload_process_s": cold,
            "nodes": reload["nodes"], "locations": reload["locations"],
            "places": acc.get("places")}


# --------------------------------------------------------------------------- grids


def grid_case(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """The standard job on a grid of ``size`` nodes (run in a child process of its own)."""
    rng = np.random.default_rng(size)
    net, t_build = best_of(lambda: grid(size), repeat=1)
    pts = _edge_points(net, 50.0)
    res_xy = pts[rng.choice(len(pts), size=min(len(pts), size // 2), replace=False)]
    place_xy = pts[rng.choice(len(pts), size=args.places, replace=False)]
    del pts
    out = run(f"grid {size:,}", net, res_xy, place_xy, {"make_grid_s": t_build},
              nx_budget_s=args.nx_budget, nx_max=args.nx_max, pandana_max=args.pandana_max)
    out["peak_rss_mb"] = peak_rss_mb()
    print(f"  peak RSS of this process (grid, every engine run on it): {out['peak_rss_mb']:,.0f} MB",
          flush=True)
    return out


def grid_in_child(size: int, args: argparse.Namespace) -> dict[str, Any] | None:
    """:func:`grid_case` in a fresh interpreter, so that its peak RSS is its own."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--grid-child", str(size),
               "--child-out", str(out), "--places", str(args.places), "--nx-budget",
               str(args.nx_budget), "--nx-max", str(args.nx_max), "--pandana-max",
               str(args.pandana_max)]
        sys.stdout.flush()
        proc = subprocess.run(cmd, env=_env(Path(tmp)), check=False)
        if proc.returncode != 0 or not out.is_file():
            print(f"  grid {size:,}: child process failed (exit {proc.returncode})")
            return None
        return json.loads(out.read_text())


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="no 1M grid; OSMnx and pandana only up to 50k nodes, 5 s OSMnx budget")
    ap.add_argument("--sizes", type=int, nargs="*", default=None,
                    help="grid sizes (default 10k 100k 1M; --quick: 10k 100k)")
    ap.add_argument("--places", type=int, default=100)
    ap.add_argument("--pandana-max", type=int, default=None,
                    help="largest graph (nodes) given to pandana (default 100k; --quick: 50k)")
    ap.add_argument("--nx-max", type=int, default=None,
                    help=f"largest graph (nodes) given to OSMnx (default {NX_MAX_NODES:,}; "
                         "--quick: 50k)")
    ap.add_argument("--nx-budget", type=float, default=None,
                    help="seconds of ego_graph per dataset before extrapolating (default 40, "
                         "--quick: 5)")
    ap.add_argument("--no-build", action="store_true", help="skip the `kennai build` runs")
    ap.add_argument("--grid-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    quick = args.quick
    args.sizes = args.sizes if args.sizes is not None else (
        [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000])
    args.pandana_max = args.pandana_max or (50_000 if quick else 100_000)
    args.nx_max = args.nx_max or (50_000 if quick else NX_MAX_NODES)
    args.nx_budget = args.nx_budget or (5.0 if quick else 40.0)
    if args.grid_child:
        args.child_out.write_text(json.dumps(grid_case(args.grid_child, args)))
        return

    started = time.perf_counter()
    rows: list[Row] = []
    print(f"kennai access benchmark ({'quick' if quick else 'full'}): {os.cpu_count()} CPUs, "
          f"grids {args.sizes}, {args.places} places, thresholds {THRESHOLDS}")
    rng = np.random.default_rng(42)
    with tempfile.TemporaryDirectory(prefix="kennai-bench-build-") as build_root:
        for name, path, epsg, bld, config, limit in OSM_DATASETS:
            if not path.is_file():
                print(f"\n=== {name}: skipped, {path} not found")
                rows.append(Row("dataset", name, "", f"{path.name} not found", "", None))
                continue
            if not args.no_build:
                b = cli_build(config, Path(build_root))
                head = f"\n=== {name}: kennai build {config.relative_to(ROOT)} --force: "
                if "error" in b:
                    print(head + f"failed: {b['error']}")
                else:
                    print(head + f"{_s(b['build_s'])} end to end; reload (open_region + .network + "
                          f"load_access) {_s(b['reload_s'])}, {_s(b['reload_process_s'])} with "
                          f"interpreter and imports; {b['nodes']:,} nodes, {b['locations']:,} "
                          f"resident locations, {b['places']} places")
                if "build_s" in b:
                    rows.append(limit_row(f"kennai build < {limit:g} s", name, b["build_s"],
                                          limit, "s"))
                if "reload_s" in b:
                    rows.append(limit_row("reload built region < 0.5 s", name, b["reload_s"],
                                          RELOAD_MAX_S, "s"))
            net, res_xy, info = osm_dataset(path, CRS.from_epsg(epsg), buildings=bld,
                                            pyrosm_repeat=1 if quick else 2)
            pr = info.pop("pyrosm")
            if "skipped" in pr:
                print(f"  pyrosm: {pr['skipped']}")
                rows.append(speedup_row("PBF → walk graph ≥2× pyrosm+networkx", name,
                                        info["kennai_load_s"], None, LOAD_SPEEDUP, pr["skipped"]))
            else:
                print(f"  PBF → walk graph: kennai (network_from_osm + CSR) "
                      f"{_s(info['kennai_load_s'])}, {net.n_nodes:,} nodes / {net.n_edges:,} "
                      f"edges; pyrosm walking + to_graph(networkx) {_s(pr['s'])}, "
                      f"{pr['nodes']:,} nodes / {pr['edges']:,} edges")
                rows.append(speedup_row("PBF → walk graph ≥2× pyrosm+networkx", name,
                                        info["kennai_load_s"], pr["s"], LOAD_SPEEDUP))
            pts = _edge_points(net, 50.0)
            place_xy = pts[rng.choice(len(pts), size=args.places, replace=False)]
            r = run(name, net, res_xy, place_xy, info, nx_budget_s=args.nx_budget,
                    nx_max=args.nx_max, pandana_max=args.pandana_max)
            rows += job_rows(r)
            del net, res_xy, pts
    for size in args.sizes:
        r = grid_in_child(size, args)
        if r is None:
            rows.append(Row("grid", f"grid {size:,}", "", "child process failed", "", False))
            continue
        rows += job_rows(r)
        if r["nodes"] >= MEMORY_NODES * 0.99:
            rows.append(limit_row("peak RSS < 2 GB at 1M nodes", r["name"], r["peak_rss_mb"],
                                  MEMORY_MAX_MB, "MB"))
    if not any(s >= MEMORY_NODES * 0.99 for s in args.sizes):
        rows.append(Row("peak RSS < 2 GB at 1M nodes", "grid 1,000,000", "", "skipped (no 1M grid)",
                        "", None))
    print(f"\nthis process's peak RSS {peak_rss_mb():,.0f} MB (OSM datasets, pyrosm, OSMnx, "
          f"pandana); total {time.perf_counter() - started:.0f} s")
    print_summary(rows)


if __name__ == "__main__":
    main()
