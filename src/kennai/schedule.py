"""When a gathering place meets: weekdays, start and end time, and how often (the one table of
frequencies), with the checks a register entry passes and the test "open at least weekly".

A サロン that meets once a month serves a different need from one open every week; coordinators
tell them apart on the map and in coverage, so the frequency is a field of its own.
"""

from __future__ import annotations

import re

from kennai.i18n import Text, t

#: How often a place meets: key → label (the register's choices, in the order offered).
FREQUENCIES: dict[str, Text] = {
    "週1回以上": t("週1回以上", "weekly or more"),
    "月1–3回": t("月1–3回", "1–3 times a month"),
    "不定期": t("不定期", "irregular"),
}
#: The frequency that counts as "open at least weekly".
WEEKLY = "週1回以上"

#: Weekday characters, Monday first.
WEEKDAYS = "月火水木金土日"
_SEPARATORS = re.compile(r"[,、・/／\s]+")

#: What the API's schema states of each field (empty clears it); every value matching one is
#: read by the parser below (which also reads full-width digits and a few more spellings).
TIME_PATTERN = r"^(([01]?[0-9]|2[0-3]):[0-5][0-9])?$"
WEEKDAYS_PATTERN = (r"^([月火水木金土日]+(曜日|曜)?([,、・/／ ]+[月火水木金土日]+(曜日|曜)?)*)?$")
FREQUENCY_PATTERN = r"^(週1回以上|月1[–-]3回|不定期)?$"
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class ScheduleValueError(ValueError):
    """A weekday, time or frequency that cannot be read, with the reason in both languages."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


def parse_frequency(text: str) -> str:
    """A frequency as its key (``月1-3回`` with a hyphen is ``月1–3回``); ScheduleValueError when
    it is none of :data:`FREQUENCIES`."""
    key = text.strip().replace("-", "–").replace("〜", "–").replace("~", "–")
    if key not in FREQUENCIES:
        raise ScheduleValueError(t(f"頻度は {' / '.join(FREQUENCIES)} のどれかです",
                                 f"the frequency is one of {', '.join(FREQUENCIES)}"))
    return key


def parse_weekdays(text: str) -> str:
    """Weekdays as ``月,水,金`` (Monday first, each once) from ``水・月`` / ``月、水`` / ``月水金``;
    ScheduleValueError for anything that is not a weekday."""
    parts = [p for p in _SEPARATORS.split(text.strip()) if p]
    days: set[str] = set()
    for part in parts:
        part = part.removesuffix("曜日").removesuffix("曜")
        if not part or any(c not in WEEKDAYS for c in part):
            raise ScheduleValueError(t(f"曜日「{part}」が分かりません（月〜日で書いてください）",
                                     f"unknown weekday {part!r} (write 月 … 日)"))
        days.update(part)
    return ",".join(d for d in WEEKDAYS if d in days)


def parse_time(text: str) -> str:
    """A time of day as ``HH:MM`` (``9:00`` → ``09:00``); ScheduleValueError otherwise."""
    m = _TIME.match(text.strip().replace("：", ":"))
    if not m:
        raise ScheduleValueError(t(f"時刻「{text}」は 09:30 のように書いてください",
                                 f"write the time {text!r} as e.g. 09:30"))
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def check_hours(start: str, end: str) -> None:
    """ScheduleValueError when a place ends before it starts (both ``HH:MM``)."""
    if start and end and end <= start:
        raise ScheduleValueError(t(f"終了 {end} が開始 {start} より前です",
                                 f"the end {end} is before the start {start}"))


def is_weekly(frequency: object, weekdays: object) -> bool:
    """Whether a place is open at least weekly: its frequency says so, or it has none and lists
    weekdays (a 推奨データセット 利用可能曜日 means open on those days every week)."""
    freq = "" if frequency is None or str(frequency) in ("nan", "None") else str(frequency).strip()
    if freq:
        return freq == WEEKLY
    days = "" if weekdays is None or str(weekdays) in ("nan", "None") else str(weekdays).strip()
    return bool(days)
