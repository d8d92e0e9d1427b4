"""The file formats of a printed map, by the output name's suffix.

Apart from :mod:`kennai.maps.treasure` (which needs matplotlib) so that a bad output name is
refused before any of the drawing machinery is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from kennai.errors import TreasureMapError
from kennai.i18n import t

PrintFormat = Literal["pdf", "png", "svg"]
#: Output formats by file suffix.
FORMATS: dict[str, PrintFormat] = {".pdf": "pdf", ".png": "png", ".svg": "svg"}


def output_format(path: Path) -> PrintFormat:
    """The file format from the output name's suffix (pdf, png, svg)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TreasureMapError(t(f"出力形式「{path.suffix}」は使えません",
                                 f"unsupported output format {path.suffix!r}"), path=path,
                               hint=t(".pdf / .png / .svg（対話地図は .html）を指定してください",
                                      "use .pdf, .png or .svg (.html for the interactive map)"))
    return fmt
