"""Write a commented region YAML from the files :mod:`kennai.recognise` found in a folder.

This is what ``kennai init FOLDER -o pipelines/NAME.yaml`` does: it chooses, for every layer
kind of :mod:`kennai.config`, the file that fills it, says in a comment why, and lists every
file it could not place with the reason. The YAML it writes builds as it is:

- one layer per district kind (a municipal file is preferred to the prefecture-wide 国土数値情報
  one, which is filtered to the municipality's code when that is known);
- when both an elementary and a junior-high layer are found, the plan ``junior_high``
  (中学校区を第2層圏域とする案) from the junior-high layer, as in ``pipelines/yaizu.yaml``;
- places: the halls (公民館, 交流センター, 集会所 …) in every facility list, each hall once
  (a hall already taken from another list is left out by a ``where`` filter); candidates: the
  largest list of public facilities;
- a network from a walk-network layer or an OpenStreetMap file, buildings and places from the
  OSM file when the folder has no census or hall list;
- xlsx lists and the 地域・年齢別人口 table are saved as UTF-8 CSVs under ``FOLDER/.kennai/``,
  and 基盤地図情報 DEM tiles are mosaicked into ``FOLDER/.kennai/dem.tif``, because the build
  reads CSVs and GeoTIFFs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from kennai.atomic import atomic_path
from kennai.config import NAME_RE
from kennai.errors import KennaiError
from kennai.i18n import t
from kennai.recognise import (
    HALL_WORDS,
    Recognised,
    Unplaced,
    hall_word,
    municipality_code,
    read_xlsx,
    recognise_folder,
)

CONVERTED = ".kennai"
_TITLES = {"elementary": "小学校区", "junior_high": "中学校区", "neighbourhood": "自治会・町内会",
           "population": "人口", "places": "集いの場の候補",
           "candidates": "公共施設（新しい通いの場の候補地）",
           "network": "歩行ネットワーク", "buildings": "建物（OSM）", "dem": "標高（DEM）"}
_ATTRIBUTION = {
    "estat": "「国勢調査 町丁・字等別境界データ」（総務省統計局）",
    "ksj": "「国土数値情報（学校区データ）」（国土交通省）",
    "ksj_p20": "「国土数値情報（避難施設データ）」（国土交通省）",
    "osm": "© OpenStreetMap contributors (ODbL 1.0)",
    "gsi": "出典：国土地理院 基盤地図情報（数値標高モデル）",
    "city": "出典：市区町村のオープンデータ（利用規約を確認して書き直してください）",
    "digital_agency": "出典：市区町村のオープンデータ（推奨データセット）",
    "network": "歩行ネットワークの出典を書いてください（OSM なら © OpenStreetMap contributors (ODbL 1.0)）",
}


def _q(value: object) -> str:
    """A YAML scalar or flow collection (JSON is valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


class _Writer:
    """Collects the YAML's lines and the files it could not place."""

    def __init__(self, out_dir: Path, folder: Path) -> None:
        self.out_dir, self.folder = out_dir, folder
        self.lines: list[str] = []
        self.unplaced: list[Unplaced] = []
        self.sources: set[str] = set()

    def rel(self, path: Path) -> str:
        return Path(os.path.relpath(path.resolve(), self.out_dir.resolve())).as_posix()

    def converted(self, name: str) -> Path:
        folder = self.folder / CONVERTED
        folder.mkdir(exist_ok=True)
        return folder / name

    def source(self, rec: Recognised, path: Path | None = None, indent: str = "    ",
               **extra: object) -> list[str]:
        self.sources.add(rec.source)
        lines = [f"{indent}path: {_q(self.rel(path or rec.path))}"]
        if rec.layer:
            lines.append(f"{indent}layer: {_q(rec.layer)}")
        lines += [f"{indent}{k}: {_q(v)}" for k, v in extra.items() if v is not None]
        return lines


def _pick(found: list[Recognised], role: str, code: str | None, writer: _Writer
          ) -> Recognised | None:
    """The best layer of a role (municipal before national), the others reported."""
    items = [r for r in found if r.role == role]
    if code:
        items = [r for r in items if r.code in (None, code)] or items
    items.sort(key=lambda r: (r.source == "ksj", -r.rows if role == "network" else 0,
                              r.path.suffix.lower() != ".shp", str(r.path)))
    for other in items[1:]:
        writer.unplaced.append((other.path, t(f"同じ種類のレイヤ {items[0].path.name} を使いました",
                                              f"another layer of this kind was used: "
                                              f"{items[0].path.name}")))
    return items[0] if items else None


def _districts(found: list[Recognised], code: str | None, w: _Writer) -> list[str]:
    lines: list[str] = []
    for kind in ("elementary", "junior_high", "neighbourhood"):
        rec = _pick(found, kind, code, w)
        if rec is None:
            continue
        where = None
        if rec.source == "ksj" and code:
            where = {"column": _ksj_code_column(rec), "equals": [code]}
        lines += [f"  {kind}:", f"    # {rec.what.ja}", f"    # {rec.what.en}",
                  f"    title: {_q(_TITLES[kind])}",
                  *w.source(rec, name_column=rec.name_column, where=where)]
    return lines


def _ksj_code_column(rec: Recognised) -> str:
    prefix = "A27" if rec.role == "elementary" else "A32"
    # 2010/2013 polygons carry the code in A27_005 / A32_006, later versions in *_001.
    late = {"A27": "A27_007", "A32": "A32_008"}[prefix]
    return {"A27": "A27_005", "A32": "A32_006"}[prefix] if rec.name_column == late \
        else f"{prefix}_001"


def _facility_path(rec: Recognised, w: _Writer) -> Path:
    if not rec.needs_conversion:
        return rec.path
    out = w.converted(rec.path.stem + ".csv")
    read_xlsx(rec.path).to_csv(out, index=False, encoding="utf-8")
    return out


def _places(found: list[Recognised], osm: Recognised | None, w: _Writer) -> list[str]:
    lists = [r for r in found if r.role == "facilities"]
    general = [r for r in lists if r.rows >= 20 and sum(r.halls) < 0.5 * r.rows]
    candidates = max(general, key=lambda r: (r.category_column == "団体名", r.rows), default=None)
    taken: set[str] = set()
    sources: list[list[str]] = []
    ordered = sorted((r for r in lists if r is not candidates),
                     key=lambda r: (-sum(r.halls) / max(r.rows, 1), str(r.path)))
    if candidates is not None and not any(any(r.halls) for r in ordered):
        ordered.append(candidates)  # the only list with halls: its halls are the places
    for rec in ordered:
        keep = [n for n, hall in zip(rec.names, rec.halls, strict=True) if hall and n not in taken]
        if not keep:
            reason = (t("集いの場になる施設（公民館・集会所など）がありません",
                        "no halls (公民館, 集会所 …) in it") if not any(rec.halls) else
                      t("施設はすべて他の一覧から取りました", "its halls are already in another list"))
            w.unplaced.append((rec.path, reason))
            continue
        taken.update(keep)
        category, where = _category_and_filter(rec, keep)
        path = _facility_path(rec, w)
        sources.append([f"      # {rec.what.ja}",
                        *w.source(rec, path, indent="        ", name_column=rec.name_column,
                                  category=category, where=where)])
    lines: list[str] = []
    if sources:
        lines += ["  places:", f"    title: {_q(_TITLES['places'])}", "    sources:"]
        for src in sources:
            lines += [src[0], "      - " + src[1].lstrip(), *src[2:]]
    elif osm is not None:
        lines += ["  places:", "    # OSM の公民館・集会所・福祉施設・図書館（施設の一覧が見つからないため）",
                  f"    title: {_q(_TITLES['places'] + '（OSM）')}", *w.source(osm),
                  "    osm_tags:", "      amenity: [community_centre, townhall, social_facility, library]"]
    if candidates is not None:
        lines += ["  candidates:", f"    # {candidates.what.ja}", f"    title: {_q(_TITLES['candidates'])}",
                  *w.source(candidates, _facility_path(candidates, w),
                            name_column=candidates.name_column,
                            category_column=candidates.category_column)]
    return lines


def _category_and_filter(rec: Recognised, keep: list[str]) -> tuple[str | None, dict | None]:
    """A category label for the kept rows, and a ``where`` that keeps exactly them."""
    rows = [i for i, n in enumerate(rec.names) if n in set(keep)]
    cats = {rec.categories[i] for i in rows} if rec.categories else set()
    words = {hall_word(rec.names[i]) for i in rows}
    category = next(iter(cats)) if len(cats) == 1 and "" not in cats and rec.category_column \
        != "団体名" else (next(iter(words)) if len(words) == 1 else None)
    if len(rows) == rec.rows:
        return category, None
    for word in HALL_WORDS:
        if {i for i, n in enumerate(rec.names) if word in n} == set(rows):
            return category, {"column": rec.name_column, "contains": word}
    return category, {"column": rec.name_column, "equals": sorted(set(keep))}


def _population(found: list[Recognised], code: str | None, osm: Recognised | None,
                w: _Writer) -> list[str]:
    rec = _pick(found, "population", code, w)
    table = next((r for r in found if r.role == "age_population"), None)
    for age in (r for r in found if r.role == "age_table"):
        w.unplaced.append((age.path, t("年齢別の表は小地域に結合して 65 歳以上を数えます（年齢表の読み込み"
                                       "が入ったら population に加えてください）",
                                       "an age table: it joins the small areas for the 65+ count "
                                       "(add it to population once age tables are read)")))
    if rec is not None:
        if table is not None:
            w.unplaced.append((table.path, t("人口は国勢調査の小地域から取りました",
                                             "population comes from the census small areas")))
        return ["  population:", f"    # {rec.what.ja}", f"    title: {_q('小地域人口（国勢調査）')}",
                *w.source(rec)]
    if table is not None:
        path, cols = _age_population_csv(table, w)
        return ["  population:", f"    # {table.what.ja}（町丁の代表点、CSV に変換）",
                f"    title: {_q('地域・年齢別人口（住民基本台帳）')}", *w.source(table, path, **cols)]
    if osm is not None:
        return ["  buildings:", "    # 人口の表がないため、建物 1 棟を 1 世帯として数えます",
                f"    title: {_q(_TITLES['buildings'])}", *w.source(osm)]
    return []


def _age_population_csv(rec: Recognised, w: _Writer) -> tuple[Path, dict[str, str]]:
    """The 地域・年齢別人口 table as points with total, 65+ and households columns."""
    from kennai.io.tables import read_csv_table

    df = read_xlsx(rec.path) if rec.needs_conversion else read_csv_table(rec.path)
    out = pd.DataFrame({"名称": df[rec.name_column].astype(str).str.strip()})
    loc = df["location"].astype(str).str.split(",", expand=True) if "location" in df else None
    out["緯度"] = loc[0].str.strip() if loc is not None else df.get("緯度")
    out["経度"] = loc[1].str.strip() if loc is not None else df.get("経度")
    out["人口"] = pd.to_numeric(df.get("totalPopulation", df.get("総人口")), errors="coerce")
    cols = {"name_column": "名称", "population_column": "人口"}
    # Groups 14-18 of the 18 five-year groups are 65-69 … 85+ (the 推奨データセット layout).
    old = [f"{sex}{i}" for sex in ("man", "woman") for i in range(14, 19)]
    if all(c in df for c in old):
        out["65歳以上"] = df[old].apply(pd.to_numeric, errors="coerce").sum(axis=1)
        cols["population_65plus_column"] = "65歳以上"
    if "numberOfHouseholds" in df:
        out["世帯数"] = pd.to_numeric(df["numberOfHouseholds"], errors="coerce")
        cols["households_column"] = "世帯数"
    path = w.converted(rec.path.stem + ".csv")
    out.to_csv(path, index=False, encoding="utf-8")
    return path, cols


def _network_and_dem(found: list[Recognised], osm: Recognised | None, code: str | None,
                     bounds: tuple[float, float, float, float] | None, w: _Writer) -> list[str]:
    lines: list[str] = []
    net = _pick(found, "network", code, w)
    if net is not None or osm is not None:
        rec = net or osm
        assert rec is not None
        lines += ["  network:", f"    # {rec.what.ja}", f"    title: {_q(_TITLES['network'])}",
                  *w.source(rec)]
    dem = _pick(found, "dem", code, w)
    tiles = [r for r in found if r.role == "gsi_dem"]
    if dem is None and tiles:
        from kennai.io.gsi_dem import write_gsi_mosaic

        margin = 0.01
        box = None if bounds is None else (bounds[0] - margin, bounds[1] - margin,
                                           bounds[2] + margin, bounds[3] + margin)
        try:
            out = write_gsi_mosaic([r.path for r in tiles], w.converted("dem.tif"), bounds=box)
        except KennaiError as exc:
            w.unplaced += [(r.path, exc.message) for r in tiles]
        else:
            w.sources.add("gsi")
            lines += ["  dem:", f"    # 基盤地図情報 DEM {len(tiles)} ファイルをつないだもの（EPSG:6668）",
                      f"    title: {_q(_TITLES['dem'])}", f"    path: {_q(w.rel(out))}"]
    elif dem is not None:
        lines += ["  dem:", f"    title: {_q(_TITLES['dem'])}", *w.source(dem)]
        w.unplaced += [(r.path, t("GeoTIFF の DEM を使いました", "the GeoTIFF DEM was used"))
                       for r in tiles]
    return lines


def _lonlat_bounds(found: Iterable[Recognised]) -> tuple[float, float, float, float] | None:
    from kennai.io.vector import read_vector

    boxes = []
    for rec in found:
        if rec.role in ("elementary", "junior_high", "neighbourhood", "population") \
                and rec.source != "ksj":
            boxes.append(read_vector(rec.path, layer=rec.layer).to_crs("EPSG:4326").total_bounds)
    if not boxes:
        return None
    b = np.vstack(boxes)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def write_region_yaml(
    folder: str | Path,
    out_path: str | Path,
    *,
    name: str | None = None,
    title: str | None = None,
    code: str | None = None,
) -> tuple[str, list[Unplaced]]:
    """Recognise the files in ``folder`` and write a region YAML that builds as it is.

    Parameters
    ----------
    folder
        The folder of files (a city's downloads, or what ``kennai fetch`` brought).
    out_path
        The YAML to write (e.g. ``pipelines/yaizu.yaml``); paths in it are relative to it.
    name, title
        The region's name (default: the YAML's stem when it is a valid name) and title
        (default: the municipality's name when its code is known, else the folder's name).
    code
        The 5-digit 全国地方公共団体コード; found in the data when not given. Prefecture-wide
        国土数値情報 layers are filtered to it.

    Returns
    -------
    (str, list of (Path, Text))
        The YAML text (also written to ``out_path``) and the files not placed, with why.
    """
    from kennai.municipalities import lookup

    folder, out_path = Path(folder), Path(out_path)
    found, unplaced = recognise_folder(folder)
    code = code or municipality_code(found)
    muni = lookup(code) if code else None
    w = _Writer(out_path.parent, folder)
    w.unplaced = list(unplaced)
    osm = next((r for r in found if r.role == "osm"), None)
    layers = _districts(found, code, w)
    residents = _population(found, code, osm, w)
    places = _places(found, osm, w)
    if places and not residents and any(r.role == "network" for r in found):
        # Access needs residents: without them the build would stop, so the places wait.
        places = ["  # 人口（国勢調査の小地域など）も建物もないため、集いの場は入れていません。人口の",
                  "  # レイヤを加えたら、次の行の # を外してください。",
                  "  # No population or buildings: add a population layer, then uncomment these.",
                  *("  # " + line[2:] for line in places)]
    layers += residents + places
    layers += _network_and_dem(found, osm, code, _lonlat_bounds(found), w)
    stem = out_path.stem.lower()
    name = name or (stem if NAME_RE.match(stem) else "region")
    title = title or (muni.name if muni else folder.name)
    today = time.strftime("%Y-%m-%d")
    head = [f"# {title}: kennai init が {folder.name}/ のファイルから書いた設定（{today}）。",
            f"# Region config written by kennai init from the files in {folder.name}/. Check each",
            "# layer's comment (what was found and why), and the attribution lines.",
            f"name: {_q(name)}", f"title: {_q(title)}", "crs: auto"]
    if muni is not None:
        head[-1] += f"  # {muni.prefecture}{muni.name}: 平面直角座標系 {muni.zone} 系 ({muni.crs})"
        head.append(f"prefecture: {muni.prefecture_code}")
    head.append("attribution:")
    head += [f"  - {_q(_ATTRIBUTION[s])}" for s in sorted(w.sources) if s in _ATTRIBUTION]
    if not layers:
        layers = ["  {}"]
    lines = [*head, "layers:", *layers]
    if any(x.startswith("  elementary:") for x in layers) and \
            any(x.startswith("  junior_high:") for x in layers):
        lines += ["plans:", "  - name: junior_high", f"    title: {_q('中学校区を第2層圏域とする案')}",
                  "    from_layer: junior_high"]
    if w.unplaced:
        lines += ["", "# 使わなかったファイル / files not used:"]
        lines += [f"#   {w.rel(p)}: {why.ja} / {why.en}" for p, why in w.unplaced]
    text = "\n".join(lines) + "\n"
    with atomic_path(out_path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return text, w.unplaced

