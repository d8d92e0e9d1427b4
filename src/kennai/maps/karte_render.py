"""地区カルテ on paper and on screen: one A4 page per district (PDF) and its HTML twin.

Each page shows what :mod:`kennai.maps.karte` gathered: the population figures beside the
city's, walking coverage at each threshold for every kind of destination side by side, the
largest gaps, the split status under each plan, the district's gathering places and a small map.
The HTML is one self-contained file (the small maps inlined as SVG); every text from the data is
escaped for HTML.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import shapely
from markupsafe import Markup
from matplotlib.figure import Figure

from kennai.atomic import atomic_path
from kennai.csp import protect_page
from kennai.errors import TreasureMapError
from kennai.i18n import t
from kennai.maps.fonts import font_rc, japanese_font
from kennai.maps.karte import DistrictProfile
from kennai.progress import Progress, counted, no_progress

#: Output formats of a カルテ by file suffix.
KARTE_FORMATS = {".pdf": "pdf", ".html": "html", ".htm": "html"}
_A4 = (210.0, 297.0)
_OUTLINE = "#B2182B"
_PLACES_SHOWN = 24


def karte_format(path: Path) -> str:
    """``pdf`` or ``html`` from the output name (raises for another suffix)."""
    fmt = KARTE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TreasureMapError(t(f"カルテの形式「{path.suffix}」は使えません",
                                 f"unsupported profile format {path.suffix!r}"), path=path,
                               hint=t("-o に .pdf か .html を指定してください", "give -o a .pdf or .html"))
    return fmt


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _share(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def figure_rows(p: DistrictProfile) -> list[tuple[str, str, str]]:
    """The population block: (label, district, city) rows as printed."""
    return [("人口（人）", _num(p.population), _num(p.city_population)),
            ("65歳以上（人）", _num(p.population_65plus), _num(p.city_population_65plus)),
            ("高齢化率", _pct(p.ageing_rate), _pct(p.city_ageing_rate))]


def base_lines(p: DistrictProfile) -> list[str]:
    """What each kind's shares are of, when not everyone: printed under the coverage block."""
    return [f"{k.title.split('（')[0]}: {k.base.rstrip(': ')}" for k in p.coverage if k.base]


def method_text(p: DistrictProfile) -> str:
    """How the walks were measured: along the streets, or only as straight lines."""
    if any(k.straight_line for k in p.coverage):
        return "歩行ネットワークがないため直線距離だけで計算（道のりではありません）"
    return f"徒歩は{p.pace}で道路に沿って計算（直線距離ではありません）"


def coverage_rows(p: DistrictProfile) -> tuple[list[str], list[list[str]]]:
    """The coverage block: header (threshold, one column per kind) and one row per threshold."""
    head = ["徒歩", *(f"{k.title.split('（')[0]}（{k.destinations}）" for k in p.coverage)]
    labels = list(dict.fromkeys([*p.thresholds, *(lb for k in p.coverage for lb in k.coverage)]))
    rows = [[lb.replace("min", "分"), *(_share(k.coverage.get(lb)) for k in p.coverage)]
            for lb in labels]
    rows.append(["中央値", *("—" if k.median_distance_m is None else f"{k.median_distance_m:,.0f} m"
                           for k in p.coverage)])
    return head, rows


def split_lines(p: DistrictProfile) -> list[str]:
    """One line per plan: whole in one area, or split between several."""
    if not p.splits:
        return ["（第2層の計画は登録されていません）"]
    out = []
    for s in p.splits:
        if not s.areas:
            out.append(f"{s.title}：どの圏域にも入っていません")
        elif s.split:
            out.append(f"{s.title}：分割あり（{'・'.join(s.areas)}）")
        else:
            out.append(f"{s.title}：分割なし（{s.areas[0]}）")
    return out


def gap_lines(p: DistrictProfile) -> list[str]:
    """The largest gaps: rank, people (and 65+) beyond the gap distance, area, and the district
    when the page is not that district's."""
    if not p.gaps:
        return ["（500 m より遠い住民のまとまりはありません）"]
    return [f"{g['rank']}. {g['population']:,.0f} 人"
            + (f"（65歳以上 {g['population_65plus']:,.0f} 人）" if g.get("population_65plus") is not None
               else "")
            + f"・{g['area_ha']:g} ha"
            + (f"・{g['district']}" if g.get("district") not in (None, p.name) else "")
            for g in p.gaps]


