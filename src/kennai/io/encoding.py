"""Detect the text encoding of files Japanese cities publish.

Municipal shapefiles come as Shift_JIS (cp932) far more often than UTF-8, with or without a
``.cpg`` file saying so; CSVs come as UTF-8 with or without a BOM, or as cp932. We decide from
the bytes themselves: strict UTF-8 first (cp932 text almost never decodes as UTF-8), then cp932.
"""

from __future__ import annotations

import codecs
import struct
from pathlib import Path

#: Names a ``.cpg`` may use, mapped to Python codec names.
_CPG_ALIASES = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "cp932": "cp932",
    "932": "cp932",
    "ms932": "cp932",
    "windows-31j": "cp932",
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "65001": "utf-8",
    "euc-jp": "euc_jp",
    "eucjp": "euc_jp",
}


def sniff_bytes(data: bytes, *, final: bool = True) -> str | None:
    """Return ``"utf-8"``, ``"cp932"`` or ``None`` (pure ASCII) for a sample of bytes.

    ``final=False`` tolerates a multi-byte character cut at the end of the sample.
    Raises ``UnicodeError`` when the bytes are neither.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if all(b < 0x80 for b in data):
        return None
    for enc in ("utf-8", "cp932"):
        try:
            codecs.getincrementaldecoder(enc)(errors="strict").decode(data, final=final)
        except UnicodeDecodeError:
            continue
        return enc
    raise UnicodeError("neither UTF-8 nor Shift_JIS (cp932)")


def codec_for_cpg(text: str) -> str | None:
    """Python codec name for the text of a ``.cpg`` file (``None`` when it is blank)."""
    key = text.strip().lower()
    return _CPG_ALIASES.get(key, key or None)


def cpg_encoding(shp: Path) -> str | None:
    """The encoding a shapefile's ``.cpg`` names, as a Python codec name, if it has one."""
    for cpg in (shp.with_suffix(".cpg"), shp.with_suffix(".CPG")):
        if cpg.is_file():
            return codec_for_cpg(cpg.read_text(encoding="ascii", errors="ignore"))
    return None


def dbf_encoding(dbf_bytes: bytes) -> str | None:
    """Guess the encoding of a ``.dbf`` from its records (header and field names skipped).

    Returns ``None`` when every text is ASCII (any encoding reads it the same).
    """
    if len(dbf_bytes) < 32:
        return None
    header_len, record_len = struct.unpack("<HH", dbf_bytes[8:12])
    sample = dbf_bytes[header_len : header_len + max(record_len, 1) * 2000]
    # Field names live in the header and are ASCII in practice; check them too.
    names = dbf_bytes[32:header_len]
    enc = sniff_bytes(sample, final=False) or sniff_bytes(names, final=False)
    return enc


def text_encoding(path: Path, *, sample_size: int = 1 << 20) -> str:
    """Encoding of a text file (CSV): ``utf-8-sig``, ``utf-8`` or ``cp932``."""
    with path.open("rb") as fh:
        data = fh.read(sample_size)
        final = fh.read(1) == b""
    enc = sniff_bytes(data, final=final)
    return enc or "utf-8"
