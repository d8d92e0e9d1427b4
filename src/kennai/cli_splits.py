"""`kennai splits` and `kennai plans compare`: does a layer-2 plan cut a district or a 自治会?

Only argument parsing and printing; the analysis and the wording of the summary are
:mod:`kennai.splits` (:func:`kennai.splits.render_terminal`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kennai.cli import ConfigArg, JsonOpt, app, out, print_json, progress_status, say
from kennai.config import load_config
from kennai.i18n import t

if TYPE_CHECKING:
    from kennai.region import Region
    from kennai.splits import SplitTolerances

plans_app = typer.Typer(help="第2層圏域の案 (layer-2 plans)", no_args_is_help=True)
app.add_typer(plans_app, name="plans")

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
    from kennai.build import build_region

    with progress_status(not quiet) as progress:
        region, _ = build_region(load_config(config), progress=progress)
    return region


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
    plan: Annotated[str, typer.Option("--plan", help="計画の名前 (plan name in the config)")],
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
    from kennai.splits import (
        render_terminal,
        split_report_for_region,
        write_csv,
        write_gpkg,
        write_report,
    )

    _check_outputs(csv=csv, gpkg=gpkg, report=report)
    region = _region(config, as_json)
    result = split_report_for_region(region, plan, units,
                                     tolerances=_tolerances(min_share, min_area, min_population))
    for path, write in ((csv, write_csv), (gpkg, write_gpkg), (report, write_report)):
        if path is not None:
            _saved(write(result, path))
    if as_json:
        print_json(result.to_dict())
        return
    for renderable in render_terminal(result):
        out.print(renderable)


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
    from kennai.splits import compare_plans, render_terminal, write_csv, write_report

    _check_outputs(csv=csv, report=report)
    region = _region(config, as_json)
    result = compare_plans(region, plans, units,
                           tolerances=_tolerances(min_share, min_area, min_population))
    for path, write in ((csv, write_csv), (report, write_report)):
        if path is not None:
            _saved(write(result, path))
    if as_json:
        print_json(result.to_dict())
        return
    for renderable in render_terminal(result):
        out.print(renderable)
