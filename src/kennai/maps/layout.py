"""Where things go on a printed page: the boxes, the map extent, text lines and list columns.

Pure geometry in millimetres and ems (no drawing): the page's map, list and header boxes per
paper and orientation, the view that holds a district, Japanese line breaking with 禁則, markers
pushed apart so that none hides another, and list columns sized by their content.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from kennai.errors import TreasureMapError
from kennai.i18n import t

if TYPE_CHECKING:
    import shapely

Paper = Literal["A4", "A3"]
Orientation = Literal["landscape", "portrait"]

#: Paper sizes in millimetres, landscape (width, height).
PAPER_MM: dict[str, tuple[float, float]] = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
#: Millimetres per typographic point.
PT_MM = 25.4 / 72.0
#: The columns of the list beside the map.
LIST_COLUMNS = ("No.", "名称", "種別", "曜日・時間", "住所")

_WORD_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.:/()@"
_NO_LINE_START = set("、。，．・：；？！）」』】〕ー～ぁぃぅぇぉっゃゅょァィゥェォッャュョ,.:;)!?")


# ---------------------------------------------------------------------------------------------
# The page


@dataclass(frozen=True)
class Page:
    """Page geometry in millimetres: figure size and the map, list and header boxes."""

    width: float
    height: float
    map_box: tuple[float, float, float, float]   # left, bottom, width, height
    list_box: tuple[float, float, float, float]
    #: The largest list font (pt) and how many side-by-side list columns the page may use.
    list_max_pt: float = 8.5
    list_columns: int = 1


def page_layout(paper: str, orientation: str) -> Page:
    """The boxes of a page: map left (landscape) or on top (portrait), the list beside it.

    Raises
    ------
    TreasureMapError
        For a paper size other than A4/A3 or an orientation other than landscape/portrait.
    """
    if paper not in PAPER_MM:
        raise TreasureMapError(t(f"用紙「{paper}」は使えません", f"unknown paper size {paper!r}"),
                               feature="paper", hint=t("A4 か A3 を指定してください", "use A4 or A3"))
    if orientation not in ("landscape", "portrait"):
        raise TreasureMapError(t(f"向き「{orientation}」は使えません",
                                 f"unknown orientation {orientation!r}"), feature="orientation",
                               hint=t("landscape か portrait を指定してください",
                                      "use landscape or portrait"))
    w, h = PAPER_MM[paper]
    if orientation == "portrait":
        w, h = h, w
    margin, header, footer, gap = 10.0, 22.0, 14.0, 6.0
    inner_w, inner_h = w - 2 * margin, h - header - footer
    bottom = footer
    # A3 is read from further away on a hall's wall: a larger share for the map and a larger
    # list font. A long list runs in two columns rather than in a tiny font.
    a3 = paper == "A3"
    share = 0.64 if a3 else 0.60
    max_pt, columns = (11.0, 2) if a3 else (8.5, 2)
    if orientation == "landscape":
        map_w = inner_w * share
        return Page(w, h, (margin, bottom, map_w, inner_h),
                    (margin + map_w + gap, bottom, inner_w - map_w - gap, inner_h), max_pt, columns)
    map_h = inner_h * share
    return Page(w, h, (margin, bottom + inner_h - map_h, inner_w, map_h),
                (margin, bottom, inner_w, inner_h - map_h - gap), max_pt, columns)


def map_view(shape: shapely.Geometry, box_mm: tuple[float, float, float, float]
             ) -> tuple[float, float, float, float]:
    """The map extent holding ``shape`` with a margin, in the map box's aspect ratio."""
    minx, miny, maxx, maxy = shape.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    w, h = max(maxx - minx, 50.0) * 1.10, max(maxy - miny, 50.0) * 1.10
    aspect = box_mm[2] / box_mm[3]
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def nice_length(target: float) -> float:
    """The longest round scale-bar length (1, 2, 2.5, 5 × 10ⁿ) not above ``target``."""
    exp = 10 ** np.floor(np.log10(target))
    return float(max(m * exp for m in (1, 2, 2.5, 5, 10) if m * exp <= target))


