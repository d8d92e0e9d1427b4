"""`kennai plans add | list | rename | delete`: keep the plans people bring (registered on
kennai.cli.app's ``plans`` group).

Only argument parsing and printing: files are read by :func:`kennai.plans.read_plan_file` (the
reader the API's upload uses too) and kept by :class:`kennai.plan_store.PlanStore`.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kennai.cli.app import ConfigArg, JsonOpt, open_region, out, plans_app, print_json, say
from kennai.i18n import t

WhoOpt = Annotated[str | None, typer.Option(
    "--who", help="変更した人（既定: ログイン名） (who makes the change; default: login name)")]


def _who(who: str | None) -> str:
    return who or getpass.getuser()


@plans_app.command("add")
def add(
    config: ConfigArg,
    file: Annotated[Path, typer.Argument(help="案のファイル: GeoJSON・ZIP（シェープファイル）・GeoPackage、"
                                              "または割当表 CSV / xlsx（単位 → 圏域） (plan file)",
                                         exists=True, dir_okay=False)],
    name: Annotated[str, typer.Option("--name", help="案の名前（半角小文字・数字・_・-） (plan name)")],
    title: Annotated[str | None, typer.Option("--title", help="案の表示名 (title)")] = None,
    who: WhoOpt = None,
    name_column: Annotated[str | None, typer.Option(
        "--name-column", help="圏域名の列（面のファイル） (area name column)")] = None,
    crs: Annotated[str | None, typer.Option(
        "--crs", help="座標系のないファイルの座標系（例 EPSG:6676） (CRS of a file without one)")] = None,
    units: Annotated[str | None, typer.Option(
        "--units", help="割当表が割り当てる区域のレイヤ（population, neighbourhood …） "
                        "(layer an assignment table assigns)")] = None,
    unit_column: Annotated[str | None, typer.Option("--unit-column", help="割当表の単位の列")] = None,
    area_column: Annotated[str | None, typer.Option("--area-column", help="割当表の圏域の列")] = None,
) -> None:
    """案のファイルを地域に保存する（分断の確認・比較に使えます） (store a plan)."""
    from kennai.plan_store import read_region_plan, region_plan_store

    region = open_region(config, build=True, quiet=False)
    plan = read_region_plan(region, file, filename=file.name, name_column=name_column,
                            source_crs=crs, units=units, unit_column=unit_column,
                            area_column=area_column)
    stored = region_plan_store(region).add(name, plan, who=_who(who), title=title,
                                           source=file.name, taken=tuple(region.plan_names))
    for finding in plan.attrs.get("findings", []):
        say(finding.message)  # e.g. units the table assigns to no area
    say(t(f"案「{stored.name}」を保存しました（{stored.areas} 圏域）",
          f"stored plan {stored.name!r} ({stored.areas} areas)"))


@plans_app.command("list")
def list_plans(config: ConfigArg, as_json: JsonOpt = False) -> None:
    """地域の案の一覧: 設定の案と保存した案 (the region's plans)."""
    from kennai.plan_store import region_plan_store

    region = open_region(config, build=True, quiet=as_json)
    own = [{"name": p.name, "title": p.title or p.name, "stored": False}
           for p in region.config.plans]
    stored = [p.to_dict() for p in region_plan_store(region).plans()]
    if as_json:
        print_json(own + stored)
        return
    table = Table(t("名前", "name").get(), t("表示名", "title").get(), t("出どころ", "source").get(),
                  t("登録", "added").get(), t("更新", "changed").get())
    for p in own:
        table.add_row(str(p["name"]), str(p["title"]), t("設定", "config").get(), "–", "–")
    for s in stored:
        table.add_row(s["name"], s["title"], s["source"], f"{s['created_by']} {s['created_at']}",
                      f"{s['updated_by']} {s['updated_at']}")
    out.print(table)


@plans_app.command("rename")
def rename(
    config: ConfigArg,
    name: Annotated[str, typer.Argument(help="今の名前 (current name)")],
    new_name: Annotated[str, typer.Argument(help="新しい名前 (new name)")],
    title: Annotated[str | None, typer.Option("--title", help="新しい表示名 (new title)")] = None,
    who: WhoOpt = None,
) -> None:
    """保存した案の名前を変える (rename a stored plan)."""
    from kennai.plan_store import region_plan_store

    region = open_region(config, build=True, quiet=False)
    stored = region_plan_store(region).rename(name, new_name, who=_who(who), title=title,
                                              taken=tuple(region.plan_names))
    say(t(f"案「{name}」を「{stored.name}」にしました", f"renamed plan {name!r} to {stored.name!r}"))


@plans_app.command("delete")
def delete(
    config: ConfigArg,
    name: Annotated[str, typer.Argument(help="削除する案の名前 (plan name)")],
    who: WhoOpt = None,
) -> None:
    """保存した案を削除する (delete a stored plan)."""
    from kennai.plan_store import region_plan_store

    region = open_region(config, build=True, quiet=False)
    region_plan_store(region).delete(name, who=_who(who))
    say(t(f"案「{name}」を削除しました", f"deleted plan {name!r}"))
