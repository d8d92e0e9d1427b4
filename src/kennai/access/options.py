"""What an access computation depends on: coverage thresholds and the routing options.

Options are frozen and keyword-built, so that two computations agree exactly when their options
compare equal; :meth:`AccessOptions.routing_key` names the part that changes distances (stored
results are reused when it matches).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from kennai.errors import ConfigError
from kennai.i18n import t


@dataclass(frozen=True, slots=True)
class Threshold:
    """A coverage threshold: metres of walk (``unit="m"``) or minutes (``unit="min"``)."""

    value: float
    unit: str

    @property
    def label(self) -> str:
        v = int(self.value) if float(self.value).is_integer() else self.value
        return f"{v}{self.unit}"


_THRESHOLD_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|分)?\s*$")


def parse_threshold(text: str | float | Threshold) -> Threshold:
    """``"500"``/``"500m"`` → 500 m; ``"10min"``/``"10分"`` → 10 minutes."""
    if isinstance(text, Threshold):
        return text
    m = _THRESHOLD_RE.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(t(f"しきい値「{text}」を読めません", f"cannot read threshold {text!r}"),
                          feature=str(text), hint=t("例: 500（m）、10min（分）",
                                                    "e.g. 500 (metres) or 10min"))
    unit = "min" if m.group(2) in ("min", "分") else "m"
    return Threshold(float(m.group(1)), unit)


DEFAULT_THRESHOLDS: tuple[Threshold, ...] = tuple(
    parse_threshold(x) for x in ("250m", "500m", "800m", "1000m", "5min", "10min", "15min"))


@dataclass(frozen=True, slots=True)
class AccessOptions:
    """What an access computation depends on.

    ``categories`` keeps places whose category contains any of the strings; ``schedule``
    keeps places whose weekdays or schedule note contain the string (e.g. ``"毎週"``);
    ``weekly`` keeps the places open at least weekly (:func:`kennai.schedule.is_weekly`).
    """

    profile: str = "elderly"
    speed_mps: float | None = None
    thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS
    categories: tuple[str, ...] | None = None
    schedule: str | None = None
    weekly: bool = False
    slope: bool = True
    steps_factor: float = 1.5
    max_snap_m: float = 300.0
    extent_margin_m: float = 100.0
    straight_line_m: float = 500.0
    gap_threshold_m: float = 500.0
    gap_cell_m: float = 100.0
    suggestions: int = 5
    surface_res_m: float = 50.0

    def routing_key(self) -> dict[str, Any]:
        """The options that change residents' distances (thresholds do not)."""
        return {"profile": self.profile, "speed_mps": self.speed_mps,
                "categories": list(self.categories) if self.categories else None,
                "schedule": self.schedule, "weekly": self.weekly, "slope": self.slope,
                "steps_factor": self.steps_factor,
                "max_snap_m": self.max_snap_m, "extent_margin_m": self.extent_margin_m}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["thresholds"] = [th.label for th in self.thresholds]
        d["categories"] = list(self.categories) if self.categories else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AccessOptions:
        d = dict(d)
        d["thresholds"] = tuple(parse_threshold(x) for x in d["thresholds"])
        d["categories"] = tuple(d["categories"]) if d.get("categories") else None
        return cls(**d)
