"""What a check finds: one :class:`Finding` per result, and their counts by level.

Kept apart from the checks themselves (:mod:`kennai.checks`, which need geopandas and shapely)
so that reading a build's report (``kennai info``) imports neither.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from kennai.i18n import Text

Level = Literal["info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of a check."""

    level: Level
    code: str
    layer: str
    message: Text
    feature: str | None = None
    source: str | None = None
    #: Figures behind the finding (e.g. ``share_off_network``), also given as top-level keys.
    figures: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["message"] = self.message.en
        d["message_ja"] = self.message.ja
        if self.figures is None:
            del d["figures"]
        else:
            d |= self.figures
        return d

    def line(self, lang: str | None = None) -> str:
        """One line for terminal output."""
        where = ": ".join(x for x in (self.layer, self.feature) if x)
        return f"[{self.level}] {where}: {self.message.get(lang)}"


def summarise(findings: list[Finding]) -> dict[str, int]:
    """Counts of findings by level."""
    return {lvl: sum(f.level == lvl for f in findings) for lvl in ("error", "warning", "info")}
