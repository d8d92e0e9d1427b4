"""The e-Stat 国勢調査 小地域集計 age tables, read as e-Stat serves them.

Layout of ``tblT001082C<pref>.txt`` (2020) and ``tblT000849C<pref>.txt`` (2015), 年齢（5歳階級、
4区分）別、男女別人口, from e-Stat「地図で見る統計（統計GIS）」→ 統計データダウンロード:

- Shift_JIS (cp932) comma-separated text; line 1 the item codes ``KEY_CODE, HYOSYO, CITYNAME,
  NAME, HTKSYORI, HTKSAKI, GASSAN, T001082001 … T001082060``; line 2 their Japanese labels
  (``総数、年齢「不詳」含む``, ``総数０～４歳`` … ``総数７０～７４歳``, ``総数１５歳未満``,
  ``総数１５～６４歳``, ``総数６５歳以上``, ``総数７５歳以上``, then the same for 男 and 女; the 2015
  labels start with a full-width space); data from line 3.
- ``KEY_CODE``: 5 digits for the municipality, 9 for a 町・大字 (city + 4), 11 for a 丁目・字
  (city + 6); the boundary files (r2ka / h27ka) use the same codes.
- Cells: a number; ``-`` 該当数値なし (none, i.e. 0); ``X`` 秘匿 (hidden); ``…`` 不詳 (unknown).
- ``HTKSYORI`` 秘匿処理: 0 none; 1 this area's figures include those of the areas in
  ``GASSAN`` (``;``-separated); 2 this area's figures are hidden and counted in the area
  ``HTKSAKI`` (the KEY_CODE, or its part after the municipality code).

Sources followed: e-Stat's 統計データ定義書 for these tables (e-Stat ヘルプ「データ定義情報」,
``T001082``/``T000849``) and the files themselves as quoted in public parsers and tutorials (a
2020 Miyagi ``tblT001082C04.txt`` and a 2015 ``tblT000849C04.txt`` shown line by line, and a
municipal-data project that checked HTKSYORI/HTKSAKI/GASSAN on real 2020 files). The symbols
follow the national statistical convention (「-」皆無, 「X」秘匿, 「…」不詳). kennai never turns a
hidden or merged area's 65+ into 0 and never shares the merged figures out: such areas are kept
unknown and reported.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kennai.config import Source
from kennai.errors import InputError
from kennai.i18n import Text, t

_ITEM = re.compile(r"^T\d{9}$")
_AGE_RANGE = re.compile(r"(\d+)[~〜](\d+)歳")
_AGE_OPEN = re.compile(r"(\d+)歳以上")
#: Cells: 「-」 none (0); 「X」「*」 hidden; 「…」 unknown.
_ZERO = {"-", "－", "‐"}
_HIDDEN = {"X", "x", "Ｘ", "*", "＊"}
_UNKNOWN = {"", "…", "...", "･･･", "・・・"}


def line_label(line: int, what: str | None = None) -> Text:
    """``12 行目（KEY）`` / ``line 12 (KEY)`` for error messages."""
    return t(f"{line} 行目" + (f"（{what}）" if what else ""),
             f"line {line}" + (f" ({what})" if what else ""))


def is_estat_table(df: pd.DataFrame) -> bool:
    """Whether a table has e-Stat's statistical-data layout (KEY_CODE and T… item columns)."""
    cols = {str(c).strip().upper() for c in df.columns}
    return "KEY_CODE" in cols and ("HTKSYORI" in cols or any(_ITEM.match(c) for c in cols))


def normalise_key(key: object) -> str:
    """A KEY_CODE as e-Stat writes it (leading zero restored, no ``.0`` from spreadsheets)."""
    text = str(key).strip().removesuffix(".0")
    if text.isdigit() and len(text) in (4, 8, 10):
        text = text.zfill(len(text) + 1)
    return text


def _label(text: str) -> tuple[str, int, int | None] | tuple[str, str]:
    """(sex, lowest, highest or None) for an age group, (sex, "total") for a total."""
    norm = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).replace("～", "~")
    sex = "total" if norm.startswith("総数") else "male" if norm.startswith("男") else \
        "female" if norm.startswith("女") else ""
    if (m := _AGE_RANGE.search(norm)) is not None:
        return sex, int(m.group(1)), int(m.group(2))
    if (m := _AGE_OPEN.search(norm)) is not None:
        return sex, int(m.group(1)), None
    if "総数" in norm and "未満" not in norm:
        return sex, "total"
    return sex, "other"


