"""Choose the projected CRS a region is analysed in.

In Japan that is the JGD2011 平面直角座標系 zone (EPSG:6669–6687) whose area contains the region.
Zones are defined by prefecture, and the EPSG areas of use are bounding boxes that overlap
(e.g. Yamaguchi lies in the boxes of zones II and III); where several contain the region, the
one with the smallest area of use is the specific one. Outside Japan, the UTM zone is used so
that benchmarks on foreign data (Malta) still measure in metres.
"""

from __future__ import annotations

from pyproj import CRS
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_crs_info
from pyproj.enums import PJType
from pyproj.exceptions import CRSError as PyprojCRSError

from kennai.errors import ConfigError
from kennai.i18n import t

#: EPSG codes of JGD2011 / Japan Plane Rectangular CS I … XIX (zone n is 6668 + n).
JGD2011_ZONES = tuple(range(6669, 6688))

#: The zone of each prefecture (JIS code) where one zone covers the whole prefecture
#: (国土交通省告示「平面直角座標系」). Hokkaido, Tokyo (islands), Kagoshima (islands) and Okinawa
#: span several zones and are decided by location.
PREFECTURE_ZONE = {
    2: 10, 3: 10, 4: 10, 5: 10, 6: 10, 7: 9, 8: 9, 9: 9, 10: 9, 11: 9, 12: 9, 14: 9,
    15: 8, 16: 7, 17: 7, 18: 6, 19: 8, 20: 8, 21: 7, 22: 8, 23: 7, 24: 6, 25: 6, 26: 6, 27: 6,
    28: 5, 29: 6, 30: 6, 31: 5, 32: 3, 33: 5, 34: 3, 35: 3, 36: 4, 37: 4, 38: 4, 39: 4,
    40: 2, 41: 2, 42: 1, 43: 2, 44: 2, 45: 2,
}
#: Prefectures spanning several zones: the zones to choose among by location.
PREFECTURE_ZONES_MULTI = {1: (11, 12, 13), 13: (9, 14, 18, 19), 46: (1, 2), 47: (15, 16, 17)}


def plane_rectangular_zone(lon: float, lat: float, *, among: tuple[int, ...] | None = None
                           ) -> CRS | None:
    """The JGD2011 plane rectangular zone for a point, or ``None`` outside Japan.

    ``among`` restricts the choice to some zone numbers (those of a known prefecture).
    """
    infos = query_crs_info(
        auth_name="EPSG",
        pj_types=PJType.PROJECTED_CRS,
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
        contains=True,
    )
    allowed = JGD2011_ZONES if among is None else tuple(6668 + z for z in among)
    zones = [i for i in infos if int(i.code) in allowed and i.area_of_use is not None]
    if not zones:
        return None

    def aou_size(info: object) -> float:
        w, s, e, n = info.area_of_use.bounds  # type: ignore[attr-defined]
        return (e - w) * (n - s)

    return CRS.from_epsg(int(min(zones, key=aou_size).code))


def utm_zone(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone of a point."""
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def choose_crs(
    setting: str,
    lonlat_bounds: tuple[float, float, float, float],
    *,
    prefecture: int | None = None,
) -> CRS:
    """The analysis CRS: the configured one, or the zone the region lies in.

    Parameters
    ----------
    setting
        ``"auto"`` or any CRS pyproj understands (``"EPSG:6676"``).
    lonlat_bounds
        The region's bounds in EPSG:4326 (minx, miny, maxx, maxy).
    prefecture
        JIS prefecture code when known (from e-Stat ``PREF``, 国土数値情報 行政区域コード or a
        推奨データセット 市区町村コード): it decides the zone exactly where one zone covers the
        prefecture.
    """
    if setting != "auto":
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
    if prefecture in PREFECTURE_ZONE:
        return CRS.from_epsg(6668 + PREFECTURE_ZONE[prefecture])
    minx, miny, maxx, maxy = lonlat_bounds
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    among = PREFECTURE_ZONES_MULTI.get(prefecture) if prefecture else None
    return (plane_rectangular_zone(lon, lat, among=among) or plane_rectangular_zone(lon, lat)
            or utm_zone(lon, lat))
