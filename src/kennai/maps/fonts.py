"""The Japanese font of the printed maps: found once, embedded in every PDF/SVG page.

matplotlib has no Japanese glyphs of its own; a page drawn without a Japanese font shows boxes.
The font is looked up among the installed ones (IPAex Gothic first), or taken from the file
named by ``KENNAI_FONT``; pages embed TrueType fonts as Type 42 so the PDF text stays text.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.patheffects import withStroke
from matplotlib.typing import RcKeyType

from kennai.errors import TreasureMapError
from kennai.i18n import t

_FONT_NAMES = ("IPAexGothic", "IPAGothic", "IPAPGothic", "VL Gothic", "TakaoGothic",
               "Noto Sans CJK JP", "Noto Sans JP", "Source Han Sans JP")
_FONT_FILES = ("ipaexg.ttf", "ipag.ttf", "ipagp.ttf", "VL-Gothic-Regular.ttf", "TakaoGothic.ttf",
               "NotoSansCJK-Regular.ttc", "NotoSansJP-Regular.otf", "SourceHanSansJP-Regular.otf")


@dataclass(frozen=True)
class JapaneseFont:
    """The Japanese font used for every text of a page: its family name and file."""

    name: str
    path: Path

    @property
    def truetype(self) -> bool:
        """TrueType outlines embed as Type 42 (CID) in PDF; CFF/collections go as Type 3."""
        return self.path.suffix.lower() == ".ttf"


@functools.cache
def japanese_font() -> JapaneseFont:
    """Find an installed Japanese font (``KENNAI_FONT`` may name a file to use instead).

    Raises
    ------
    TreasureMapError
        When none is installed (see ``scripts/setup_system.sh``).
    """
    from matplotlib import font_manager as fm

    override = os.environ.get("KENNAI_FONT")
    if override:
        path = Path(override)
        if not path.is_file():
            raise TreasureMapError(t("KENNAI_FONT のフォントファイルがありません",
                                     "the font file in KENNAI_FONT does not exist"), path=path,
                                   hint=t("TrueType (.ttf) の日本語フォントを指定してください",
                                          "name a Japanese TrueType (.ttf) font"))
        fm.fontManager.addfont(str(path))
        return JapaneseFont(fm.FontProperties(fname=str(path)).get_name(), path)
    by_name: dict[str, str] = {}
    for entry in fm.fontManager.ttflist:
        by_name.setdefault(entry.name, entry.fname)
    for name in _FONT_NAMES:
        if name in by_name and Path(by_name[name]).is_file():
            return JapaneseFont(name, Path(by_name[name]))
    # matplotlib's font cache can predate the font's installation: look at the files once.
    files = {Path(f).name: f for f in fm.findSystemFonts()}
    for fname in _FONT_FILES:
        if fname in files:
            fm.fontManager.addfont(files[fname])
            return JapaneseFont(fm.FontProperties(fname=files[fname]).get_name(),
                                Path(files[fname]))
    raise TreasureMapError(t("日本語フォントが見つかりません", "no Japanese font is installed"),
                           hint=t("scripts/setup_system.sh を実行してください"
                                  "（apt-get install -y fonts-ipaexfont-gothic）",
                                  "run scripts/setup_system.sh "
                                  "(apt-get install -y fonts-ipaexfont-gothic)"))


@functools.cache
def has_bold(name: str) -> bool:
    """Whether the font family ``name`` has a bold face installed."""
    from matplotlib import font_manager as fm

    return any(f.name == name and int(f.weight) >= 600 for f in fm.fontManager.ttflist
               if isinstance(f.weight, int | float))


def bold(colour: str, size: float) -> dict[str, Any]:
    """Bold text options: the bold face when the font has one, else a thin outline stroke."""
    if has_bold(japanese_font().name):
        return {"fontweight": "bold"}
    return {"path_effects": [withStroke(linewidth=max(size * 0.045, 0.25), foreground=colour)]}


def font_rc(font: JapaneseFont | None = None) -> dict[RcKeyType, Any]:
    """matplotlib settings that draw and embed every text in the Japanese font."""
    font = font or japanese_font()
    fonttype = 42 if font.truetype else 3
    # ps.fonttype too: matplotlib 3.11's PDF backend sizes its font subsets by it, and at 3 (256
    # characters a subset) puts every Japanese character in a second subset of the same font,
    # each subset cut from the 6 MB font file by fontTools again (~0.2 s each).
    return {"font.family": [font.name], "axes.unicode_minus": False,
            "pdf.fonttype": fonttype, "ps.fonttype": fonttype, "svg.fonttype": "path",
            "pdf.compression": 6}
