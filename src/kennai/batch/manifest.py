"""What a batch runs: municipality code → region config, from a manifest CSV or a list of configs.

A manifest is a CSV with a ``code`` column (全国地方公共団体コード, or any code a batch of
invented towns uses) and a ``config`` column (the region YAML, relative to the manifest);
an optional ``prefecture`` column gives the partition, else the code's first two digits do.
Configs given one by one get their code from the municipality table by their title, or are
known by their region name when the table has no such municipality (the demo town).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from kennai.errors import ConfigError, InputError
from kennai.i18n import t
from kennai.io.encoding import text_encoding

#: The partition of a region whose prefecture is unknown.
NO_PREFECTURE = "00"


@dataclass(frozen=True)
class BatchItem:
    """One municipality of a batch: its code, prefecture partition and region config."""

    code: str
    prefecture: str
    config: Path

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "prefecture": self.prefecture, "config": str(self.config)}


def _prefecture_of(code: str) -> str:
    return code[:2] if len(code) == 5 and code.isdigit() else NO_PREFECTURE


def read_manifest(path: Path) -> list[BatchItem]:
    """The items of a manifest CSV (``code,config[,prefecture]``).

    Raises
    ------
    InputError
        When the file is missing, lacks a column, or names a code twice.
    """
    if not path.is_file():
        raise InputError(t("マニフェストが見つかりません", "manifest not found"), path=path,
                         hint=t("code,config の列をもつ CSV を指定してください",
                                "give a CSV with the columns code,config"))
    text = path.read_text(encoding=text_encoding(path))
    reader = csv.DictReader(text.lstrip("\ufeff").splitlines())
    missing = [c for c in ("code", "config") if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(t(f"列 {', '.join(missing)} がありません", f"no column {', '.join(missing)}"),
                         path=path, hint=t("1 行目を code,config にしてください",
                                           "make the first line code,config"))
    items: list[BatchItem] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        code = (row.get("code") or "").strip()
        config = (row.get("config") or "").strip()
        if not code or not config:
            raise InputError(t("code か config が空です", "an empty code or config"), path=path,
                             feature=f"line {line}", hint=t("両方を書いてください", "fill in both"))
        if code in seen:
            raise InputError(t(f"コード {code} が 2 回あります（{seen[code]} 行目と {line} 行目）",
                               f"code {code} appears twice (lines {seen[code]} and {line})"),
                             path=path, feature=f"line {line}",
                             hint=t("1 つの市区町村は 1 行にしてください", "one line per municipality"))
        seen[code] = line
        pref = (row.get("prefecture") or "").strip()
        items.append(BatchItem(code, pref.zfill(2) if pref else _prefecture_of(code),
                               (path.parent / config).resolve()))
    if not items:
        raise InputError(t("マニフェストに行がありません", "the manifest has no rows"), path=path,
                         hint=t("市区町村を 1 行ずつ書いてください", "add one line per municipality"))
    return items


def _code_for(config: Path) -> str:
    """The code of a config from its title in the municipality table; else the file's stem."""
    from kennai.config import load_config
    from kennai.municipalities import search

    try:
        cfg = load_config(config)
    except ConfigError:
        return config.stem  # a broken config still gets a row of its own (in failures)
    hits = search(cfg.title, prefecture=cfg.prefecture) if cfg.title else []
    exact = [m for m in hits if m.name == cfg.title and m.kind != "ward"]
    return exact[0].code if len(exact) == 1 else cfg.name


def items_from_configs(configs: list[Path]) -> list[BatchItem]:
    """Items for configs given on the command line (codes from their titles).

    Raises
    ------
    ConfigError
        When two configs come to the same code.
    """
    items: list[BatchItem] = []
    seen: dict[str, Path] = {}
    for path in configs:
        code = _code_for(path)
        if code in seen:
            raise ConfigError(t(f"{seen[code]} と同じコード {code} です",
                                f"same code {code} as {seen[code]}"),
                              path=path, hint=t("--manifest でコードを指定してください",
                                                "give the codes in a --manifest"))
        seen[code] = path
        items.append(BatchItem(code, _prefecture_of(code), path.resolve()))
    return items
