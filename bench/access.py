"""Benchmark: kennai's access job against OSMnx, networkx, pandana and bare scipy, like for like.

The job, on Ishigaki (OSM PBF, building representative points as residents) and Malta (OSM PBF,
points every 50 m along the streets as residents): 100 places (street points, seed 42),
thresholds 250/500/800/1000 m — how many residents lie within each threshold of a place.

Every side starts from the same parsed edges (kennai's reader: u, v, length, geometry) and the
same resident and place points; parsing is not timed. Rows (``bench/peers.py`` holds the sides):

- **kennai job**: ``build_graph`` (CSR), a fresh ``EdgeIndex`` snapping residents and places onto
  edges (exact), ``node_costs`` (one multi-source Dijkstra) and ``point_costs``;
- **OSMnx ego_graph**: MultiDiGraph build, ``ox.distance.nearest_nodes``, ``nx.ego_graph`` per
  place × threshold (all 100 places; ``--quick``: the first ``--quick-places``, *not counted*);
- **networkx multi-source**: Graph build, KD-tree nearest nodes, one
  ``multi_source_dijkstra_path_length(cutoff=1000)``;
- **pandana setup+query**: ``Network`` (contraction), ``get_node_ids``, ``set_pois`` +
  ``nearest_pois(1000)``;
- **bare scipy**: CSR from the edges, KD-tree nearest nodes, ``dijkstra(min_only, limit=1000)``;
- **distance step**: kennai's ``node_costs`` + ``point_costs`` against scipy's
  ``dijkstra(min_only)`` read at the residents' nodes, both unbounded, on the same CSR graph and
  with the snaps made beforehand (scipy's nearest nodes; kennai's resident anchors, made once
  per set of residents in a build); a ``limit=1000`` scipy figure is printed, not counted.

Results are checked in the run: the node-snapping peers against :func:`peers.node_reference`
(full Dijkstra per place, no bound), pandana against :func:`peers.pandana_reference` (the same,
with pandana's own nearest nodes and its whole-millimetre weights), kennai against
:func:`peers.edge_reference` (its own snaps made real nodes of a split graph). A row is *fair*
— counted in the summary — only when its results are equal, it used all 100 places and it
timed the whole pipeline. Every time is the median of ``--runs`` (5; at least 3) interleaved
runs with min–max; ratios are on medians. ``kennai build --force`` of pipelines/ishigaki.yaml
and malta.yaml runs as a subprocess as often: time and its own peak RSS (wait4).

Run: ``PYTHONPATH=src .venv/bin/python bench/access.py [--quick] [--json FILE]``
(``--quick``: Ishigaki only, OSMnx on 10 places, no builds; about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import dijkstra

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
from stats import Spread, interleaved, load_average, quiet, ratio, run_process

from kennai.access import anchors, node_costs, point_costs
from kennai.graph import build_graph
from kennai.io.network import network_from_osm
from kennai.network import WalkNetwork
from kennai.snapping import EdgeIndex

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/data")
THRESHOLDS = (250.0, 500.0, 800.0, 1000.0)
#: (name, PBF, analysis CRS, residents are buildings, pipeline, build-time target in s).
DATASETS = (
    ("Ishigaki", SHARED / "ishigaki" / "network" / "ishigaki_city_osm_2024-04-11.osm.pbf", 6684,
     True, ROOT / "pipelines" / "ishigaki.yaml", 2.5),
    ("Malta", SHARED / "bench" / "malta_osm_2016-11-09.osm.pbf", 32633, False,
     ROOT / "pipelines" / "malta.yaml", 3.5),
)
#: (row, peer function name, kennai must be at least this many times faster).
TARGETS = (("OSMnx ego_graph", "osmnx", 30.0), ("pandana setup+query", "pandana", 50.0),
           ("networkx multi-source cutoff", "networkx", 3.0))
DISTANCE_STEP_MAX = 1.2


def street_points(net: WalkNetwork, spacing_m: float) -> np.ndarray:
    """Points every ``spacing_m`` along the edges (at least one mid-point per edge)."""
    lengths = shapely.length(net.edge_geometry)
    counts = np.maximum(1, np.floor(lengths / spacing_m).astype(np.int64))
    edge_of = np.repeat(np.arange(net.n_edges), counts)
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pts = shapely.line_interpolate_point(net.edge_geometry[edge_of], (k + 0.5) / counts[edge_of],
                                         normalized=True)
    return shapely.get_coordinates(pts)


def dataset(path: Path, epsg: int, *, buildings: bool, places: int
            ) -> tuple[WalkNetwork, np.ndarray, np.ndarray]:
    """The parsed network, the residents and the places every side is given."""
    crs = CRS.from_epsg(epsg)
    net = network_from_osm(path, crs)
    pts = street_points(net, 50.0)
    if buildings:
        from kennai.io.osm import read_osm_buildings

        b = read_osm_buildings(path).to_crs(crs)
        res_xy = shapely.get_coordinates(b.geometry.representative_point().values)
    else:
        res_xy = pts
    place_xy = pts[np.random.default_rng(42).choice(len(pts), size=places, replace=False)]
    return net, res_xy, place_xy


def _fmt(s: Spread) -> str:
    return s.text(scale=1000.0, unit="ms")


def run_dataset(name: str, net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray, *,
                runs: int, osmnx_places: int) -> dict[str, Any]:
    """Every side on one dataset: times, results checks and the distance step."""
    print(f"\n=== {name}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, {len(res_xy):,} residents, "
          f"{len(place_xy)} places (load {load_average()})", flush=True)
    ox_xy = place_xy[:osmnx_places]
    sides: dict[str, Callable[[], Any]] = {
        "kennai": lambda: peers.kennai_job(net, res_xy, place_xy),
        "scipy": lambda: peers.scipy_job(net, res_xy, place_xy),
        "networkx": lambda: peers.networkx_job(net, res_xy, place_xy),
        "osmnx": lambda: peers.osmnx_job(net, res_xy, ox_xy, THRESHOLDS),
    }
    missing = peers.pandana_status()
    if missing is None:
        sides["pandana"] = lambda: quiet(peers.pandana_job, net, res_xy, place_xy)
    results, times = interleaved(sides, runs=runs)
    index = EdgeIndex(net, remember=0)
    rs, ps = index.snap(res_xy), index.snap(place_xy)
    node_ref = peers.node_reference(net, res_xy, place_xy)
    checks = {"kennai": peers.compare(results["kennai"], peers.edge_reference(net, rs, ps),
                                      THRESHOLDS)}
    for side in sides:
        if side == "kennai":
            continue
        if side == "pandana":
            ref = quiet(peers.pandana_reference, net, res_xy, place_xy)
        elif side != "osmnx" or osmnx_places >= len(place_xy):
            ref = node_ref
        else:
            ref = peers.node_reference(net, res_xy, ox_xy)
        checks[side] = peers.compare(results[side], ref, THRESHOLDS)
    out: dict[str, Any] = {"nodes": net.n_nodes, "edges": net.n_edges, "residents": len(res_xy),
                           "places": len(place_xy), "sides": {}}
    k = times["kennai"]
    for side, s in times.items():
        c = checks[side]
        places_used = len(ox_xy) if side == "osmnx" else len(place_xy)
        fair = c["equal"] and places_used == len(place_xy)
        out["sides"][side] = {"time_s": s.as_dict(), "places": places_used, "fair": fair, **c}
        vs = "" if side == "kennai" else f"; {ratio(s, k):,.1f}× kennai's job"
        print(f"  {side:9s} {_fmt(s)}{vs}; within {c['counts']} (reference {c['ref_counts']}); "
              f"results equal: {'yes' if c['equal'] else 'no'}"
              + ("" if places_used == len(place_xy) else
                 f"  [{places_used} places only: not counted]"), flush=True)
    if missing is not None:
        out["sides"]["pandana"] = {"skipped": missing}
        print(f"  pandana   {missing}")
    out["distance_step"] = distance_step(net, rs, ps, res_xy, place_xy, runs=runs)
    out["kennai_parts"] = kennai_parts(net, res_xy, place_xy, runs=runs)
    return out


def kennai_parts(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray, *, runs: int
                 ) -> dict[str, Any]:
    """Where kennai's job spends its time (not counted): graph, snap index, snaps, distances."""
    g = build_graph(net, weight="length")
    index = EdgeIndex(net, remember=0)
    rs, ps = index.snap(res_xy), index.snap(place_xy)
    _, t = interleaved({
        "graph": lambda: build_graph(net, weight="length"),
        "snap_index": lambda: EdgeIndex(net, remember=0),
        "snap_residents": lambda: index.snap(res_xy),
        "snap_places": lambda: index.snap(place_xy),
        "distances": lambda: point_costs(g, node_costs(g, ps), rs, ps)[0],
    }, runs=runs, collect=False)
    print("  kennai job parts (not counted): "
          + ", ".join(f"{k} {_fmt(v)}" for k, v in t.items()), flush=True)
    return {k: v.as_dict() for k, v in t.items()}