def _draw_small_map(fig: Figure, p: DistrictProfile, rect: tuple[float, float, float, float]
                    ) -> None:
    ax = fig.add_axes(rect)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#999999")
        spine.set_linewidth(0.5)
    for poly in getattr(p.shape, "geoms", [p.shape]):
        if poly.geom_type != "Polygon":
            continue
        xy = np.asarray(poly.exterior.coords)
        ax.fill(xy[:, 0], xy[:, 1], facecolor="#F6F3EC", edgecolor=_OUTLINE, linewidth=1.4)
    if p.places:
        ax.scatter([q["x"] for q in p.places], [q["y"] for q in p.places], s=28, color="#0072B2",
                   edgecolors="white", linewidths=0.6, zorder=3)
        for q in p.places[:_PLACES_SHOWN]:
            ax.annotate(str(q["number"]), (q["x"], q["y"]), xytext=(3, 3),
                        textcoords="offset points", fontsize=5.5, color="#1A1A1A", zorder=4)
    minx, miny, maxx, maxy = shapely.bounds(p.shape)
    pad = 0.06 * max(maxx - minx, maxy - miny, 50.0)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)


def render_karte_page(p: DistrictProfile, *, date: dt.date | None = None) -> Figure:
    """One district's カルテ as an A4 portrait matplotlib Figure.

    Every text stays text (no outline effects), so the PDF's figures can be read back and
    searched.
    """
    w, h = _A4
    date = date or dt.date.today()
    with mpl.rc_context(font_rc(japanese_font())):
        fig = Figure(figsize=(w / 25.4, h / 25.4))
        fig.set_facecolor("white")

        def text(x_mm: float, y_mm: float, s: str, size: float = 9.0, **kw: object) -> None:
            fig.text(x_mm / w, 1 - y_mm / h, s, fontsize=size, va="top", ha="left", **kw)  # type: ignore[arg-type]

        text(12, 10, f"{p.name} 地区カルテ", 18, color="#111111")
        text(12, 20, f"{p.region_title}　{p.layer_title}　作成日 {date.year}年{date.month}月{date.day}日",
             8.5, color="#444444")
        y = 30.0
        text(12, y, "人口と高齢化率", 11, color="#111111")
        y += 7
        for c, column in ((50, p.name[:8]), (78, "市全体")):
            text(c, y, column, 8, color="#555555")
        y += 5
        for label, mine, city in figure_rows(p):
            text(12, y, label, 9)
            text(50, y, mine, 9, color="#111111")
            text(78, y, city, 9)
            y += 5.5
        if p.no_network_population:
            text(12, y, f"※ 道路データの範囲外 {p.no_network_population:,.0f} 人は徒歩圏の割合に含めません",
                 6.5, color="#555555")
            y += 5
        y += 3
        text(12, y, "歩いて行ける人の割合", 11, color="#111111")
        y += 7
        head, rows = coverage_rows(p)
        col_w = min(30.0, 82.0 / max(len(head) - 1, 1))
        lefts = [12.0, *(32.0 + i * col_w for i in range(len(head) - 1))]
        for x, s in zip(lefts, head, strict=True):
            text(x, y, s, 7, color="#555555")
        y += 4.5
        for r in rows:
            for x, s in zip(lefts, r, strict=True):
                text(x, y, s, 8.5)
            y += 4.6
        for line in base_lines(p):
            text(12, y, line, 6.5, color="#555555")
            y += 3.8
        y += 4
        text(12, y, "大きな空白地（徒歩 500 m より遠い住民）", 11, color="#111111")
        y += 7
        for line in gap_lines(p):
            text(14, y, line, 8.5)
            y += 4.8
        y += 4
        text(12, y, "第2層の圏域", 11, color="#111111")
        y += 7
        for line in split_lines(p):
            text(14, y, line[:48], 8.5)
            y += 4.8
        _draw_small_map(fig, p, (118 / w, 1 - 128 / h, 80 / w, 98 / h))
        y = max(y + 4, 140.0)
        text(12, y, f"集いの場（{len(p.places)} か所）", 11, color="#111111")
        y += 7
        shown = p.places[:_PLACES_SHOWN * 2]
        half = (len(shown) + 1) // 2
        for i, q in enumerate(shown):
            col, k = divmod(i, half) if half else (0, i)
            text(14 + col * 95, y + k * 4.8, f"{q['number']}. {q['name'][:20]}（{q['category'][:10]}）", 7.5)
        if len(p.places) > len(shown):
            text(14, y + half * 4.8, f"ほか {len(p.places) - len(shown)} か所", 7.5, color="#555555")
        text(12, h - 8, f"kennai で作成。{method_text(p)}。", 6.5, color="#555555")
    return fig


