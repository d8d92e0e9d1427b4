"""Generate the embedded demo region: みなと町, a small INVENTED Japanese town.

Nothing here describes a real place. The streets, river, hill, school districts, 自治会,
population and gathering places of みなと町 are all made up; the town is merely put near
138.20°E 35.00°N so that the usual Japanese plane CRS (EPSG:6676) applies. Geometry is built
in EPSG:6676 metres around that point and written in EPSG:4326. The generator is deterministic
(one fixed seed, no time stamps), so ``python -m kennai.demo [OUT_DIR]`` always writes
byte-identical files; ``pipelines/demo.yaml`` names them.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, Polygon, box, mapping
from shapely.strtree import STRtree

SEED = 20240531
CRS_PROJECTED = "EPSG:6676"
CENTRE_LONLAT = (138.20, 35.00)
HALF_WIDTH = 1750.0  # the town is about 3.5 km x 3 km
HALF_HEIGHT = 1500.0
HILL_CENTRE = (-950.0, 800.0)
HILL_HEIGHT = 105.0
HILL_SIGMA = 380.0
HILL_HOLE = 450.0  # the street grid stops here; the hill has winding streets of its own
RING_RADII = (400.0, 280.0, 160.0)
PARK_RADIUS = 130.0
RIVER_BAND = 45.0  # no grid junction closer than this to the water
EMBANKMENT = 20.0  # riverside roads run this far from the water
GRID_ANGLE = math.radians(8.0)
GRID_STEP = (100.0, 92.0)
GRID_HALF = 21
DEM_CELL = 10.0
DEM_MARGIN = 300.0
NODATA = -9999.0
TARGET_POPULATION = 19800.0
CITY_CODE = "22999"
TOWN = "みなと町"
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "demo"

_SNAP = 0.01  # metres: street ends closer than this to another street are joined to it
_KANJI = "〇一二三四五六七八九十"
_BOM = "utf-8-sig"
_CSV_COLUMNS = (
    "NO", "名称", "名称_カナ", "住所", "緯度", "経度", "利用可能曜日", "開始時間", "終了時間",
    "利用可能日時特記事項", "説明", "種別",
)

Point2 = tuple[float, float]

#: Elementary districts (code, name); junior-high districts (code, name, plan area).
ELEMENTARY = (
    ("E1", "みなと東小学校"),
    ("E2", "みなと西小学校"),
    ("E3", "丘の上小学校"),
    ("E4", "川向小学校"),
)
JUNIOR_HIGH = (("J1", "みなと中学校", "南部圏域"), ("J2", "川向中学校", "北部圏域"))
PLAN_ELEMENTARY = (
    ("みなと東小学校", "南部圏域"),
    ("みなと西小学校", "南部圏域"),
    ("丘の上小学校", "北部圏域"),
    ("川向小学校", "北部圏域"),
)

#: 自治会 seeds (name, x, y) in local metres; three sit astride a school-district line.
JICHIKAI = (
    ("本町一丁目自治会", -300.0, -350.0),
    ("本町二丁目自治会", 50.0, -150.0),
    ("駅前自治会", -250.0, -800.0),
    ("浜町自治会", -150.0, -1250.0),
    ("西町自治会", -1300.0, -200.0),
    ("松原自治会", -1300.0, -1150.0),
    ("栄町自治会", -690.0, -650.0),
    ("丘の上自治会", -950.0, 850.0),
    ("緑ヶ丘自治会", -1420.0, 330.0),
    ("北町自治会", -230.0, 420.0),
    ("見晴台自治会", -450.0, 1250.0),
    ("川向北自治会", 1100.0, 1100.0),
    ("川向中央自治会", 1000.0, 100.0),
    ("川向南自治会", 1000.0, -1050.0),
    ("新田自治会", 1500.0, -350.0),
)
#: The 自治会 that straddle a school-district line, and the district (index) they reach into.
_JICHIKAI_CROSSING = {"栄町自治会": 0, "北町自治会": 0, "緑ヶ丘自治会": 1}

#: 町丁 names of the small areas and their 4-digit 町字 codes.
ZONES = (
    ("本町", 10), ("栄町", 20), ("浜町", 30), ("西町", 40), ("丘の上", 50),
    ("北町", 60), ("川向", 70), ("東みなと", 80), ("新田", 90),
)

# 通いの場: name, kana, kind, target (x, y), days, start, end, frequency, description.
# The second entry sits next to the first one (< 30 m) on purpose.
_PLACES: tuple[tuple[str, str, str, Point2, str, str, str, str, str], ...] = (
    ("本町ふれあいサロン", "ホンマチフレアイサロン", "サロン", (-260.0, -420.0), "月",
     "10:00", "12:00", "毎週", "お茶を飲みながらおしゃべりを楽しむサロンです。"),
    ("本町カフェよりみち", "ホンマチカフェヨリミチ", "カフェ", (-260.0, -420.0), "第1土",
     "10:00", "13:00", "毎月第1土曜", "サロンの隣で開く月1回の地域カフェです。"),
    ("駅前いきいき体操教室", "エキマエイキイキタイソウキョウシツ", "体操教室", (-330.0, -760.0),
     "火,金", "10:00", "11:00", "毎週", "いきいき百歳体操を行っています。"),
    ("本町二丁目集会所", "ホンマチニチョウメシュウカイジョ", "集会所", (60.0, -300.0), "水",
     "13:30", "15:30", "隔週", "集会所で茶話会と健康相談を開いています。"),
    ("まちなかカフェひだまり", "マチナカカフェヒダマリ", "カフェ", (-150.0, -540.0), "木",
     "10:00", "15:00", "毎週", "誰でも立ち寄れる地域カフェです。"),
    ("本町囲碁・将棋の会", "ホンマチイゴショウギノカイ", "趣味の会", (-430.0, -300.0), "土",
     "13:00", "16:00", "毎週", "初心者も歓迎の囲碁・将棋の会です。"),
    ("栄町いきいきサロン", "サカエマチイキイキサロン", "サロン", (-560.0, -520.0), "第2水",
     "10:00", "12:00", "毎月第2水曜", "季節の行事や脳トレを楽しみます。"),
    ("浜町ふれあいサロン", "ハママチフレアイサロン", "サロン", (-200.0, -1250.0), "金",
     "13:30", "15:30", "隔週", "海の見える集会所で開くサロンです。"),
    ("浜町ストレッチ教室", "ハママチストレッチキョウシツ", "体操教室", (100.0, -1100.0), "水",
     "10:00", "11:30", "毎週", "椅子に座ってできるストレッチ教室です。"),
    ("西町集会所サロン", "ニシマチシュウカイジョサロン", "集会所", (-1200.0, -400.0),
     "第1火,第3火", "10:00", "12:00", "毎月第1・第3火曜", "西町集会所での茶話会です。"),
    ("松原カフェこもれび", "マツバラカフェコモレビ", "カフェ", (-1350.0, -1150.0), "第4土",
     "10:00", "14:00", "毎月第4土曜", "民家を開放したカフェです。"),
    ("西町手芸の会", "ニシマチシュゲイノカイ", "趣味の会", (-1000.0, -900.0), "火",
     "13:00", "15:00", "隔週", "編み物や刺し子を楽しむ会です。"),
    ("栄町うたごえサロン", "サカエマチウタゴエサロン", "サロン", (-850.0, -200.0), "第3金",
     "13:30", "15:00", "毎月第3金曜", "懐かしい歌をみんなで歌います。"),
    ("北町集会所", "キタマチシュウカイジョ", "集会所", (-100.0, 650.0), "月",
     "10:00", "12:00", "毎週", "北町の集会所で体操とお茶会をしています。"),
    ("北町ラジオ体操の会", "キタマチラジオタイソウノカイ", "体操教室", (150.0, 380.0), "月,水,金",
     "06:30", "07:00", "毎週", "朝のラジオ体操を一緒に。雨天中止。"),
    ("緑ヶ丘サロン", "ミドリガオカサロン", "サロン", (-1550.0, 280.0), "第2木",
     "10:00", "12:00", "毎月第2木曜", "丘のふもとの集会所で開くサロンです。"),
    ("川向ふれあいサロン", "カワムカイフレアイサロン", "サロン", (720.0, -230.0), "水",
     "10:00", "12:00", "隔週", "橋のたもとの集会所で開くサロンです。"),
    ("川向南体操教室", "カワムカイミナミタイソウキョウシツ", "体操教室", (700.0, -1150.0), "火",
     "10:00", "11:00", "毎週", "いきいき百歳体操を行っています。"),
    ("駅南将棋クラブ", "エキミナミショウギクラブ", "趣味の会", (-250.0, -950.0), "日",
     "13:00", "16:00", "毎週", "駅南の集会所で将棋を指しています。"),
    ("本町書道の会", "ホンマチショドウノカイ", "趣味の会", (-420.0, -600.0), "第2土,第4土",
     "10:00", "12:00", "毎月第2・第4土曜", "筆ペンから始められる書道の会です。"),
)

# Candidate sites for a new place, spread over the town including the gaps.
_FACILITIES: tuple[tuple[str, str, str, Point2, str], ...] = (
    ("丘の上公民館", "オカノウエコウミンカン", "公民館", (-950.0, 1090.0),
     "和室と調理室のある公民館です。"),
    ("丘の上公園", "オカノウエコウエン", "公園", (-950.0, 740.0),
     "丘の頂上にある見晴らしのよい公園です。"),
    ("見晴台集会所", "ミハラシダイシュウカイジョ", "集会所", (-600.0, 1050.0),
     "丘の北側の小さな集会所です。"),
    ("緑ヶ丘児童公園", "ミドリガオカジドウコウエン", "公園", (-1450.0, 650.0),
     "ベンチと東屋のある児童公園です。"),
    ("川向北公民館", "カワムカイキタコウミンカン", "公民館", (1150.0, 900.0),
     "川向地区北部の公民館です。"),
    ("川向東公園", "カワムカイヒガシコウエン", "公園", (1500.0, 150.0),
     "芝生広場のある近隣公園です。"),
    ("旧みなと商店（空き店舗）", "キュウミナトショウテン", "空き店舗", (-200.0, -470.0),
     "駅前の元商店。1階を改修すれば利用できます。"),
    ("北町空き店舗", "キタマチアキテンポ", "空き店舗", (-30.0, 1000.0),
     "北町の元青果店です。"),
    ("新田公民館", "シンデンコウミンカン", "公民館", (1450.0, -700.0),
     "新田地区の公民館です。"),
    ("浜町公園", "ハママチコウエン", "公園", (-600.0, -1300.0),
     "海沿いの公園です。"),
)

_HALF_WIDTHS = {
    "secondary": 6.0, "tertiary": 5.0, "residential": 3.5, "service": 2.5,
    "footway": 1.5, "path": 1.0, "steps": 1.5,
}
_SETBACK = {"secondary": 9.0, "tertiary": 8.0, "residential": 6.0, "service": 5.0}


# --------------------------------------------------------------------------------------------
# The landscape: analytic functions of local metres (x east, y north of the centre point)
# --------------------------------------------------------------------------------------------


def _river_x(y: Any) -> np.ndarray:
    """Easting of the river centre line at northing ``y``: a gentle meander running south."""
    y = np.asarray(y, dtype=float)
    return 420.0 + 0.12 * y + 70.0 * np.sin(2.0 * np.pi * (y + 1500.0) / 2200.0)


def _river_slope(y: Any) -> np.ndarray:
    """d(river x)/dy, used for the normal of the banks."""
    y = np.asarray(y, dtype=float)
    return 0.12 + 70.0 * 2.0 * np.pi / 2200.0 * np.cos(2.0 * np.pi * (y + 1500.0) / 2200.0)


def _river_width(y: Any) -> np.ndarray:
    """Width of the water (about 42-58 m)."""
    return 50.0 + 8.0 * np.sin(np.asarray(y, dtype=float) / 300.0)


def _coast_y(x: Any) -> np.ndarray:
    """Northing of the sea shore, the town's southern edge."""
    x = np.asarray(x, dtype=float)
    return -HALF_HEIGHT + 35.0 * np.sin(x / 300.0) + 20.0 * np.cos(x / 170.0)


