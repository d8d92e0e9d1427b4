"""The polygons access results are summarised by: a region's district layers and its plans."""

from __future__ import annotations

import geopandas as gpd
import shapely

from kennai.config import POLYGON_KINDS
from kennai.errors import NotFoundError
from kennai.i18n import t
from kennai.region import Region


def polygon_layers(region: Region) -> dict[str, gpd.GeoDataFrame]:
    """Every district layer and plan of a region, keyed ``layer:<kind>`` / ``plan:<name>``."""
    out = {f"layer:{k}": region.layer(k) for k in POLYGON_KINDS if region.has_layer(k)}
    out |= {f"plan:{p}": region.plan(p) for p in region.plan_names}
    return out


def resolve_polygons(region: Region, by: str) -> tuple[str, gpd.GeoDataFrame]:
    """A ``--by`` value (layer kind, plan name, ``plan:<name>``) → its key and polygons."""
    name = by.removeprefix("layer:")
    if name in POLYGON_KINDS and region.has_layer(name):
        return f"layer:{name}", region.layer(name)
    plan = name.removeprefix("plan:")
    if plan in region.plan_names:
        return f"plan:{plan}", region.plan(plan)
    known = [k for k in POLYGON_KINDS if region.has_layer(k)] + [f"plan:{p}" for p in region.plan_names]
    raise NotFoundError(t(f"区域「{by}」はありません（あるもの: {', '.join(known) or 'なし'}）",
                          f"no district layer or plan {by!r} (there are: {', '.join(known) or 'none'})"),
                        feature=by, hint=t("小学校区なら elementary、計画ならその名前を指定してください",
                                           "use e.g. elementary, or a plan's name"))


def named_district(region: Region, layer: str, district: str) -> gpd.GeoDataFrame:
    """The pieces named ``district`` of a district layer or plan (``layer`` as for ``--by``).

    Raises :class:`NotFoundError`, listing the names there are, when there is none.
    """
    key, polygons = resolve_polygons(region, layer)
    match = polygons[polygons["name"].astype(str) == district]
    if match.empty:
        names = ", ".join(sorted(map(str, polygons["name"].unique()))[:20])
        raise NotFoundError(t(f"{key} に区域「{district}」はありません（あるもの: {names}）",
                              f"no district {district!r} in {key} (there are: {names})"),
                            feature=district, hint=t("区域の一覧で名称を確認してください",
                                                     "check the names in the district list"))
    return match


def district_geometry(region: Region, *, layer: str, district: str) -> shapely.Geometry:
    """The polygon of the first district named ``district`` in the district layer ``layer``.

    Raises :class:`NotFoundError` when ``layer`` is not a district layer or has no district of
    that name.
    """
    districts, row = region.district_row(layer, district)
    return districts.geometry.iloc[row]


def gap_districts(region: Region) -> gpd.GeoDataFrame | None:
    """The district layer a region's gaps are split at and named by: the first of
    :data:`kennai.config.POLYGON_KINDS` the region has (小学校区 before 中学校区 before 自治会),
    as the unit coordinators rank gaps in; ``None`` when it has none."""
    for kind in POLYGON_KINDS:
        if region.has_layer(kind):
            return region.layer(kind)
    return None