def format_metres(metres: float) -> str:
    """A scale-bar label: metres below 1 km, kilometres above."""
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


# ---------------------------------------------------------------------------------------------
# Text


def char_em(ch: str) -> float:
    """The width of a character in ems: full-width (Japanese) 1, others about half."""
    return 1.0 if unicodedata.east_asian_width(ch) in ("W", "F", "A") else 0.56


def wrap_text(text: str, width_em: float) -> list[str]:
    """Break text into lines of at most ``width_em`` ems (Japanese breaks between characters).

    Spaces are preferred break points; a line never starts with closing punctuation (禁則).
    """
    lines: list[str] = []
    for para in str(text).splitlines() or [""]:
        line, width = "", 0.0
        for ch in para:
            w = char_em(ch)
            if width + w > width_em and line:
                cut = line.rfind(" ")
                run = len(line) - len(line.rstrip(_WORD_CHARS))  # a number like 2172-1
                if ch in _NO_LINE_START or ch in _WORD_CHARS:
                    k = run if 0 < run < len(line) else int(ch in _NO_LINE_START and len(line) > 1)
                    while 0 < k < len(line) and line[-k] in _NO_LINE_START:
                        k += 1  # 「）、」 run: carry them all with the character before
                    if k >= len(line):
                        k = 0  # nothing sensible to carry: break here
                    carry, line = line[len(line) - k:], line[:len(line) - k]
                elif cut > len(line) // 2:
                    carry, line = line[cut + 1:], line[:cut]
                else:
                    carry = ""
                lines.append(line.rstrip())
                line = carry
                width = sum(char_em(c) for c in line)
                if ch == " " and not line:
                    continue
            line += ch
            width += w
        lines.append(line.rstrip())
    return lines


def spread_labels(anchors: np.ndarray, *, min_distance: float,
                  bounds: tuple[float, float, float, float] | None = None,
                  iterations: int = 400) -> np.ndarray:
    """Positions for markers near their anchors such that no two are closer than ``min_distance``.

    Overlapping markers are pushed apart pairwise (coincident ones in fixed directions, so the
    result is deterministic); markers that need not move stay on their place.
    """
    p = np.asarray(anchors, dtype=float).copy()
    n = len(p)
    if n < 2:
        return p
    idx = np.arange(n)
    lo_i, hi_i = np.minimum.outer(idx, idx), np.greater.outer(idx, idx)
    golden = np.pi * (3 - np.sqrt(5))
    fallback = np.stack([np.cos(golden * lo_i), np.sin(golden * lo_i)], axis=-1)
    fallback = np.where(hi_i[..., None], fallback, -fallback)
    for _ in range(iterations):
        d = p[:, None, :] - p[None, :, :]
        dist = np.hypot(d[..., 0], d[..., 1])
        np.fill_diagonal(dist, np.inf)
        overlap = dist < min_distance * 0.999
        if not overlap.any():
            break
        unit = np.where((dist > 1e-9)[..., None], d / np.where(dist > 1e-9, dist, 1)[..., None],
                        fallback)
        push = np.where(overlap, (min_distance - np.where(np.isinf(dist), 0, dist)) * 0.5, 0.0)
        p += 0.6 * (unit * push[..., None]).sum(axis=1)
        if bounds is not None:
            p[:, 0] = np.clip(p[:, 0], bounds[0], bounds[2])
            p[:, 1] = np.clip(p[:, 1], bounds[1], bounds[3])
    return p


# ---------------------------------------------------------------------------------------------
# The list


def column_widths(rows: list[list[str]], total_mm: float) -> list[float]:
    """Column widths (mm): No. fixed, the text columns by how long their content is."""
    no = max(7.0, 0.07 * total_mm)
    natural = np.array([max([sum(char_em(c) for c in r[i]) for r in rows] + [len(LIST_COLUMNS[i])])
                        for i in range(1, len(LIST_COLUMNS))], dtype=float)
    weight = np.clip(natural, 4.0, 22.0) ** 0.75
    share = np.maximum(weight / weight.sum(), 0.14)
    return [no, *((total_mm - no) * share / share.sum()).tolist()]