def _hill_r(x: Any, y: Any) -> np.ndarray:
    """Distance from the hill top."""
    return np.hypot(np.asarray(x, dtype=float) - HILL_CENTRE[0],
                    np.asarray(y, dtype=float) - HILL_CENTRE[1])


def _elevation(x: Any, y: Any) -> np.ndarray:
    """Ground height in metres: coastal plain (2-10 m), a lower river bed and a Gaussian hill.

    The same function writes ``dem.tif`` and decides which hill footpaths are steps.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ramp = np.clip((y - _coast_y(x)) / (2.0 * HALF_HEIGHT), 0.0, 1.0)
    plain = 2.0 + 8.0 * ramp + 0.6 * ramp * np.sin(x / 230.0) * np.sin(y / 310.0)
    across = np.abs(x - _river_x(y)) / np.sqrt(1.0 + _river_slope(y) ** 2)
    bed = np.exp(-((across / (_river_width(y) / 2.0 + 8.0)) ** 4))
    hill = HILL_HEIGHT * np.exp(-(_hill_r(x, y) ** 2) / (2.0 * HILL_SIGMA**2))
    return plain * (1.0 - 0.55 * bed) + hill


def _gradient(p: Point2, q: Point2) -> float:
    """Mean slope between two points (rise over run)."""
    z = _elevation([p[0], q[0]], [p[1], q[1]])
    return float(abs(z[1] - z[0]) / max(math.dist(p, q), 1.0))


def _river_offset(sign: float, extra: float, ys: np.ndarray) -> np.ndarray:
    """A line parallel to the river, ``extra`` metres beyond its west (-1) or east (+1) bank."""
    s = _river_slope(ys)
    norm = np.sqrt(1.0 + s * s)
    d = sign * (_river_width(ys) / 2.0 + extra)
    return np.column_stack([_river_x(ys) + d / norm, ys - d * s / norm])


@dataclass(frozen=True)
class _Geo:
    """The fixed shapes of the town in local metres."""

    outline: Polygon
    domain: Polygon
    river: Polygon
    river_line: LineString
    embankments: tuple[LineString, LineString]
    park: Polygon
    rail: LineString
    motorway: LineString


def _build_geo(rng: np.random.Generator) -> _Geo:
    """Outline, river, park, railway and bypass, all in local metres."""
    ys = np.arange(-1900.0, 1900.1, 20.0)
    west, east = _river_offset(-1.0, 0.0, ys), _river_offset(1.0, 0.0, ys)
    river = Polygon(np.vstack([west, east[::-1]]))
    river_line = LineString(np.column_stack([_river_x(ys), ys])[::-1])  # downstream order
    embankments = (
        LineString(_river_offset(-1.0, EMBANKMENT, ys)),
        LineString(_river_offset(1.0, EMBANKMENT, ys)),
    )
    coast_x = np.arange(HALF_WIDTH, -HALF_WIDTH - 1.0, -250.0)
    ring: list[Point2] = [(float(x), float(_coast_y(x))) for x in coast_x]
    for y in np.linspace(-1000.0, 1000.0, 5):
        ring.append((-HALF_WIDTH + float(rng.normal(0.0, 25.0)), float(y)))
    for x in np.linspace(-HALF_WIDTH, HALF_WIDTH, 8):
        ring.append((float(x), HALF_HEIGHT + float(rng.normal(0.0, 25.0))))
    for y in np.linspace(1000.0, -1000.0, 5):
        ring.append((HALF_WIDTH + float(rng.normal(0.0, 25.0)), float(y)))
    outline = Polygon(ring)
    sea_x = np.arange(-2600.0, 2600.1, 50.0)
    sea = Polygon([*zip(sea_x.tolist(), _coast_y(sea_x).tolist(), strict=True),
                   (2600.0, -3500.0), (-2600.0, -3500.0)])
    domain = outline.buffer(50.0).difference(sea.buffer(15.0))
    rail_x = np.arange(-1950.0, 1950.1, 50.0)
    rail = LineString(np.column_stack([rail_x, -620.0 + 0.05 * rail_x + 15.0 * np.sin(rail_x / 450.0)]))
    mx = np.arange(-1950.0, 1950.1, 60.0)
    motorway = LineString(np.column_stack([mx, 1345.0 + 35.0 * np.sin(mx / 650.0) + 0.02 * mx]))
    park = Point(HILL_CENTRE).buffer(PARK_RADIUS, quad_segs=12)
    return _Geo(outline, domain, river, river_line, embankments, park, rail, motorway)


# --------------------------------------------------------------------------------------------
# Streets
# --------------------------------------------------------------------------------------------


@dataclass
class _Street:
    """A ground-level street: a polyline with OSM tags; ``bridge`` names its river crossing."""

    coords: list[Point2]
    tags: dict[str, str]
    bridge: str | None = None


@dataclass
class _Edge:
    """One block-side of the street grid."""

    kind: str
    mid: Point2 | None = None
    spur: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _key(p: Point2) -> tuple[float, float]:
    """Identity of a vertex: coordinates to the millimetre."""
    return (round(p[0], 3), round(p[1], 3))


def _pt(x: Any, y: Any) -> Point2:
    """A plain-float point."""
    return (float(x), float(y))


def _with_crossings(coords: Sequence[Point2], boundary: Any) -> list[Point2]:
    """Insert the points where a polyline crosses ``boundary`` as vertices (for bridge ends)."""
    line = LineString(coords)
    hits = shapely.get_parts(line.intersection(boundary))
    extra = [(line.project(h), _pt(h.x, h.y)) for h in hits if h.geom_type == "Point"]
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(np.asarray(coords), axis=0).T))])
    merged = sorted([(float(d), tuple(c)) for d, c in zip(cum, coords, strict=True)] + extra)
    out: list[Point2] = []
    for _, c in merged:
        if not out or math.dist(out[-1], c) > 0.05:
            out.append(_pt(*c))
    return out


def _grid_streets(geo: _Geo, rng: np.random.Generator) -> tuple[list[_Street], list[Point2]]:
    """A jittered, slightly rotated grid with gaps, dead ends, alleys, bridges and diagonals.

    Returns the streets and the grid junctions on the rim of the hill (for the hill streets).
    """
    n = GRID_HALF
    idx = np.arange(-n, n + 1)
    gi, gj = np.meshgrid(idx, idx, indexing="ij")
    u, v = gi * GRID_STEP[0], gj * GRID_STEP[1]
    jit = np.clip(rng.normal(0.0, 4.0, size=(2, *gi.shape)), -9.0, 9.0)
    c, s = math.cos(GRID_ANGLE), math.sin(GRID_ANGLE)
    gx, gy = u * c - v * s + jit[0], u * s + v * c + jit[1]
    inside = shapely.contains_xy(geo.domain, gx, gy)
    wet = inside & shapely.contains_xy(geo.river.buffer(RIVER_BAND), gx, gy)
    on_hill = inside & (_hill_r(gx, gy) < HILL_HOLE)
    kept = inside & ~wet & ~on_hill
    size = 2 * n + 1

    def pos(a: int, b: int) -> Point2:
        return _pt(gx[a, b], gy[a, b])

    def row_of(x: float, y: float) -> int:
        return round((-x * s + y * c) / GRID_STEP[1]) + n

    def col_of(x: float, y: float) -> int:
        return round((x * c + y * s) / GRID_STEP[0]) + n

    bridge_rows = {
        row_of(float(_river_x(-250.0)), -250.0): ("secondary", "みなと大通り", "みなと大橋"),
        row_of(float(_river_x(850.0)), 850.0): ("tertiary", "北通り", "北橋"),
        row_of(float(_river_x(-1150.0)), -1150.0): ("footway", None, "ふれあい橋"),
    }
    main_rows = {b: (v[0], v[1]) for b, v in bridge_rows.items() if v[0] != "footway"}
    main_cols = {col_of(-200.0, -600.0): ("secondary", "駅前通り"),
                 col_of(1150.0, 0.0): ("tertiary", "川向通り")}
    river_guard = geo.river.buffer(30.0)
    hill_guard = Point(HILL_CENTRE).buffer(RING_RADII[0] * 1.06 + 15.0)

    edges: dict[tuple[str, int, int], _Edge] = {}
    for a in range(size):
        for b in range(size):
            for da, db, kind in ((1, 0, "h"), (0, 1, "v")):
                a2, b2 = a + da, b + db
                if a2 >= size or b2 >= size:
                    continue
                draws = rng.random(4)
                if not (kept[a, b] and kept[a2, b2]):
                    continue
                p, q = pos(a, b), pos(a2, b2)
                seg = LineString([p, q])
                if seg.intersects(river_guard) or seg.intersects(hill_guard):
                    continue
                main = main_rows.get(b) if kind == "h" else main_cols.get(a)
                if main is not None:
                    cls, name = main
                else:
                    rural = (p[0] > float(_river_x(p[1])) and p[1] > 500.0) or p[1] > 1200.0
                    if draws[0] < (0.10 if rural else 0.05):
                        continue
                    cls, name = "residential", None
                    if draws[1] < 0.035:
                        cls = "steps" if _gradient(p, q) > 0.08 else "footway"
                mid = None
                if draws[2] < 0.55:
                    off = float(np.clip(rng.normal(0.0, 2.5), -6.0, 6.0))
                    dx, dy = q[0] - p[0], q[1] - p[1]
                    length = math.hypot(dx, dy)
                    mid = _pt((p[0] + q[0]) / 2 - dy / length * off,
                              (p[1] + q[1]) / 2 + dx / length * off)
                edges[(kind, a, b)] = _Edge(cls, mid, spur=cls == "residential" and draws[3] < 0.13,
                                            extra={"name": name} if name else {})

    streets: list[_Street] = []
    for b in range(size):
        streets += _runs([("h", a, b) for a in range(size - 1)], edges, pos)
    for a in range(size):
        streets += _runs([("v", a, b) for b in range(size - 1)], edges, pos)

    # Bridges: the three rows named above cross the river; nothing else does.
    for b, (cls, name, bridge) in sorted(bridge_rows.items()):
        east_of = [kept[a, b] and gx[a, b] > float(_river_x(gy[a, b])) for a in range(size)]
        west = [a for a in range(size) if kept[a, b] and not east_of[a]]
        east = [a for a in range(size) if east_of[a]]
        west = [a for a in west if geo.river.distance(Point(pos(a, b))) < 160.0]
        east = [a for a in east if geo.river.distance(Point(pos(a, b))) < 160.0]
        p, q = pos(max(west), b), pos(min(east), b)
        coords = _with_crossings([p, q], geo.river.buffer(4.0).exterior)
        tags = {"highway": cls, **({"name": name} if name else {})}
        streets.append(_Street(coords, tags, bridge=bridge))
    bridge_ends = {_key(st.coords[0]) for st in streets if st.bridge}
    bridge_ends |= {_key(st.coords[-1]) for st in streets if st.bridge}

    # Riverside roads, and short links from the grid down to them.
    for emb in geo.embankments:
        for part in shapely.get_parts(emb.intersection(geo.domain)):
            if part.length > 100.0:
                coords = [_pt(*xy) for xy in part.coords]
                streets.append(_Street(coords, {"highway": "residential", "name": "みなと川堤防道路"}))
    rim: list[Point2] = []
    for a in range(size):
        for b in range(size):
            if not kept[a, b]:
                continue
            near = [(a + da, b + db) for da, db in ((1, 0), (-1, 0), (0, 1), (0, -1))
                    if 0 <= a + da < size and 0 <= b + db < size]
            draw = rng.random()
            p = pos(a, b)
            if any(on_hill[m] for m in near):
                rim.append(p)
            if any(wet[m] for m in near) and _key(p) not in bridge_ends and draw < 0.7:
                emb = geo.embankments[int(p[0] > float(_river_x(p[1])))]
                hit = emb.interpolate(emb.project(Point(p)))
                if math.dist(p, (hit.x, hit.y)) < 90.0:
                    streets.append(_Street([p, _pt(hit.x, hit.y)], {"highway": "residential"}))

    # Service spurs (dead-end lanes into the blocks) and footpaths through some blocks.
    guards = shapely.union_all([river_guard, hill_guard, geo.rail.buffer(8.0),
                                geo.motorway.buffer(15.0)])
    for (kind, a, b), e in sorted(edges.items()):
        if not (e.spur and e.mid):
            continue
        p = pos(a, b)
        q = pos(a + 1, b) if kind == "h" else pos(a, b + 1)
        dx, dy = q[0] - p[0], q[1] - p[1]
        length = math.hypot(dx, dy)
        side = 1.0 if rng.random() < 0.5 else -1.0
        reach = float(rng.uniform(30.0, 40.0))
        end = _pt(e.mid[0] - side * dy / length * reach, e.mid[1] + side * dx / length * reach)
        seg = LineString([e.mid, end])
        if geo.domain.contains(Point(end)) and not seg.intersects(guards):
            streets.append(_Street([e.mid, end], {"highway": "service"}))
    for a in range(size - 1):
        for b in range(size - 1):
            lo, hi = edges.get(("h", a, b)), edges.get(("h", a, b + 1))
            draw = rng.random()
            if lo and hi and lo.mid and hi.mid and draw < 0.05:
                seg = LineString([lo.mid, hi.mid])
                if not seg.intersects(guards):
                    cls = "steps" if _gradient(lo.mid, hi.mid) > 0.08 else "footway"
                    streets.append(_Street([lo.mid, hi.mid], {"highway": cls}))

    # Two diagonal streets: the old road through the west, a lane across 川向.
    kept_pts = np.column_stack([gx[kept], gy[kept]])

    def nearest(x: float, y: float) -> Point2:
        k = int(np.argmin(np.hypot(kept_pts[:, 0] - x, kept_pts[:, 1] - y)))
        return _pt(*kept_pts[k])

    for start, stop, bend, tags in (
        ((-1650.0, -1150.0), (-700.0, 40.0), 25.0, {"highway": "tertiary", "name": "旧街道"}),
        ((850.0, -1300.0), (1600.0, -350.0), -20.0, {"highway": "residential"}),
    ):
        coords = _curve(nearest(*start), nearest(*stop), bend, n=10)
        if LineString(coords).intersects(river_guard) or LineString(coords).intersects(hill_guard):
            raise AssertionError("a diagonal street runs into the river or the hill")
        streets.append(_Street(coords, tags))
    return streets, rim


def _runs(keys: list[tuple[str, int, int]], edges: dict[tuple[str, int, int], _Edge],
          pos: Callable[[int, int], Point2]) -> list[_Street]:
    """Chain consecutive grid edges of one row or column into streets of one class."""
    out: list[_Street] = []
    cur: list[Point2] = []
    cur_tags: dict[str, str] = {}
    for key in keys:
        e = edges.get(key)
        kind, a, b = key
        if e is None:
            if len(cur) > 1:
                out.append(_Street(cur, cur_tags))
            cur = []
            continue
        tags = {"highway": e.kind, **e.extra}
        p = pos(a, b)
        q = pos(a + 1, b) if kind == "h" else pos(a, b + 1)
        if not cur or tags != cur_tags:
            if len(cur) > 1:
                out.append(_Street(cur, cur_tags))
            cur, cur_tags = [p], tags
        if e.mid:
            cur.append(e.mid)
        cur.append(q)
    if len(cur) > 1:
        out.append(_Street(cur, cur_tags))
    return out


def _ring_r(k: int, phi: float) -> float:
    """Radius of hill ring road ``k`` (0 = lowest) at angle ``phi``: a wobbly contour."""
    return RING_RADII[k] * (1.0 + 0.06 * math.sin(3.0 * phi + 1.3 * k))


def _polar(r: float, phi: float) -> Point2:
    """Local point at radius ``r`` and angle ``phi`` around the hill top."""
    return _pt(HILL_CENTRE[0] + r * math.cos(phi), HILL_CENTRE[1] + r * math.sin(phi))


def _hill_streets(rim: list[Point2], rng: np.random.Generator) -> list[_Street]:
    """Winding streets on the hill: three ring roads, switchbacks, steps and cul-de-sacs."""
    tau = 2.0 * math.pi
    attach: list[list[float]] = [[], [], []]
    streets: list[_Street] = []
    for p in rim:  # links from the grid up to the lowest ring
        draw = rng.random()
        if draw > 0.75:
            continue
        phi = math.atan2(p[1] - HILL_CENTRE[1], p[0] - HILL_CENTRE[0]) % tau
        q = _polar(_ring_r(0, phi), phi)
        attach[0].append(phi)
        cls = "residential" if draw < 0.5 else ("steps" if _gradient(p, q) > 0.08 else "footway")
        streets.append(_Street([p, q], {"highway": cls}))
    for k, starts in ((0, (20.0, 140.0, 260.0)), (1, (80.0, 200.0, 320.0))):
        for a0 in starts:  # switchbacks between ring k and ring k + 1
            a = math.radians(a0 + float(rng.uniform(-4.0, 4.0)))
            knots = a + np.radians([0.0, 24.0, 6.0, 30.0])
            ts = np.linspace(0.0, 1.0, 13)
            phis = np.interp(ts, [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0], knots) % tau
            coords = []
            for t, phi in zip(ts.tolist(), phis.tolist(), strict=True):
                r = (1.0 - t) * _ring_r(k, phi) + t * _ring_r(k + 1, phi)
                coords.append(_polar(r, phi))
            attach[k].append(float(phis[0]))
            attach[k + 1].append(float(phis[-1]))
            streets.append(_Street(coords, {"highway": "residential", "name": "丘の上坂"}))
    for k, angles in ((0, (70.0, 190.0, 310.0)), (1, (35.0, 155.0, 275.0))):
        for a0 in angles:  # straight footpaths up the slope: steps where steep
            phi = math.radians(a0 + float(rng.uniform(-3.0, 3.0))) % tau
            ts = np.linspace(0.0, 1.0, 5)
            coords = [_polar((1 - t) * _ring_r(k, phi) + t * _ring_r(k + 1, phi), phi) for t in ts]
            attach[k].append(phi)
            attach[k + 1].append(phi)
            cls = "steps" if _gradient(coords[0], coords[-1]) > 0.08 else "footway"
            streets.append(_Street(coords, {"highway": cls}))
    for a0 in (110.0, 230.0, 350.0):  # cul-de-sacs off the middle ring
        phi = math.radians(a0)
        r0 = _ring_r(1, phi)
        attach[1].append(phi)
        coords = [_polar(r0 + d, phi + d / 4000.0) for d in (0.0, 20.0, 40.0, 55.0)]
        streets.append(_Street(coords, {"highway": "residential"}))
    attach[2].append(0.0)
    summit = [_polar(_ring_r(2, 0.0), 0.0), _polar(90.0, 0.15), _polar(45.0, -0.2),
              _polar(20.0, 0.4)]
    streets.append(_Street(summit, {"highway": "path", "name": "展望台の小径"}))
    names = ("丘の上環状線", None, None)
    for k in range(3):
        fixed = sorted(set(attach[k]))
        regular = [math.radians(d) for d in range(0, 360, 6)]
        free = [a for a in regular
                if all(min(abs(a - f), tau - abs(a - f)) > math.radians(1.5) for f in fixed)]
        angles = sorted(fixed + free)
        coords = [_polar(_ring_r(k, a), a) for a in angles]
        coords.append(coords[0])
        tags = {"highway": "residential", **({"name": names[k]} if names[k] else {})}
        streets.append(_Street(coords, tags))
    return streets


def _meet(p0: Point2, p1: Point2, q0: Point2, q1: Point2) -> list[tuple[int, float, Point2]]:
    """Where segment p crosses segment q, or one's end lies on the other's interior.

    Returns ``(which, t, point)`` insertions: ``which`` 0 = into p, 1 = into q.
    """
    r = (p1[0] - p0[0], p1[1] - p0[1])
    d = (q1[0] - q0[0], q1[1] - q0[1])
    lr, ld = math.hypot(*r), math.hypot(*d)
    den = r[0] * d[1] - r[1] * d[0]
    if abs(den) > 1e-9 * lr * ld:
        w = (q0[0] - p0[0], q0[1] - p0[1])
        t = (w[0] * d[1] - w[1] * d[0]) / den
        u = (w[0] * r[1] - w[1] * r[0]) / den
        if _SNAP < t * lr < lr - _SNAP and _SNAP < u * ld < ld - _SNAP:
            pt = _pt(p0[0] + t * r[0], p0[1] + t * r[1])
            return [(0, t, pt), (1, u, pt)]
    out: list[tuple[int, float, Point2]] = []
    for which, ends, a0, vec, length in ((1, (p0, p1), q0, d, ld), (0, (q0, q1), p0, r, lr)):
        for e in ends:
            t = ((e[0] - a0[0]) * vec[0] + (e[1] - a0[1]) * vec[1]) / (length * length)
            foot = (a0[0] + t * vec[0], a0[1] + t * vec[1])
            if _SNAP < t * length < length - _SNAP and math.dist(e, foot) < _SNAP:
                out.append((which, t, e))
    return out


def _node_streets(streets: list[_Street]) -> list[_Street]:
    """Give crossing streets a shared vertex, so that they meet at an OSM node."""
    segs: list[tuple[int, int]] = []
    lines: list[LineString] = []
    for si, st in enumerate(streets):
        for k in range(len(st.coords) - 1):
            segs.append((si, k))
            lines.append(LineString(st.coords[k : k + 2]))
    tree = STRtree(lines)
    left, right = tree.query(lines, predicate="dwithin", distance=_SNAP)
    extra: dict[tuple[int, int], list[tuple[float, Point2]]] = {}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        (sa, ka), (sb, kb) = segs[a], segs[b]
        if sa == sb and abs(ka - kb) <= 1:
            continue
        pc, qc = streets[sa].coords, streets[sb].coords
        for which, t, pt in _meet(pc[ka], pc[ka + 1], qc[kb], qc[kb + 1]):
            extra.setdefault(segs[a] if which == 0 else segs[b], []).append((t, pt))
    out = []
    for si, st in enumerate(streets):
        coords = [st.coords[0]]
        for k in range(len(st.coords) - 1):
            coords += [pt for _, pt in sorted(extra.get((si, k), []))]
            coords.append(st.coords[k + 1])
        dedup = [coords[0]]
        for c in coords[1:]:
            if _key(c) != _key(dedup[-1]):
                dedup.append(c)
        if len(dedup) > 1:
            out.append(_Street(dedup, st.tags, st.bridge))
    return out


def _largest_component(streets: list[_Street]) -> list[_Street]:
    """Keep the streets of the largest connected piece of the walking network."""
    parent: dict[tuple[float, float], tuple[float, float]] = {}

    def find(k: tuple[float, float]) -> tuple[float, float]:
        parent.setdefault(k, k)
        root = k
        while parent[root] != root:
            root = parent[root]
        while parent[k] != root:
            parent[k], k = root, parent[k]
        return root

    for st in streets:
        keys = [_key(c) for c in st.coords]
        for a, b in itertools.pairwise(keys):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    sizes: dict[tuple[float, float], int] = {}
    for k in sorted(parent):
        r = find(k)
        sizes[r] = sizes.get(r, 0) + 1
    best = max(sorted(sizes), key=lambda r: sizes[r])
    return [st for st in streets if find(_key(st.coords[0])) == best]


# --------------------------------------------------------------------------------------------
# OSM XML
# --------------------------------------------------------------------------------------------


class _Osm:
    """Nodes and ways of ``town.osm``, collected in local metres."""

    def __init__(self) -> None:
        self.coords: list[Point2] = []
        self.node_tags: dict[int, dict[str, str]] = {}
        self.ids: dict[tuple[float, float], int] = {}
        self.ways: list[tuple[list[int], dict[str, str]]] = []

    def node(self, p: Point2, *, shared: bool = True) -> int:
        """The id of the node at ``p`` (one node per millimetre cell when ``shared``)."""
        k = _key(p)
        if shared and k in self.ids:
            return self.ids[k]
        self.coords.append(p)
        nid = len(self.coords)
        if shared:
            self.ids[k] = nid
        return nid

    def way(self, nodes: list[int], tags: dict[str, str]) -> None:
        """Add a way over existing node ids."""
        self.ways.append((nodes, dict(sorted(tags.items()))))

    def xml(self, frame: _Frame) -> str:
        """The OSM XML 0.6 document."""
        ll = _lonlat(frame, np.asarray(self.coords))
        lines = ['<?xml version="1.0" encoding="UTF-8"?>',
                 '<osm version="0.6" generator="kennai demo">',
                 f'  <bounds minlat="{ll[:, 1].min():.7f}" minlon="{ll[:, 0].min():.7f}" '
                 f'maxlat="{ll[:, 1].max():.7f}" maxlon="{ll[:, 0].max():.7f}"/>']
        for i, (lon, lat) in enumerate(ll.tolist(), start=1):
            head = f'  <node id="{i}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"'
            tags = self.node_tags.get(i)
            if not tags:
                lines.append(head + "/>")
                continue
            lines.append(head + ">")
            lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
            lines.append("  </node>")
        for i, (nodes, tags) in enumerate(self.ways, start=1):
            lines.append(f'  <way id="{i}" version="1">')
            lines += [f'    <nd ref="{n}"/>' for n in nodes]
            lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
            lines.append("  </way>")
        lines.append("</osm>")
        return "\n".join(lines) + "\n"


def _split_ways(osm: _Osm, ids: list[int], seg_tags: list[dict[str, str]], junction: set[int],
                rng: np.random.Generator) -> None:
    """Cut one street into OSM ways: at tag changes and at every few junctions."""
    start, target = 0, int(rng.integers(3, 9))
    for k in range(1, len(ids)):
        last = k == len(ids) - 1
        change = not last and seg_tags[k] != seg_tags[k - 1]
        long_enough = not last and k - start >= target and ids[k] in junction
        if last or change or long_enough:
            osm.way(ids[start : k + 1], seg_tags[k - 1])
            start, target = k, int(rng.integers(3, 9))


def _add_streets(osm: _Osm, streets: list[_Street], geo: _Geo, rng: np.random.Generator) -> None:
    """Write the walking network; river segments of bridge streets become ``bridge=yes``."""
    water = geo.river.buffer(4.0)
    all_ids = [[osm.node(c) for c in st.coords] for st in streets]
    count: dict[int, int] = {}
    for ids in all_ids:
        for i in ids:
            count[i] = count.get(i, 0) + 1
    junction = {i for i, n in count.items() if n > 1}
    for st, ids in zip(streets, all_ids, strict=True):
        seg_tags = []
        for a, b in itertools.pairwise(st.coords):
            tags = dict(st.tags)
            if st.bridge and water.contains(Point((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)):
                tags.update({"bridge": "yes", "layer": "1", "name": st.bridge})
            seg_tags.append(tags)
        _split_ways(osm, ids, seg_tags, junction, rng)


def _add_line(osm: _Osm, coords: Sequence[Point2], tags: dict[str, str], geo: _Geo,
              *, bridge: str, cuts: Collection[int] = ()) -> list[int]:
    """Write the railway or the bypass: own nodes, a bridge over the river, split at ``cuts``."""
    coords = _with_crossings(coords, geo.river.buffer(4.0).exterior)
    ids = [osm.node(c) for c in coords]
    water = geo.river.buffer(4.0)
    seg_tags = []
    for a, b in itertools.pairwise(coords):
        t = dict(tags)
        if water.contains(Point((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)):
            t.update({"bridge": "yes", "layer": "1", "name": bridge})
        seg_tags.append(t)
    start = 0
    for k in range(1, len(ids)):
        last = k == len(ids) - 1
        if last or seg_tags[k] != seg_tags[k - 1] or ids[k] in cuts:
            osm.way(ids[start : k + 1], seg_tags[k - 1])
            start = k
    return ids


def _curve(a: Point2, b: Point2, bulge: float, *, n: int) -> list[Point2]:
    """``n`` points from ``a`` to ``b`` bowed sideways by ``bulge`` metres at the middle."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    coords = [_pt(a[0] + t * dx - dy / length * bulge * math.sin(math.pi * t),
                  a[1] + t * dy + dx / length * bulge * math.sin(math.pi * t))
              for t in np.linspace(0.0, 1.0, n).tolist()]
    coords[0], coords[-1] = a, b
    return coords


