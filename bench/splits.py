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
tolerances, scores, patterns and alternative in about the same time.)

``--population K`` adds K synthetic small areas (with a 65+ count) to disaggregate by areal
weighting. The unit × small-area overlay does not depend on the plan: kennai builds it on the
first analysis of a units layer ("cold") and reuses it for every later plan ("warm": a second,
different plan on the same units, as when comparing plans or serving uploads). Both are timed.

``--api CONFIG`` times the web API's plan upload (``POST /regions/{region}/plans/upload``,
GeoJSON of the region's junior-high districts, split report against the elementary districts)
on a built region (``kennai build CONFIG`` first): the first request and the mean of the next.

Run: ``PYTHONPATH=src .venv/bin/python bench/splits.py [--units N] [--plan M] [--population K]
[--no-overlay] [--kinds nested,independent] [--api pipelines/yaizu.yaml]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

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


def make_pair(n_units: int, n_plan: int, kind: str, seed: int = 1, plan_seed: int | None = None
              ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Synthetic units and plan (``name`` + polygons) of the given sizes.

    ``plan_seed`` draws another plan over the same units (default: drawn after the units).
    """
    rng = np.random.default_rng(seed)
    units = gpd.GeoDataFrame({"name": [f"u{i}" for i in range(n_units)]},
                             geometry=_tessellation(n_units, rng), crs=CRS)
    if plan_seed is not None:
        rng = np.random.default_rng(plan_seed)
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
    """``n`` small areas (Voronoi cells) with random counts, about 30 % of them aged 65+."""
    rng = np.random.default_rng(seed)
    cells = _tessellation(n, rng)
    people = rng.integers(0, 3000, len(cells)).astype(float)
    return gpd.GeoDataFrame({"population": people,
                             "population_65plus": np.floor(people * rng.uniform(0.2, 0.4, len(cells)))},
                            geometry=cells, crs=CRS)


def naive_overlay(units: gpd.GeoDataFrame, plan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The textbook way: overlay, then areas and shares per unit."""
    out = gpd.overlay(units.rename(columns={"name": "unit"}), plan, how="intersection",
                      keep_geom_type=True)
    out["area_m2"] = out.area
    out["area_share"] = out["area_m2"] / out["unit"].map(units.set_index("name").area)
    return out


def bench_api(config: Path, repeat: int = 5) -> None:
    """Time the API upload of the region's junior-high districts as a plan (see module doc)."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(config, register_path=Path(tmp) / "register.sqlite", token="bench")
        region = app.state.kennai.region
        body = region.layer("junior_high")[["name", "geometry"]].to_crs("EPSG:4326").to_json()
        url = f"/api/v1/regions/{region.name}/plans/upload"
        with TestClient(app) as client:
            times = []
            for _ in range(repeat + 1):
                t0 = time.perf_counter()
                r = client.post(url, params={"units": "elementary", "name_column": "name"},
                                files={"file": ("plan.geojson", body.encode(), "application/geo+json")})
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
        split = r.json()["summary"]["split_units"]
        print(f"[api] {region.name}: upload of the junior-high plan → {len(split)} units split; "
              f"first request {times[0]:.3f} s, next {np.mean(times[1:]):.3f} s "
              f"(mean of {repeat})  target < 1 s: {'OK' if max(times) < 1 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--plan", type=int, default=10_000)
    parser.add_argument("--population", type=int, default=0,
                        help="also disaggregate this many synthetic small areas (0: none)")
    parser.add_argument("--no-overlay", action="store_true", help="skip the naive overlay")
    parser.add_argument("--kinds", default="nested,independent")
    parser.add_argument("--api", type=Path, default=None,
                        help="only time the API plan upload on this built region's config")
    args = parser.parse_args()
    if args.api is not None:
        bench_api(args.api)
        return
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
        label = "analyse_splits (cold)" if population is not None else "analyse_splits"
        print(f"  kennai.splits.{label}: {fast:6.2f} s  ({len(report.pieces):,} pieces, "
              f"{s['units_split']:,} units split, {s['slivers_ignored']:,} slivers ignored)  "
              f"target < 10 s: {'OK' if fast < 10 else 'MISSED'}")
        if population is not None:
            # Another plan on the same units and small areas: the overlay is reused.
            _, other = make_pair(args.units, args.plan, kind, plan_seed=3)
            t0 = time.perf_counter()
            again = analyse_splits(units, other, population=population)
            warm = time.perf_counter() - t0
            print(f"  kennai.splits.analyse_splits (warm, another plan): {warm:6.2f} s  "
                  f"({again.summary['units_split']:,} units split; 65+ in split units "
                  f"{again.summary['population_65plus_in_split_units_share'] or 0:.1%})  "
                  f"target < 10 s: {'OK' if warm < 10 else 'MISSED'}")
        if args.no_overlay:
            continue
        t0 = time.perf_counter()
        naive = naive_overlay(units, plan)
        slow = time.perf_counter() - t0
        print(f"  naive geopandas.overlay:      {slow:6.2f} s  ({len(naive):,} pieces)  "
              f"ratio overlay/kennai: {slow / fast:.1f}×")


if __name__ == "__main__":
    main()
