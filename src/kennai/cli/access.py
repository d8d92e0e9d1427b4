"""`kennai access`: who can walk to a gathering place, per district (registered on kennai.cli.app).

The command only translates options into :mod:`kennai.access` calls: it reuses the results
stored by ``kennai build`` when they were computed with the same routing options, and computes
afresh otherwise. ``--json`` prints one object per district (or one for the whole region);
``--csv`` prints the table with readable headers (Japanese, English with ``--lang en``) and
``-o FILE`` writes it through :mod:`kennai.export` (CSV as UTF-8 with a BOM, xlsx, GeoPackage …).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from kennai.cli.app import (
    ConfigArg,
    JsonOpt,
    QuietOpt,
    app,
    collector_paused,
    open_region,
    out,
    print_json,
    progress_bars,
    say,
)
from kennai.errors import ConfigError
from kennai.i18n import t


def _fmt_share(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def _print_table(rows: list[dict[str, Any]], title: str) -> None:
    from kennai.access import OUTSIDE_NAME

    labels = list(rows[0]["coverage"]) if rows else []
    straight = list(rows[0]["straight_line_coverage"]) if rows else []
    straight_only = bool(rows) and rows[0].get("method") == "straight_line"
    # Every share states its base (the caption and the "on network" column).
    caption = (t("直線距離のみ: 歩行ネットワークがないため、割合は全住民の直線距離によります",
                 "straight-line only: there is no walk network, shares are of all residents "
                 "by straight-line distance") if straight_only else
               t("割合はネットワーク上の住民のうちの数字です（「ネット上」の列）",
                 "shares are of the residents on the network (the 'on net' column)"))
    # A light frame: a dozen columns must fit a laptop terminal without cutting names or counts.
    table = Table(title=title, caption=caption.get(), show_header=True, box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for head in (t("区域", "district"), t("人口", "people"), t("65歳\n以上", "65+"),
                 t("ネット\nワーク外", "no\nnetwork"), t("ネット\n上", "on\nnet")):
        # Names and counts are never cut short; narrow terminals wrap the headers instead.
        if head.en == "district":
            table.add_column(head.get(), justify="left", no_wrap=True, min_width=6)
        else:
            table.add_column(head.get(), justify="right", no_wrap=True, min_width=5)
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True, min_width=max(4, len(label)))
    for label in straight:
        table.add_column(t(f"直線\n{label}", f"direct\n{label}").get(), justify="right",
                         no_wrap=True, min_width=4)
    table.add_column(t("中央値", "median").get(), justify="right", no_wrap=True, min_width=6)
    for k, r in enumerate(rows):
        p65 = "—" if r["population_65plus"] is None else f"{r['population_65plus']:,.0f}"
        med = "—" if r["median_distance_m"] is None else f"{r['median_distance_m']:,.0f} m"
        name = r["name"] if r["name"] != OUTSIDE_NAME else t(OUTSIDE_NAME, "(outside every area)").get()
        # The residents outside every district close the table, set apart by a rule.
        last = k + 2 == len(rows) and rows[-1]["name"] == OUTSIDE_NAME
        table.add_row(name, f"{r['population']:,.0f}", p65, f"{r['no_network_population']:,.0f}",
                      _fmt_share(r.get("base_share")),
                      *[_fmt_share(r["coverage"][label]) for label in labels],
                      *[_fmt_share(r["straight_line_coverage"][label]) for label in straight], med,
                      end_section=last)
    out.print(table)


@app.command()
def access(
    config: ConfigArg,
    by: Annotated[str | None, typer.Option(
        "--by", help="区域ごとに集計: elementary / junior_high / neighbourhood / 計画名 "
                     "(district layer or plan)")] = None,
    threshold: Annotated[list[str] | None, typer.Option(
        "--threshold", help="しきい値（500 = 500 m, 10min = 10 分; 繰り返し可） (repeatable)")] = None,
    profile: Annotated[str, typer.Option(
        "--profile", help="歩行速度 elderly (0.8 m/s) | adult (1.3 m/s) (walking speed)")] = "elderly",
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="この種別を含む通いの場だけ（繰り返し可） (place category filter)")] = None,
    schedule: Annotated[str | None, typer.Option(
        "--schedule", help="曜日・日時特記事項にこの語を含む場所だけ（例: 毎週） (schedule filter)")] = None,
    weekly: Annotated[bool, typer.Option(
        "--weekly", help="週1回以上開いている場所だけで数える (only places open at least weekly)")] = False,
    kind: Annotated[str, typer.Option(
        "--kind", help="行き先の種類: places（集いの場）/ 設定の destinations の名前（例: food, bus） "
                       "(kind of destination)")] = "places",
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    as_csv: Annotated[bool, typer.Option(
        "--csv", help="CSV で出力（見出しは日本語、--lang en で英語） (CSV output)")] = False,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="表をファイルに保存: .csv（BOM 付き UTF-8）.xlsx .gpkg .parquet .fgb "
                               "(write the table to a file)")] = None,
) -> None:
    """通いの場まで歩いて行ける住民の割合を区域ごとに表示 (walkable access per district)."""
    with collector_paused():
        from kennai.access import (
            DEFAULT_THRESHOLDS,
            AccessOptions,
            coverage_frame,
            coverage_table,
            parse_threshold,
            resolve_polygons,
            results_for,
        )
        from kennai.export import output_format, table_csv, write_table

    if as_json and as_csv:
        raise ConfigError(t("--json と --csv は同時に使えません", "--json and --csv exclude each other"),
                          hint=t("どちらか一方を指定してください", "choose one"))
    if output is not None:
        output_format(output)  # a bad name fails before the analysis runs
    thresholds = tuple(parse_threshold(x) for x in threshold) if threshold else DEFAULT_THRESHOLDS
    options = AccessOptions(profile=profile, thresholds=thresholds,
                            categories=tuple(category) if category else None, schedule=schedule,
                            weekly=weekly)
    quiet = quiet or as_json or as_csv
    region = open_region(config, build=True, quiet=quiet)
    cfg = region.config
    with progress_bars(not quiet) as progress:
        polygons = None
        if by is not None:
            _, polygons = resolve_polygons(region, by)
        results = results_for(region, options, kind=kind, progress=progress)
    rows = coverage_table(results, polygons, thresholds=thresholds, region_name=cfg.title)
    if output is not None:
        # the export targets (and through them the site suggestions, scipy) only for a file
        from kennai.export_targets import coverage_export

        write_table(coverage_export(region, results, by), output)
        say(t(f"保存しました: {output}", f"written: {output}"))
        if as_csv:
            return
    if as_json:
        print_json(rows if by is not None else rows[0])
    elif as_csv:
        sys.stdout.write(table_csv(coverage_frame(rows)))
    else:
        unit = results.info.get("residents", {}).get("unit")
        title = f"{cfg.title} — {profile}"
        if kind != "places":
            from kennai.access import kind_title

            title = f"{cfg.title} — {kind_title(region, kind)} — {profile}"
        if unit == "households":
            title += t("（人口なし: 建物 1 棟 = 1 世帯）", " (no census: one household per building)").get()
        _print_table(rows, title)