# --------------------------------------------------------------------------------------------
# Buildings and people
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Building:
    """A building footprint, its OSM ``building`` value and how many people it stands for."""

    polygon: Polygon
    kind: str
    levels: int
    weight: float


def _density(x: float, y: float) -> float:
    """Chance of a building at a free lot: dense near the station, thin across the river."""
    d = math.hypot(x + 300.0, y + 500.0)
    p = 0.035 + 0.22 * math.exp(-((d / 650.0) ** 2))
    if float(_hill_r(x, y)) < 700.0:
        p = 0.10
    if x > float(_river_x(y)):
        p *= 1.0 if y < 500.0 else 0.6
    return p


def _buildings(streets: list[_Street], geo: _Geo, rng: np.random.Generator, *,
               avoid: Sequence[Any] = ()) -> list[_Building]:
    """Small rectangles along residential streets, clear of roads, rails and water."""
    obstacles = [shapely.buffer(LineString(st.coords), _HALF_WIDTHS[st.tags["highway"]])
                 for st in streets]
    obstacles += [geo.river.buffer(6.0), geo.park, geo.rail.buffer(7.0),
                  geo.motorway.buffer(14.0), *avoid]
    tree = STRtree(obstacles)
    land = geo.outline.buffer(-3.0)
    placed: dict[tuple[int, int], list[Polygon]] = {}
    out: list[_Building] = []
    for st in streets:
        cls = st.tags["highway"]
        if cls not in _SETBACK:
            continue
        for a, b in itertools.pairwise(st.coords):
            dx, dy = b[0] - a[0], b[1] - a[1]
            length = math.hypot(dx, dy)
            if length < 20.0 or (st.bridge and geo.river.buffer(10.0).intersects(
                    LineString([a, b]))):
                continue
            tx, ty = dx / length, dy / length
            for along in np.arange(9.0, length - 8.0, float(rng.uniform(14.0, 18.0))):
                for side in (-1.0, 1.0):
                    draws = rng.random(4)
                    px, py = a[0] + tx * along, a[1] + ty * along
                    if draws[0] >= _density(px, py):
                        continue
                    down = math.exp(-((math.hypot(px + 300.0, py + 500.0) / 500.0) ** 2))
                    if draws[1] < 0.04 + 0.25 * down:
                        kind, w, d = "apartments", 16.0 + 6.0 * draws[2], 10.0 + 3.0 * draws[3]
                        levels = 3 + int(draws[2] * 4)
                    elif draws[1] > 0.9 - 0.1 * down:
                        kind, w, d, levels = "yes", 10.0 + 4.0 * draws[2], 9.0 + 4.0 * draws[3], 2
                    else:
                        kind, w, d = "house", 8.0 + 3.0 * draws[2], 7.5 + 3.0 * draws[3]
                        levels = 2
                    off = _SETBACK[cls] + d / 2.0
                    cx, cy = px - side * ty * off, py + side * tx * off
                    corners = [(cx + tx * sw * w / 2 - ty * sd * d / 2,
                                cy + ty * sw * w / 2 + tx * sd * d / 2)
                               for sw, sd in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
                    poly = Polygon(corners)
                    if not land.contains(poly) or len(tree.query(poly, predicate="intersects")):
                        continue
                    cell = (int(cx // 40.0), int(cy // 40.0))
                    near = [q for i in (-1, 0, 1) for j in (-1, 0, 1)
                            for q in placed.get((cell[0] + i, cell[1] + j), [])]
                    if any(poly.distance(q) < 2.0 for q in near):
                        continue
                    placed.setdefault(cell, []).append(poly)
                    weight = {"house": 1.0, "apartments": levels * w * d / 100.0, "yes": 0.3}[kind]
                    out.append(_Building(poly, kind, levels, weight))
    return out


# --------------------------------------------------------------------------------------------
# Districts: every polygon layer is a union of faces of one planar arrangement
# --------------------------------------------------------------------------------------------


def _side(coords: Sequence[Point2], corners: Sequence[Point2]) -> Polygon:
    """The half-plane on one side of a polyline, closed by far ``corners``."""
    return Polygon([*coords, *corners])


def _voronoi(seeds: Sequence[Point2]) -> list[Polygon]:
    """Voronoi cells in seed order."""
    cells = shapely.get_parts(shapely.voronoi_polygons(
        shapely.MultiPoint(seeds), extend_to=box(-4000, -4000, 4000, 4000)))
    return [next(c for c in cells if c.contains(Point(p))) for p in seeds]


def _shared(a: Polygon, b: Polygon) -> float:
    """Length of the common border of two polygons."""
    return float(shapely.length(shapely.intersection(a.boundary, b.boundary)))


def _group_faces(faces: np.ndarray, primary: np.ndarray, secondary: np.ndarray, *,
                 crossing: dict[int, int] | None = None, new_groups: bool = False) -> np.ndarray:
    """Group faces by Voronoi cell (``primary``), moving stray pieces to a neighbour.

    A cell keeps its largest connected piece; any other piece goes to the touching cell whose
    main piece lies in the same ``secondary`` zone, unless ``crossing`` maps the cell to that
    zone (then the piece stays and the group straddles the zone line).
    """
    crossing = crossing or {}
    atoms: list[tuple[int, int, list[int], Polygon]] = []
    for p, s in sorted(set(zip(primary.tolist(), secondary.tolist(), strict=True))):
        idx = np.flatnonzero((primary == p) & (secondary == s)).tolist()
        for part in shapely.get_parts(shapely.union_all(faces[idx])):
            members = [i for i in idx if part.contains(faces[i].point_on_surface())]
            atoms.append((p, s, members, part))
    main: dict[int, int] = {}
    for n, (p, _, _, part) in enumerate(atoms):
        if p not in main or part.area > atoms[main[p]][3].area:
            main[p] = n
    group = np.full(len(faces), -1)
    fresh = int(primary.max()) + 1
    for n, (p, s, members, part) in enumerate(atoms):
        if main[p] == n or (crossing.get(p) == s and _shared(part, atoms[main[p]][3]) > 1.0):
            group[members] = p
            continue
        best, best_len = -1, 1.0
        for q, m in sorted(main.items()):
            if q != p and atoms[m][1] == s and (length := _shared(part, atoms[m][3])) > best_len:
                best, best_len = q, length
        if best >= 0:
            group[members] = best
        elif new_groups:
            group[members] = fresh
            fresh += 1
        else:
            group[members] = p
    return group


@dataclass(frozen=True)
class _Layers:
    """All district layers in local metres."""

    elementary: list[Polygon]
    junior_high: list[Polygon]
    jichikai: list[Polygon]
    small_areas: list[tuple[str, str, str, Polygon]]  # (KEY_CODE, S_NAME, kind, polygon)
    address: list[tuple[Polygon, str, int]]  # land small areas: polygon, 町名, 丁目


def _zone(x: float, y: float) -> int:
    """Index into :data:`ZONES` of the 町 at a point."""
    if x > float(_river_x(y)):
        return 7 if y > 400.0 else (8 if x > 1300.0 else 6)
    if float(_hill_r(x, y)) < 650.0:
        return 4
    if y > 300.0:
        return 5
    if y < -950.0:
        return 2
    if x < -1050.0:
        return 3
    return 1 if x < -550.0 else 0


def _layers(geo: _Geo, rng: np.random.Generator) -> _Layers:
    """Cut the outline into districts, 自治会 and small areas sharing every vertex."""
    l1 = [(-2100.0, 260.0), (-1500.0, 230.0), (-1100.0, 300.0), (-650.0, 250.0),
          (-200.0, 320.0), (200.0, 240.0), (2100.0, 260.0)]
    l2 = [(-600.0, 600.0), (-640.0, 100.0), (-720.0, -300.0), (-610.0, -800.0),
          (-680.0, -1300.0), (-650.0, -1900.0)]
    river_xy = list(geo.river_line.coords)[::-1]
    rail_xy = list(geo.rail.coords)
    east_ref = _side(river_xy, [(4000.0, 1900.0), (4000.0, -1900.0)])
    north_ref = _side(l1, [(2100.0, 4000.0), (-2100.0, 4000.0)])
    west_ref = _side(l2, [(-4000.0, -1900.0), (-4000.0, 600.0)])
    rail_north_ref = _side(rail_xy, [(rail_xy[-1][0], 4000.0), (rail_xy[0][0], 4000.0)])

    seeds_j = [(x, y) for _, x, y in JICHIKAI]
    seeds_s: list[Point2] = []
    for y in np.linspace(-1250.0, 1250.0, 6):
        for x in np.linspace(-1460.0, 1460.0, 6):
            p = _pt(x + rng.uniform(-80.0, 80.0), y + rng.uniform(-80.0, 80.0))
            if not geo.river.buffer(30.0).contains(Point(p)) and not geo.park.contains(Point(p)):
                seeds_s.append(p)
    cells_j, cells_s = _voronoi(seeds_j), _voronoi(seeds_s)
    lines = [geo.outline.exterior, geo.river_line, geo.river.exterior, geo.park.exterior,
             LineString(l1), LineString(l2), geo.rail]
    lines += [c.exterior for c in cells_j + cells_s]
    clip = geo.outline.buffer(5.0)
    noded = shapely.union_all([shapely.intersection(g, clip) for g in lines])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded).tolist()))
    rep = shapely.point_on_surface(faces)
    faces = faces[shapely.contains(geo.outline, rep)]
    rep = shapely.point_on_surface(faces)
    rx, ry = shapely.get_x(rep), shapely.get_y(rep)

    east = shapely.contains_xy(east_ref, rx, ry)
    north = shapely.contains_xy(north_ref, rx, ry)
    west = shapely.contains_xy(west_ref, rx, ry)
    rail_north = shapely.contains_xy(rail_north_ref, rx, ry)
    elem = np.where(east, 3, np.where(north, 2, np.where(west, 1, 0)))
    junior = np.where(east, rail_north, north).astype(int)
    elementary = [shapely.union_all(faces[elem == k]) for k in range(len(ELEMENTARY))]
    junior_high = [shapely.union_all(faces[junior == k]) for k in range(len(JUNIOR_HIGH))]

    cell_j = np.array([next(i for i, c in enumerate(cells_j) if c.contains(r)) for r in rep])
    crossing = {i: _JICHIKAI_CROSSING[name] for i, (name, _, _) in enumerate(JICHIKAI)
                if name in _JICHIKAI_CROSSING}
    group_j = _group_faces(faces, cell_j, elem, crossing=crossing)
    jichikai = [shapely.union_all(faces[group_j == k]) for k in range(len(JICHIKAI))]

    wet = shapely.contains_xy(geo.river, rx, ry)
    parkland = shapely.contains_xy(geo.park, rx, ry)
    land = ~wet & ~parkland
    cell_s = np.array([next(i for i, c in enumerate(cells_s) if c.contains(r)) for r in rep])
    group_s = np.full(len(faces), -1)
    group_s[land] = _group_faces(faces[land], cell_s[land], east[land].astype(int),
                                 new_groups=True)
    areas = []
    for g in sorted(set(group_s[land].tolist())):
        poly = shapely.union_all(faces[group_s == g])
        pt = poly.point_on_surface()
        areas.append((_zone(pt.x, pt.y), -round(pt.y, -1), round(pt.x, -1), poly))
    areas.sort(key=lambda a: a[:3])
    small: list[tuple[str, str, str, Polygon]] = []
    address: list[tuple[Polygon, str, int]] = []
    chome: dict[int, int] = {}
    for zone, _, _, poly in areas:
        chome[zone] = chome.get(zone, 0) + 1
        name, code = ZONES[zone]
        number = chome[zone]
        small.append((f"{CITY_CODE}{code:04d}{number:02d}", f"{name}{_kanji(number)}丁目",
                      "land", poly))
        address.append((poly, name, number))
    small.append((f"{CITY_CODE}{ZONES[4][1]:04d}99", "丘の上公園", "park",
                  shapely.union_all(faces[parkland])))
    small.append((f"{CITY_CODE}999000", "みなと川（水面）", "water",
                  shapely.union_all(faces[wet])))
    return _Layers(elementary, junior_high, jichikai, small, address)


