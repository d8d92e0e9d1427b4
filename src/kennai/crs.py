"""Choose the projected CRS a region is analysed in, from where its data lie.

In Japan that is the JGD2011 平面直角座標系 zone (EPSG:6669–6687, zone n = 6668 + n). The zones
are defined in 国土交通省告示「平面直角座標系」(平成14年国土交通省告示第9号) by prefecture; four
prefectures are split: Hokkaido by municipality (XI, XII, XIII), Tokyo's southern islands, Okinawa
and Kagoshima's islands by longitude/latitude lines. kennai therefore finds the *prefecture* of a
point from prefecture polygons shipped with the package (``data/jgd2011_zone_areas.geojson``: the
Japan Meteorological Agency's area polygons dissolved by prefecture, Hokkaido by zone; see
``scripts/make_zone_areas.py`` for source, licence and processing), then applies the 告示.

The location used is the median of the data's features, so one district drawn 900 km away does
not move the zone; such features are returned as findings instead. A municipality code (from the
config or the data) decides the zone directly where the 告示 does by municipality. Nothing here
falls back to a default zone: outside Japan the WGS84 UTM zone is used, so that benchmarks on
foreign data (Malta) still measure in metres.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from kennai.checks import Finding
from kennai.errors import ConfigError, InputError
from kennai.i18n import t

#: EPSG codes of JGD2011 / Japan Plane Rectangular CS I … XIX (zone n is 6668 + n).
JGD2011_ZONES = tuple(range(6669, 6688))

#: The zone of each prefecture (JIS code) where one zone covers the whole prefecture
#: (国土交通省告示「平面直角座標系」). Hokkaido, Tokyo (islands), Kagoshima (islands) and Okinawa
#: span several zones and are decided by municipality or location.
PREFECTURE_ZONE = {
    2: 10, 3: 10, 4: 10, 5: 10, 6: 10, 7: 9, 8: 9, 9: 9, 10: 9, 11: 9, 12: 9, 14: 9,
    15: 8, 16: 7, 17: 7, 18: 6, 19: 8, 20: 8, 21: 7, 22: 8, 23: 7, 24: 6, 25: 6, 26: 6, 27: 6,
    28: 5, 29: 6, 30: 6, 31: 5, 32: 3, 33: 5, 34: 3, 35: 3, 36: 4, 37: 4, 38: 4, 39: 4,
    40: 2, 41: 2, 42: 1, 43: 2, 44: 2, 45: 2,
}
#: Prefectures spanning several zones: the zones to choose among.
PREFECTURE_ZONES_MULTI = {1: (11, 12, 13), 13: (9, 14, 18, 19), 46: (1, 2), 47: (15, 16, 17)}

#: Hokkaido zone XI: 小樽市 函館市 伊達市 北斗市, 後志総合振興局, 胆振のうち豊浦町・壮瞥町・洞爺湖町,
#: 渡島総合振興局, 檜山振興局 (JIS municipality codes, 5 digits).
HOKKAIDO_XI = frozenset({
    "01202", "01203", "01233", "01236",
    *(f"0{n}" for n in range(1391, 1410)),                        # 後志
    "01571", "01575", "01584",                                   # 豊浦 壮瞥 洞爺湖
    "01331", "01332", "01333", "01334", "01337", "01343", "01345", "01346", "01347",  # 渡島
    "01361", "01362", "01363", "01364", "01367", "01370", "01371",  # 檜山
})
#: Hokkaido zone XIII: 北見市 帯広市 釧路市 網走市 根室市, オホーツクのうち美幌・津別・斜里・清里・
#: 小清水・訓子府・置戸・佐呂間・大空, 十勝, 釧路, 根室 (北方領土の村を含む).
HOKKAIDO_XIII = frozenset({
    "01206", "01207", "01208", "01211", "01223",
    "01543", "01544", "01545", "01546", "01547", "01549", "01550", "01552", "01564",
    *(f"0{n}" for n in range(1631, 1650)),                        # 十勝
    *(f"0{n}" for n in range(1661, 1669)),                        # 釧路
    *(f"0{n}" for n in range(1691, 1701)),                        # 根室, 北方領土
})
#: Okinawa and Kagoshima municipalities whose zone the code alone decides.
_OKINAWA_XVI = frozenset({"47207", "47214", "47375", "47381", "47382"})  # 石垣 宮古島 多良間 竹富 与那国
_OKINAWA_XVII = frozenset({"47357", "47358"})                           # 南大東 北大東
_KAGOSHIMA_I = frozenset({"46222", "46304", "46523", "46524", "46525", "46527", "46529", "46530",
                          "46531", "46532", "46533", "46534", "46535"})  # 奄美群島, 十島村
#: Municipalities split between zones: decided by location (小笠原村, 薩摩川内市 甑島, 三島村).
_BY_LOCATION = frozenset({"13421", "46215", "46303"})

#: Points this far (degrees) from every prefecture polygon are not in Japan.
_MAX_OFFSHORE_DEG = 0.5


def hokkaido_zone(municipality: str) -> int:
    """The zone (11, 12 or 13) of a Hokkaido municipality code (5 or 6 digits)."""
    code = municipality[:5]
    if code in HOKKAIDO_XI:
        return 11
    return 13 if code in HOKKAIDO_XIII else 12


def rule_zone(prefecture: int, lon: float, lat: float) -> int:
    """The zone of a point in Tokyo, Kagoshima or Okinawa by the 告示's coordinate lines.

    Tokyo: south of 28°N, XVIII west of 140°30′E, XIX east of 143°E, XIV between; else IX.
    Okinawa: XVI west of 126°E, XVII east of 130°E, else XV. Kagoshima: I for the islands within
    27–32°N, 128°18′–130°E (奄美群島 to 130°13′E), else II — mainland Kagoshima lies east of
    130°E (野間岬 130°09′E), so the box holds only islands there.
    """
    if prefecture == 13:
        if lat < 28.0:
            return 18 if lon < 140.5 else 19 if lon > 143.0 else 14
        return 9
    if prefecture == 47:
        return 16 if lon < 126.0 else 17 if lon > 130.0 else 15
    if prefecture == 46:
        in_box = 27.0 <= lat <= 32.0 and 128.3 <= lon <= 130.0
        amami = 27.0 <= lat < 29.0 and 128.3 <= lon <= 130.0 + 13 / 60
        return 1 if in_box or amami else 2
    if prefecture in PREFECTURE_ZONE:
        return PREFECTURE_ZONE[prefecture]
    raise ValueError(f"prefecture {prefecture} is split by municipality, not by coordinates")


@lru_cache(maxsize=1)
def _zone_areas() -> tuple[np.ndarray, np.ndarray, np.ndarray, shapely.STRtree]:
    """Prefecture polygons (Hokkaido: one per zone), their prefecture and Hokkaido zone."""
    text = (resources.files("kennai") / "data" / "jgd2011_zone_areas.geojson").read_text("utf-8")
    # The whole collection through GEOS's reader at once, in feature order: half the time of
    # one feature at a time (30 against 58 ms, the same geometries).
    geoms = shapely.get_parts(shapely.from_geojson(text))
    # The properties as scripts/make_zone_areas.py writes them, found in the text: parsing the
    # megabyte of JSON for them took 26 ms of every build that locates its region.
    props = _ZONE_PROPERTIES.findall(text)
    if len(geoms) != len(props):
        raise RuntimeError("jgd2011_zone_areas.geojson: one geometry and one "
                           '{"pref": …, "zone": …} per feature expected')
    prefs = np.array([int(pref) for pref, _ in props], dtype=np.int64)
    zones = np.array([0 if zone == "null" else int(zone) for _, zone in props], dtype=np.int64)
    return geoms, prefs, zones, shapely.STRtree(geoms)


#: A zone area's properties in the shipped GeoJSON (its only properties, in this order).
_ZONE_PROPERTIES = re.compile(r'"properties"\s*:\s*\{\s*"pref"\s*:\s*(\d+)\s*,\s*"zone"\s*:\s*'
                              r"(null|\d+)\s*\}")


def prefecture_at(lon: float, lat: float, *, prefecture: int | None = None
                  ) -> tuple[int, int | None] | None:
    """The prefecture of a point (and its zone in Hokkaido), or ``None`` outside Japan.

    A point at sea (a port, a breakwater) takes the nearest prefecture within about 50 km.
    ``prefecture`` restricts the search to that prefecture (its Hokkaido zones).
    """
    geoms, prefs, zones, tree = _zone_areas()
    pt = shapely.Point(lon, lat)
    hits = tree.query(pt, predicate="intersects")
    if prefecture is not None:
        hits = hits[prefs[hits] == prefecture]
    if not len(hits):
        pool = np.arange(len(geoms)) if prefecture is None else np.flatnonzero(prefs == prefecture)
        dist = shapely.distance(geoms[pool], pt)
        if not len(pool) or dist.min() > _MAX_OFFSHORE_DEG:
            return None
        hits = pool[[int(np.argmin(dist))]]
    i = int(hits[0])
    return int(prefs[i]), (int(zones[i]) or None)


def zone_at(lon: float, lat: float, *, prefecture: int | None = None,
            municipality: str | None = None) -> int | None:
    """The plane rectangular zone number (1–19) of a point, or ``None`` outside Japan.

    Parameters
    ----------
    lon, lat
        The location (EPSG:4326) the data lie at, e.g. their median.
    prefecture
        JIS prefecture code when known; it decides the zone where one zone covers it.
    municipality
        JIS municipality code (5 or 6 digits) when known; it decides the zone wherever the
        告示 does by municipality (all of Hokkaido, Okinawa's and Kagoshima's island towns).
    """
    if municipality:
        code = str(municipality).strip()[:5]
        pref = int(code[:2])
        if pref == 1:
            return hokkaido_zone(code)
        if pref in PREFECTURE_ZONE:
            return PREFECTURE_ZONE[pref]
        if code not in _BY_LOCATION:
            if pref == 13:
                return 9
            if pref == 47:
                return 16 if code in _OKINAWA_XVI else 17 if code in _OKINAWA_XVII else 15
            if pref == 46:
                return 1 if code in _KAGOSHIMA_I else 2
        prefecture = pref
    if prefecture in PREFECTURE_ZONE:
        return PREFECTURE_ZONE[prefecture]
    found = prefecture_at(lon, lat, prefecture=prefecture)
    if found is None:
        if prefecture in (13, 46, 47):  # a known prefecture's far island: the 告示 still decides
            return rule_zone(prefecture, lon, lat)
        return None
    pref, hokkaido = found
    return hokkaido if pref == 1 and hokkaido else rule_zone(pref, lon, lat)


def utm_zone(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone of a point."""
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _configured(setting: str) -> CRS:
    try:
        crs = CRS.from_user_input(setting)
    except PyprojCRSError:
        raise ConfigError(t(f"CRS「{setting}」が分かりません", f"unknown CRS {setting!r}"),
                          feature="crs", hint=t("auto か EPSG:6676 のように書いてください",
                                                "write auto or e.g. EPSG:6676")) from None
    if not crs.is_projected:
        raise ConfigError(t(f"分析用の CRS は投影座標系が必要です（{setting} は経緯度）",
                            f"the analysis CRS must be projected ({setting} is lon/lat)"),
                          feature="crs", hint=t("auto にするか平面直角座標系を指定してください",
                                                "use auto or a plane rectangular zone"))
    return crs