@dataclass(frozen=True)
class EstatAges:
    """One e-Stat age table: a row per KEY_CODE with its total, 65+ and 秘匿 status."""

    path: Path
    #: key, line, name, total, age65, status (ok/hidden/merged_into), merged_into
    rows: pd.DataFrame
    #: KEY_CODE of a 合算 area → the hidden areas whose figures it includes
    merged_from: dict[str, list[str]] = field(default_factory=dict)

    normalise_key = staticmethod(normalise_key)

    def resolve(self, key: str) -> str | None:
        """The table's KEY_CODE for an area's KEY_CODE, or ``None`` if the table has no row.

        A 町 without 丁目 is ``city + 4`` digits in one file and ``city + 4 + "00"`` in another;
        both spellings are tried (the 9-digit row only when it has no 丁目 rows under it).
        """
        keys = self._keys()
        if key in keys:
            return key
        if len(key) == 11 and key.endswith("00") and key[:9] in keys and not any(
                k.startswith(key[:9]) and len(k) == 11 for k in keys):
            return key[:9]
        if len(key) == 9 and key + "00" in keys:
            return key + "00"
        return None

    def _keys(self) -> frozenset[str]:
        cached = self.__dict__.get("_key_set")
        if cached is None:
            cached = frozenset(self.rows["key"])
            object.__setattr__(self, "_key_set", cached)
        return cached


def check_not_above_total(rows: pd.DataFrame, path: Path) -> None:
    """Raise for the first row whose 65+ is above its total (both known)."""
    above = (rows["age65"] > rows["total"]).to_numpy()
    if above.any():
        i = int(np.flatnonzero(above)[0])
        raise InputError(
            t(f"65歳以上（{rows['age65'].iloc[i]:,.0f} 人）が総数（{rows['total'].iloc[i]:,.0f} 人）"
              f"を超えています（{int(above.sum())} 行）",
              f"65+ ({rows['age65'].iloc[i]:,.0f}) is above the total "
              f"({rows['total'].iloc[i]:,.0f}) ({int(above.sum())} rows)"),
            path=path, feature=line_label(int(rows["line"].iloc[i]), str(rows["key"].iloc[i])),
            hint=t("列の対応（総数・65歳以上）と数値を確認してください",
                   "check which columns are the total and 65+, and the numbers"))


def _cells(values: pd.Series, col: str, lines: np.ndarray, path: Path) -> np.ndarray:
    """Numbers of one item column; hidden and unknown cells are NaN."""
    text = values.astype(str).str.strip().str.replace(",", "", regex=False)
    number = pd.to_numeric(text.where(~text.isin(_ZERO), "0"), errors="coerce").to_numpy(float)
    odd = np.isnan(number) & ~text.isin(_HIDDEN | _UNKNOWN).to_numpy()
    for mask, what in ((odd, ("数値でも秘匿記号でもない値", "a value that is neither a number nor a "
                                                    "secrecy mark")),
                       (number < 0, ("負の人数", "a negative count"))):
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise InputError(
                t(f"列「{col}」に{what[0]}「{values.iloc[i]}」があります（{int(mask.sum())} 行）",
                  f"column {col!r} has {what[1]} {values.iloc[i]!r} ({int(mask.sum())} rows)"),
                path=path, feature=line_label(int(lines[i])),
                hint=t("e-Stat からダウンロードしたままのファイルを指定してください",
                       "give the file as downloaded from e-Stat"))
    return number


def _age65_columns(items: list[str], labels: dict[str, str], src: Source, path: Path
                   ) -> list[str]:
    """The table's own 65歳以上 column, else the groups from 65–69 up (総数, else 男 + 女)."""
    if src.population_65plus_column:
        if src.population_65plus_column not in items:
            raise InputError(t(f"65歳以上の列「{src.population_65plus_column}」がありません",
                               f"no 65+ column {src.population_65plus_column!r}"), path=path,
                             hint=t("age_table の population_65plus_column を確認してください",
                                    "check population_65plus_column of the age table"))
        return [src.population_65plus_column]
    parsed = {c: _label(labels.get(c, "")) for c in items}
    own = [c for c, p in parsed.items() if p == ("total", 65, None)]
    if own:
        return own[:1]
    if not labels:  # no label row: the layout of T001082 / T000849 (item 019 = 総数６５歳以上)
        known = [c for c in items if c[:7] in ("T001082", "T000849") and c.endswith("019")]
        if known:
            return known
    for sexes in (("total",), ("male", "female")):
        groups = [(c, p) for c, p in parsed.items() if len(p) == 3 and p[0] in sexes
                  and isinstance(p[1], int) and p[1] >= 65]
        if any(p[2] is None for _, p in groups) and _covers_from_65(groups, len(sexes)):
            return [c for c, _ in groups]
    raise InputError(t("65歳以上の列も 65 歳からの年齢階級もありません",
                       "neither a 65+ column nor age groups from 65 up"), path=path,
                     hint=t("年齢（5歳階級）別人口の表を指定するか population_65plus_column を"
                            "書いてください", "give the 5-year age-group table or set "
                            "population_65plus_column"))


