"""Download a municipality's public data by its code, then recognise it (``kennai fetch``).

For a 5-digit 全国地方公共団体コード, :func:`fetch_region` downloads into a folder:

- 国土数値情報 小学校区 (A27) and 中学校区 (A32), 2021 edition (製品仕様書第3.0版), for the
  prefecture: ``{ksj}/A27/A27-21/A27-21_{pp}_GML.zip`` and ``{ksj}/A32/A32-21/A32-21_{pp}_GML.zip``
  with ``ksj = https://nlftp.mlit.go.jp/ksj/gml/data`` (MLIT's download pages
  https://nlftp.mlit.go.jp/ksj/gml/datalist/KsjTmplt-A27-v3_0.html and …/KsjTmplt-A32-v3_0.html);
- e-Stat 令和2年国勢調査 小地域（町丁・字等）境界, 世界測地系緯度経度 Shapefile (JGD2011), for the
  municipality: ``{estat}?dlserveyId=A002005212020&code={ccccc}&coordSys=1&format=shape&
  downloadType=5&datum=2011``, and the 小地域集計 年齢（5歳階級）・男女別人口 table for the
  prefecture: ``{estat}?statsId=T001082&code={pp}&downloadType=2``, with
  ``estat = https://www.e-stat.go.jp/gis/statmap-search/data`` (e-Stat 地図で見る統計 データ
  ダウンロード; the data definitions are at
  https://www.e-stat.go.jp/help/data-definition-information/download);
- the Geofabrik regional extract that holds the municipality:
  ``{geofabrik}/{region}-latest.osm.pbf`` with ``geofabrik = https://download.geofabrik.de/asia/japan``
  (https://download.geofabrik.de/asia/japan.html), checked against the ``.md5`` file Geofabrik
  publishes beside it.

国土地理院 基盤地図情報 DEM cannot be fetched: GSI's download service needs a login. Download
the tiles there and put the zip in the folder; ``kennai init`` mosaics them.

The base URLs can be changed per call (``bases=``) or with ``KENNAI_KSJ_URL``,
``KENNAI_ESTAT_URL`` and ``KENNAI_GEOFABRIK_URL`` (a mirror, or a local test server).
Downloads are kept in the folder and reused: a second run checks each file's recorded sha256 and
downloads nothing. An interrupted download continues from where it stopped (HTTP ``Range``,
``If-Range``). Every file is checked (zips open, a PBF starts like one, Geofabrik's md5 matches)
and recorded with its URL, date, size and sha256 in ``.kennai/fetch.json`` and ``SOURCES.md``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kennai.atomic import atomic_path, file_sha256
from kennai.errors import InputError
from kennai.i18n import Text, t
from kennai.municipalities import Municipality, lookup

DEFAULT_BASES = {
    "ksj": "https://nlftp.mlit.go.jp/ksj/gml/data",
    "estat": "https://www.e-stat.go.jp/gis/statmap-search/data",
    "geofabrik": "https://download.geofabrik.de/asia/japan",
}
ENV_VARS = {"ksj": "KENNAI_KSJ_URL", "estat": "KENNAI_ESTAT_URL", "geofabrik": "KENNAI_GEOFABRIK_URL"}
STATE = ".kennai"
_CHUNK = 1 << 16


class DownloadError(InputError):
    """A download failed, or what arrived is not the file it should be."""


@dataclass(frozen=True)
class Download:
    """One file to fetch: where from, where to, and how to credit it."""

    key: str
    url: str
    filename: str
    title: Text
    attribution: str
    docs: str
    extract_to: str | None = None
    md5_url: str | None = None

    @property
    def kind(self) -> str:
        """``zip`` or ``pbf``: how the file is checked."""
        return "pbf" if self.filename.endswith(".pbf") else "zip"


@dataclass(frozen=True)
class DownloadProgress:
    """What the progress callback is told: bytes so far, total (when known), rate and ETA."""

    filename: str
    done: int
    total: int | None
    bytes_per_s: float
    eta_s: float | None


@dataclass
class FetchResult:
    """What :func:`fetch_region` did: files per key, bytes downloaded, and the init's output."""

    municipality: Municipality
    folder: Path
    files: dict[str, Path]
    downloaded: dict[str, int]
    yaml_path: Path | None = None
    yaml_text: str | None = None
    unplaced: list[tuple[Path, Text]] | None = None