def _kanji(n: int) -> str:
    """1-19 in kanji numerals (一, 十二, ...)."""
    return _KANJI[n] if n <= 10 else "十" + _KANJI[n - 10]


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """EPSG:6676 origin of the local metres and the transformer back to longitude/latitude."""

    x0: float
    y0: float
    to_lonlat: Transformer


def _frame() -> _Frame:
    """Put the local origin at 138.20°E 35.00°N."""
    fwd = Transformer.from_crs("EPSG:4326", CRS_PROJECTED, always_xy=True)
    x0, y0 = fwd.transform(*CENTRE_LONLAT)
    return _Frame(float(x0), float(y0),
                  Transformer.from_crs(CRS_PROJECTED, "EPSG:4326", always_xy=True))


def _lonlat(frame: _Frame, xy: np.ndarray) -> np.ndarray:
    """Local metres to longitude/latitude rounded to 7 decimals (about 1 cm)."""
    lon, lat = frame.to_lonlat.transform(xy[:, 0] + frame.x0, xy[:, 1] + frame.y0)
    return np.round(np.column_stack([lon, lat]), 7)


def _write_geojson(path: Path, rows: list[dict[str, Any]], geoms: list[Any],
                   frame: _Frame) -> Path:
    """A GeoJSON FeatureCollection in EPSG:4326, one feature per line."""
    feats = []
    for props, geom in zip(rows, geoms, strict=True):
        g = shapely.orient_polygons(shapely.transform(geom, lambda xy: _lonlat(frame, xy)))
        if not g.is_valid:
            raise AssertionError(f"{path.name}: invalid polygon after rounding: {props}")
        feat = {"type": "Feature", "properties": props, "geometry": mapping(g)}
        feats.append(json.dumps(feat, ensure_ascii=False, separators=(",", ":")))
    head = json.dumps({"type": "FeatureCollection", "name": path.stem}, ensure_ascii=False,
                      separators=(",", ":"))
    text = head[:-1] + ',"features":[\n' + ",\n".join(feats) + "\n]}\n"
    path.write_text(text, encoding="utf-8")
    return path