def _covers_from_65(groups: list[tuple[str, tuple]], n_sexes: int) -> bool:
    """Whether the groups tile 65… with no overlap (per sex), so their sum is the 65+."""
    by_sex: dict[str, list[tuple[int, int | None]]] = {}
    for _, (sex, lo, hi) in groups:
        by_sex.setdefault(sex, []).append((lo, hi))
    if len(by_sex) != n_sexes:
        return False
    for spans in by_sex.values():
        start = 65
        for lo, hi in sorted(spans, key=lambda s: s[0]):
            if lo != start:
                return False
            if hi is None:
                return True
            start = hi + 1
    return False


def parse_estat(df: pd.DataFrame, src: Source) -> EstatAges:
    """Rows of an e-Stat age table: total, 65+ and 秘匿 status per KEY_CODE.

    Raises
    ------
    InputError
        For a missing 65+ column, unreadable cells, negative counts, 65+ above the total or a
        KEY_CODE given twice.
    """
    path = Path(src.path)
    upper = {str(c).strip().upper(): c for c in df.columns}
    key_col = src.id_column or upper["KEY_CODE"]
    items = [c for c in df.columns if _ITEM.match(str(c).strip())]
    first = df.iloc[0] if len(df) else None
    has_labels = first is not None and str(first[key_col]).strip() == ""
    labels = {c: str(first[c]) for c in items} if has_labels and first is not None else {}
    body = df.iloc[1:] if has_labels else df
    body = body[body[key_col].astype(str).str.strip() != ""]
    lines = body.index.to_numpy() + 2
    keys = body[key_col].map(normalise_key)
    dup = keys.duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(t(f"KEY_CODE {keys.iloc[i]} の行が 2 回あります",
                           f"KEY_CODE {keys.iloc[i]} appears twice"), path=path,
                         feature=line_label(int(lines[i]), keys.iloc[i]),
                         hint=t("e-Stat からダウンロードしたままのファイルを指定してください",
                                "give the file as downloaded from e-Stat"))
    total_col = next((c for c in items if _label(labels.get(c, "")) == ("total", "total")),
                     items[0] if items else None)
    if total_col is None:
        raise InputError(t("統計値の列（T…）がありません", "no statistics columns (T…)"),
                         path=path, hint=t("e-Stat の統計データのファイルを指定してください",
                                           "give an e-Stat statistics file"))
    age_cols = _age65_columns(items, labels, src, path)
    total = _cells(body[total_col], total_col, lines, path)
    parts = [_cells(body[c], c, lines, path) for c in age_cols]
    age65 = np.sum(parts, axis=0)  # NaN when any part is hidden or unknown
    htk = body[upper["HTKSYORI"]].astype(str).str.strip().str.removesuffix(".0") \
        if "HTKSYORI" in upper else pd.Series("0", index=body.index)

    def column(name: str) -> pd.Series:
        return body[upper[name]].astype(str).str.strip() if name in upper else \
            pd.Series("", index=body.index)

    saki, gassan = column("HTKSAKI"), column("GASSAN")
    names = column("NAME").where(column("NAME") != "", column("CITYNAME"))
    known = set(keys)

    def target(key: str, code: str) -> str:
        code = normalise_key(code) if len(code) in (9, 11) else key[:5] + code
        if code not in known and len(code) == 11 and code.endswith("00") and code[:9] in known:
            return code[:9]
        return code + "00" if code not in known and code + "00" in known else code

    merged = (htk == "2").to_numpy()
    status = np.where(merged, "merged_into", np.where(np.isnan(age65), "hidden", "ok"))
    age65 = np.where(merged, np.nan, age65)  # counted in the target: never twice, never 0
    into = [target(k, s) if m and s else "" for k, s, m in zip(keys, saki, merged, strict=True)]
    rows = pd.DataFrame({"key": keys.to_numpy(), "line": lines, "name": names.to_numpy(),
                         "total": total, "age65": age65, "status": status, "merged_into": into})
    check_not_above_total(rows, path)
    merged_from = {k: [target(k, g) for g in gs.split(";") if g.strip()]
                   for k, h, gs in zip(keys, htk, gassan, strict=True) if h == "1" and gs}
    return EstatAges(path, rows, merged_from)
