"""Many invented towns at once: N distinct seeded towns of varied size that tile the land.

Batch runs, their border handling and their benchmark need many regions that are cheap to make,
differ in size and share borders. Towns are rectangles laid out in rows (each row its own
height, each town its own width), so each one borders its row neighbours and the rows above and
below. Their streets are one jittered lattice defined for the whole land by a hash of the
lattice indices, so any two files holding the same stretch of street hold the same coordinates:
each town's ``town.osm`` holds its streets and those of a band around it (as an OSM extract of
the prefecture would), and :func:`write_joint` writes one region holding several towns.

Nothing here describes a real place: names, people and places are invented, the land lies
around 138.0°E 35.3°N in EPSG:6676 metres, and codes are in the unused prefecture 90.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box

from kennai.demo.frame import CRS_PROJECTED, Frame, lonlat
from kennai.demo.osm import Osm
from kennai.demo.places import SITE_COLUMNS
from kennai.demo.write import write_csv, write_geojson

TOWNS_SEED = 20261203
ORIGIN_LONLAT = (138.00, 35.30)
STREET_SPACING = 110.0
#: Streets of the neighbours kept around each town (more than any walking threshold reaches).
BAND_M = 1300.0
CELL_M = 400.0  # small areas: a grid of cells cut by the town line
ROW_WIDTH_M = 36_000.0
PREFECTURE = 90
_A = "青赤白黒北南東西大小中上下新古若朝夕"
_B = "川山田野原沢浜津岡島谷森井木石"
_C = ("", "台", "里", "崎", "瀬")


@dataclass(frozen=True)
class Town:
    """One invented town: its code, names, rectangle (local metres) and how densely it lives."""

    code: str
    name: str
    title: str
    rect: tuple[float, float, float, float]
    density: float  # people per km²
    seed: int

    @property
    def polygon(self) -> Polygon:
        return box(*self.rect)


def towns_frame() -> Frame:
    """EPSG:6676 origin of the towns' local metres (138.0°E 35.3°N)."""
    fwd = Transformer.from_crs("EPSG:4326", CRS_PROJECTED, always_xy=True)
    x0, y0 = fwd.transform(*ORIGIN_LONLAT)
    return Frame(float(x0), float(y0), Transformer.from_crs(CRS_PROJECTED, "EPSG:4326",
                                                            always_xy=True))


def layout(n: int, seed: int = TOWNS_SEED) -> list[Town]:
    """``n`` towns of varied width, height and density, in rows that tile the land."""
    rng = np.random.default_rng(seed)
    titles = [a + b + c for c in _C for a in _A for b in _B]
    order = rng.permutation(len(titles))
    towns: list[Town] = []
    y = 0.0
    while len(towns) < n:
        height = float(rng.uniform(1200.0, 3200.0))
        x = 0.0
        while x < ROW_WIDTH_M and len(towns) < n:
            width = float(min(rng.lognormal(np.log(2200.0), 0.45), 6000.0))
            width = max(width, 1000.0)
            k = len(towns)
            density = float(rng.lognormal(np.log(900.0), 0.9))
            towns.append(Town(code=f"{PREFECTURE}{k + 1:03d}", name=f"town{k + 1:03d}",
                              title=titles[int(order[k % len(titles)])] + "町",
                              rect=(x, y, x + width, y + height),
                              density=float(np.clip(density, 80.0, 9000.0)),
                              seed=int(rng.integers(0, 2**31))))
            x += width
        y += height
    return towns


def _hash(i: np.ndarray, j: np.ndarray, salt: int) -> np.ndarray:
    """A uniform number in [0, 1) per lattice index pair (splitmix64), the same in every file."""
    with np.errstate(over="ignore"):
        z = (i.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
             ^ j.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
             ^ np.uint64(salt) * np.uint64(0x165667B19E3779F9))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


_OFFSET = 1 << 20  # lattice indices made non-negative for hashing and node ids


