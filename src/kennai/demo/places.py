"""The demo town's gathering places (通いの場) and candidate sites, as 推奨データセット rows."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from kennai.demo.buildings import HALF_WIDTHS, Building
from kennai.demo.frame import Frame, Point2, lonlat, point2
from kennai.demo.layers import TOWN, Layers
from kennai.demo.streets import Street
from kennai.demo.terrain import Geo

SITE_COLUMNS = (
    "NO", "名称", "名称_カナ", "住所", "緯度", "経度", "利用可能曜日", "開始時間", "終了時間",
    "利用可能日時特記事項", "説明", "種別",
)
#: What a site row says besides where: name, kana, kind, days, start, end, note, description.
SiteInfo = tuple[str, str, str, str, str, str, str, str]

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


def _address(layers: Layers, p: Point2, rng: np.random.Generator) -> str:
    """A made-up 住所 such as みなと町本町1-2-3 for a point."""
    pt = Point(p)
    _, name, number = min(layers.address, key=lambda a: a[0].distance(pt))
    return f"{TOWN}{name}{number}-{int(rng.integers(1, 21))}-{int(rng.integers(1, 31))}"


def site_rows(frame: Frame, layers: Layers, points: list[Point2],
              info: list[SiteInfo], rng: np.random.Generator) -> list[list[str]]:
    """Rows of the 推奨データセット CSV schema for sites at ``points``."""
    ll = lonlat(frame, np.asarray(points))
    rows = []
    for no, (p, (lon, lat), fields) in enumerate(zip(points, ll.tolist(), info, strict=True), 1):
        name, kana, kind, days, start, end, note, text = fields
        rows.append([str(no), name, kana, _address(layers, p, rng), f"{lat:.6f}", f"{lon:.6f}",
                     days, start, end, note, text, kind])
    return rows


def _pick_building(buildings: list[Building], target: Point2, used: set[int]) -> int:
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


def _pair(buildings: list[Building], target: Point2, used: set[int]) -> tuple[int, int]:
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


def _free_spot(target: Point2, blocked: BaseGeometry, geo: Geo) -> Point2:
    """The grid point nearest ``target`` that is on land, away from roads and buildings."""
    offsets = sorted(((dx, dy) for dx in range(-120, 121, 5) for dy in range(-120, 121, 5)),
                     key=lambda o: (o[0] ** 2 + o[1] ** 2, o))
    for dx, dy in offsets:
        p = Point(target[0] + dx, target[1] + dy)
        if geo.outline.buffer(-10.0).contains(p) and not blocked.intersects(p.buffer(12.0)):
            return point2(p.x, p.y)
    raise AssertionError(f"no free spot near {target}")


def place_sites(buildings: list[Building], used: set[int]) -> tuple[list[Point2], list[SiteInfo]]:
    """Locations (in buildings) and attributes of the 通いの場."""
    points: list[Point2] = []
    for i, place in enumerate(_PLACES):
        if i == 0:  # the first two places are neighbours, under 30 m apart
            for k in _pair(buildings, place[3], used):
                c = buildings[k].polygon.centroid
                points.append(point2(c.x, c.y))
        if i <= 1:
            continue
        c = buildings[_pick_building(buildings, place[3], used)].polygon.centroid
        points.append(point2(c.x, c.y))
    info = [(n, k, kind, days, s, e, note, text)
            for n, k, kind, _, days, s, e, note, text in _PLACES]
    return points, info


def facility_sites(geo: Geo, streets: list[Street], buildings: list[Building],
                   used: set[int]) -> tuple[list[Point2], list[SiteInfo]]:
    """Locations and attributes of the candidate sites (parks on open ground)."""
    blocked = shapely.union_all(
        [shapely.buffer(LineString(st.coords), HALF_WIDTHS[st.tags["highway"]]) for st in streets]
        + [b.polygon for b in buildings]
        + [geo.river.buffer(10.0), geo.rail.buffer(8.0), geo.motorway.buffer(15.0)])
    shapely.prepare(blocked)
    sites: list[Point2] = []
    info: list[SiteInfo] = []
    for name, kana, kind, target, text in _FACILITIES:
        if kind == "公園":
            sites.append(_free_spot(target, blocked, geo))
            days, start, end, note = "月,火,水,木,金,土,日", "06:00", "21:00", "終日開放（夜間照明なし）"
        else:
            c = buildings[_pick_building(buildings, target, used)].polygon.centroid
            sites.append(point2(c.x, c.y))
            if kind == "空き店舗":
                days, start, end, note = "", "", "", "改修後に利用可能（要相談）"
            else:
                days, start, end, note = "月,火,水,木,金,土", "09:00", "21:00", "年末年始は休館"
        info.append((name, kana, kind, days, start, end, note, text))
    return sites, info
