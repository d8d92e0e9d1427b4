"""地区カルテ: what one district's profile says, gathered once for its PDF page and HTML twin.

A coordinator opens a discussion between neighbourhoods with one page per district: its
population, residents aged 65 and over and 高齢化率 beside the city's; its gathering places;
walking coverage at each threshold for every kind of destination (gathering places first, then
the region's other destinations side by side); its largest gaps; how each 第2層 plan splits it.
The figures are read from the access results' coverage tables (the same rows ``kennai access
--by <layer>`` prints), so a page never disagrees with the tables. Drawing lives in
:mod:`kennai.maps.karte_render`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import shapely

from kennai.access import (
    PLACES_KIND,
    AccessOptions,
    AccessResults,
    coverage_table,
    district_gaps,
    kind_title,
    region_gaps,
    results_for,
)
from kennai.config import POLYGON_KINDS
from kennai.coverage_base import base_note
from kennai.errors import NotFoundError, TreasureMapError
from kennai.i18n import t
from kennai.maps.content import district_places, pace_text
from kennai.progress import Progress, counted, no_progress, within
from kennai.region import Region
from kennai.splits.analysis import split_report_for_region
from kennai.splits.model import SplitReport

#: The "layer" of a single profile of the whole region (a city without district layers).
REGION_LAYER = "region"
#: How many gaps a page lists.
GAPS_SHOWN = 3
_LAYER_TITLES = {"elementary": "小学校区", "junior_high": "中学校区", "neighbourhood": "自治会"}


@dataclass(frozen=True)
class KindCoverage:
    """Walking coverage of one district for one kind of destination.

    ``coverage`` maps a threshold label (``500m``, ``10min``) to the share of the district's
    residents on the network within it (``None`` when nobody there has a network).
    """

    kind: str
    title: str
    coverage: dict[str, float | None]
    coverage_65plus: dict[str, float | None] | None
    median_distance_m: float | None
    destinations: int
    #: What the shares are of (:func:`kennai.coverage_base.base_note`), e.g.
    #: 「ネットワーク上の住民 8% のうち」; empty when they are of everyone.
    base: str = ""
    straight_line: bool = False


@dataclass(frozen=True)
class PlanStatus:
    """How one 第2層 plan treats the district: whole in one area, or split between several."""

    plan: str
    title: str
    split: bool
    areas: tuple[str, ...]


@dataclass(frozen=True)
class DistrictProfile:
    """Everything one district's カルテ shows (see the module docstring)."""

    layer: str
    layer_title: str
    name: str
    region_title: str
    population: float
    population_65plus: float | None
    no_network_population: float
    city_population: float
    city_population_65plus: float | None
    places: list[dict[str, Any]]
    coverage: list[KindCoverage]
    gaps: list[dict[str, Any]]
    splits: list[PlanStatus]
    shape: shapely.Geometry
    thresholds: tuple[str, ...] = field(default=())
    pace: str = ""

    @property
    def ageing_rate(self) -> float | None:
        """高齢化率: the share of residents aged 65 and over (``None`` without age data)."""
        return _rate(self.population_65plus, self.population)

    @property
    def city_ageing_rate(self) -> float | None:
        """The city's 高齢化率, to print beside the district's."""
        return _rate(self.city_population_65plus, self.city_population)


def _rate(part: float | None, whole: float) -> float | None:
    return None if part is None or whole <= 0 else part / whole


def layer_title(region: Region, layer: str) -> str:
    """The district layer's title from the config (「小学校区」 when it has none)."""
    cfg = region.config.layers.get(layer)
    return cfg.title if cfg is not None and cfg.title else _LAYER_TITLES.get(layer, layer)


def _table(results: AccessResults, region: Region, layer: str) -> list[dict[str, Any]]:
    """The layer's coverage rows: those the build stored, else computed the same way."""
    stored = results.coverage.get(f"layer:{layer}")
    if stored is not None:
        return stored
    return coverage_table(results, region.layer(layer))


def _city_row(results: AccessResults, region: Region) -> dict[str, Any]:
    stored = results.coverage.get("region")
    if stored:
        return stored[0]
    return coverage_table(results, region_name=region.config.title)[0]