def crs_at(lon: float, lat: float, *, prefecture: int | None = None,
           municipality: str | None = None) -> CRS:
    """The analysis CRS for data lying at (lon, lat): the JGD2011 zone, or UTM abroad."""
    zone = zone_at(lon, lat, prefecture=prefecture, municipality=municipality)
    return CRS.from_epsg(6668 + zone) if zone else utm_zone(lon, lat)


def choose_crs(
    setting: str,
    lonlat_bounds: tuple[float, float, float, float],
    *,
    prefecture: int | None = None,
    municipality: str | None = None,
) -> CRS:
    """The analysis CRS: the configured one, or the zone at the centre of ``lonlat_bounds``.

    Parameters
    ----------
    setting
        ``"auto"`` or any CRS pyproj understands (``"EPSG:6676"``).
    lonlat_bounds
        The region's bounds in EPSG:4326 (minx, miny, maxx, maxy). Prefer
        :func:`choose_crs_for_layers`, which uses the median of the features instead, so that a
        far-away feature cannot move the zone.
    prefecture, municipality
        JIS codes when known (see :func:`zone_at`).
    """
    if setting != "auto":
        return _configured(setting)
    minx, miny, maxx, maxy = lonlat_bounds
    return crs_at((minx + maxx) / 2, (miny + maxy) / 2, prefecture=prefecture,
                  municipality=municipality)