def _write_csv(path: Path, header: Sequence[str], rows: list[Sequence[Any]]) -> Path:
    """UTF-8 CSV with a BOM, as the Digital Agency datasets are published."""
    with path.open("w", encoding=_BOM, newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _write_dem(path: Path, geo: _Geo, frame: _Frame) -> Path:
    """A 10 m float32 GeoTIFF of :func:`_elevation`; the sea is nodata."""
    minx, miny, maxx, maxy = geo.outline.bounds
    x_lo = math.floor((frame.x0 + minx - DEM_MARGIN) / DEM_CELL) * DEM_CELL
    x_hi = math.ceil((frame.x0 + maxx + DEM_MARGIN) / DEM_CELL) * DEM_CELL
    y_lo = math.floor((frame.y0 + miny - DEM_MARGIN) / DEM_CELL) * DEM_CELL
    y_hi = math.ceil((frame.y0 + maxy + DEM_MARGIN) / DEM_CELL) * DEM_CELL
    width, height = round((x_hi - x_lo) / DEM_CELL), round((y_hi - y_lo) / DEM_CELL)
    cx = x_lo + (np.arange(width) + 0.5) * DEM_CELL - frame.x0
    cy = y_hi - (np.arange(height) + 0.5) * DEM_CELL - frame.y0
    gx, gy = np.meshgrid(cx, cy)
    z = _elevation(gx, gy).astype(np.float32)
    z[gy < _coast_y(gx) - 20.0] = NODATA
    profile = {
        "driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "float32",
        "crs": CRS_PROJECTED, "transform": from_origin(x_lo, y_hi, DEM_CELL, DEM_CELL),
        "nodata": NODATA, "tiled": True, "blockxsize": 256, "blockysize": 256,
        "compress": "deflate", "predictor": 3,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z, 1)
    return path


def _address(layers: _Layers, p: Point2, rng: np.random.Generator) -> str:
    """A made-up 住所 such as みなと町本町1-2-3 for a point."""
    pt = Point(p)
    _, name, number = min(layers.address, key=lambda a: a[0].distance(pt))
    return f"{TOWN}{name}{number}-{int(rng.integers(1, 21))}-{int(rng.integers(1, 31))}"


def _site_rows(frame: _Frame, layers: _Layers, points: list[Point2],
               info: list[tuple[str, ...]], rng: np.random.Generator) -> list[list[str]]:
    """Rows of the 推奨データセット CSV schema for sites at ``points``."""
    ll = _lonlat(frame, np.asarray(points))
    rows = []
    for no, (p, (lon, lat), fields) in enumerate(zip(points, ll.tolist(), info, strict=True), 1):
        name, kana, kind, days, start, end, note, text = fields
        rows.append([str(no), name, kana, _address(layers, p, rng), f"{lat:.6f}", f"{lon:.6f}",
                     days, start, end, note, text, kind])
    return rows


def _pick_building(buildings: list[_Building], target: Point2, used: set[int]) -> int:
    """Index of the unused building nearest to ``target`` (an invented place occupies it)."""
    best, best_d = -1, math.inf
    for i, b in enumerate(buildings):
        if i in used:
            continue
        c = b.polygon.centroid
        d = math.hypot(c.x - target[0], c.y - target[1])
        if d < best_d:
            best, best_d = i, d
    used.add(best)
    return best


def _pair(buildings: list[_Building], target: Point2, used: set[int]) -> tuple[int, int]:
    """Two unused buildings 10-22 m apart, the first nearest ``target`` (labels that collide)."""
    cents = np.array([[b.polygon.centroid.x, b.polygon.centroid.y] for b in buildings])
    order = np.argsort(np.hypot(cents[:, 0] - target[0], cents[:, 1] - target[1]), kind="stable")
    for i in order.tolist():
        gap = np.hypot(cents[:, 0] - cents[i, 0], cents[:, 1] - cents[i, 1])
        for j in np.argsort(gap, kind="stable").tolist():
            if i not in used and j not in used and 10.0 < gap[j] < 22.0:
                used.update((i, j))
                return i, j
    raise AssertionError(f"no two buildings 10-22 m apart near {target}")


def _free_spot(target: Point2, blocked: Any, geo: _Geo) -> Point2:
    """The grid point nearest ``target`` that is on land, away from roads and buildings."""
    offsets = sorted(((dx, dy) for dx in range(-120, 121, 5) for dy in range(-120, 121, 5)),
                     key=lambda o: (o[0] ** 2 + o[1] ** 2, o))
    for dx, dy in offsets:
        p = Point(target[0] + dx, target[1] + dy)
        if geo.outline.buffer(-10.0).contains(p) and not blocked.intersects(p.buffer(12.0)):
            return _pt(p.x, p.y)
    raise AssertionError(f"no free spot near {target}")


def _readme(names: list[str]) -> str:
    """The README of the generated folder (Japanese and English)."""
    listing = "\n".join(f"- `{n}`" for n in names)
    return (
        "# みなと町（架空のデモ地域） / Minato, an invented demo town\n\n"
        "このフォルダのファイルはすべて `python -m kennai.demo` が自動生成した架空のデータです。"
        "実在の地域・人口・施設とは関係ありません。手で編集せず、"
        "`src/kennai/demo.py` を直して再生成してください。\n\n"
        "Every file in this folder is generated by `python -m kennai.demo` "
        "(`src/kennai/demo.py`) and is invented: the town, its streets, districts, population "
        "and gathering places do not exist. Do not edit by hand; change the generator and run "
        "it again (the output is deterministic). `pipelines/demo.yaml` uses these files.\n\n"
        f"{listing}\n"
    )


def _town_osm(geo: _Geo, rng: np.random.Generator) -> tuple[_Osm, list[_Street], list[_Building]]:
    """Streets, bypass, railway, river, park and buildings as OSM nodes and ways."""
    grid, rim = _grid_streets(geo, rng)
    streets = _largest_component(_node_streets(grid + _hill_streets(rim, rng)))
    osm = _Osm()
    _add_streets(osm, streets, geo, rng)

    def street_node(name: str, target: Point2) -> Point2:
        pts = [c for st in streets if st.tags.get("name") == name for c in st.coords]
        return min(pts, key=lambda c: (math.dist(c, target), c))

    # The bypass meets the walking network only through its two links (no foot traffic).
    mway = [_pt(*c) for c in geo.motorway.coords]
    west_m = min(mway, key=lambda c: abs(c[0] + 430.0))
    east_m = min(mway, key=lambda c: abs(c[0] - 1050.0))
    _add_line(osm, mway, {"highway": "motorway", "name": "みなとバイパス", "ref": "E99"}, geo,
              bridge="みなとバイパス橋", cuts={osm.node(west_m), osm.node(east_m)})
    w_end = street_node("駅前通り", (west_m[0] + 80.0, west_m[1] - 110.0))
    e_end = street_node("川向通り", (east_m[0] + 80.0, east_m[1] - 110.0))
    links = [_curve(west_m, w_end, 25.0, n=8), _curve(east_m, e_end, -25.0, n=8)]
    for coords in links:
        osm.way([osm.node(c) for c in coords], {"highway": "motorway_link"})

    rail = [_pt(*c) for c in geo.rail.coords]
    station = min(rail, key=lambda c: abs(c[0] + 250.0))
    _add_line(osm, rail, {"railway": "rail", "name": "みなと鉄道線"}, geo, bridge="みなと川橋梁")
    osm.node_tags[osm.node(station)] = {"name": "みなと駅", "name:en": "Minato",
                                        "public_transport": "station", "railway": "station"}

    river_ids = [osm.node(_pt(*c), shared=False) for c in geo.river.exterior.coords[:-1]]
    osm.way([*river_ids, river_ids[0]], {"name": "みなと川", "natural": "water", "water": "river",
                                         "waterway": "riverbank"})
    osm.way([osm.node(_pt(*c), shared=False) for c in geo.river_line.coords],
            {"name": "みなと川", "waterway": "river"})
    park_ids = [osm.node(_pt(*c), shared=False) for c in geo.park.exterior.coords[:-1]]
    osm.way([*park_ids, park_ids[0]], {"leisure": "park", "name": "丘の上公園"})

    buildings = _buildings(streets, geo, rng, avoid=[LineString(c).buffer(8.0) for c in links])
    for b in buildings:
        ids = [osm.node(_pt(*c), shared=False) for c in b.polygon.exterior.coords[:-1]]
        tags = {"building": b.kind}
        if b.kind == "apartments":
            tags["building:levels"] = str(b.levels)
        osm.way([*ids, ids[0]], tags)
    return osm, streets, buildings


def _places(buildings: list[_Building], used: set[int]) -> tuple[list[Point2], list[tuple[str, ...]]]:
    """Locations (in buildings) and attributes of the 通いの場."""
    points: list[Point2] = []
    for i, place in enumerate(_PLACES):
        if i == 0:  # the first two places are neighbours, under 30 m apart
            for k in _pair(buildings, place[3], used):
                c = buildings[k].polygon.centroid
                points.append(_pt(c.x, c.y))
        if i <= 1:
            continue
        c = buildings[_pick_building(buildings, place[3], used)].polygon.centroid
        points.append(_pt(c.x, c.y))
    info = [(n, k, kind, days, s, e, note, text)
            for n, k, kind, _, days, s, e, note, text in _PLACES]
    return points, info


def _facilities(geo: _Geo, streets: list[_Street], buildings: list[_Building],
                used: set[int]) -> tuple[list[Point2], list[tuple[str, ...]]]:
    """Locations and attributes of the candidate sites (parks on open ground)."""
    blocked = shapely.union_all(
        [shapely.buffer(LineString(st.coords), _HALF_WIDTHS[st.tags["highway"]]) for st in streets]
        + [b.polygon for b in buildings]
        + [geo.river.buffer(10.0), geo.rail.buffer(8.0), geo.motorway.buffer(15.0)])
    shapely.prepare(blocked)
    sites: list[Point2] = []
    info = []
    for name, kana, kind, target, text in _FACILITIES:
        if kind == "公園":
            sites.append(_free_spot(target, blocked, geo))
            days, start, end, note = "月,火,水,木,金,土,日", "06:00", "21:00", "終日開放（夜間照明なし）"
        else:
            c = buildings[_pick_building(buildings, target, used)].polygon.centroid
            sites.append(_pt(c.x, c.y))
            if kind == "空き店舗":
                days, start, end, note = "", "", "", "改修後に利用可能（要相談）"
            else:
                days, start, end, note = "月,火,水,木,金,土", "09:00", "21:00", "年末年始は休館"
        info.append((name, kana, kind, days, start, end, note, text))
    return sites, info


def generate_demo(out_dir: Path) -> list[Path]:
    """Write the demo town's files to ``out_dir`` and return their paths.

    The files are those named in ``pipelines/demo.yaml``; every call writes the same bytes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    frame = _frame()
    geo = _build_geo(rng)
    osm, streets, buildings = _town_osm(geo, rng)
    town = out_dir / "town.osm"
    town.write_text(osm.xml(frame), encoding="utf-8")
    written = [town, _write_dem(out_dir / "dem.tif", geo, frame)]

    layers = _layers(geo, rng)
    for name, rows, geoms in (
        ("elementary", [{"code": c, "name": n} for c, n in ELEMENTARY], layers.elementary),
        ("junior_high", [{"code": c, "name": n} for c, n, _ in JUNIOR_HIGH], layers.junior_high),
        ("jichikai", [{"code": f"N{i:02d}", "name": n} for i, (n, _, _) in enumerate(JICHIKAI, 1)],
         layers.jichikai),
        ("small_areas", _population(layers, buildings, rng), [a[3] for a in layers.small_areas]),
    ):
        written.append(_write_geojson(out_dir / f"{name}.geojson", rows, geoms, frame))

    used: set[int] = set()
    points, info = _places(buildings, used)
    written.append(_write_csv(out_dir / "places.csv", _CSV_COLUMNS,
                              _site_rows(frame, layers, points, info, rng)))
    sites, site_info = _facilities(geo, streets, buildings, used)
    written.append(_write_csv(out_dir / "public_facilities.csv", _CSV_COLUMNS,
                              _site_rows(frame, layers, sites, site_info, rng)))

    written.append(_write_geojson(out_dir / "plan_junior_high.geojson",
                                  [{"area": area} for _, _, area in JUNIOR_HIGH],
                                  layers.junior_high, frame))
    written.append(_write_csv(out_dir / "plan_elementary.csv", ("小学校区", "圏域"),
                              [list(r) for r in PLAN_ELEMENTARY]))
    readme = out_dir / "README.md"
    readme.write_text(_readme([p.name for p in written]), encoding="utf-8")
    written.append(readme)
    return written


def _population(layers: _Layers, buildings: list[_Building],
                rng: np.random.Generator) -> list[dict[str, Any]]:
    """e-Stat 小地域 rows: people live in the buildings; the hill is older."""
    cx = np.array([b.polygon.centroid.x for b in buildings])
    cy = np.array([b.polygon.centroid.y for b in buildings])
    weight = np.array([b.weight for b in buildings])
    flats = np.array([b.kind == "apartments" for b in buildings])
    scale = TARGET_POPULATION / weight.sum()
    rows = []
    for key, name, kind, poly in layers.small_areas:
        inside = shapely.contains_xy(poly, cx, cy)
        draws = rng.uniform(-1.0, 1.0, size=2)
        jinko = round(float(weight[inside].sum()) * scale) if kind == "land" else 0
        pt = poly.point_on_surface()
        hill = float(np.clip((float(_elevation(pt.x, pt.y)) - 8.0) / 60.0, 0.0, 1.0))
        across = 0.03 if pt.x > float(_river_x(pt.y)) else 0.0
        share65 = float(np.clip(0.27 + 0.16 * hill + across + 0.02 * draws[0], 0.25, 0.45))
        flat_share = float(flats[inside].mean()) if inside.any() else 0.0
        household = 2.55 - 0.5 * flat_share - 0.25 * hill + 0.08 * draws[1]
        rows.append({
            "KEY_CODE": key, "CITY_NAME": TOWN, "S_NAME": name,
            "HCODE": 8154 if kind == "water" else 8101, "AREA": round(poly.area, 1),
            "JINKO": jinko, "SETAI": round(jinko / household),
            "JINKO_65": round(jinko * share65),
        })
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m kennai.demo [OUT_DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m kennai.demo",
                                     description="みなと町（架空のデモ地域）のデータを生成します。")
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUT,
                        help="出力フォルダ（既定: data/boundaries/demo）")
    args = parser.parse_args(argv)
    for path in generate_demo(args.out_dir):
        print(path)


if __name__ == "__main__":
    main()