def layout_list(rows: list[list[str]], widths_mm: list[float], height_mm: float, *,
                max_pt: float = 8.5) -> tuple[float, list[list[list[str]]]]:
    """The largest font size (pt, at most ``max_pt``) at which all wrapped rows fit, and the
    wrapped cells."""
    for size in np.arange(max_pt, 3.9, -0.5):
        em = size * PT_MM
        wrapped = [[wrap_text(cell, (w - 2.0) / em) for cell, w in zip(r, widths_mm, strict=True)]
                   for r in rows]
        if list_height(wrapped, float(size)) <= height_mm:
            return float(size), wrapped
    return 4.0, wrapped


def list_height(wrapped: list[list[list[str]]], size: float) -> float:
    """The height (mm) a wrapped list takes at ``size`` pt, with the note below it."""
    em = size * PT_MM
    lines = sum(max(len(c) for c in r) for r in wrapped)
    return (lines * 1.3 + len(wrapped) * 0.9 + 2.2) * em + 6.0  # 6 mm for the note below


#: Space between the two columns of a two-column list (mm).
LIST_GAP_MM = 5.0
#: The narrowest list column worth splitting into (mm): five columns of text must stay legible.
MIN_LIST_COLUMN_MM = 60.0


@dataclass(frozen=True)
class ListPlan:
    """How the list is set: its font size and, per side-by-side column, which rows and widths."""

    size: float
    parts: list[tuple[slice, list[float], list[list[list[str]]]]]
    #: Rows left out because even the smallest font cannot hold them (said in a note).
    hidden: int = 0

    @property
    def column_width(self) -> float:
        """The width of one list column (mm)."""
        return float(sum(self.parts[0][1])) if self.parts else 0.0


def plan_list(rows: list[list[str]], width_mm: float, height_mm: float, *, max_pt: float = 8.5,
              columns: int = 1) -> ListPlan:
    """One column, or two side by side when the page allows it and a single column would have
    to shrink the font (many places): whichever sets the list in the larger font. Rows that
    cannot fit even then are left out from the end (``hidden``), never printed off the page."""
    plan = _plan_list(rows, width_mm, height_mm, max_pt=max_pt, columns=columns)
    n = len(rows)
    while n > 1 and any(list_height(w, plan.size) > height_mm for _, _, w in plan.parts):
        n -= 1
        plan = _plan_list(rows[:n], width_mm, height_mm, max_pt=max_pt, columns=columns)
    return ListPlan(plan.size, plan.parts, hidden=len(rows) - n)


def _plan_list(rows: list[list[str]], width_mm: float, height_mm: float, *, max_pt: float,
               columns: int) -> ListPlan:
    widths = column_widths(rows, width_mm)
    size, wrapped = layout_list(rows, widths, height_mm, max_pt=max_pt)
    single = ListPlan(size, [(slice(0, len(rows)), widths, wrapped)])
    if columns < 2 or len(rows) < 8 or size >= max_pt:
        return single
    half = (len(rows) + 1) // 2
    col_w = (width_mm - LIST_GAP_MM) / 2
    if col_w < MIN_LIST_COLUMN_MM:
        return single
    widths2 = column_widths(rows, col_w)
    parts = []
    sizes = []
    for part in (slice(0, half), slice(half, len(rows))):
        s2, w2 = layout_list(rows[part], widths2, height_mm, max_pt=max_pt)
        sizes.append(s2)
        parts.append((part, widths2, w2))
    size2 = min(sizes)
    if size2 <= size:
        return single
    # Re-wrap both halves at the common size so their rows line up.
    parts = [(part, widths2, layout_list(rows[part], widths2, height_mm, max_pt=size2)[1])
             for part, _, _ in parts]
    return ListPlan(size2, parts)
