"""Coverage tables: who can walk to a place within each threshold, per district or region-wide.

Every row states its base: shares are of the residents on the network (``base:
population_on_network``, ``base_share`` of everyone), or of everyone for a region without a
network (``method: straight_line``). Residents outside the network's extent are counted apart
(``no_network_population``), never as "not covered"; residents on a part of the network with no
place are ``unreachable_population`` (in the base, never within reach). Rows flatten to CSV
columns with :func:`coverage_frame`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from kennai.access.options import Threshold
from kennai.access.results import AccessResults
from kennai.geometry import finite_round, weighted_median


def _summary(rows: pd.DataFrame, name: str, thresholds: tuple[Threshold, ...],
             straight_m: float, method: str) -> dict[str, Any]:
    pop = rows["population"].to_numpy(float)
    p65 = rows["population_65plus"].to_numpy(float)
    has65 = bool(len(p65)) and not np.isnan(p65).all()
    p65 = np.nan_to_num(p65)
    straight_only = method == "straight_line"
    # The base of every share: residents on the network, or everyone for straight lines.
    on = np.ones(len(rows), dtype=bool) if straight_only else (rows["status"] == "ok").to_numpy()
    dist = rows["distance_m"].to_numpy(float)
    mins = rows["time_min"].to_numpy(float)
    base, base65 = float(pop[on].sum()), float(p65[on].sum())
    total = float(pop.sum())
    unreachable = np.zeros(len(rows), dtype=bool) if straight_only else on & ~np.isfinite(dist)

    def within(mask: np.ndarray, w: np.ndarray, total: float) -> float | None:
        return finite_round(float(w[mask & on].sum()) / total) if total > 0 else None

    cov, cov65 = {}, {}
    for th in thresholds:
        mask = (dist <= th.value) if th.unit == "m" else (mins <= th.value)
        cov[th.label] = within(mask, pop, base)
        cov65[th.label] = within(mask, p65, base65) if has65 else None
    metre = [th for th in thresholds if th.unit == "m"]
    worst = max(metre, key=lambda th: th.value) if metre else None
    beyond = ~(dist <= worst.value) & on if worst is not None else None
    label = f"{int(straight_m) if float(straight_m).is_integer() else straight_m}m"
    return {
        "name": name,
        "population": round(total, 1),
        "population_65plus": round(float(p65.sum()), 1) if has65 else None,
        "population_on_network": 0.0 if straight_only else round(base, 1),
        "no_network_population": round(total if straight_only else float(pop[~on].sum()), 1),
        "no_network_population_65plus": ((round(float(p65.sum() if straight_only else p65[~on].sum()), 1))
                                         if has65 else None),
        "unreachable_population": round(float(pop[unreachable].sum()), 1),
        "unreachable_population_65plus": (round(float(p65[unreachable].sum()), 1)
                                          if has65 else None),
        "coverage": cov,
        "coverage_65plus": cov65 if has65 else None,
        "median_distance_m": finite_round(weighted_median(dist[on], pop[on]), 1),
        "median_time_min": finite_round(weighted_median(mins[on], pop[on]), 1),
        "beyond_worst_threshold": worst.label if worst is not None else None,
        "population_beyond_worst": round(float(pop[beyond].sum()), 1) if beyond is not None else None,
        "population_65plus_beyond_worst": (round(float(p65[beyond].sum()), 1)
                                           if beyond is not None and has65 else None),
        "straight_line_coverage": {label: within(rows["straight_m"].to_numpy(float) <= straight_m,
                                                 pop, base)},
        "locations": len(rows),
        "method": method,
        "base": "population" if straight_only else "population_on_network",
        "base_share": finite_round(base / total) if total > 0 else None,
    }


#: Name of the coverage row for residents outside every polygon of the layer (e.g. a plan
#: covering only part of the town); the row is added only when there are any.
OUTSIDE_NAME = "（区域外）"


def coverage_table(results: AccessResults, polygons: gpd.GeoDataFrame | None = None, *,
                   thresholds: Iterable[Threshold] | None = None,
                   region_name: str = "") -> list[dict[str, Any]]:
    """Coverage per polygon (``name`` column), or one row for the whole region.

    Shares are of the population that has a network (``population_on_network``); residents
    outside the network's extent are counted apart in ``no_network_population``. Residents in
    no polygon at all get a last row named :data:`OUTSIDE_NAME`, so the rows always add up to
    the whole population.
    """
    ths = tuple(thresholds) if thresholds is not None else results.options.thresholds
    res = results.residents
    straight = results.options.straight_line_m
    method = str(results.info.get("method", "network"))
    if polygons is None:
        return [_summary(res, region_name, ths, straight, method)]
    polys = polygons[["name", "geometry"]].reset_index(drop=True)
    if polys.crs is not None and res.crs is not None and not polys.crs.equals(res.crs):
        polys = polys.to_crs(res.crs)
    # A resident on a shared border (``intersects``, not ``within``) counts once, in the first.
    joined = gpd.sjoin(res[["geometry"]], polys, how="inner", predicate="intersects")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = []
    for i, name in enumerate(polys["name"]):
        idx = joined.index[joined["index_right"].to_numpy() == i]
        out.append(_summary(res.loc[idx], str(name), ths, straight, method))
    outside = res[~res.index.isin(joined.index)]
    if len(outside) and (outside["population"] > 0).any():
        out.append(_summary(outside, OUTSIDE_NAME, ths, straight, method))
    return out


_NESTED = ("coverage", "coverage_65plus", "straight_line_coverage")


def coverage_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Coverage records flattened for CSV (``coverage_500m``, ``coverage_65plus_500m`` …).

    Columns keep the rows' own order (thresholds as given, not sorted as text), and a row with
    no 65+ figures gets empty ``coverage_65plus_*`` cells rather than a column of its own.
    """
    labels: dict[str, list[str]] = {key: [] for key in _NESTED}
    for r in rows:
        for key in _NESTED:
            src = r.get(key) or (r.get("coverage") if key == "coverage_65plus" else None) or {}
            labels[key] += [lb for lb in src if lb not in labels[key]]
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in _NESTED and k not in columns]
    columns += [f"{key}_{lb}" for key in _NESTED for lb in labels[key]]
    flat = []
    for r in rows:
        d = {k: v for k, v in r.items() if k not in _NESTED}
        for key in _NESTED:
            values = r.get(key) or {}
            d |= {f"{key}_{lb}": values.get(lb) for lb in labels[key]}
        flat.append(d)
    return pd.DataFrame(flat, columns=columns)