def base_urls(bases: Mapping[str, str] | None = None) -> dict[str, str]:
    """The base URLs: ``bases`` first, then the environment, then the publishers' own."""
    out = {k: os.environ.get(ENV_VARS[k], v) for k, v in DEFAULT_BASES.items()}
    out.update(bases or {})
    return {k: v.rstrip("/") for k, v in out.items()}


def plan_downloads(code: str | int, *, bases: Mapping[str, str] | None = None) -> list[Download]:
    """The files :func:`fetch_region` downloads for a municipality, with their URLs."""
    muni = lookup(code)
    city = muni.code  # e-Stat serves boundaries per 市区町村 (and per ward of a 政令市)
    pp = f"{muni.prefecture_code:02d}"
    b = base_urls(bases)
    ksj_docs = "https://nlftp.mlit.go.jp/ksj/gml/datalist/KsjTmplt-{}-v3_0.html"
    estat_docs = "https://www.e-stat.go.jp/gis/statmap-search?type=2"
    pbf = f"{muni.geofabrik}-latest.osm.pbf"
    return [
        Download("ksj_a27", f"{b['ksj']}/A27/A27-21/A27-21_{pp}_GML.zip", f"A27-21_{pp}_GML.zip",
                 t(f"国土数値情報 小学校区（2021 年度、{muni.prefecture}）",
                   f"国土数値情報 elementary school districts (2021, {muni.prefecture})"),
                 "「国土数値情報（小学校区データ）」（国土交通省）", ksj_docs.format("A27"),
                 extract_to=f"ksj/A27-21_{pp}"),
        Download("ksj_a32", f"{b['ksj']}/A32/A32-21/A32-21_{pp}_GML.zip", f"A32-21_{pp}_GML.zip",
                 t(f"国土数値情報 中学校区（2021 年度、{muni.prefecture}）",
                   f"国土数値情報 junior-high school districts (2021, {muni.prefecture})"),
                 "「国土数値情報（中学校区データ）」（国土交通省）", ksj_docs.format("A32"),
                 extract_to=f"ksj/A32-21_{pp}"),
        Download("estat_boundary",
                 f"{b['estat']}?dlserveyId=A002005212020&code={city}&coordSys=1&format=shape"
                 "&downloadType=5&datum=2011", f"A002005212020DDSWC{city}-JGD2011.zip",
                 t(f"令和2年国勢調査 小地域境界（{muni.name}）",
                   f"2020 census small-area boundaries ({muni.name})"),
                 "「令和2年国勢調査 町丁・字等別境界データ」（総務省統計局）", estat_docs,
                 extract_to=f"estat/boundary_{city}"),
        Download("estat_age", f"{b['estat']}?statsId=T001082&code={pp}&downloadType=2",
                 f"tblT001082C{pp}.zip",
                 t(f"令和2年国勢調査 小地域集計 年齢（5歳階級）別人口（{muni.prefecture}）",
                   f"2020 census small-area population by five-year age group ({muni.prefecture})"),
                 "「令和2年国勢調査 小地域集計」（総務省統計局）", estat_docs,
                 extract_to=f"estat/age_{pp}"),
        Download("osm", f"{b['geofabrik']}/{pbf}", pbf,
                 t(f"OpenStreetMap（Geofabrik {muni.geofabrik}）",
                   f"OpenStreetMap (Geofabrik {muni.geofabrik})"),
                 "© OpenStreetMap contributors (ODbL 1.0)",
                 "https://download.geofabrik.de/asia/japan.html", md5_url=f"{b['geofabrik']}/{pbf}.md5"),
    ]


def _request(url: str, *, headers: Mapping[str, str], timeout: float
             ) -> http.client.HTTPResponse:
    req = urllib.request.Request(url, headers={"User-Agent": "kennai-fetch", **headers})
    return urllib.request.urlopen(req, timeout=timeout)


def _failed(dl: Download, path: Path, ja: str, en: str) -> DownloadError:
    return DownloadError(t(f"ダウンロードに失敗しました: {ja}", f"download failed: {en}"), path=path,
                         feature=dl.url, hint=t("もう一度 kennai fetch を実行してください（続きから"
                                                "取得します）", "run kennai fetch again (it resumes)"))


