"""`kennai init` and `kennai fetch`: a region YAML from the files a city has, or from the public
sources for its code (registered on kennai.cli.app).

Both only translate options into :func:`kennai.region_yaml.write_region_yaml` and
:func:`kennai.fetch.fetch_region`; what each file is is decided in :mod:`kennai.recognise`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kennai.cli.app import app, err, say
from kennai.i18n import t

if TYPE_CHECKING:
    from kennai.i18n import Text

FolderArg = Annotated[Path, typer.Argument(help="市のファイルのフォルダ (folder of the city's files)")]


def _report(yaml_path: Path, unplaced: list[tuple[Path, Text]]) -> None:
    say(t(f"書き出しました: {yaml_path}", f"written: {yaml_path}"))
    for path, why in unplaced:
        say(t(f"  使わなかったファイル {path.name}: {why.ja}", f"  not used {path.name}: {why.en}"))
    say(t(f"次に: kennai build {yaml_path}", f"next: kennai build {yaml_path}"))


def _ask(prompt: Text, default: str | None) -> str | None:
    answer = typer.prompt(prompt.get(), default=default or "", show_default=bool(default))
    return answer.strip() or default


@app.command()
def init(
    folder: FolderArg,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="書き出す YAML（既定: pipelines/<名前>.yaml） (YAML to write)")] = None,
    name: Annotated[str | None, typer.Option("--name", help="地域の名前（英小文字） (region name)")] = None,
    title: Annotated[str | None, typer.Option("--title", help="地域の表題 (region title)")] = None,
    code: Annotated[str | None, typer.Option(
        "--code", help="全国地方公共団体コード（5桁; データから分からないとき） (municipality code)")] = None,
    ask: Annotated[bool, typer.Option(
        "--ask", help="端末で名前・表題・コードを尋ねる (ask on a terminal)")] = False,
) -> None:
    """市のファイルのフォルダから地域の設定 YAML を作る (write a region YAML from a folder of files)."""
    from kennai.errors import InputError
    from kennai.region_yaml import write_region_yaml

    if not folder.is_dir():
        raise InputError(t("フォルダが見つかりません", "folder not found"), path=folder,
                         hint=t("市のファイルを入れたフォルダを指定してください",
                                "give the folder holding the city's files"))
    if ask and sys.stdin.isatty():
        name = _ask(t("地域の名前（英小文字・数字・_）", "region name (lower-case, digits, _)"), name)
        title = _ask(t("地域の表題（例: 焼津市）", "region title (e.g. 焼津市)"), title)
        code = _ask(t("全国地方公共団体コード（空欄: データから）",
                      "municipality code (blank: from the data)"), code)
    target = output or Path("pipelines") / f"{name or folder.name.lower()}.yaml"
    _, unplaced = write_region_yaml(folder, target, name=name, title=title, code=code)
    _report(target, unplaced)


@app.command()
def fetch(
    code: Annotated[str, typer.Argument(help="全国地方公共団体コード（例: 22212） (municipality code)")],
    to: Annotated[Path | None, typer.Option(
        "--to", help="保存するフォルダ（既定: data/<コード>） (download folder)")] = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="書き出す YAML（既定: <フォルダ>/<コード>.yaml） (YAML to write)")] = None,
) -> None:
    """公開データ（国土数値情報・e-Stat・OSM）を取得して地域の設定を作る (download and init)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from kennai.fetch import DownloadProgress, fetch_region

    folder = to or Path("data") / code
    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=err,
                  disable=not err.is_terminal) as bar:

        def show(p: DownloadProgress) -> None:
            if p.filename not in tasks:
                tasks[p.filename] = bar.add_task(p.filename, total=p.total)
            bar.update(tasks[p.filename], completed=p.done, total=p.total)

        result = fetch_region(code, folder, progress=show, out_yaml=output)
    got = sum(result.downloaded.values())
    say(t(f"{result.municipality.name}: {len(result.files)} ファイル（新しく {got:,} バイト）→ {folder}",
          f"{result.municipality.name}: {len(result.files)} files ({got:,} bytes new) → {folder}"))
    if result.yaml_path is not None:
        _report(result.yaml_path, result.unplaced or [])
