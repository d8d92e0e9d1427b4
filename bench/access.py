"""Benchmark: kennai's access engine against the OSMnx isochrone method, pandana and bare scipy.

The standard job, on one graph per dataset and in one process: 100 places, thresholds
250/500/800/1000 m, every resident location → how many locations lie within each threshold.

- kennai: snap residents and places to edges, one Dijkstra with a virtual source (exact,
  edge-based), then thresholds are comparisons;
- bare scipy: ``dijkstra(min_only=True)`` from the places' nearest nodes, residents read at their
  nearest node (the floor any Dijkstra-based engine can reach);
- OSMnx isochrones: ``nx.ego_graph(G, place, radius, distance="length")`` per place and per
  threshold, as in the OSMnx examples (residents at their nearest node);
- pandana (if installed): ``Network(...)`` setup, then ``set_pois`` + ``nearest_pois``.

Datasets: Ishigaki (OSM PBF, buildings as residents), Malta (OSM PBF, points every 50 m along the
streets as residents) and jittered grids of 10k / 100k / 1M nodes. Prints times, ratios and peak
memory (tracemalloc: Python and numpy allocations; pandana's C++ memory is not seen by it, the
process peak RSS is printed at the end).

Run: ``PYTHONPATH=src .venv/bin/python bench/access.py [--sizes 10000 100000 1000000]``
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import dijkstra

from kennai.access import anchors, node_costs, point_costs
from kennai.graph import build_graph
from kennai.network import WalkNetwork, network_from_osm
from kennai.residents import _edge_points, snap_to_edges

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
THRESHOLDS = (250.0, 500.0, 800.0, 1000.0)
#: Above this many nodes the networkx graph alone needs several GB: the OSMnx method is skipped.
NX_MAX_NODES = 200_000


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn`` once: (result, seconds, peak MB of traced allocations)."""
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return out, dt, peak


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


def osm_dataset(path: Path, crs: CRS, *, buildings: bool) -> tuple[WalkNetwork, np.ndarray, dict]:
    net, t_load, _ = measure(lambda: network_from_osm(path, crs))
    info = {"load_pbf_s": t_load}
    tmp = Path("/tmp") / f"kennai_bench_{path.stem}.npz"
    net.save(tmp)
    _, info["reload_npz_s"], _ = measure(lambda: WalkNetwork.load(tmp))
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


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[Any, float]:
    """Result and the best wall time of ``repeat`` runs (first-call warm-up excluded)."""
    out, best = None, np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def kennai_job(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray
               ) -> tuple[dict[str, Any], list[int]]:
    """Residents are snapped and prepared once (as ``kennai build`` does); the job is then:
    snap the places, one Dijkstra, read every resident, compare with the thresholds."""
    times: dict[str, Any] = {}
    g, times["graph_s"], _ = measure(lambda: build_graph(net, weight="length"))
    tree = shapely.STRtree(net.edge_geometry)

    def prepare() -> Any:
        return anchors(g, snap_to_edges(net, res_xy, tree=tree, max_distance_m=300.0))

    res, times["prepare_residents_s"], _ = measure(prepare)

    def job() -> np.ndarray:
        ps = snap_to_edges(net, place_xy, tree=tree, max_distance_m=300.0)
        return point_costs(g, node_costs(g, ps), res, ps)[0]

    _, _, times["job_peak_mb"] = measure(job)
    dist, times["job_s"] = best_of(job)
    ps = snap_to_edges(net, place_xy, tree=tree, max_distance_m=300.0)
    _, times["distance_s"] = best_of(lambda: point_costs(g, node_costs(g, ps), res, ps))
    return times, [int((dist <= th).sum()) for th in THRESHOLDS]


def bare_scipy(net: WalkNetwork, res_node: np.ndarray, place_node: np.ndarray
               ) -> tuple[float, list[int]]:
    g = build_graph(net, weight="length")

    def run() -> np.ndarray:
        d = dijkstra(g.matrix, directed=False, indices=np.unique(place_node), min_only=True)
        return d[res_node]

    d, dt = best_of(run)
    return dt, [int((d <= th).sum()) for th in THRESHOLDS]


def osmnx_isochrones(net: WalkNetwork, res_node: np.ndarray, place_node: np.ndarray,
                     budget_s: float) -> dict[str, Any]:
    import networkx as nx

    def make() -> nx.MultiGraph:
        g = nx.MultiGraph()
        g.add_nodes_from(range(net.n_nodes))
        g.add_weighted_edges_from(zip(net.edge_u.tolist(), net.edge_v.tolist(),
                                      net.edge_length.tolist(), strict=True), weight="length")
        return g

    g, t_build, peak_build = measure(make)
    done = 0
    covered = [set() for _ in THRESHOLDS]
    t0 = time.perf_counter()
    tracemalloc.start()
    for p in place_node:
        for k, th in enumerate(THRESHOLDS):
            covered[k] |= set(nx.ego_graph(g, int(p), radius=th, distance="length").nodes)
        done += 1
        if time.perf_counter() - t0 > budget_s:
            break
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    dt = time.perf_counter() - t0
    full = dt * len(place_node) / done
    counts = [int(np.isin(res_node, np.fromiter(c, dtype=np.int64)).sum()) for c in covered]
    return {"build_s": t_build, "query_s": full, "places_run": done,
            "extrapolated": done < len(place_node), "peak_mb": max(peak, peak_build),
            "counts": counts if done == len(place_node) else None}