def _stream(dl: Download, part: Path, *, timeout: float, retries: int,
            progress: Callable[[DownloadProgress], None] | None) -> int:
    """Download ``dl`` into ``part``, resuming what is there; return the bytes received."""
    meta_path = part.with_name(part.name + ".json")
    received = 0
    for attempt in range(retries + 1):
        try:
            meta = json.loads(meta_path.read_text()) if meta_path.is_file() and part.is_file() \
                else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            meta = {}  # a record cut short: start the file again
        have = part.stat().st_size if meta.get("url") == dl.url else 0
        headers = {}
        if have:
            headers["Range"] = f"bytes={have}-"
            if meta.get("validator"):
                headers["If-Range"] = meta["validator"]
        try:
            with _request(dl.url, headers=headers, timeout=timeout) as resp:
                resumed = resp.status == 206
                length = resp.headers.get("Content-Length")
                total = (have if resumed else 0) + int(length) if length else None
                validator = resp.headers.get("ETag") or resp.headers.get("Last-Modified")
                meta_path.write_text(json.dumps({"url": dl.url, "validator": validator,
                                                 "total": total}))
                done = have if resumed else 0
                started, last = time.monotonic(), 0.0
                with part.open("ab" if resumed else "wb") as out:
                    while chunk := resp.read(_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        received += len(chunk)
                        now = time.monotonic()
                        if progress is not None and (now - last > 0.1 or done == total):
                            rate = (done - (have if resumed else 0)) / max(now - started, 1e-6)
                            eta = (total - done) / rate if total and rate > 0 else None
                            progress(DownloadProgress(dl.filename, done, total, rate, eta))
                            last = now
                if total is not None and done < total:
                    raise http.client.IncompleteRead(b"", total - done)
            meta_path.unlink(missing_ok=True)
            return received
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have and meta.get("total") == have:
                meta_path.unlink(missing_ok=True)
                return received  # the part was already whole
            if exc.code == 416:
                part.unlink(missing_ok=True)
                continue
            raise _failed(dl, part.with_suffix(""), f"HTTP {exc.code}", f"HTTP {exc.code}") from None
        except (OSError, http.client.HTTPException) as exc:
            if attempt == retries:
                detail = type(exc).__name__
                raise _failed(dl, part.with_suffix(""), f"接続が切れました（{detail}）",
                              f"the connection broke ({detail})") from None
            time.sleep(min(0.2 * 2 ** attempt, 2.0))
    raise _failed(dl, part.with_suffix(""), "再試行の上限", "too many retries")


def _md5(dl: Download, *, timeout: float) -> str | None:
    if dl.md5_url is None:
        return None
    try:
        with _request(dl.md5_url, headers={}, timeout=timeout) as resp:
            return resp.read(4096).decode("ascii", "replace").split()[0].lower()
    except (urllib.error.URLError, OSError, IndexError, http.client.HTTPException):
        return None  # no published checksum: the format check still runs


def _check(dl: Download, path: Path, md5: str | None) -> None:
    """Raise (and delete the file) when what arrived is not what it should be."""
    problem: tuple[str, str] | None = None
    if md5 is not None:
        h = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != md5:
            problem = ("公開されている md5 と一致しません", "its md5 does not match the published one")
    if problem is None and dl.kind == "pbf":
        with path.open("rb") as fh:
            if b"OSMHeader" not in fh.read(32):
                problem = ("OSM PBF ではありません", "it is not an OSM PBF file")
    elif problem is None:
        try:
            with zipfile.ZipFile(path) as zf:
                if zf.testzip() is not None:
                    problem = ("ZIP の中身が壊れています", "the zip's contents are damaged")
        except zipfile.BadZipFile:
            problem = ("ZIP として読めません", "it is not a readable zip")
    if problem is not None:
        path.unlink(missing_ok=True)
        raise DownloadError(t(f"ダウンロードしたファイルが壊れています（{problem[0]}）",
                              f"the downloaded file is corrupt ({problem[1]})"), path=path,
                            hint=t("消しました。もう一度 kennai fetch を実行してください",
                                   "it was deleted: run kennai fetch again"))


def _extract(path: Path, into: Path) -> None:
    if into.is_dir() and any(into.iterdir()):
        return
    tmp = into.with_name(f".{into.name}.tmp-{os.getpid()}")
    with zipfile.ZipFile(path) as zf:
        for member in zf.infolist():
            target = (tmp / member.filename).resolve()
            if not str(target).startswith(str(tmp.resolve())):
                continue  # a path that would leave the folder
            zf.extract(member, tmp)
    into.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, into)


def _where(dl: Download, folder: Path) -> Path:
    """Where a download is kept: zips under ``.kennai/downloads`` (their contents are
    extracted beside), the OSM extract in ``osm/`` where the recogniser sees it."""
    if dl.extract_to is None:
        return folder / "osm" / dl.filename
    return folder / STATE / "downloads" / dl.filename


