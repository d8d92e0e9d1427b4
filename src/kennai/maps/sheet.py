"""The texts around a treasure map: the list beside it, the header and footer, the QR code.

The list is set by :func:`kennai.maps.layout.plan_list` (one or two columns, the largest font
that fits); the title and subtitle share a line only when both fit; the optional QR code (segno)
sits in the footer's corner. :func:`drop_colliding_labels` measures the drawn page so that a
map label never covers a number, the legend or another label.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from kennai.maps.content import CategoryStyle, list_rows
from kennai.maps.fonts import bold
from kennai.maps.layout import (
    LIST_COLUMNS,
    LIST_GAP_MM,
    PT_MM,
    Page,
    char_em,
    plan_list,
    wrap_text,
)

#: Marker area factors so that every shape holds its number like the circle does.
MARKER_SCALE = {"o": 1.0, "s": 0.85, "D": 1.25, "h": 1.1, "H": 1.1, "8": 1.05}
#: The district's outline colour (the header's rule matches it).
OUTLINE = "#B2182B"


def drop_colliding_labels(fig: Figure, labels: Sequence[Text]) -> None:
    """Remove the optional map labels whose drawn box would touch another text.

    The page is laid out once at a low resolution (text boxes scale with it) to measure every
    text; a label overlapping a marker's number, the legend, the scale or a label kept before
    it is removed, so that every number stays readable. The layout is drawn without painting
    (:meth:`~matplotlib.figure.Figure.draw_without_rendering`), and without the axes' shapes
    (the basemap's thousands of paths, the markers, the bars) in the axes of fixed limits: a
    text's extent depends on its position, font and its axes' placement, none of which they
    change there (the legend packs only its own boxes). An autoscaled axes (the QR code) keeps
    its shapes, which its limits are computed from.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    dpi = fig.dpi
    fig.set_dpi(50)
    shapes = [a for ax in fig.axes if not (ax.get_autoscalex_on() or ax.get_autoscaley_on())
              for a in (*ax.collections, *ax.patches, *ax.lines) if a.get_visible()]
    try:
        for a in shapes:
            a.set_visible(False)
        canvas = FigureCanvasAgg(fig)
        fig.draw_without_rendering()
        renderer = canvas.get_renderer()
        optional = set(map(id, labels))
        fixed = [t.get_window_extent(renderer) for t in fig.findobj(Text)
                 if id(t) not in optional and t.get_visible() and t.get_text().strip()]
        kept: list[Any] = []
        for label in labels:
            box = label.get_window_extent(renderer)
            if any(box.overlaps(other) for other in (*fixed, *kept)):
                label.remove()
            else:
                kept.append(box)
    finally:
        for a in shapes:
            a.set_visible(True)
        fig.set_dpi(dpi)


def draw_table(ax: Axes, x0: float, width: float, places: list[dict[str, Any]],
                widths: list[float], wrapped: list[list[list[str]]], size: float,
                styles: Mapping[str, CategoryStyle]) -> float:
    """One list column: the dark header and the rows, from the top; returns its bottom (mm)."""
    lefts = x0 + np.concatenate([[0.0], np.cumsum(widths)[:-1]])
    em = size * PT_MM
    line_h, pad = em * 1.3, em * 0.45
    head_h = em * 2.2
    ax.add_patch(Rectangle((x0, 0), width, head_h, facecolor="#3B3B3B", edgecolor="none"))
    for x, w, head in zip(lefts, widths, LIST_COLUMNS, strict=True):
        head_lines = wrap_text(head, (w - 2.0) / em)
        ax.text(x + 1.0, head_h / 2, "\n".join(head_lines[:2]), va="center", ha="left",
                fontsize=size, color="white", linespacing=1.0, **bold("white", size))
    y = head_h
    for i, (place, cells) in enumerate(zip(places, wrapped, strict=True)):
        n_lines = max(len(c) for c in cells)
        h = n_lines * line_h + 2 * pad
        if i % 2:
            ax.add_patch(Rectangle((x0, y), width, h, facecolor="#F1EEE7", edgecolor="none"))
        style = styles[str(place["category"])]
        cx, cy = lefts[0] + widths[0] / 2, y + pad + line_h / 2
        ax.scatter([cx], [cy], s=(em * 1.75 / PT_MM) ** 2 * min(MARKER_SCALE[style.marker], 1.1),
                   marker=style.marker,
                   color=style.colour, edgecolors="white", linewidths=0.6, zorder=3)
        ax.text(cx, cy, cells[0][0], ha="center", va="center_baseline", fontsize=size * 0.9,
                color=style.text_colour, zorder=4, **bold(style.text_colour, size))
        for col in range(1, len(LIST_COLUMNS)):
            ax.text(lefts[col] + 1.0, y + pad, "\n".join(cells[col]), ha="left", va="top",
                    fontsize=size, linespacing=1.3 * 0.83, color="#1A1A1A")
        y += h
        ax.plot([x0, x0 + width], [y, y], color="#D5CFC2", linewidth=0.4)
    return y


def draw_list(fig: Figure, page: Page, places: gpd.GeoDataFrame,
               styles: Mapping[str, CategoryStyle]) -> None:
    box = page.list_box
    ax = fig.add_axes((box[0] / page.width, box[1] / page.height, box[2] / page.width,
                       box[3] / page.height))
    ax.set_xlim(0, box[2])
    ax.set_ylim(box[3], 0)
    ax.axis("off")
    rows, prefix = list_rows(places)
    plan = plan_list(rows, box[2], box[3], max_pt=page.list_max_pt, columns=page.list_columns)
    size = plan.size
    records = places.to_dict("records")
    y = 0.0
    for k, (part, widths, wrapped) in enumerate(plan.parts):
        x0 = k * (plan.column_width + LIST_GAP_MM)
        width = box[2] if len(plan.parts) == 1 else plan.column_width
        y = max(y, draw_table(ax, x0, width, records[part], widths, wrapped, size, styles))
    if places.empty:
        em = size * PT_MM
        ax.text(box[2] / 2, em * 2.2 + 8, "（該当なし）", ha="center", va="top", fontsize=9,
                color="#555555")
    else:
        notes = [f"※ 住所の「{prefix}」は省略しています。"] if prefix else []
        if plan.hidden:
            notes.append(f"※ ほか {plan.hidden} か所は一覧に入りません（HTML 版の地図に載っています）。")
        if notes:
            note_pt = min(size, 7.0)
            lines = wrap_text(" ".join(notes), (box[2] - 1.0) / (note_pt * PT_MM))
            ax.text(0.5, y + 1.5, "\n".join(lines), ha="left", va="top", fontsize=note_pt,
                    color="#555555", linespacing=1.2)
            y += (len(lines) - 1) * note_pt * PT_MM * 1.2
    y += 8.0
    if box[3] - y >= 30.0:  # room left: a box for hand-written notes (photos, comments, contacts)
        ax.add_patch(Rectangle((0, y), box[2], box[3] - y, facecolor="none", edgecolor="#B8B2A7",
                               linewidth=0.6, linestyle=(0, (3, 2))))
        ax.text(2.0, y + 2.0, "メモ（写真・ひとこと・連絡先など）", ha="left", va="top",
                fontsize=7 if page.list_max_pt <= 8.5 else 9, color="#8C8273")


def text_mm(text: str, size_pt: float) -> float:
    """About how wide a line of text is (mm) at ``size_pt``."""
    return sum(char_em(c) for c in text) * size_pt * PT_MM


def draw_qr(fig: Figure, page: Page, url: str, size_mm: float) -> None:
    """A QR code (segno) at the footer's right, with what it leads to beside it."""
    import segno

    matrix = np.asarray(segno.make(url, error="m").matrix, dtype=float)
    left, bottom = page.width - 10 - size_mm, 1.5
    ax = fig.add_axes((left / page.width, bottom / page.height, size_mm / page.width,
                       size_mm / page.height))
    ax.imshow(1 - matrix, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    fig.text((left - 1.5) / page.width, (bottom + size_mm / 2) / page.height,
             "この地区のページ →", fontsize=6.0, ha="right", va="center", color="#444444")


def draw_header_footer(fig: Figure, page: Page, *, title: str, subtitle: str,
                        date: dt.date, credits: list[str], qr_url: str | None = None) -> None:
    title_pt = 22 if page.width > 250 else 19
    inner = page.width - 20
    # Title and subtitle share the line when both fit (with a gap), else the subtitle goes under.
    one_line = text_mm(title, title_pt) + 8 + text_mm(subtitle, 9) <= inner
    top = 1 - (9.5 if one_line else 7.5) / page.height
    fig.text(10 / page.width, top, title, fontsize=title_pt,
             va="center", ha="left", color="#222222", **bold("#222222", 20))
    if one_line:
        fig.text(1 - 10 / page.width, top, subtitle, fontsize=9, va="center", ha="right",
                 color="#444444")
    else:
        fig.text(10 / page.width, 1 - 14.2 / page.height, subtitle, fontsize=8, va="center",
                 ha="left", color="#444444")
    fig.add_artist(Line2D([10 / page.width, 1 - 10 / page.width],
                          [1 - 17 / page.height] * 2, color=OUTLINE, linewidth=1.2))
    date_text = (f"作成日 {date.year}年{date.month}月{date.day}日 ・ kennai で作成"
                 "（背景図も地域のデータから作成）")
    credit = "クレジット：" + " ／ ".join(credits) if credits else ""
    qr_mm = 11.0
    room = inner - (qr_mm + text_mm("この地区のページ →", 6.0) + 4 if qr_url else 0)
    width_em = room / (6.0 * PT_MM)
    lines = [date_text, *wrap_text(credit, width_em)] if credit else [date_text]
    fig.text(10 / page.width, 10.5 / page.height, "\n".join(lines[:3]), fontsize=6.0,
             va="top", ha="left", color="#444444", linespacing=1.35)
    if qr_url:
        draw_qr(fig, page, qr_url, qr_mm)