def distance_step(net: WalkNetwork, rs: Any, ps: Any, res_xy: np.ndarray, place_xy: np.ndarray,
                  *, runs: int) -> dict[str, Any]:
    """kennai's Dijkstra step against scipy's on the same CSR graph, snaps made beforehand:
    scipy's nearest nodes, and kennai's resident anchors (each resident's edge ends and
    offsets, made once per set of residents in a build and reused for every destination)."""
    from scipy.spatial import cKDTree

    g = build_graph(net, weight="length")
    tree = cKDTree(net.node_xy)
    rn, pn = tree.query(res_xy)[1], np.unique(tree.query(place_xy)[1])
    ra = anchors(g, rs)
    fns: dict[str, Callable[[], Any]] = {
        "kennai": lambda: point_costs(g, node_costs(g, ps), ra, ps)[0],
        "scipy": lambda: dijkstra(g.matrix, directed=True, indices=pn, min_only=True)[rn],
        "scipy_limit": lambda: dijkstra(g.matrix, directed=True, indices=pn, min_only=True,
                                        limit=peers.CUTOFF_M)[rn],
    }
    _, t = interleaved(fns, runs=max(runs, 5), collect=False)
    r = ratio(t["kennai"], t["scipy"])
    print(f"  distance step: kennai {_fmt(t['kennai'])}, scipy {_fmt(t['scipy'])} → {r:.2f}× "
          f"(scipy limit=1000: {_fmt(t['scipy_limit'])}, not counted)", flush=True)
    return {k: v.as_dict() for k, v in t.items()} | {"ratio": r}