def _manifest(folder: Path) -> dict[str, dict[str, object]]:
    path = folder / STATE / "fetch.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_records(folder: Path, manifest: Mapping[str, dict[str, object]], muni: Municipality,
                   plan: list[Download]) -> None:
    path = folder / STATE / "fetch.json"
    with atomic_path(path, mkdir=True) as tmp:
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    lines = ["# 出典 / Sources", "",
             f"`kennai fetch {muni.code}`（{muni.prefecture}{muni.name}）が取得したファイル。",
             f"Files fetched by `kennai fetch {muni.code}` ({muni.prefecture}{muni.name}).", "",
             "| ファイル / file | 内容 / what | URL | 取得日 / fetched | bytes | sha256 |",
             "|---|---|---|---|---|---|"]
    for dl in plan:
        rec = manifest.get(dl.key)
        if rec:
            lines.append(f"| {rec['path']} | {dl.title.ja} / {dl.title.en} | {rec['url']} | "
                         f"{rec['date']} | {rec['bytes']:,} | `{rec['sha256']}` |")
    lines += ["", "## 出典表示 / Attribution", ""]
    lines += [f"- {dl.attribution} — {dl.docs}" for dl in plan if dl.key in manifest]
    lines += ["", "国土地理院 基盤地図情報 DEM はログインが必要なため取得していません。必要なら "
              "https://fgd.gsi.go.jp/download/ から取得してこのフォルダに置いてください。",
              "The GSI DEM needs a login to download: fetch it yourself and put it here.", ""]
    with atomic_path(folder / "SOURCES.md") as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")


def fetch_region(
    code: str | int,
    folder: str | Path,
    *,
    bases: Mapping[str, str] | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
    init: bool = True,
    out_yaml: str | Path | None = None,
    timeout: float = 60.0,
    retries: int = 3,
) -> FetchResult:
    """Download a municipality's public data into ``folder``, then write its region YAML.

    Parameters
    ----------
    code
        The 5- or 6-digit 全国地方公共団体コード (e.g. ``22212``).
    folder
        Where the files go (created when missing); downloads already there are reused.
    bases
        Base URLs to use instead of the publishers' (keys ``ksj``, ``estat``, ``geofabrik``).
    progress
        Called while a file downloads with :class:`DownloadProgress` (bytes, total, ETA).
    init, out_yaml
        Recognise the folder and write the region YAML (default ``folder/<code>.yaml``).
    timeout, retries
        Seconds to wait for the server; reconnections (resuming) before giving up.

    Returns
    -------
    FetchResult
        The files, the bytes downloaded per key (0 when reused) and the YAML written.

    Raises
    ------
    InputError
        For an unknown code; :class:`DownloadError` when a download fails or is corrupt.
    """
    muni = lookup(code)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plan = plan_downloads(muni.code, bases=bases)
    manifest = _manifest(folder)
    files: dict[str, Path] = {}
    downloaded: dict[str, int] = {}
    for dl in plan:
        path = _where(dl, folder)
        rec = manifest.get(dl.key)
        cached = (rec is not None and rec.get("url") == dl.url and path.is_file()
                  and path.stat().st_size == rec.get("bytes") and file_sha256(path) == rec.get("sha256"))
        downloaded[dl.key] = 0
        if not cached:
            if dl.extract_to is not None:
                shutil.rmtree(folder / dl.extract_to, ignore_errors=True)  # from an older file
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(path.name + ".part")
            downloaded[dl.key] = _stream(dl, part, timeout=timeout, retries=retries,
                                         progress=progress)
            os.replace(part, path)
            _check(dl, path, _md5(dl, timeout=timeout))
            manifest[dl.key] = {"url": dl.url, "path": path.relative_to(folder).as_posix(),
                                "date": time.strftime("%Y-%m-%d"), "bytes": path.stat().st_size,
                                "sha256": file_sha256(path), "docs": dl.docs}
            _write_records(folder, manifest, muni, plan)
        files[dl.key] = path
        if dl.extract_to is not None:
            _extract(path, folder / dl.extract_to)
    _write_records(folder, manifest, muni, plan)
    result = FetchResult(muni, folder, files, downloaded)
    if init:
        from kennai.region_yaml import write_region_yaml

        result.yaml_path = Path(out_yaml) if out_yaml else folder / f"{muni.code}.yaml"
        result.yaml_text, result.unplaced = write_region_yaml(
            folder, result.yaml_path, code=muni.code, title=muni.name)
    return result