def _save_pdf(profiles: Sequence[DistrictProfile], target: Path | io.BytesIO, title: str,
              progress: Progress) -> None:
    from matplotlib.backends.backend_pdf import PdfPages

    with mpl.rc_context(font_rc()), PdfPages(target, metadata={"Title": title,
                                                               "Creator": "kennai"}) as pdf:
        for p in counted(progress, t("地区カルテのページ", "profile pages").get(), profiles):
            pdf.savefig(render_karte_page(p))


def _map_svg(p: DistrictProfile) -> str:
    with mpl.rc_context(font_rc(japanese_font())):
        fig = Figure(figsize=(3.2, 3.6))
        _draw_small_map(fig, p, (0.02, 0.02, 0.96, 0.96))
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.find("<svg"):]


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> Markup:
    h = Markup("").join(Markup("<th>{}</th>").format(c) for c in head)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(Markup("<td>{}</td>").format(c) for c in r))
        for r in rows)
    return Markup("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>").format(h, body)


def _list(items: Sequence[str]) -> Markup:
    return Markup("<ul>{}</ul>").format(Markup("").join(Markup("<li>{}</li>").format(i)
                                                        for i in items))


_CSS = """body{font-family:"IPAexGothic","Noto Sans CJK JP",sans-serif;margin:0;color:#222}
section{page-break-after:always;padding:16px 24px;max-width:960px;margin:auto}
.grid{display:grid;grid-template-columns:1fr 320px;gap:16px}
h1{font-size:22px;margin:0}h2{font-size:15px;margin:14px 0 4px;border-bottom:2px solid #B2182B}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}th{color:#555;font-weight:normal}
ul{margin:2px 0;padding-left:18px;font-size:13px}.sub{color:#555;font-size:12px}
svg{width:100%;height:auto}"""


def karte_html(profiles: Sequence[DistrictProfile], *, date: dt.date | None = None,
               progress: Progress = no_progress) -> str:
    """The カルテ of every profile as one self-contained HTML page (a section per district)."""
    date = date or dt.date.today()
    sections = []
    for p in counted(progress, t("地区カルテのページ", "profile pages").get(), profiles):
        head, rows = coverage_rows(p)
        places = [f"{q['number']}. {q['name']}（{q['category']}）" for q in p.places]
        left = Markup("").join([
            Markup("<h2>人口と高齢化率</h2>"),
            _table(["", p.name, "市全体"], figure_rows(p)),
            Markup("<h2>歩いて行ける人の割合</h2>"), _table(head, rows), _list(base_lines(p)),
            Markup("<h2>大きな空白地（徒歩 500 m より遠い住民）</h2>"), _list(gap_lines(p)),
            Markup("<h2>第2層の圏域</h2>"), _list(split_lines(p)),
            Markup("<h2>集いの場（{} か所）</h2>").format(len(p.places)), _list(places or ["（なし）"]),
            Markup('<p class="sub">{}</p>').format(method_text(p))])
        sections.append(Markup(
            '<section data-district="{name}"><h1>{name} 地区カルテ</h1>'
            '<p class="sub">{region}　{layer}　作成日 {date}</p>'
            '<div class="grid"><div>{left}</div><div>{svg}</div></div></section>').format(
                name=p.name, region=p.region_title, layer=p.layer_title,
                date=f"{date.year}年{date.month}月{date.day}日", left=left,
                svg=Markup(_map_svg(p))))
    title = f"{profiles[0].region_title} 地区カルテ" if profiles else "地区カルテ"
    return protect_page(str(Markup(
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        "<title>{}</title><style>{}</style></head><body>{}</body></html>").format(
        title, Markup(_CSS), Markup("").join(sections))))


def karte_bytes(profiles: Sequence[DistrictProfile], fmt: str,
                progress: Progress = no_progress) -> bytes:
    """The カルテ as PDF (one page per profile) or HTML bytes (``progress`` told the pages)."""
    if fmt == "html":
        return karte_html(profiles, progress=progress).encode("utf-8")
    if fmt != "pdf":
        raise TreasureMapError(t(f"形式「{fmt}」は使えません", f"unsupported format {fmt!r}"),
                               feature="format", hint=t("pdf か html を指定してください", "use pdf or html"))
    buf = io.BytesIO()
    title = f"{profiles[0].region_title} 地区カルテ" if profiles else "地区カルテ"
    _save_pdf(profiles, buf, title, progress)
    return buf.getvalue()


def write_karte(profiles: Sequence[DistrictProfile], path: str | Path, *,
                progress: Progress = no_progress) -> Path:
    """Write the カルテ to ``path`` (.pdf or .html, atomically; ``progress`` told the pages)."""
    path = Path(path)
    body = karte_bytes(profiles, karte_format(path), progress)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(body)
    return path
