"""`kennai suggest`: where a new gathering place would reach the most people (registered on
kennai.cli.app).

The command only translates options into :func:`kennai.access.district_suggestions`, the call
the API's ``/access/suggestions`` makes too. ``--json`` prints the suggestions as objects,
``-o FILE`` writes them through :mod:`kennai.export` (CSV with a BOM, xlsx, GeoPackage …).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from kennai.candidate_kinds import KINDS_BY_KEY
from kennai.cli.app import (
    ConfigArg,
    JsonOpt,
    QuietOpt,
    app,
    open_region,
    out,
    print_json,
    progress_bars,
    say,
)
from kennai.i18n import t


@app.command()
def suggest(
    config: ConfigArg,
    district: Annotated[str | None, typer.Option(
        "--district", help="この区域の住民と区域内の候補地だけ（名称） (one district by name)")] = None,
    layer: Annotated[str, typer.Option(
        "--layer", help="区域のレイヤ: elementary / junior_high / neighbourhood / 計画名 "
                        "(district layer or plan)")] = "elementary",
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="提案の数 (how many)")] = 5,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", min=50, max=5000,
        help="この道のり（m）以内に入る人を数える（既定 500） (walk in metres)")] = None,
    allow: Annotated[str | None, typer.Option(
        "--allow", help="候補地の種類（カンマ区切り）: hall, welfare, school, library, shop, "
                        "religious, street …（既定: street 以外の施設） (candidate kinds)")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="ファイルに保存: .csv（BOM 付き）.xlsx .gpkg .parquet .fgb "
                               "(write to a file)")] = None,
) -> None:
    """新しい通いの場の候補地を、徒歩圏に入る住民（65歳以上）の多い順に提案 (site suggestions)."""
    from kennai.access import AccessOptions, district_suggestions, results_for
    from kennai.export import output_format, write_table
    from kennai.export_targets import suggestions_export
    from kennai.geojson import to_feature_collection

    if output is not None:
        output_format(output)  # a bad name fails before the analysis runs
    kinds = [a.strip() for a in allow.split(",") if a.strip()] if allow else None
    quiet = quiet or as_json
    region = open_region(config, build=True, quiet=quiet)
    with progress_bars(not quiet) as progress:
        results = results_for(region, AccessOptions(), progress=progress)
        frame = district_suggestions(region, results, layer=layer, district=district, k=k,
                                     threshold_m=threshold, allow=kinds)
    if output is not None:
        write_table(suggestions_export(region, frame, district), output)
        say(t(f"保存しました: {output}", f"written: {output}"))
    if as_json:
        print_json([f["properties"] | {"lon": f["geometry"]["coordinates"][0],
                                        "lat": f["geometry"]["coordinates"][1]}
                    for f in to_feature_collection(frame)["features"]])
        return
    where = f"{region.config.title} {district}" if district else region.config.title
    table = Table(title=t(f"{where} 新しい通いの場の候補地", f"{where}: sites for a new place").get(),
                  box=box.SIMPLE_HEAVY)
    for col in (t("順位", "rank"), t("名称", "name"), t("種類", "kind"),
                t("増える住民", "residents added"), t("うち65歳以上", "of them 65+"),
                t("道のり", "within")):
        table.add_column(col.get(), justify="right" if col.en != "name" else "left")
    for row in frame.to_dict("records"):
        p65 = row["added_population_65plus"]
        table.add_row(str(row["rank"]), str(row["name"]), KINDS_BY_KEY[row["kind"]].title.get(),
                      f"{row['added_population']:,.0f}", "—" if p65 is None else f"{p65:,.0f}",
                      f"{row['threshold_m']:g} m")
    out.print(table)
    if frame.empty:
        say(t("徒歩圏外の住民に届く候補地はありません", "no candidate reaches residents beyond reach"))