def _haversine_km(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    la, la0 = np.radians(lat), np.radians(lat0)
    a = (np.sin((la - la0) / 2) ** 2
         + np.cos(la) * np.cos(la0) * np.sin(np.radians(lon - lon0) / 2) ** 2)
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def far_features(lon: np.ndarray, lat: np.ndarray, *, min_km: float = 50.0
                 ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """The median location of points and which points lie far from the rest.

    A point is far when it lies more than ``max(min_km, 10 × the median distance)`` from the
    median location: a district 900 km away is far, the edge of a long city is not.

    Returns
    -------
    tuple
        ``(lon, lat, far, distance_km)``: the median, a boolean mask, every point's distance.
    """
    lon0, lat0 = float(np.median(lon)), float(np.median(lat))
    dist = _haversine_km(lon, lat, lon0, lat0)
    limit = max(min_km, 10.0 * float(np.median(dist)))
    return lon0, lat0, dist > limit, dist


def choose_crs_for_layers(
    setting: str,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    prefecture: int | None = None,
    municipality: str | None = None,
) -> tuple[CRS, list[Finding]]:
    """The analysis CRS from where the features of a region's layers lie.

    The zone is that of the median of every feature's representative point; features far from
    the rest (:func:`far_features`) are reported as ``far_from_region`` warnings and do not
    move it.

    Parameters
    ----------
    setting
        ``"auto"`` or a projected CRS (then nothing is located and no finding is made).
    layers
        Layer kind → layer in any CRS (a ``name`` column names features in findings).
    prefecture, municipality
        JIS codes when known (see :func:`zone_at`).

    Returns
    -------
    tuple
        The CRS and the findings.

    Raises
    ------
    InputError
        When no layer has a located feature.
    """
    if setting != "auto":
        return _configured(setting), []
    kinds: list[str] = []
    names: list[str] = []
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for kind, gdf in layers.items():
        geoms = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
        if geoms.empty:
            continue
        pts = shapely.point_on_surface(geoms.to_crs("EPSG:4326").values)
        xs.append(shapely.get_x(pts))
        ys.append(shapely.get_y(pts))
        label = gdf.loc[geoms.index, "name"].astype(str) if "name" in gdf.columns else None
        names += (list(label) if label is not None else [f"#{i + 1}" for i in range(len(pts))])
        kinds += [kind] * len(pts)
    if not xs:
        raise InputError(t("位置の分かる地物がないため座標系を決められません",
                           "no located feature to choose the coordinate system from"),
                         hint=t("crs に EPSG:6676 のような座標系を書いてください",
                                "set crs to a projected CRS such as EPSG:6676"))
    lon, lat = np.concatenate(xs), np.concatenate(ys)
    lon0, lat0, far, dist = far_features(lon, lat)
    crs = crs_at(lon0, lat0, prefecture=prefecture, municipality=municipality)
    findings = [
        Finding("warning", "far_from_region", kinds[i],
                t(f"ほかの地物から {dist[i]:,.0f} km 離れています（座標系の選択には使っていません）",
                  f"lies {dist[i]:,.0f} km from the other features (not used to choose the "
                  "coordinate system)"), feature=names[i])
        for i in np.flatnonzero(far)
    ]
    return crs, findings
