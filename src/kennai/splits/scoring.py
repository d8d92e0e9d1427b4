"""How badly a plan splits the units: which pieces count, scores, patterns and balance.

From the pieces of :mod:`kennai.splits.overlay` come, in order: which pieces count (above the
:class:`~kennai.splits.model.SplitTolerances`, a unit's largest piece always), each unit's
redistricting-style scores (counted pieces, effective splits, uncertainty of membership) and
its main area, the pattern A/B/一致/C of each plan area, each area's population (or area) under the
plan and under the split-free alternative (every unit wholly in its main area), and the
plan's summary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kennai.geometry import finite_round
from kennai.splits.model import PATTERNS, Pattern, SplitTolerances

#: Why a piece does not count (the first tolerance it fails, in this order).
_REASONS = ("area_share", "area_m2", "population")


def count_pieces(pieces: pd.DataFrame, has_population: bool, tol: SplitTolerances
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Which pieces count, and the first tolerance each ignored piece fails."""
    fails = {
        "area_share": pieces["area_share"].to_numpy() < tol.min_area_share,
        "area_m2": pieces["area_m2"].to_numpy() < tol.min_area_m2,
        "population": (pieces["population"].to_numpy() < tol.min_population) if has_population
        else np.zeros(len(pieces), dtype=bool),
    }
    reason = np.full(len(pieces), None, dtype=object)
    for name in reversed(_REASONS):
        reason[fails[name]] = name
    counted = pd.isna(reason)
    # A unit's largest piece always counts: a unit lies somewhere, however small it is.
    largest = pieces.groupby("unit_index")["area_m2"].idxmax().to_numpy()
    counted[largest] = True
    reason[largest] = None
    return counted, reason


def unit_scores(pieces: pd.DataFrame, n_units: int, has_population: bool
                 ) -> pd.DataFrame:
    """Per unit: counted pieces, main area, effective splits and uncertainty of membership.

    The shares ``p`` are the counted pieces' population shares (area shares without
    population), renormalised over the counted pieces so slivers do not make a whole unit look
    split: effective splits ``1/Σp² − 1`` (0 for a whole unit, 1 for two equal halves),
    uncertainty ``−Σ p log₂ p`` (bits).
    """
    c = pieces[pieces["counted"]].copy()
    weight = c["population"].to_numpy() if has_population else c["area_m2"].to_numpy()
    # Where a unit has no residents, fall back to its area.
    unit_pop = c.groupby("unit_index")["population"].transform("sum").to_numpy() \
        if has_population else np.zeros(len(c))
    weight = np.where(unit_pop > 0, weight, c["area_m2"].to_numpy())
    c["w"] = weight
    c["p"] = c["w"] / c.groupby("unit_index")["w"].transform("sum")
    c["p2"] = c["p"] ** 2
    c["plogp"] = np.where(c["p"] > 0, -c["p"] * np.log2(c["p"].where(c["p"] > 0, 1.0)), 0.0)
    g = c.groupby("unit_index")
    main = c.loc[g["w"].idxmax(), ["unit_index", "area"]].set_index("unit_index")["area"]
    out = pd.DataFrame(index=pd.RangeIndex(n_units))
    out["n_pieces"] = g.size().reindex(out.index, fill_value=0).astype(int)
    out["main_area"] = main.reindex(out.index).astype(object)
    out["effective_splits"] = (1.0 / g["p2"].sum() - 1.0).reindex(out.index, fill_value=0.0)
    out["uncertainty"] = g["plogp"].sum().reindex(out.index, fill_value=0.0) + 0.0  # no -0.0
    out["split"] = out["n_pieces"] >= 2
    return out


def _partly_uncovered(units: pd.DataFrame, tol: SplitTolerances) -> np.ndarray:
    """Units in some plan area whose part outside every area is more than digitising noise
    (the area tolerances a piece must reach to count)."""
    share = units["uncovered_share"].to_numpy()
    return ((units["n_pieces"].to_numpy() > 0) & (share > 0) & (share >= tol.min_area_share)
            & (share * units["area_m2"].to_numpy() >= tol.min_area_m2))


