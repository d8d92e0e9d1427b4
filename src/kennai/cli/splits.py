"""`kennai splits` and `kennai plans compare`: does a layer-2 plan cut a district or a 自治会?

Only argument parsing and printing; the analysis is :mod:`kennai.splits`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kennai.cli.app import ConfigArg, JsonOpt, app, open_region, out, plans_app, print_json, say
from kennai.i18n import t

if TYPE_CHECKING:
    from kennai.region import Region
    from kennai.splits import SplitTolerances


UnitsOpt = Annotated[str, typer.Option("--units", help="分断を調べる区域のレイヤ "
                                                       "(units layer: elementary, neighbourhood …)")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="CSV に保存 (UTF-8 BOM, for Excel)")]
ReportOpt = Annotated[Path | None, typer.Option(
    "--report", help="報告書を保存 .md / .html (readable report)")]
MinShareOpt = Annotated[float, typer.Option(
    "--min-share", help="これ未満の面積割合の断片は数えない (ignore pieces under this area share)")]
MinAreaOpt = Annotated[float, typer.Option(
    "--min-area", help="これ未満の面積 m² の断片は数えない (ignore pieces under this area, m²)")]
MinPopOpt = Annotated[float, typer.Option(
    "--min-population", help="推計人口がこれ未満の断片は数えない (ignore pieces with fewer residents)")]


def _region(config: Path, quiet: bool) -> Region:
    return open_region(config, build=True, quiet=quiet)


def _tolerances(min_share: float, min_area: float, min_population: float) -> SplitTolerances:
    from kennai.splits import SplitTolerances as Tolerances

    return Tolerances(min_area_share=min_share, min_area_m2=min_area,
                           min_population=min_population)


def _check_suffix(path: Path | None, option: str, suffixes: tuple[str, ...]) -> None:
    """Refuse an output whose name would hide its format (e.g. a GeoPackage named .txt)."""
    if path is None or path.suffix.lower() in suffixes:
        return
    from kennai.errors import OutputError

    wanted = " / ".join(suffixes)
    raise OutputError(t(f"{option} の保存先は {wanted} で終わる名前にしてください",
                        f"the {option} output must end in {wanted}"), path=path,
                      hint=t(f"例: {option} {path.with_suffix(suffixes[0]).name}",
                             f"e.g. {option} {path.with_suffix(suffixes[0]).name}"))


def _check_outputs(*, csv: Path | None = None, gpkg: Path | None = None,
                   report: Path | None = None) -> None:
    """Check every output name before the (slow) analysis runs."""
    _check_suffix(csv, "--csv", (".csv",))
    _check_suffix(gpkg, "--gpkg", (".gpkg",))
    _check_suffix(report, "--report", (".md", ".html", ".htm"))


def _saved(path: Path) -> None:
    say(t(f"保存しました: {path}", f"written: {path}"))


@app.command()
def splits(
    config: ConfigArg,
    plan: Annotated[str, typer.Option("--plan", help="計画の名前: 設定の案か kennai plans add で保存した案 "
                                                     "(plan name: the config's or a stored one)")],
    units: UnitsOpt = "elementary",
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    gpkg: Annotated[Path | None, typer.Option("--gpkg", help="断片を GeoPackage に保存 "
                                                             "(pieces, EPSG:4326)")] = None,
    report: ReportOpt = None,
    min_share: MinShareOpt = 0.01,
    min_area: MinAreaOpt = 1000.0,
    min_population: MinPopOpt = 10.0,
) -> None:
    """計画が小学校区・自治会を分断するかを調べる (which units a layer-2 plan splits)."""
    from kennai.plan_store import region_plan_store
    from kennai.splits import split_report_for_region, write_csv, write_gpkg, write_report

    _check_outputs(csv=csv, gpkg=gpkg, report=report)
    region = _region(config, as_json)
    result = split_report_for_region(region, plan, units,
                                     tolerances=_tolerances(min_share, min_area, min_population),
                                     store=region_plan_store(region))
    for path, write in ((csv, write_csv), (gpkg, write_gpkg), (report, write_report)):
        if path is not None:
            _saved(write(result, path))
    if as_json:
        print_json(result.to_dict())
        return
    s = result.summary
    out.print(t(f"[bold]計画「{plan}」× {units}[/bold]: {s['units']} 区域のうち "
                f"{s['units_split']} 区域が分断（3 つ以上 {s['units_split_3plus']}、"
                f"実効分断数 {s['effective_splits']:.2f}）",
                f"[bold]plan {plan!r} × {units}[/bold]: {s['units_split']} of {s['units']} units "
                f"split ({s['units_split_3plus']} three or more ways, effective splits "
                f"{s['effective_splits']:.2f})").get(), highlight=False)
    old = result.has_population_65plus
    table = Table(t("区域", "unit").get(), t("圏域", "area").get(), t("面積割合", "area share").get(),
                  t("人口割合", "population share").get(),
                  *([t("65歳以上の割合", "65+ share").get()] if old else []))
    for u in result.to_dict()["units"]:
        if u["split"]:
            for p in u["pieces"]:
                shares = [p.get("population_share")] + ([p.get("population_65plus_share")] if old
                                                        else [])
                table.add_row(u["name"], p["area"], f"{p['area_share']:.1%}",
                              *("–" if x is None else f"{x:.1%}" for x in shares))
    if s["units_split"]:
        out.print(table)
    if s["population_in_split_units"] is not None:
        out.print(t(f"分断された区域の人口 {s['population_in_split_units']:,.0f} 人"
                    f"（{s['population_in_split_units_share']:.1%}）",
                    f"population in split units {s['population_in_split_units']:,.0f} "
                    f"({s['population_in_split_units_share']:.1%})").get())
    if s["population_65plus_in_split_units"] is not None:
        share = s["population_65plus_in_split_units_share"]
        pct = "–" if share is None else f"{share:.1%}"
        out.print(t(f"うち 65 歳以上 {s['population_65plus_in_split_units']:,.0f} 人（{pct}）",
                    f"of whom aged 65+ {s['population_65plus_in_split_units']:,.0f} ({pct})").get())
    patterns = " / ".join(f"{k}: {v}" for k, v in s["patterns"].items() if v)
    out.print(t(f"圏域のパターン {patterns}、誤差として除いた断片 {s['slivers_ignored']} 件",
                f"area patterns {patterns}; {s['slivers_ignored']} slivers ignored").get())
    warning = result.coverage_warning()
    if warning is not None:
        out.print(f"[yellow]{escape(warning)}[/yellow]")


@plans_app.command("compare")
def compare(
    config: ConfigArg,
    plans: Annotated[list[str], typer.Argument(help="比べる計画の名前 (2 つ以上) (plan names)")],
    units: UnitsOpt = "elementary",
    as_json: JsonOpt = False,
    csv: CsvOpt = None,
    report: ReportOpt = None,
    min_share: MinShareOpt = 0.01,
    min_area: MinAreaOpt = 1000.0,
    min_population: MinPopOpt = 10.0,
) -> None:
    """複数の計画の分断を並べて比べる (compare the splits of two or more plans)."""
    from kennai.plan_store import region_plan_store
    from kennai.splits import compare_plans, write_csv, write_report

    _check_outputs(csv=csv, report=report)
    region = _region(config, as_json)
    result = compare_plans(region, plans, units,
                           tolerances=_tolerances(min_share, min_area, min_population),
                           store=region_plan_store(region))
    for path, write in ((csv, write_csv), (report, write_report)):
        if path is not None:
            _saved(write(result, path))
    if as_json:
        print_json(result.to_dict())
        return
    table = Table(t("計画", "plan").get(), t("圏域", "areas").get(), t("A/B/一致/C", "A/B/match/C").get(),
                  t("分断区域", "units split").get(), t("3つ以上", "3+ ways").get(),
                  t("実効分断数", "effective splits").get(),
                  t("分断区域の人口", "pop. in split units").get(),
                  t("うち65歳以上", "of whom 65+").get())
    for r in result.table().itertuples(index=False):
        table.add_row(r.plan, str(r.areas), f"{r.pattern_A}/{r.pattern_B}/{r.pattern_M}/{r.pattern_C}",
                      f"{r.units_split}/{r.units}", str(r.units_split_3plus),
                      f"{r.effective_splits:.2f}",
                      *("–" if x is None or x != x else f"{x:.1%}"
                        for x in (r.population_in_split_units_share,
                                  r.population_65plus_in_split_units_share)))
    out.print(t(f"[bold]{units} の分断の比較[/bold]", f"[bold]splits of {units} compared[/bold]"
                ).get(), highlight=False)
    out.print(table)
