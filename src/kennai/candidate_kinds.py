"""What kind of site a candidate for a new gathering place is, told from its name and category.

Public-facility lists (推奨データセット 公共施設一覧) hold parking lots, disaster-storage sheds,
fire-brigade garages and tennis courts beside halls and schools; none of the former can host a
サロン. Each candidate gets one kind from the first rule whose keywords its name or category
contains (rules that exclude come first, so 「避難地倉庫（大富小学校）」 is storage, not a
school), and site suggestion keeps the kinds of an allow-list: :data:`DEFAULT_ALLOWED` unless
the region's ``suggest_kinds`` or the request says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from kennai.i18n import Text, t


@dataclass(frozen=True, slots=True)
class CandidateKind:
    """One kind of candidate site: its key, title, whether it is allowed by default, and the
    keywords (in a name, category or OSM tag value) that make a site of this kind."""

    key: str
    title: Text
    allowed: bool
    keywords: tuple[str, ...]


#: The kinds, in the order they are tried (first match wins): exclusions first.
CANDIDATE_KINDS: tuple[CandidateKind, ...] = (
    CandidateKind("storage", t("倉庫", "storage"), False,
                  ("倉庫", "備蓄", "保管庫", "水防センター", "storage", "warehouse")),
    CandidateKind("parking", t("駐車場・駐輪場", "parking"), False,
                  ("駐車場", "駐輪場", "parking")),
    CandidateKind("garage", t("車庫・詰所", "garage"), False,
                  ("車庫", "艇庫", "詰所", "消防署", "分署", "garage", "fire_station")),
    CandidateKind("sports", t("運動施設", "sports ground"), False,
                  ("テニス", "グラウンド", "競技場", "野球場", "相撲場", "プール", "運動公園",
                   "スポーツ広場", "体育館", "pitch", "sports_centre", "stadium", "swimming")),
    CandidateKind("utility", t("設備・用地", "utility"), False,
                  ("トイレ", "用地", "脱塩施設", "水車小屋", "展望台", "海水浴場", "給食センター",
                   "医師住宅", "toilets")),
    CandidateKind("housing", t("公営住宅", "housing"), False, ("団地", "市営住宅", "県営住宅")),
    CandidateKind("hall", t("公民館・集会所・会館", "hall"), True,
                  ("公民館", "集会所", "集会場", "会館", "公会堂", "集落センター", "学習等供用施設",
                   "地域交流センター", "コミュニティ防災センター", "コミュニティセンター",
                   "市民センター", "community_centre", "community_center")),
    CandidateKind("welfare", t("福祉・介護施設", "welfare or care"), True,
                  ("福祉", "介護", "老人", "ケア", "デイサービス", "地域活動支援センター",
                   "児童センター", "児童クラブ", "学童", "保健センター", "保健相談センター",
                   "障害福祉", "social_facility", "nursing_home")),
    CandidateKind("school", t("学校・幼稚園・保育園", "school"), True,
                  ("小学校", "中学校", "高校", "高等学校", "幼稚園", "保育園", "こども園", "school",
                   "kindergarten")),
    CandidateKind("library", t("図書館", "library"), True, ("図書館", "library")),
    CandidateKind("shop", t("店舗（空き店舗を含む）", "shop (also empty)"), True,
                  ("店舗", "商店", "販売", "ストア", "スーパー", "shop", "supermarket",
                   "convenience")),
    CandidateKind("religious", t("寺社・教会", "temple or shrine"), True,
                  ("寺", "神社", "教会", "place_of_worship")),
    CandidateKind("street", t("道路上の地点", "point on a street"), False, ()),
    CandidateKind("other", t("その他", "other"), False, ()),
)

#: Kind key → kind.
KINDS_BY_KEY: dict[str, CandidateKind] = {k.key: k for k in CANDIDATE_KINDS}

#: The kinds site suggestion picks from when nothing else is said.
DEFAULT_ALLOWED: tuple[str, ...] = tuple(k.key for k in CANDIDATE_KINDS if k.allowed)


def candidate_kind(*texts: object) -> str:
    """The kind of a candidate from its name, then its category (then any other text such as
    OSM tag values): the first rule with a keyword in the first text that has one, else
    ``"other"``. The name comes first because a category may be the department in charge
    (「住宅・公共建築課」 runs halls too)."""
    for text in texts:
        if text is None or str(text) in ("", "nan", "None"):
            continue
        for kind in CANDIDATE_KINDS:
            if any(word in str(text) for word in kind.keywords):
                return kind.key
    return "other"


def unknown_kinds(keys: list[str] | tuple[str, ...]) -> list[str]:
    """The keys that name no candidate kind (for a clear error where they are given)."""
    return [k for k in keys if k not in KINDS_BY_KEY]
