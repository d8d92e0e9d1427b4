"""Write the small age tables the age-table tests read (invented town 見本市, code 22999).

The e-Stat files follow the layout of e-Stat 統計GIS「統計データダウンロード」for 国勢調査 小地域
年齢（5歳階級、4区分）別、男女別人口 (2020 ``T001082``, 2015 ``T000849``): Shift_JIS, CRLF, line 1
the item codes, line 2 the Japanese labels (2015 with a leading full-width space), 60 items
(総数/男/女 × 総数・0–4 … 70–74・15歳未満・15～64歳・65歳以上・75歳以上), ``-`` for none, ``X``
for hidden, HTKSYORI 1/2 with GASSAN/HTKSAKI for merged areas. See kennai/io/age_estat.py for
the documentation followed. Every number here is made up.

Run ``python tests/data/age_tables/make.py`` to rewrite them.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
_WIDE = str.maketrans("0123456789", "０１２３４５６７８９")
#: ０～４歳 … ７０～７４歳, with the full-width digits e-Stat writes.
AGES = [f"{lo}～{lo + 4}".translate(_WIDE) for lo in range(0, 75, 5)]


def labels(lead: str) -> list[str]:
    out = []
    for sex, head in (("総数", "総数、年齢「不詳」含む"), ("男", "男の総数、年齢「不詳」含む"),
                      ("女", "女の総数、年齢「不詳」含む")):
        out.append(head)
        out += [f"{lead}{sex}{a}歳" for a in AGES]
        out += [f"{lead}{sex}{x}" for x in ("１５歳未満", "１５～６４歳", "６５歳以上", "７５歳以上")]
    return out


def values(male: list[int], female: list[int]) -> list[str]:
    """60 cells from 16 male and 16 female groups (0–4 … 70–74, 75+); 0 is written ``-``."""
    out: list[int] = []
    for groups in ([m + f for m, f in zip(male, female, strict=True)], male, female):
        out.append(sum(groups))
        out += groups[:15]
        out += [sum(groups[:3]), sum(groups[3:13]), sum(groups[13:]), groups[15]]
    return [str(v) if v else "-" for v in out]


def hidden() -> list[str]:
    return ["X"] * 60


def write(name: str, table: str, lead: str, rows: list[list[str]]) -> None:
    codes = ["KEY_CODE", "HYOSYO", "CITYNAME", "NAME", "HTKSYORI", "HTKSAKI", "GASSAN",
             *(f"{table}{i:03d}" for i in range(1, 61))]
    lines = [",".join(codes), ",,,,,,," + ",".join(labels(lead))]
    lines += [",".join(r) for r in rows]
    (HERE / name).write_bytes(("\r\n".join(lines) + "\r\n").encode("cp932"))


M1 = [10, 11, 12, 13, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30, 31, 40]
F1 = [9, 10, 11, 12, 19, 20, 21, 22, 23, 24, 25, 26, 27, 33, 35, 60]
M2 = [3, 2, 0, 1, 4, 5, 6, 7, 5, 4, 3, 2, 6, 8, 9, 12]
F2 = [2, 0, 1, 1, 3, 4, 5, 6, 4, 3, 3, 2, 7, 9, 10, 20]
M3 = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3]
ZERO = [0] * 16


def main() -> None:
    city = ["22999", "1", "見本市", "", "0", "", ""]
    write("tblT001082C22_mihon.txt", "T001082", "", [
        city + values([a + b for a, b in zip(M1, M2, strict=True)],
                      [a + b for a, b in zip(F1, F2, strict=True)]),
        # 本町: a 町 without 丁目 (9 digits here, 11 with "00" in the boundary file)
        ["229990010", "2", "見本市", "本町", "0", "", "", *values(M1, F1)],
        # 中町: the sum of its 丁目 (level 3), then the 丁目 rows (level 4)
        ["229990020", "3", "見本市", "中町", "0", "", "", *values(M2, F2)],
        # 中町１丁目 holds 中町２丁目's figures (合算), which are hidden (秘匿)
        ["22999002001", "4", "見本市", "中町１丁目", "1", "", "002002", *values(M2, F2)],
        ["22999002002", "4", "見本市", "中町２丁目", "2", "002001", "", *hidden()],
        # 浜町: small numbers, several groups with none (「-」)
        ["229990030", "2", "見本市", "浜町", "0", "", "", *values(M3, ZERO)],
        # 山町: total shown, every age group hidden
        ["229990040", "2", "見本市", "山町", "0", "", "", "12", *(["X"] * 19), "7",
         *(["X"] * 19), "5", *(["X"] * 19)],
        # 無人町: nobody lives there
        ["229990050", "2", "見本市", "無人町", "0", "", "", *values(ZERO, ZERO)],
    ])
    write("tblT000849C22_mihon.txt", "T000849", "\u3000", [
        ["22999", "1", "見本郡見本町", "", "0", "", "", *values(M1, F1)],
        ["229990010", "2", "見本郡見本町", "本町", "0", "", "", *values(M1, F1)],
    ])
    register_csv()


def register_csv() -> None:
    """A 推奨データセット「地域・年齢別人口」CSV with the schema's Japanese headers (cp932)."""
    head = ["都道府県コード又は市区町村コード", "地域コード", "都道府県名", "市区町村名", "調査年月日",
            "地域名", "総人口", "男性", "女性"]
    for lo in range(0, 85, 5):
        head += [f"{lo}-{lo + 4}歳の男性", f"{lo}-{lo + 4}歳の女性"]
    head += ["85歳以上の男性", "85歳以上の女性", "世帯数", "備考"]
    rows = [",".join(head)]
    towns = [("大字本町", 3), ("中町一丁目", 2), ("中町 ２丁目", 1), ("浜ヶ町", 4), ("新港", 0)]
    for name, n in towns:
        male = [n] * 18
        female = [n + 1 if n else 0] * 18
        cells = [v for pair in zip(male, female, strict=True) for v in pair]
        rows.append(",".join(["229993", "", "静岡県", "見本市", "2026/02/01", name,
                              str(sum(male) + sum(female)), str(sum(male)), str(sum(female)),
                              *map(str, cells), str(n * 7), ""]))
    (HERE / "chiiki_nenrei_mihon.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode("cp932"))


if __name__ == "__main__":
    main()