def _row(rows: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    return next((r for r in rows if str(r["name"]) == name), None)


def _plan_status(region: Region, report: SplitReport, plan: str, district: str) -> PlanStatus:
    pieces = report.pieces
    mine = pieces[(pieces["unit"].astype(str) == district) & pieces["counted"].astype(bool)]
    mine = mine.sort_values("area_m2", ascending=False)
    areas = tuple(dict.fromkeys(mine["area"].astype(str)))
    title = next((p.title for p in region.config.plans if p.name == plan and p.title), plan)
    return PlanStatus(plan=plan, title=title, split=len(areas) > 1, areas=areas)


def district_profiles(region: Region, results: Mapping[str, AccessResults], *, layer: str,
                      districts: Sequence[str] | None = None,
                      kind_titles: Mapping[str, str] | None = None,
                      progress: Progress = no_progress) -> list[DistrictProfile]:
    """The profiles of ``districts`` (every district of ``layer`` when ``None``), in layer order.

    ``layer="region"`` makes one profile of the whole region (for a city without district
    layers, such as Ishigaki).

    Parameters
    ----------
    results
        Access results per kind of destination; :data:`PLACES_KIND` (the gathering places)
        must be there and comes first on the page, the others follow in the given order.
    kind_titles
        A title per kind for the coverage table's columns (the kind's name otherwise).
    progress
        Told the districts as their profiles are made.

    Raises
    ------
    NotFoundError
        For a layer that is not a district layer of the region, or an unknown district.
    """
    whole = layer == REGION_LAYER
    if not whole and (layer not in POLYGON_KINDS or not region.has_layer(layer)):
        known = [k for k in POLYGON_KINDS if region.has_layer(k)] + [REGION_LAYER]
        raise NotFoundError(t(f"区域のレイヤ「{layer}」はありません（あるもの: {', '.join(known)}）",
                              f"no district layer {layer!r} (there are: {', '.join(known)})"),
                            feature="--layer", hint=t("例: --layer elementary", "e.g. --layer elementary"))
    if PLACES_KIND not in results:
        raise NotFoundError(t("集いの場のアクセス結果がありません", "no access results for the places"),
                            feature="access", hint=t("kennai build を実行してください", "run kennai build"))
    if whole:
        names = [region.config.title]
    else:
        names = list(districts) if districts is not None else \
            list(dict.fromkeys(region.layer(layer)["name"].astype(str)))
        for name in names:
            region.district_row(layer, name)  # raises NotFoundError for an unknown district
    titles = {PLACES_KIND: "集いの場", **(kind_titles or {})}
    kinds = [PLACES_KIND, *(k for k in results if k != PLACES_KIND)]
    tables = {k: [_city_row(results[k], region)] if whole else _table(results[k], region, layer)
              for k in kinds}
    base = results[PLACES_KIND]
    city = _city_row(base, region)
    reports = {} if whole else {p: split_report_for_region(region, p, layer)
                                for p in region.plan_names}
    ltitle = "市全体" if whole else layer_title(region, layer)
    out = []
    for name in counted(progress, t("地区カルテの集計", "district profiles").get(), names):
        row = _row(tables[PLACES_KIND], name)
        if row is None:  # a district with no residents at all gets no row
            row = {"population": 0.0, "population_65plus": None, "no_network_population": 0.0}
        coverage = []
        for k in kinds:
            krow = _row(tables[k], name) or {}
            coverage.append(KindCoverage(
                kind=k, title=titles.get(k, k), coverage=dict(krow.get("coverage") or {}),
                coverage_65plus=krow.get("coverage_65plus"),
                median_distance_m=krow.get("median_distance_m"),
                destinations=int(results[k].info.get("places", len(results[k].places))),
                base=base_note(krow).ja.strip() if krow else "",
                straight_line=krow.get("method") == "straight_line"))
        if whole:
            gaps = region_gaps(region, base).head(GAPS_SHOWN)
            places = region.layer(PLACES_KIND).sort_values("place_id", kind="stable")
            places = places.assign(number=range(1, len(places) + 1))
            shape = region.outline
        else:
            gaps = district_gaps(region, base, layer=layer, district=name).gaps.head(GAPS_SHOWN)
            places = district_places(region, layer=layer, district=name)
            districts_gdf, index = region.district_row(layer, name)
            shape = districts_gdf.geometry.iloc[index]
        out.append(DistrictProfile(
            layer=layer, layer_title=ltitle, name=name, region_title=region.config.title,
            population=float(row["population"]), population_65plus=row.get("population_65plus"),
            no_network_population=float(row.get("no_network_population") or 0.0),
            city_population=float(city["population"]),
            city_population_65plus=city.get("population_65plus"),
            places=[{"number": int(p["number"]), "name": str(p["name"]),
                     "category": str(p["category"]), "x": float(p["geometry"].x),
                     "y": float(p["geometry"].y)} for p in places.to_dict("records")],
            coverage=coverage,
            gaps=[{"rank": int(g["rank"]), "population": float(g["population"]),
                   "population_65plus": (None if pd.isna(g["population_65plus"])
                                         else float(g["population_65plus"])),
                   "district": g["district"], "area_ha": float(g["area_ha"])}
                  for g in gaps.to_dict("records")],
            splits=[_plan_status(region, rep, p, name) for p, rep in reports.items()],
            shape=shape,
            thresholds=tuple(th.label for th in base.options.thresholds),
            pace=pace_text(base.options)))
    return out


def karte_profiles(region: Region, *, layer: str, district: str | None = None,
                   all_districts: bool = False, progress: Progress = no_progress
                   ) -> list[DistrictProfile]:
    """The profiles one カルテ request asks for, the same from the command line and the API.

    Access to the gathering places comes from the build (or is computed now); every other kind
    of destination the region names comes beside it (:func:`kennai.access.results_for` with the kind).

    Raises
    ------
    TreasureMapError
        When neither a district nor ``all_districts`` is given.
    NotFoundError
        For an unknown layer or district.
    """
    from kennai.access.surface import access_results

    if not all_districts and not district and layer != REGION_LAYER:
        raise TreasureMapError(t("--district か --all を指定してください", "give --district or --all"),
                               feature="--district", hint=t("例: --district 焼津東小学校",
                                                            "e.g. --district 焼津東小学校"))
    results: dict[str, AccessResults] = {PLACES_KIND: access_results(region)}
    for kind in region.config.destinations:
        results[kind] = results_for(region, AccessOptions(), kind=kind,
                                    progress=within(progress, kind))
    return district_profiles(region, results, layer=layer,
                             districts=None if all_districts else [str(district)],
                             kind_titles={k: kind_title(region, k) for k in results},
                             progress=progress)