def pandana_job(net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray) -> dict[str, Any]:
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

    pn, t_setup, peak_setup = measure(setup)

    def query() -> np.ndarray:
        pn.set_pois("places", 1000.0, 1, pd.Series(place_xy[:, 0]), pd.Series(place_xy[:, 1]))
        d = pn.nearest_pois(1000.0, "places", num_pois=1)[1]
        res_nodes = pn.get_node_ids(pd.Series(res_xy[:, 0]), pd.Series(res_xy[:, 1])).to_numpy()
        return d.loc[res_nodes].to_numpy()

    d, t_query, peak_q = measure(query)
    return {"setup_s": t_setup, "query_s": t_query, "peak_mb": max(peak_setup, peak_q),
            "counts": [int((d <= th - 1e-9).sum()) if th < 1000 else int((d < 1000).sum())
                       for th in THRESHOLDS]}


def run(name: str, net: WalkNetwork, res_xy: np.ndarray, place_xy: np.ndarray,
        extra: dict[str, Any], nx_budget_s: float, pandana_max: int) -> None:
    print(f"\n=== {name}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, "
          f"{len(res_xy):,} resident locations, {len(place_xy)} places", flush=True)
    for k, v in extra.items():
        print(f"  {k}: {v if not isinstance(v, float) else f'{v:.3f} s'}")
    kt, kc = kennai_job(net, res_xy, place_xy)
    ntree = shapely.STRtree(shapely.points(net.node_xy))
    res_node = ntree.query_nearest(shapely.points(res_xy), all_matches=False)[1]
    place_node = ntree.query_nearest(shapely.points(place_xy), all_matches=False)[1]
    st, sc = bare_scipy(net, res_node, place_node)
    job_k = kt["job_s"]
    print(f"  kennai     graph {kt['graph_s']:.3f} s; residents snapped+prepared once "
          f"{kt['prepare_residents_s']:.3f} s; job (snap places + distances) {job_k * 1000:.1f} ms "
          f"(peak {kt['job_peak_mb']:.0f} MB); distance step {kt['distance_s'] * 1000:.1f} ms; "
          f"within 250/500/800/1000 m: {kc}")
    print(f"  bare scipy {st * 1000:.1f} ms (node-based, min_only) → kennai distance step / scipy = "
          f"{kt['distance_s'] / st:.2f}×; counts {sc}")
    if net.n_nodes <= NX_MAX_NODES:
        ox = osmnx_isochrones(net, res_node, place_node, nx_budget_s)
        note = (f" (extrapolated from {ox['places_run']} places)" if ox["extrapolated"] else "")
        print(f"  OSMnx ego_graph: graph {ox['build_s']:.2f} s, isochrones {ox['query_s']:.2f} s"
              f"{note} (peak {ox['peak_mb']:.0f} MB) → {ox['query_s'] / job_k:,.0f}× kennai's job; "
              f"counts {ox['counts']}")
    else:
        print(f"  OSMnx ego_graph: skipped above {NX_MAX_NODES:,} nodes (networkx graph memory)")
    if net.n_nodes > pandana_max:
        print(f"  pandana: skipped above {pandana_max:,} nodes (contraction takes minutes)")
    else:
        pd_ = pandana_job(net, res_xy, place_xy)
        if "skipped" in pd_:
            print(f"  pandana: {pd_['skipped']}")
        else:
            total = pd_["setup_s"] + pd_["query_s"]
            print(f"  pandana setup {pd_['setup_s']:.2f} s + query {pd_['query_s']:.3f} s "
                  f"(peak traced {pd_['peak_mb']:.0f} MB) → setup+query {total / job_k:,.0f}× "
                  f"kennai's job, query alone {pd_['query_s'] / job_k:.1f}×; counts {pd_['counts']}")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--places", type=int, default=100)
    ap.add_argument("--pandana-max", type=int, default=100_000,
                    help="largest graph (nodes) given to pandana")
    ap.add_argument("--nx-budget", type=float, default=40.0,
                    help="seconds of ego_graph per dataset before extrapolating")
    args = ap.parse_args()
    rng = np.random.default_rng(42)
    started = time.perf_counter()
    for name, path, crs, bld in (
            ("Ishigaki", SHARED / "ishigaki" / "network" / "ishigaki_city_osm_2024-04-11.osm.pbf",
             CRS.from_epsg(6684), True),
            ("Malta", SHARED / "bench" / "malta_osm_2016-11-09.osm.pbf", CRS.from_epsg(32633),
             False)):
        if not path.is_file():
            print(f"\n=== {name}: skipped, {path} not found")
            continue
        net, res_xy, info = osm_dataset(path, crs, buildings=bld)
        pts = _edge_points(net, 50.0)
        place_xy = pts[rng.choice(len(pts), size=args.places, replace=False)]
        run(name, net, res_xy, place_xy, info, args.nx_budget, args.pandana_max)
        del net, res_xy
    for size in args.sizes:
        net, t_build, _ = measure(lambda size=size: grid(size))
        pts = _edge_points(net, 50.0)
        res_xy = pts[rng.choice(len(pts), size=min(len(pts), size // 2), replace=False)]
        place_xy = pts[rng.choice(len(pts), size=args.places, replace=False)]
        run(f"grid {size:,}", net, res_xy, place_xy, {"make_grid_s": t_build}, args.nx_budget,
            args.pandana_max)
        del net, res_xy, pts
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS {peak_rss:,.0f} MB; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