def _lattice_xy(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    jitter = STREET_SPACING * 0.18
    x = i * STREET_SPACING + (2.0 * _hash(i + _OFFSET, j + _OFFSET, 1) - 1.0) * jitter
    y = j * STREET_SPACING + (2.0 * _hash(i + _OFFSET, j + _OFFSET, 2) - 1.0) * jitter
    return np.column_stack([x, y])


def streets_osm(area: Polygon) -> Osm:
    """The lattice streets with a node inside ``area`` (local metres), as OSM nodes and ways.

    About one street segment in eight is missing (a dead end or a block without a lane); the
    choice depends only on the segment, so overlapping files agree.
    """
    x0, y0, x1, y1 = area.bounds
    i = np.arange(int(np.floor(x0 / STREET_SPACING)) - 1, int(np.ceil(x1 / STREET_SPACING)) + 2)
    j = np.arange(int(np.floor(y0 / STREET_SPACING)) - 1, int(np.ceil(y1 / STREET_SPACING)) + 2)
    ii, jj = np.meshgrid(i, j, indexing="ij")
    xy = _lattice_xy(ii.ravel(), jj.ravel()).reshape(len(i), len(j), 2)
    inside = shapely.contains_xy(area, xy[..., 0], xy[..., 1])
    osm = Osm()
    for di, dj, salt in ((1, 0, 3), (0, 1, 4)):
        a_i, a_j = np.nonzero(inside[: len(i) - di, : len(j) - dj]
                              | inside[di:, dj:])
        keep = _hash(i[a_i] + _OFFSET, j[a_j] + _OFFSET, salt) >= 0.12
        for ai, aj in zip(a_i[keep].tolist(), a_j[keep].tolist(), strict=True):
            p = (float(xy[ai, aj, 0]), float(xy[ai, aj, 1]))
            q = (float(xy[ai + di, aj + dj, 0]), float(xy[ai + di, aj + dj, 1]))
            major = (i[ai] % 8 == 0 and dj == 1) or (j[aj] % 8 == 0 and di == 1)
            osm.way([osm.node(p), osm.node(q)],
                    {"highway": "tertiary" if major else "residential"})
    return osm


def _cells(town: Town) -> list[Polygon]:
    x0, y0, x1, y1 = town.rect
    out = []
    for cx in np.arange(x0, x1, CELL_M):
        for cy in np.arange(y0, y1, CELL_M):
            cell = box(cx, cy, min(cx + CELL_M, x1), min(cy + CELL_M, y1))
            if cell.area > 1.0:
                out.append(cell)
    return out


def _strips(rect: tuple[float, float, float, float], n: int, *, vertical: bool) -> list[Polygon]:
    x0, y0, x1, y1 = rect
    if vertical:
        xs = np.linspace(x0, x1, n + 1)
        return [box(float(xs[k]), y0, float(xs[k + 1]), y1) for k in range(n)]
    ys = np.linspace(y0, y1, n + 1)
    return [box(x0, float(ys[k]), x1, float(ys[k + 1])) for k in range(n)]


def write_town(town: Town, out_dir: Path, frame: Frame) -> Path:
    """Write one town's files into ``out_dir/<name>/`` and its region YAML; return the YAML."""
    rng = np.random.default_rng(town.seed)
    folder = out_dir / town.name
    folder.mkdir(parents=True, exist_ok=True)
    poly = town.polygon
    x0, y0, x1, y1 = town.rect
    (folder / "town.osm").write_text(streets_osm(poly.buffer(BAND_M, join_style="mitre"))
                                     .xml(frame), encoding="utf-8")
    n_elem = int(np.clip(round((x1 - x0) / 1500.0), 1, 4))
    elem = _strips(town.rect, n_elem, vertical=True)
    write_geojson(folder / "elementary.geojson",
                  [{"code": f"{town.code}E{k + 1}", "name": f"{town.title}第{k + 1}小学校区"}
                   for k in range(n_elem)], elem, frame)
    n_jh = 2 if (y1 - y0) > 2000.0 else 1
    write_geojson(folder / "junior_high.geojson",
                  [{"code": f"{town.code}J{k + 1}", "name": f"{town.title}第{k + 1}中学校区"}
                   for k in range(n_jh)], _strips(town.rect, n_jh, vertical=False), frame)
    cells = _cells(town)
    rows: list[dict[str, str | int | float]] = []
    for k, cell in enumerate(cells):
        people = round(town.density * cell.area / 1e6 * float(rng.lognormal(0.0, 0.5)))
        share65 = float(np.clip(rng.normal(0.31, 0.06), 0.15, 0.55))
        rows.append({"KEY_CODE": f"{town.code}{k + 1:04d}", "S_NAME": f"{town.title}{k + 1}番",
                     "JINKO": people, "JINKO_65": round(people * share65)})
    write_geojson(folder / "small_areas.geojson", rows, cells, frame)
    people = sum(int(r["JINKO"]) for r in rows)
    n_places = int(np.clip(round(people / 1200.0), 1, 60))
    xy = np.column_stack([rng.uniform(x0 + 30.0, x1 - 30.0, n_places),
                          rng.uniform(y0 + 30.0, y1 - 30.0, n_places)])
    ll = lonlat(frame, xy)
    kinds = ("サロン", "カフェ", "体操", "集会所")
    write_csv(folder / "places.csv", SITE_COLUMNS, [
        [f"{town.code}-{k + 1}", f"{town.title}{kinds[k % 4]}{k + 1}", "", f"{town.title}{k + 1}番地",
         f"{lat:.7f}", f"{lon:.7f}", "月", "10:00", "12:00", "毎週", "", kinds[k % 4]]
        for k, (lon, lat) in enumerate(ll.tolist())])
    return write_config(out_dir / f"{town.name}.yaml", town.name, town.title, [town.name])


def write_config(path: Path, name: str, title: str, folders: Sequence[str]) -> Path:
    """A region YAML over the files of one town's folder (or of several, for a joint region)."""
    def layer(kind: str, title_ja: str, file: str, extra: str = "") -> list[str]:
        lines = [f"  {kind}:", f"    title: {title_ja}", "    sources:"]
        for f in folders:
            lines.append(f"      - path: {f}/{file}")
            if extra:
                lines.append(f"        {extra}")
        return lines

    network = f"joint-{name}.osm" if len(folders) > 1 else f"{folders[0]}/town.osm"
    lines = ["# An invented town (kennai.demo.towns); nothing here is a real place.",
             f"name: {name}", f"title: {title}", f"crs: {CRS_PROJECTED}", "layers:",
             *layer("elementary", "小学校区", "elementary.geojson", "name_column: name"),
             *layer("junior_high", "中学校区", "junior_high.geojson", "name_column: name"),
             *layer("population", "小地域人口", "small_areas.geojson",
                    "population_column: JINKO\n        population_65plus_column: JINKO_65"),
             *layer("places", "通いの場", "places.csv", "category_column: 種別"),
             "  network:", "    title: 歩行ネットワーク", f"    path: {network}",
             "plans:", "  - name: junior_high", "    title: 中学校区を第2層圏域とする案",
             "    from_layer: junior_high", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_joint(towns: Sequence[Town], out_dir: Path, name: str) -> Path:
    """One region holding several towns (their files, one street file over all of them)."""
    frame = towns_frame()
    area = shapely.union_all([t.polygon for t in towns]).buffer(BAND_M, join_style="mitre")
    (out_dir / f"joint-{name}.osm").write_text(streets_osm(area).xml(frame), encoding="utf-8")
    return write_config(out_dir / f"{name}.yaml", name, "・".join(t.title for t in towns),
                        [t.name for t in towns])


def generate_towns(n: int, out_dir: Path, *, seed: int = TOWNS_SEED) -> Path:
    """Write ``n`` towns and the batch manifest ``out_dir/manifest.csv``; return the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = towns_frame()
    manifest = out_dir / "manifest.csv"
    with manifest.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["code", "config"])
        for town in layout(n, seed):
            writer.writerow([town.code, write_town(town, out_dir, frame).name])
    return manifest


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m kennai.demo.towns N OUT_DIR``."""
    parser = argparse.ArgumentParser(prog="python -m kennai.demo.towns",
                                     description="架空の町を N 個生成します（バッチ処理の試験用）。")
    parser.add_argument("n", type=int, help="町の数")
    parser.add_argument("out_dir", type=Path, help="出力フォルダ")
    parser.add_argument("--seed", type=int, default=TOWNS_SEED)
    args = parser.parse_args(argv)
    print(generate_towns(args.n, args.out_dir, seed=args.seed))


if __name__ == "__main__":
    main()
