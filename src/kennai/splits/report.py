"""The readable split report: one list of blocks per result, rendered to Markdown, HTML or a terminal.

A result (:class:`~kennai.splits.model.SplitReport` or
:class:`~kennai.splits.model.PlanComparison`) is first turned into :class:`Block` s, headings,
paragraphs, warnings and tables of text in the current language, and each renderer only lays
blocks out: :func:`render_report` writes the full report as Markdown or HTML,
:func:`render_terminal` gives the short summary the ``kennai`` command prints (rich renderables),
so the wording of the results lives here alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal, TypeVar

from rich.console import RenderableType
from rich.markup import escape as escape_markup
from rich.table import Table
from rich.text import Text

from kennai.csp import protect_page
from kennai.i18n import get_lang, set_lang, t
from kennai.splits.model import PlanComparison, SplitReport

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Block:
    """One part of a report: a heading (``h1``/``h2``), a paragraph (``p``), a ``warning`` or a
    ``table`` (``header`` and ``rows`` of text).

    ``tail`` continues a heading in normal weight on the same line (the terminal's one-line
    headline: a bold label, then the figures).
    """

    kind: Literal["h1", "h2", "p", "warning", "table"]
    text: str = ""
    tail: str = ""
    header: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def _num(x: float | None, digits: int = 0) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


_PATTERN_TEXT = {
    "A": t("A: 市町村全体", "A: the whole municipality"),
    "B": t("B: 複数の区域を丸ごと含む", "B: two or more whole units"),
    "M": t("一致: 1つの区域と同じ", "match: one whole unit"),
    "C": t("C: 区域を分断", "C: cuts a unit"),
    "-": t("-: 区域なし", "-: no unit"),
}


#: What each pattern means, in the words of the guidance (図５－２「協議体の対象エリア構造」).
PATTERN_NOTES = {
    "A": t("A: 第１層（市町村）と第２層のエリアが同一で、１つの市町村に１つの小・中学校のみという場合。"
           "小規模な自治体は、このタイプが多い。",
           "A: layer 1 (the municipality) and layer 2 are the same area: one municipality with a "
           "single school. Common in small municipalities."),
    "B": t("B: 第２層が複数（２〜３）の小学校区により構成されている場合。第２層を１つのエリアとして"
           "とらえるのではなく、いくつかの小学校区の集合体ととらえる必要がある。",
           "B: a layer-2 area made of several (2–3) elementary school districts; see it as a group "
           "of school districts, not as one area."),
    "M": t("一致: 第２層が１つの小学校区と同じ範囲。B（複数の小学校区の集合体）とは分けて示します。",
           "match: the layer-2 area is exactly one school district, shown apart from B (a group "
           "of several)."),
    "C": t("C: 第２層が１つの小学校区をまたいでいる場合。複数の第２層の生活支援コーディネーターや"
           "協議体が協力することが望まれる。",
           "C: the layer-2 area straddles a school district; the coordinators and councils of the "
           "layer-2 areas concerned should work together."),
}


def _report_blocks(report: SplitReport) -> list[Block]:
    """The readable report of one plan: headline, scores, split units, patterns, alternative."""
    s = report.summary
    tol = report.tolerances
    blocks: list[Block] = [
        Block("h1", t(f"第2層圏域の分断チェック: 計画「{report.plan_name}」× {report.units_layer}",
                 f"Layer-2 split check: plan {report.plan_name!r} × {report.units_layer}").get()),
        Block("p", t(f"{s['units']} 区域のうち {s['units_split']} 区域が分断されています"
                f"（3 つ以上に分断: {s['units_split_3plus']}、実効分断数 {s['effective_splits']:.2f}、"
                f"所属の不確かさ {s['uncertainty']:.3f} ビット）。",
                f"{s['units_split']} of {s['units']} units are split ({s['units_split_3plus']} "
                f"three or more ways; effective splits {s['effective_splits']:.2f}; uncertainty "
                f"of membership {s['uncertainty']:.3f} bits).").get()),
    ]
    if report.has_population:
        blocks.append(Block("p", t(
            f"分断された区域に住む人口: {_num(s['population_in_split_units'])} 人"
            f"（全体 {_num(s['population_total'])} 人の {_pct(s['population_in_split_units_share'])}）。"
            "人口は国勢調査小地域の人口を面積按分して推計しています。"
            + (f"区域の外にいる {_num(s['population_outside_units'])} 人は全体に含みません。"
               if s.get("population_outside_units") else ""),
            f"Population living in split units: {_num(s['population_in_split_units'])} "
            f"({_pct(s['population_in_split_units_share'])} of {_num(s['population_total'])}). "
            "Population is estimated by area-weighting the census small areas."
            + (f" {_num(s['population_outside_units'])} people outside every unit are not in "
               "the total." if s.get("population_outside_units") else "")).get()))
    if report.has_population_65plus:
        blocks.append(Block("p", t(
            f"うち 65 歳以上: {_num(s['population_65plus_in_split_units'])} 人"
            f"（65 歳以上全体 {_num(s['population_65plus_total'])} 人の "
            f"{_pct(s['population_65plus_in_split_units_share'])}）。",
            f"Aged 65 and over living in split units: "
            f"{_num(s['population_65plus_in_split_units'])} "
            f"({_pct(s['population_65plus_in_split_units_share'])} of "
            f"{_num(s['population_65plus_total'])}).").get()))
    warning = report.coverage_warning()
    if warning is not None:
        blocks.append(Block("warning", warning))
    blocks.append(Block("p", t(
        f"判定の許容値: 面積の {tol.min_area_share:.1%} 未満、{tol.min_area_m2:,.0f} m² 未満"
        + (f"、推計人口 {tol.min_population:g} 人未満" if report.has_population else "")
        + f" の断片はデジタル化の誤差として数えません（{s['slivers_ignored']} 件、CSV に記載）。",
        f"Tolerances: pieces under {tol.min_area_share:.1%} of the area, under "
        f"{tol.min_area_m2:,.0f} m²"
        + (f" or under {tol.min_population:g} estimated residents" if report.has_population else "")
        + f" are digitising noise and do not count ({s['slivers_ignored']} ignored, listed in "
        "the CSV).").get()))
    blocks.append(Block("h2", t("分断された区域", "Split units").get()))
    split_units = report.units[report.units["split"]]
    if len(split_units) == 0:
        blocks.append(Block("p", t("分断された区域はありません。", "No unit is split.").get()))
    else:
        header = [t("区域", "unit").get(), t("圏域", "area").get(), t("面積割合", "area share").get()]
        if report.has_population:
            header += [t("推計人口", "est. population").get(), t("人口割合", "population share").get()]
        if report.has_population_65plus:
            header += [t("65歳以上", "aged 65+").get(), t("65歳以上の割合", "65+ share").get()]
        rows = []
        counted = report.pieces[report.pieces["counted"]].sort_values(
            ["unit_index", "area_m2"], ascending=[True, False])
        for p in counted[counted["unit_index"].isin(split_units.index)].itertuples(index=False):
            row = [p.unit, p.area, _pct(p.area_share)]
            if report.has_population:
                row += [_num(p.population), _pct(p.population_share)]
            if report.has_population_65plus:
                row += [_num(p.population_65plus), _pct(p.population_65plus_share)]
            rows.append(row)
        blocks.append(Block("table", header=header, rows=rows))
    blocks.append(Block("h2", t("圏域のパターン", "Patterns of the areas").get()))
    meas = t("人口", "population") if report.has_population else t("面積 m²", "area m²")
    rows = [[a.name, _PATTERN_TEXT[a.pattern].get(), "、".join(a.whole_units) or "–",
             "、".join(a.partial_units) or "–", _num(a.before), _num(a.after),
             _pct(a.deviation_before), _pct(a.deviation_after)]
            + ([_num(a.population_65plus), _num(a.population_65plus_after)]
               if report.has_population_65plus else [])
            for a in report.areas.itertuples(index=False)]
    header = [t("圏域", "area").get(), t("パターン", "pattern").get(),
              t("丸ごと含む区域", "whole units").get(), t("一部を含む区域", "partial units").get(),
              t(f"{meas.ja}（案）", f"{meas.en} (plan)").get(),
              t(f"{meas.ja}（分断なし案）", f"{meas.en} (split-free)").get(),
              t("平均との差（案）", "deviation (plan)").get(),
              t("平均との差（分断なし案）", "deviation (split-free)").get()]
    if report.has_population_65plus:
        header += [t("65歳以上（案）", "aged 65+ (plan)").get(),
                   t("65歳以上（分断なし案）", "aged 65+ (split-free)").get()]
    blocks.append(Block("table", header=header, rows=rows))
    for code in dict.fromkeys(a.pattern for a in report.areas.itertuples(index=False)):
        if code in PATTERN_NOTES:
            blocks.append(Block("p", PATTERN_NOTES[code].get()))
    blocks.append(Block("h2", t("分断なし案", "Split-free alternative").get()))
    blocks.append(Block("p", t(
        "分断された区域をそれぞれ" + ("人口" if report.has_population else "面積")
        + "の多い圏域に丸ごと割り当てた案です（上の表の「分断なし案」）。",
        "Each split unit is assigned wholly to the area holding most of its "
        + ("residents" if report.has_population else "area") + " (the split-free columns above)."
    ).get()))
    rows = [[u.name, u.main_area or "–"] for u in split_units.itertuples(index=False)]
    if rows:
        blocks.append(Block("table", header=[t("区域", "unit").get(),
                                             t("割り当てる圏域", "assigned area").get()],
                            rows=rows))
    return blocks


def _comparison_blocks(comparison: PlanComparison) -> list[Block]:
    """The readable report of several plans: their scores side by side, then each split unit."""
    table = comparison.table()
    header = [t("計画", "plan").get(), t("圏域数", "areas").get(), t("A/B/一致/C", "A/B/match/C").get(),
              t("分断区域", "units split").get(), t("3つ以上", "3+ ways").get(),
              t("断片", "pieces").get(), t("実効分断数", "effective splits").get(),
              t("不確かさ", "uncertainty").get(), t("分断区域の人口", "pop. in split units").get()]
    old = any(r.has_population_65plus for r in comparison.reports)
    if old:
        header.append(t("分断区域の65歳以上", "aged 65+ in split units").get())
    rows = [[r.plan, str(r.areas), f"{r.pattern_A}/{r.pattern_B}/{r.pattern_M}/{r.pattern_C}",
             f"{r.units_split}/{r.units}", str(r.units_split_3plus), str(r.pieces),
             f"{r.effective_splits:.2f}", f"{r.uncertainty:.3f}",
             f"{_num(r.population_in_split_units)} ({_pct(r.population_in_split_units_share)})"]
            + ([f"{_num(r.population_65plus_in_split_units)} "
                f"({_pct(r.population_65plus_in_split_units_share)})"] if old else [])
            for r in table.itertuples(index=False)]
    blocks: list[Block] = [
        Block("h1", t(f"第2層圏域案の比較（{comparison.units_layer}）",
                 f"Layer-2 plans compared ({comparison.units_layer})").get()),
        Block("table", header=header, rows=rows),
        Block("h2", t("区域ごとの分断", "Splits per unit").get())]
    split_any = sorted({n for r in comparison.reports for n in r.summary["split_units"]})
    unit_rows = []
    for name in split_any:
        row = [name]
        for r in comparison.reports:
            mine = r.pieces[(r.pieces["unit"] == name) & r.pieces["counted"]]
            areas = mine.sort_values("area_m2", ascending=False)["area"].tolist()
            row.append(" / ".join(areas) if len(areas) > 1 else "–")
        unit_rows.append(row)
    if unit_rows:
        blocks.append(Block("table", header=[t("区域", "unit").get()]
                            + [r.plan_name for r in comparison.reports], rows=unit_rows))
    else:
        blocks.append(Block("p", t("どの案も区域を分断しません。", "No plan splits any unit.").get()))
    return blocks


def _summary_blocks(report: SplitReport) -> list[Block]:
    """The short summary of one plan for the terminal: headline, the pieces of split units,
    residents in them, patterns and the coverage warning."""
    s = report.summary
    plan, units = report.plan_name, report.units_layer
    blocks = [Block(
        "h1", t(f"計画「{plan}」× {units}", f"plan {plan!r} × {units}").get(),
        tail=t(f": {s['units']} 区域のうち {s['units_split']} 区域が分断（3 つ以上 "
               f"{s['units_split_3plus']}、実効分断数 {s['effective_splits']:.2f}）",
               f": {s['units_split']} of {s['units']} units split ({s['units_split_3plus']} "
               f"three or more ways, effective splits {s['effective_splits']:.2f})").get())]
    old = report.has_population_65plus
    if s["units_split"]:
        header = [t("区域", "unit").get(), t("圏域", "area").get(), t("面積割合", "area share").get(),
                  t("人口割合", "population share").get(),
                  *([t("65歳以上の割合", "65+ share").get()] if old else [])]
        rows = [[u["name"], p["area"], _pct(p["area_share"]), _pct(p.get("population_share")),
                 *([_pct(p.get("population_65plus_share"))] if old else [])]
                for u in report.to_dict()["units"] if u["split"] for p in u["pieces"]]
        blocks.append(Block("table", header=header, rows=rows))
    if s["population_in_split_units"] is not None:
        blocks.append(Block("p", t(
            f"分断された区域の人口 {_num(s['population_in_split_units'])} 人"
            f"（{_pct(s['population_in_split_units_share'])}）",
            f"population in split units {_num(s['population_in_split_units'])} "
            f"({_pct(s['population_in_split_units_share'])})").get()))
    if s["population_65plus_in_split_units"] is not None:
        pct = _pct(s["population_65plus_in_split_units_share"])
        blocks.append(Block("p", t(
            f"うち 65 歳以上 {_num(s['population_65plus_in_split_units'])} 人（{pct}）",
            f"of whom aged 65+ {_num(s['population_65plus_in_split_units'])} ({pct})").get()))
    patterns = " / ".join(f"{k}: {v}" for k, v in s["patterns"].items() if v)
    blocks.append(Block("p", t(f"圏域のパターン {patterns}、誤差として除いた断片 {s['slivers_ignored']} 件",
                               f"area patterns {patterns}; {s['slivers_ignored']} slivers ignored"
                               ).get()))
    warning = report.coverage_warning()
    if warning is not None:
        blocks.append(Block("warning", warning))
    return blocks


def _comparison_summary_blocks(comparison: PlanComparison) -> list[Block]:
    """The short comparison for the terminal: one row of scores per plan."""
    units = comparison.units_layer
    header = [t("計画", "plan").get(), t("圏域", "areas").get(), t("A/B/一致/C", "A/B/match/C").get(),
              t("分断区域", "units split").get(), t("3つ以上", "3+ ways").get(),
              t("実効分断数", "effective splits").get(),
              t("分断区域の人口", "pop. in split units").get(), t("うち65歳以上", "of whom 65+").get()]
    rows = [[r.plan, str(r.areas), f"{r.pattern_A}/{r.pattern_B}/{r.pattern_M}/{r.pattern_C}",
             f"{r.units_split}/{r.units}", str(r.units_split_3plus), f"{r.effective_splits:.2f}",
             _pct(r.population_in_split_units_share), _pct(r.population_65plus_in_split_units_share)]
            for r in comparison.table().itertuples(index=False)]
    return [Block("h1", t(f"{units} の分断の比較", f"splits of {units} compared").get()),
            Block("table", header=header, rows=rows)]


def _markdown(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if b.kind == "h1":
            out.append(f"# {b.text}{b.tail}\n")
        elif b.kind == "h2":
            out.append(f"## {b.text}{b.tail}\n")
        elif b.kind in ("p", "warning"):
            out.append(f"{b.text}\n")
        else:
            esc = [[str(c).replace("|", "\\|") for c in r] for r in [b.header, *b.rows]]
            out.append("| " + " | ".join(esc[0]) + " |\n|" + "---|" * len(b.header))
            out.extend("| " + " | ".join(r) + " |" for r in esc[1:])
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _html(blocks: list[Block], lang: str) -> str:
    body = []
    for b in blocks:
        if b.kind == "table":
            body.append("<table><thead><tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in b.header)
                        + "</tr></thead><tbody>"
                        + "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>"
                                  for r in b.rows) + "</tbody></table>")
        else:
            tag = "p" if b.kind == "warning" else b.kind
            body.append(f"<{tag}>{escape(b.text + b.tail)}</{tag}>")
    title = escape(blocks[0].text + blocks[0].tail)
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.6}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;"
             "padding:.2em .5em;text-align:left}th{background:#eee}")
    return protect_page(f'<!DOCTYPE html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
                        f"<title>{title}</title><style>{style}</style></head><body>\n"
                        + "\n".join(body) + "\n</body></html>\n")


def _terminal(blocks: list[Block]) -> list[RenderableType]:
    """Blocks as rich renderables: headings a bold :class:`~rich.text.Text` (figures not
    highlighted), paragraphs and warnings (yellow) markup strings that the console prints with
    its usual highlighting, tables rich tables.

    Names are not markup-escaped (as the command has always printed them); a warning is.
    """
    out: list[RenderableType] = []
    for b in blocks:
        if b.kind in ("h1", "h2"):
            out.append(Text.from_markup(f"[bold]{b.text}[/bold]{b.tail}"))
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "warning":
            out.append(f"[yellow]{escape_markup(b.text)}[/yellow]")
        else:
            table = Table(*b.header)
            for row in b.rows:
                table.add_row(*row)
            out.append(table)
    return out


def _in_language(lang: str | None, build: Callable[[], _T]) -> tuple[_T, str]:
    """``build()`` with the user-facing language set to ``lang`` (default: the current one)."""
    previous = get_lang()
    lang = lang or previous
    set_lang(lang)
    try:
        return build(), lang
    finally:
        set_lang(previous)


def render_report(result: SplitReport | PlanComparison, *, fmt: Literal["md", "html"] = "md",
                  lang: str | None = None) -> str:
    """A readable report (Japanese by default, English with ``lang="en"``)."""
    blocks, lang = _in_language(lang, lambda: _report_blocks(result) if isinstance(
        result, SplitReport) else _comparison_blocks(result))
    return _html(blocks, lang) if fmt == "html" else _markdown(blocks)


def render_terminal(result: SplitReport | PlanComparison, *,
                    lang: str | None = None) -> list[RenderableType]:
    """The short summary ``kennai splits`` / ``kennai plans compare`` print, as rich renderables
    to pass to ``Console.print`` one by one (current language unless ``lang``)."""
    blocks, _ = _in_language(lang, lambda: _summary_blocks(result) if isinstance(
        result, SplitReport) else _comparison_summary_blocks(result))
    return _terminal(blocks)
