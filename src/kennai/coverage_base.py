"""What a coverage row's shares are of, said in a line beside them (「ネットワーク上の住民 8 % のうち」).

Apart from :mod:`kennai.access.coverage` so that printing a build's report (``kennai info``)
needs no analysis module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kennai.i18n import Text, t


def base_note(row: Mapping[str, Any]) -> Text:
    """The visible note that says what a row's shares are of, e.g. 「ネットワーク上の住民 8 % のうち」.

    Empty when the shares are of everyone on a full network; a straight-line row says so.
    """
    if row.get("method") == "straight_line":
        return t("直線距離のみ（歩行ネットワークなし）: ", "straight-line only (no walk network): ")
    share = row.get("base_share")
    if share is None or share >= 0.995:
        return t("", "")
    return t(f"ネットワーク上の住民 {share:.0%} のうち ", f"of the {share:.0%} of residents on the network: ")