def classify_areas(pieces: pd.DataFrame, units: pd.DataFrame, area_names: Sequence[str], *,
                    tolerances: SplitTolerances) -> pd.DataFrame:
    """Pattern A/B/一致(M)/C of each plan area with its whole and partial units.

    A: every unit lies wholly in this area and the plan leaves no part of any unit outside
    it (the area is the whole municipality); B: two or more whole units only, as the guidance
    reserves B for an area made of several 小学校区; M (一致): exactly one whole unit, the area
    coincides with it; C: at least one unit is cut; ``-``: no unit lies in it. A plan leaving
    part of the town uncovered has no A.
    """
    c = pieces[pieces["counted"]]
    split = units["split"].to_numpy()
    names = units["name"].to_numpy()
    town_covered = bool((units["n_pieces"] > 0).all()) and not _partly_uncovered(
        units, tolerances).any()
    rows = []
    members = c.groupby("area")["unit_index"].agg(list)
    for name in area_names:
        idx = members.get(name, [])
        whole = [names[i] for i in idx if not split[i]]
        partial = [names[i] for i in idx if split[i]]
        if not idx:
            pattern: Pattern = "-"
        elif partial:
            pattern = "C"
        elif town_covered and len(whole) == len(units):
            pattern = "A"
        elif len(whole) == 1:
            pattern = "M"
        else:
            pattern = "B"
        rows.append({"name": name, "pattern": pattern, "whole_units": whole,
                     "partial_units": partial})
    return pd.DataFrame(rows, columns=["name", "pattern", "whole_units", "partial_units"])


def balance(pieces: pd.DataFrame, units: pd.DataFrame, areas: pd.DataFrame,
             measure: str) -> pd.DataFrame:
    """Each area's population (or area) under the plan and under the split-free alternative."""
    before = pieces.groupby("area")[measure].sum()
    after = units.groupby("main_area")[measure].sum()
    out = areas.copy()
    out["before"] = before.reindex(out["name"]).fillna(0.0).to_numpy()
    out["after"] = after.reindex(out["name"]).fillna(0.0).to_numpy()
    for col in ("before", "after"):
        mean = out[col].mean()
        out[f"deviation_{col}"] = (out[col] - mean) / mean if mean > 0 else np.nan
    # 65+ per area; one unknown count makes the area's total unknown, not smaller.
    old_before = pieces.groupby("area")["population_65plus"].sum(skipna=False)
    old_after = units.groupby("main_area")["population_65plus"].sum(skipna=False)
    empty = 0.0 if pieces["population_65plus"].notna().any() else np.nan  # an area with no unit
    out["population_65plus"] = old_before.reindex(out["name"], fill_value=empty).to_numpy()
    out["population_65plus_after"] = old_after.reindex(out["name"], fill_value=empty).to_numpy()
    return out


def split_summary(pieces: pd.DataFrame, units: pd.DataFrame, areas: pd.DataFrame,
             has_population: bool, measure: str, tolerances: SplitTolerances) -> dict[str, Any]:
    split = units["split"].to_numpy()
    weight = units["population"].to_numpy() if has_population else units["area_m2"].to_numpy()
    total_w = float(weight.sum())
    pop_total = float(units["population"].sum()) if has_population else None
    pop_split = float(units.loc[split, "population"].sum()) if has_population else None
    old = units["population_65plus"].to_numpy(dtype=float)
    old_total = float(old.sum()) if has_population else math.nan
    old_split = float(old[split].sum()) if has_population else math.nan
    patterns = {p: int((areas["pattern"] == p).sum()) for p in PATTERNS}
    return {
        "units": len(units),
        "units_split": int(split.sum()),
        "units_split_3plus": int((units["n_pieces"] >= 3).sum()),
        "split_units": units.loc[split, "name"].tolist(),
        "pieces": int(pieces["counted"].sum()),
        "splits": int((units["n_pieces"] - 1).clip(lower=0).sum()),
        "slivers_ignored": int((~pieces["counted"]).sum()),
        "effective_splits": round(float(units["effective_splits"].sum()), 6),
        "uncertainty": round(float((units["uncertainty"] * weight).sum() / total_w), 6)
        if total_w > 0 else 0.0,
        "population_total": finite_round(pop_total, 1),
        "population_in_split_units": finite_round(pop_split, 1),
        "population_in_split_units_share": round(pop_split / pop_total, 6)
        if pop_total and pop_split is not None else None,
        "population_65plus_total": finite_round(old_total, 1),
        "population_65plus_in_split_units": finite_round(old_split, 1),
        "population_65plus_in_split_units_share": round(old_split / old_total, 6)
        if math.isfinite(old_total) and math.isfinite(old_split) and old_total > 0 else None,
        "areas": len(areas),
        "patterns": patterns,
        "measure": measure,
        "max_deviation_before": finite_round(areas["deviation_before"].abs().max(), 6),
        "max_deviation_after": finite_round(areas["deviation_after"].abs().max(), 6),
        "units_not_covered": int((units["n_pieces"] == 0).sum()),
        "uncovered_units": units.loc[units["n_pieces"] == 0, "name"].tolist(),
        "partly_uncovered_units": units.loc[_partly_uncovered(units, tolerances), "name"].tolist(),
    }