def cli_builds(config: Path, *, runs: int) -> dict[str, Any]:
    """``kennai build CONFIG --force`` as a subprocess, ``runs`` times: wall time, own peak RSS."""
    with tempfile.TemporaryDirectory(prefix="kennai-bench-build-") as root:
        env = dict(os.environ, KENNAI_BUILD_ROOT=root)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                           env.get("PYTHONPATH")]))
        done = [run_process([sys.executable, "-m", "kennai", "build", str(config), "--force"],
                            env=env) for _ in range(runs)]
    bad = [p for p in done if p.returncode != 0]
    if bad:
        return {"error": bad[0].stderr.strip().splitlines()[-1:]}
    return {"time_s": Spread(tuple(p.seconds for p in done)).as_dict(),
            "peak_rss_mb": Spread(tuple(p.peak_rss_mb for p in done)).as_dict()}


def summary(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets per dataset, counting only fair rows."""
    rows: list[dict[str, Any]] = []
    for name, f in figures.items():
        k = f["sides"]["kennai"]
        for label, side, need in TARGETS:
            p = f["sides"].get(side, {})
            if "skipped" in p or not p:
                rows.append({"target": f"≥{need:g}× {label}", "dataset": name, "ratio": None,
                             "result": "SKIP", "note": p.get("skipped", "not run")})
                continue
            r = p["time_s"]["median"] / k["time_s"]["median"]
            counted = p["fair"] and k["fair"]
            rows.append({"target": f"≥{need:g}× {label}", "dataset": name, "ratio": r,
                         "result": ("PASS" if r >= need else "FAIL") if counted else "not counted",
                         "note": "" if counted else
                         ("results differ" if not (p["equal"] and k["equal"])
                          else f"{p['places']} places only")})
        ds = f["distance_step"]
        rows.append({"target": f"distance step ≤{DISTANCE_STEP_MAX:g}× scipy", "dataset": name,
                     "ratio": ds["ratio"],
                     "result": "PASS" if ds["ratio"] <= DISTANCE_STEP_MAX else "FAIL", "note": ""})
        b = f.get("build")
        if b and "time_s" in b:
            t = b["time_s"]["median"]
            rows.append({"target": f"kennai build < {f['build_target_s']:g} s", "dataset": name,
                         "ratio": t, "result": "PASS" if t < f["build_target_s"] else "FAIL",
                         "note": f"peak RSS {b['peak_rss_mb']['median']:,.0f} MB"})
    return rows


def print_summary(rows: list[dict[str, Any]]) -> None:
    print(f"\n=== summary (load {load_average()}; ratios: peer median / kennai median; "
          "build: seconds)")
    cells = [("target", "dataset", "measured", "result", "note")] + [
        (r["target"], r["dataset"], "" if r["ratio"] is None else f"{r['ratio']:,.2f}",
         r["result"], r["note"]) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    for c in cells:
        print("  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)))
    counted = [r for r in rows if r["result"] in ("PASS", "FAIL")]
    print(f"{sum(r['result'] == 'PASS' for r in counted)}/{len(counted)} counted targets pass")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="Ishigaki only, OSMnx on a few places, "
                    "no builds")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--places", type=int, default=100)
    ap.add_argument("--quick-places", type=int, default=10)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    args = ap.parse_args()
    started = time.perf_counter()
    print(f"kennai access benchmark ({'quick' if args.quick else 'full'}): {os.cpu_count()} CPUs, "
          f"{args.places} places, thresholds {THRESHOLDS}, load {load_average()}")
    figures: dict[str, Any] = {}
    for name, path, epsg, bld, config, limit in DATASETS[:1] if args.quick else DATASETS:
        if not path.is_file():
            print(f"\n=== {name}: skipped, {path} not found")
            continue
        net, res_xy, place_xy = dataset(path, epsg, buildings=bld, places=args.places)
        f = run_dataset(name, net, res_xy, place_xy, runs=args.runs,
                        osmnx_places=args.quick_places if args.quick else args.places)
        f["build_target_s"] = limit
        if not (args.quick or args.no_build):
            f["build"] = b = cli_builds(config, runs=args.runs)
            if "error" in b:
                print(f"  kennai build failed: {b['error']}")
            else:
                print(f"  kennai build {config.relative_to(ROOT)} --force (subprocess): "
                      f"{Spread(tuple(b['time_s']['runs'])).text(unit='s')}, peak RSS "
                      f"{Spread(tuple(b['peak_rss_mb']['runs'])).text(unit='MB')}", flush=True)
        figures[name] = f
    rows = summary(figures)
    print_summary(rows)
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"datasets": figures, "summary": rows,
                                         "load_average": load_average()}, indent=1))


if __name__ == "__main__":
    main()
