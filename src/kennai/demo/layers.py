"""The demo town's districts, 自治会 and small areas (with their population).

Every polygon layer is a union of faces of one planar arrangement, so the layers share every
vertex; people live in the buildings, and the hill is older.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from kennai.demo.buildings import Building
from kennai.demo.frame import Point2, point2
from kennai.demo.terrain import Geo, elevation, hill_r, river_x

CITY_CODE = "22999"
TOWN = "みなと町"
TARGET_POPULATION = 19800.0
_KANJI = "〇一二三四五六七八九十"

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
class Layers:
    """All district layers in local metres."""

    elementary: list[Polygon]
    junior_high: list[Polygon]
    jichikai: list[Polygon]
    small_areas: list[tuple[str, str, str, Polygon]]  # (KEY_CODE, S_NAME, kind, polygon)
    address: list[tuple[Polygon, str, int]]  # land small areas: polygon, 町名, 丁目


def _zone(x: float, y: float) -> int:
    """Index into :data:`ZONES` of the 町 at a point."""
    if x > float(river_x(y)):
        return 7 if y > 400.0 else (8 if x > 1300.0 else 6)
    if float(hill_r(x, y)) < 650.0:
        return 4
    if y > 300.0:
        return 5
    if y < -950.0:
        return 2
    if x < -1050.0:
        return 3
    return 1 if x < -550.0 else 0


def district_layers(geo: Geo, rng: np.random.Generator) -> Layers:
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
            p = point2(x + rng.uniform(-80.0, 80.0), y + rng.uniform(-80.0, 80.0))
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
    return Layers(elementary, junior_high, jichikai, small, address)


def _kanji(n: int) -> str:
    """1-19 in kanji numerals (一, 十二, ...)."""
    return _KANJI[n] if n <= 10 else "十" + _KANJI[n - 10]


def population_rows(layers: Layers, buildings: list[Building],
                    rng: np.random.Generator) -> list[dict[str, str | int | float]]:
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
        hill = float(np.clip((float(elevation(pt.x, pt.y)) - 8.0) / 60.0, 0.0, 1.0))
        across = 0.03 if pt.x > float(river_x(pt.y)) else 0.0
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
