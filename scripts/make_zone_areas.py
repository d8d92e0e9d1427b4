"""Build ``src/kennai/data/jgd2011_zone_areas.geojson``: the areas of the 平面直角座標系 zones.

The zones of JGD2011 / Japan Plane Rectangular CS are defined by prefecture (and, in Hokkaido, by
municipality) in 国土交通省告示「平面直角座標系」(平成14年国土交通省告示第9号). kennai decides the
zone of a region from where its data lie, so it needs to know which prefecture (or Hokkaido zone)
a point is in. This script makes that lookup table from the Japan Meteorological Agency's area
polygons:

- the municipality polygons (気象庁 予報区等 GIS の市町村等の区域, code = JIS municipality code
  + 2 digits), and
- the 一次細分区域 polygons (``class10s``, code starting with the JIS prefecture code), used only
  for islands the municipality set leaves out (e.g. 沖ノ鳥島).

Both are the files that the MIT-licensed ``reversejp`` project redistributes (its repository's
``reversejp-rust/data/landslides_*.json.zip`` and ``class10s.json.zip``); they came from the JMA
web site, whose content terms (気象庁ホームページ利用規約) follow the 政府標準利用規約 2.0 and are
compatible with CC BY 4.0. Credit: 「出典：気象庁ホームページ（予報区等GISデータ）を加工して作成」.
What we do: dissolve by prefecture (Hokkaido: by zone, from the municipality codes of the
告示), simplify by 0.0005° (≈50 m) and round coordinates to 4 decimals (≈11 m).

Usage::

    python scripts/make_zone_areas.py JMA_DIR [OUT]

where ``JMA_DIR`` holds ``class10s.json`` and ``landslides_0.json`` … ``landslides_9.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from kennai.crs import hokkaido_zone

OUT = Path(__file__).resolve().parents[1] / "src/kennai/data/jgd2011_zone_areas.geojson"
SOURCE = {
    "title": "JGD2011 平面直角座標系: zone areas by prefecture (Hokkaido by zone)",
    "source": "気象庁 予報区等GISデータ（市町村等の区域・一次細分区域）, as redistributed by the "
              "reversejp project (MIT); dissolved, simplified (0.0005°) and rounded by kennai",
    "licence": "気象庁ホームページ利用規約 (政府標準利用規約 2.0, CC BY 4.0 compatible)",
    "attribution": "出典：気象庁ホームページ（予報区等GISデータ）を加工して作成",
    "zones": "国土交通省告示「平面直角座標系」(平成14年国土交通省告示第9号)",
}


def _unit(code: str) -> tuple[int, int | None]:
    """(prefecture, zone) of a JMA municipality code; the zone only for Hokkaido."""
    if code == "hoppo":  # 北方領土 (根室振興局の所管区域)
        return 1, 13
    pref = int(code[:2])
    return pref, (hokkaido_zone(code[:5]) if pref == 1 else None)


def build(jma_dir: Path) -> dict[str, object]:
    munis = pd.concat([gpd.read_file(p) for p in sorted(jma_dir.glob("landslides_*.json"))],
                      ignore_index=True)
    munis["geometry"] = shapely.make_valid(munis.geometry.values)  # a few source rings self-touch
    units = [_unit(c) for c in munis["code"]]
    munis["pref"] = [u[0] for u in units]
    munis["zone"] = [u[1] if u[1] is not None else -1 for u in units]
    areas = munis.dissolve(by=["pref", "zone"]).reset_index()
    # Islands that have no municipality polygon (沖ノ鳥島 …) come from the coarser class10s.
    class10 = gpd.read_file(jma_dir / "class10s.json").explode(index_parts=False)
    class10 = class10[class10["code"].str[:2].str.isdigit()]
    class10["geometry"] = shapely.make_valid(class10.geometry.values)
    extra = class10[~class10.intersects(shapely.union_all(areas.geometry.values))]
    for geom, code in zip(extra.geometry, extra["code"], strict=True):
        pref = int(code[:2])
        rows = areas.index[areas["pref"] == pref]
        best = min(rows, key=lambda i: areas.geometry[i].distance(geom))
        areas.loc[best, "geometry"] = areas.geometry[best].union(geom)
    features = []
    for pref, zone, geom in zip(areas["pref"], areas["zone"], areas.geometry, strict=True):
        geom = shapely.set_precision(shapely.simplify(geom, 0.0005, preserve_topology=True),
                                     0.0001)
        features.append({"type": "Feature",
                         "properties": {"pref": int(pref), "zone": None if zone < 0 else int(zone)},
                         "geometry": json.loads(shapely.to_geojson(geom))})
    return {"type": "FeatureCollection", **SOURCE, "features": features}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    out = Path(argv[1]) if len(argv) > 1 else OUT
    data = build(Path(argv[0]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{out}: {len(data['features'])} areas, {out.stat().st_size:,} bytes")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
