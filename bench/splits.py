"""Benchmark: split analysis at nationwide size against a naive geopandas overlay.

Japan has about 19,000 elementary and 10,000 junior-high school districts. This builds a
synthetic pair of that size on a 580 km × 580 km square (about Japan's land area), with
boundaries segmentised to 100 m so each polygon has a realistic ~150–300 vertices:

- ``nested``: the plan is the units grouped two by two (like junior-high districts made of
  elementary districts) with every plan vertex moved by a smooth 0–6 m displacement field, so
  every shared boundary leaves digitising slivers (the realistic case);
- ``independent``: the plan is an unrelated tessellation (nearly every unit is cut: worst case).

``kennai.splits.analyse_splits`` is timed on each (target: < 10 s), then ``geopandas.overlay``
of the same pair with the areas and shares computed from it, for comparison. (geopandas ≥ 1.0
overlays through a spatial index and vectorised shapely too, so it is not slow; kennai adds the
tolerances, scores, patterns and alternative in about the same time.) ``--population K`` adds
K synthetic small areas to disaggregate (areal weighting), reported separately: it is not part
of the 10 s target and costs about one more intersection per unit × small-area pair.

Run: ``PYTHONPATH=src .venv/bin/python bench/splits.py [--units N] [--plan M] [--population K]
[--no-overlay]``
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import shapely

from kennai.splits import analyse_splits

SIDE_M = 580_000.0
CRS = "EPSG:6677"  # any projected CRS in metres


def _tessellation(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` Voronoi cells covering the square, boundaries segmentised to 100 m."""
    box = shapely.box(0, 0, SIDE_M, SIDE_M)
    seeds = shapely.multipoints(rng.uniform(0, SIDE_M, size=(n, 2)))
    cells = np.asarray(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=box)))
    cells = shapely.intersection(cells, box)
    return shapely.segmentize(cells, 100.0)


def _wobble(geoms: np.ndarray) -> np.ndarray:
    """Move every vertex by the same smooth field (≤ 6 m): shared edges stay shared."""
    def shift(xy: np.ndarray) -> np.ndarray:
        dx = 4.0 * np.sin(xy[:, 1] / 700.0) + 2.0 * np.cos(xy[:, 0] / 1900.0)
        dy = 4.0 * np.cos(xy[:, 0] / 800.0) + 2.0 * np.sin(xy[:, 1] / 2300.0)
        return xy + np.column_stack([dx, dy])
    return shapely.transform(geoms, shift)


def make_pair(n_units: int, n_plan: int, kind: str, seed: int = 1
              ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Synthetic units and plan (``name`` + polygons) of the given sizes."""
    rng = np.random.default_rng(seed)
    units = gpd.GeoDataFrame({"name": [f"u{i}" for i in range(n_units)]},
                             geometry=_tessellation(n_units, rng), crs=CRS)
    if kind == "independent":
        plan = gpd.GeoDataFrame({"name": [f"p{i}" for i in range(n_plan)]},
                                geometry=_tessellation(n_plan, rng), crs=CRS)
        return units, plan
    # Group units by the nearest of n_plan seeds, dissolve, then wobble the boundaries.
    seeds = gpd.GeoSeries(shapely.points(rng.uniform(0, SIDE_M, size=(n_plan, 2))), crs=CRS)
    centres = units.geometry.representative_point()
    _, nearest = seeds.sindex.nearest(centres, return_all=False)
    grouped = units.assign(group=nearest).dissolve(by="group")
    plan = gpd.GeoDataFrame({"name": [f"p{g}" for g in grouped.index]},
                            geometry=_wobble(np.asarray(grouped.geometry.values)), crs=CRS)
    return units, plan


def make_population(n: int, seed: int = 2) -> gpd.GeoDataFrame:
    """``n`` small areas (Voronoi cells) with random counts."""
    rng = np.random.default_rng(seed)
    cells = _tessellation(n, rng)
    return gpd.GeoDataFrame({"population": rng.integers(0, 3000, len(cells)).astype(float)},
                            geometry=cells, crs=CRS)


def naive_overlay(units: gpd.GeoDataFrame, plan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The textbook way: overlay, then areas and shares per unit."""
    out = gpd.overlay(units.rename(columns={"name": "unit"}), plan, how="intersection",
                      keep_geom_type=True)
    out["area_m2"] = out.area
    out["area_share"] = out["area_m2"] / out["unit"].map(units.set_index("name").area)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--plan", type=int, default=10_000)
    parser.add_argument("--population", type=int, default=0,
                        help="also disaggregate this many synthetic small areas (0: none)")
    parser.add_argument("--no-overlay", action="store_true", help="skip the naive overlay")
    parser.add_argument("--kinds", default="nested,independent")
    args = parser.parse_args()
    population = make_population(args.population) if args.population else None
    for kind in args.kinds.split(","):
        t0 = time.perf_counter()
        units, plan = make_pair(args.units, args.plan, kind)
        vertices = int(shapely.get_num_coordinates(np.asarray(units.geometry.values)).sum())
        print(f"[{kind}] {len(units):,} units ({vertices:,} vertices) × {len(plan):,} plan areas"
              f"{f' + {len(population):,} small areas' if population is not None else ''}"
              f"  (built in {time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
        report = analyse_splits(units, plan, population=population)
        fast = time.perf_counter() - t0
        s = report.summary
        print(f"  kennai.splits.analyse_splits: {fast:6.2f} s  ({len(report.pieces):,} pieces, "
              f"{s['units_split']:,} units split, {s['slivers_ignored']:,} slivers ignored)  "
              f"target < 10 s: {'OK' if fast < 10 else 'MISSED'}")
        if args.no_overlay:
            continue
        t0 = time.perf_counter()
        naive = naive_overlay(units, plan)
        slow = time.perf_counter() - t0
        print(f"  naive geopandas.overlay:      {slow:6.2f} s  ({len(naive):,} pieces)  "
              f"ratio overlay/kennai: {slow / fast:.1f}×")


if __name__ == "__main__":
    main()
