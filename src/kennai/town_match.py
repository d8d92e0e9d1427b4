"""Find the 町丁・字 of the region that an address names, to place a new 通いの場 by typing its
address instead of clicking the map.

Addresses and town names are compared after normalising the ways Japanese writes them: full-
and half-width (NFKC), ヶ/ケ/が in place names, and 丁目 written in kanji (本町五丁目) or as the
first number of the 番地 (本町5-6-1 is in 本町五丁目). The longest town name that the address
starts with (after its prefecture and municipality) wins; the point given is inside that town
(its largest piece), which the coordinator then moves to the door.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import geopandas as gpd

from kennai.errors import NotFoundError
from kennai.i18n import t
from kennai.region import Region

_KANJI_DIGITS = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                 "九": 9}
_CHOME = re.compile(r"([〇一二三四五六七八九十]+)丁目")
_PREFIX = re.compile(r"^.{2,3}?[都道府県]")


@dataclass(frozen=True, slots=True)
class TownMatch:
    """The town an address is in and a point inside it (EPSG:4326)."""

    address: str
    town: str
    lon: float
    lat: float


def _kanji_number(text: str) -> int:
    """一 … 九十九 as a number (丁目 numbers are small)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_KANJI_DIGITS.get(tens, 1) if tens else 1) * 10 + (_KANJI_DIGITS[ones] if ones else 0)
    return _KANJI_DIGITS[text]


def normalise(text: str) -> str:
    """An address or a town name in one spelling: NFKC, no spaces, ケ for ヶ/が between kanji,
    丁目 numbers in digits."""
    s = unicodedata.normalize("NFKC", str(text)).replace(" ", "").replace("ヶ", "ケ")
    s = re.sub(r"(?<=[\u4e00-\u9fff])[がヵ](?=[\u4e00-\u9fff])", "ケ", s)
    s = s.replace("−", "-").replace("ー", "-") if re.search(r"\d[−ー]\d", s) else s.replace("−", "-")
    return _CHOME.sub(lambda m: f"{_kanji_number(m.group(1))}丁目", s)


def _town_keys(name: str) -> tuple[str, str | None]:
    """A town's normalised name and, for an N丁目, the form ``<base>N`` a 番地 starts with."""
    key = normalise(name)
    m = re.match(r"^(.*?)(\d+)丁目$", key)
    return key, (f"{m.group(1)}{m.group(2)}" if m else None)


def _strip_municipality(address: str, region: Region) -> str:
    """The address after its prefecture and the region's municipality (as its title names it,
    without a note in brackets)."""
    s = _PREFIX.sub("", normalise(address), count=1)
    for title in (region.config.title, region.config.title_en or ""):
        name = normalise(re.split(r"[（(]", title)[0])
        if name and s.startswith(name):
            return s[len(name):]
    return s


def _towns(region: Region) -> gpd.GeoDataFrame:
    """The region's named 町丁・字 (its census areas or town points)."""
    if not region.has_layer("population"):
        raise NotFoundError(t("この地域には町丁・字の一覧（小地域人口）がありません",
                              "this region has no list of towns (census small areas)"),
                            feature="population", hint=t("地図をクリックして場所を置いてください",
                                                         "place the point by clicking the map"))
    towns = region.layer("population")
    return towns[towns["name"].notna() & (towns["name"].astype(str).str.strip() != "")]


def match_town(region: Region, address: str) -> TownMatch:
    """The town of the region an address is in, with a point inside it.

    Raises
    ------
    NotFoundError
        When the address names no town of the region (the message says which part was read).
    """
    towns = _towns(region)
    rest = _strip_municipality(address, region)
    best: tuple[int, int, str] | None = None  # (at the start, length, name)
    for name in dict.fromkeys(towns["name"].astype(str)):
        key, numbered = _town_keys(name)
        for form, tail in ((key, ""), (numbered, r"(?:$|[-番の])")):
            if form is None:
                continue
            m = re.search(re.escape(form) + tail, rest)
            if m:
                rank = (int(m.start() == 0), len(form), name)
                best = rank if best is None or rank[:2] > best[:2] else best
    if best is None:
        raise NotFoundError(t(f"住所「{address}」に当たる町丁・字が {region.config.title} にありません",
                              f"no town of {region.config.title} matches the address {address!r}"),
                            feature="address", hint=t("町名から書くか、地図をクリックして置いてください",
                                                      "start with the town name, or click the map"))
    pieces = towns[towns["name"].astype(str) == best[2]]
    largest = pieces.loc[[pieces.geometry.area.idxmax()]] if (pieces.geom_type != "Point").any() \
        else pieces.iloc[[0]]
    point = largest.geometry.representative_point().to_crs("EPSG:4326").iloc[0]
    return TownMatch(address, best[2], round(float(point.x), 7), round(float(point.y), 7))
