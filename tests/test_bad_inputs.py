"""A corpus of bad inputs: each gets one line, exit 2 and the cause named; the last build stays.

Every case starts from the embedded demo region (copied into a temporary folder), breaks one
thing in it with a small builder, and runs ``python -m kennai build`` on it as a user would,
against a build root that already holds a good build. A bad input must exit 2 with one line on
stderr naming the cause, and leave that previous build byte-identical. Suspect but plausible
inputs build with a finding in the check report; valid-but-odd inputs build cleanly (controls).
The cases run a few at a time in a thread pool, so the whole corpus stays well under 90 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml

from kennai.build import build_region
from kennai.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "boundaries" / "demo"
Config = dict[str, Any]


# --- builders ---------------------------------------------------------------------------------

def _base_config(data: Path, *, heavy: tuple[str, ...] = ()) -> Config:
    """The demo config reading from ``data``; the slow layers (network, buildings, DEM) only
    when named in ``heavy``, so each case builds in about a second."""
    cfg: Config = yaml.safe_load((ROOT / "pipelines" / "demo.yaml").read_text(encoding="utf-8"))
    cfg["layers"] = {k: v for k, v in cfg["layers"].items()
                     if k not in ("network", "buildings", "dem") or k in heavy}
    for layer in cfg["layers"].values():
        layer["path"] = str(data / Path(layer["path"]).name)
    for plan in cfg["plans"]:
        plan["path"] = str(data / Path(plan["path"]).name)
    return cfg


def _with(cfg: Config, data: Path, kind: str) -> None:
    cfg["layers"][kind] = {"path": str(data / ("dem.tif" if kind == "dem" else "town.osm"))}


def _load(data: Path, name: str) -> Any:
    return json.loads((data / name).read_text(encoding="utf-8"))


def _save(data: Path, name: str, obj: Any) -> None:
    (data / name).write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


def _coords_map(obj: Any, fn: Callable[[list[float]], list[float]]) -> Any:
    """Apply ``fn`` to every coordinate pair of a GeoJSON geometry's coordinates."""
    if isinstance(obj, list) and obj and isinstance(obj[0], int | float):
        return fn(obj)
    return [_coords_map(o, fn) for o in obj]


def _first_ring(feature: dict[str, Any]) -> list[list[float]]:
    geom = feature["geometry"]
    return geom["coordinates"][0] if geom["type"] == "Polygon" else geom["coordinates"][0][0]


def _shift_geojson(data: Path, name: str, dlon: float, dlat: float = 0.0,
                   only: int | None = None) -> None:
    gj = _load(data, name)
    for i, f in enumerate(gj["features"]):
        if only is None or i == only:
            f["geometry"]["coordinates"] = _coords_map(
                f["geometry"]["coordinates"], lambda c: [c[0] + dlon, c[1] + dlat])
    _save(data, name, gj)


def _edit_small_areas(data: Path, edit: Callable[[list[dict[str, Any]]], None]) -> None:
    gj = _load(data, "small_areas.geojson")
    edit(gj["features"])
    _save(data, "small_areas.geojson", gj)


def _as_shapefile(data: Path, cfg: Config, *, encoding: str = "UTF-8") -> Path:
    """Write the elementary districts as a shapefile and point the config at it."""
    gdf = gpd.read_file(data / "elementary.geojson").to_crs(6676)
    shp = data / "es" / "elementary.shp"
    shp.parent.mkdir()
    gdf.to_file(shp, encoding=encoding, engine="pyogrio")
    cfg["layers"]["elementary"]["path"] = str(shp)
    return shp


def _osm_rewrite(data: Path, cfg: Config, fn: Callable[[str], str], name: str = "net.osm") -> None:
    """A copy of the demo OSM as the network only (buildings keep the original)."""
    (data / name).write_text(fn((data / "town.osm").read_text(encoding="utf-8")), encoding="utf-8")
    cfg["layers"]["network"] = {"path": str(data / name)}


def _dem_rewrite(data: Path, cfg: Config,
                 fn: Callable[[np.ndarray, dict[str, Any]], None]) -> None:
    _with(cfg, data, "dem")
    path = data / "dem.tif"
    with rasterio.open(path) as ds:
        arr, profile = ds.read(1), ds.profile.copy()
    fn(arr, profile)
    with rasterio.open(path, "w", **profile) as out:
        out.write(arr, 1)


def yaml_duplicate_layers(data: Path, cfg: Config) -> str:
    text = yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False)
    return text + f"layers:\n  places:\n    path: {data / 'places.csv'}\n"


def yaml_duplicate_nested(data: Path, cfg: Config) -> str:
    text = yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False)
    return text.replace("  elementary:\n", "  elementary:\n    title: A\n", 1)


def unclosed_ring(data: Path, cfg: Config) -> None:
    gj = _load(data, "elementary.geojson")
    _first_ring(gj["features"][0]).pop()
    _save(data, "elementary.geojson", gj)


def nan_coordinate(data: Path, cfg: Config) -> None:
    gj = _load(data, "junior_high.geojson")
    _first_ring(gj["features"][1])[2][0] = float("nan")
    _save(data, "junior_high.geojson", gj)  # json writes NaN, as some tools do


def two_point_ring(data: Path, cfg: Config) -> None:
    gj = _load(data, "jichikai.geojson")
    gj["features"][0]["geometry"] = {"type": "Polygon",
                                     "coordinates": [[[138.19, 34.99], [138.2, 34.99]]]}
    _save(data, "jichikai.geojson", gj)


def bowtie_district(data: Path, cfg: Config) -> None:
    gj = _load(data, "jichikai.geojson")
    ring = _first_ring(gj["features"][0])
    ring[1], ring[2] = ring[2], ring[1]
    _save(data, "jichikai.geojson", gj)


def swapped_axes(data: Path, cfg: Config) -> None:
    gj = _load(data, "elementary.geojson")
    for f in gj["features"]:
        f["geometry"]["coordinates"] = _coords_map(f["geometry"]["coordinates"],
                                                   lambda c: [c[1], c[0]])
    _save(data, "elementary.geojson", gj)


def empty_features(data: Path, cfg: Config) -> None:
    _save(data, "junior_high.geojson", {"type": "FeatureCollection", "features": []})


def truncated_geojson(data: Path, cfg: Config) -> None:
    text = (data / "elementary.geojson").read_text(encoding="utf-8")
    (data / "elementary.geojson").write_text(text[: len(text) // 2], encoding="utf-8")


def missing_file(data: Path, cfg: Config) -> None:
    (data / "places.csv").unlink()


def huge_number_one_line(data: Path, cfg: Config) -> None:
    # The shape of a 210 MB one-line export in small: a number no parser can hold.
    gj = json.dumps(_load(data, "elementary.geojson"))
    (data / "elementary.geojson").write_text(gj.replace("138.", "1" * 200_000 + ".", 1),
                                             encoding="utf-8")


def shp_missing_dbf(data: Path, cfg: Config) -> None:
    _as_shapefile(data, cfg).with_suffix(".dbf").unlink()


def shp_truncated(data: Path, cfg: Config) -> None:
    shp = _as_shapefile(data, cfg)
    raw = shp.read_bytes()
    shp.write_bytes(raw[: len(raw) // 2])


def shp_missing_prj(data: Path, cfg: Config) -> None:
    _as_shapefile(data, cfg).with_suffix(".prj").unlink()


def nested_zip(data: Path, cfg: Config) -> None:
    shp = _as_shapefile(data, cfg)
    inner = data / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        for p in shp.parent.iterdir():
            zf.write(p, p.name)
    outer = data / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, inner.name)
    cfg["layers"]["elementary"]["path"] = str(outer)


def damaged_zip(data: Path, cfg: Config) -> None:
    (data / "es.zip").write_bytes(b"PK\x03\x04 not really a zip")
    cfg["layers"]["elementary"]["path"] = str(data / "es.zip")


def csv_missing_lat(data: Path, cfg: Config) -> None:
    p = data / "places.csv"
    p.write_text(p.read_text(encoding="utf-8-sig").replace("緯度", "いど"), encoding="utf-8-sig")


def csv_nan_lat(data: Path, cfg: Config) -> None:
    p = data / "places.csv"
    lines = p.read_text(encoding="utf-8-sig").splitlines()
    lines[3] = lines[3].replace("34.992955", "nan")
    p.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")


def csv_lat_out_of_range(data: Path, cfg: Config) -> None:
    p = data / "places.csv"
    p.write_text(p.read_text(encoding="utf-8-sig").replace("34.992955", "134.992955"),
                 encoding="utf-8-sig")


def csv_not_text(data: Path, cfg: Config) -> None:
    (data / "places.csv").write_bytes(bytes(range(256)) * 20)


def key_code_conflict(data: Path, cfg: Config) -> None:
    def edit(fs: list[dict[str, Any]]) -> None:
        fs[1]["properties"]["KEY_CODE"] = fs[0]["properties"]["KEY_CODE"]
    _edit_small_areas(data, edit)


def negative_population(data: Path, cfg: Config) -> None:
    def edit(fs: list[dict[str, Any]]) -> None:
        fs[3]["properties"]["JINKO"] = -40
    _edit_small_areas(data, edit)


def elderly_above_total(data: Path, cfg: Config) -> None:
    def edit(fs: list[dict[str, Any]]) -> None:
        fs[5]["properties"]["JINKO_65"] = fs[5]["properties"]["JINKO"] + 10
    _edit_small_areas(data, edit)


def network_one_node(data: Path, cfg: Config) -> None:
    (data / "net.osm").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        '<node id="1" version="1" lat="34.99" lon="138.2"/>\n'
        '<way id="1" version="1"><nd ref="1"/><nd ref="1"/>'
        '<tag k="highway" v="residential"/></way>\n</osm>\n', encoding="utf-8")
    cfg["layers"]["network"] = {"path": str(data / "net.osm")}


def network_empty_after_filter(data: Path, cfg: Config) -> None:
    _osm_rewrite(data, cfg, lambda s: re.sub(r'k="highway" v="[^"]+"', 'k="highway" v="motorway"',
                                             s))


def network_garbage(data: Path, cfg: Config) -> None:
    (data / "net.osm").write_text("<osm><node id='1' lat=", encoding="utf-8")
    cfg["layers"]["network"] = {"path": str(data / "net.osm")}


def network_other_city(data: Path, cfg: Config) -> None:
    _osm_rewrite(data, cfg, lambda s: re.sub(
        r'lon="(\d+\.\d+)"', lambda m: f'lon="{float(m[1]) + 0.6:.7f}"', s))


def dem_all_nodata(data: Path, cfg: Config) -> None:
    def fn(arr: np.ndarray, profile: dict[str, Any]) -> None:
        profile["nodata"] = -9999.0
        arr[:] = -9999.0
    _dem_rewrite(data, cfg, fn)


def dem_far_away(data: Path, cfg: Config) -> None:
    def fn(arr: np.ndarray, profile: dict[str, Any]) -> None:
        t = profile["transform"]
        shift = 500_000 if not profile["crs"].is_geographic else 5.5
        profile["transform"] = rasterio.Affine(t.a, t.b, t.c + shift, t.d, t.e, t.f)
    _dem_rewrite(data, cfg, fn)


def dem_not_raster(data: Path, cfg: Config) -> None:
    _with(cfg, data, "dem")
    (data / "dem.tif").write_text("not a tiff", encoding="utf-8")


def plan_covers_nothing(data: Path, cfg: Config) -> None:
    _shift_geojson(data, "plan_junior_high.geojson", 3.0)


def plan_identical_areas(data: Path, cfg: Config) -> None:
    gj = _load(data, "plan_junior_high.geojson")
    gj["features"][1]["geometry"] = gj["features"][0]["geometry"]
    _save(data, "plan_junior_high.geojson", gj)


def plan_unknown_unit(data: Path, cfg: Config) -> None:
    p = data / "plan_elementary.csv"
    p.write_text(p.read_text(encoding="utf-8-sig").replace("川向小学校", "幻の小学校"),
                 encoding="utf-8-sig")


def district_far_away(data: Path, cfg: Config) -> None:
    gj = _load(data, "jichikai.geojson")
    far = json.loads(json.dumps(gj["features"][0]))
    far["properties"]["name"] = "遠くの自治会"
    far["geometry"]["coordinates"] = _coords_map(far["geometry"]["coordinates"],
                                                 lambda c: [c[0] + 9.0, c[1] + 2.0])
    gj["features"].append(far)
    _save(data, "jichikai.geojson", gj)


def config_missing_name(data: Path, cfg: Config) -> None:
    del cfg["name"]


def config_not_mapping(data: Path, cfg: Config) -> str:
    return "- just\n- a list\n"


def config_bad_yaml(data: Path, cfg: Config) -> str:
    return "name: [demo\n"


def control_crs_less_geojson(data: Path, cfg: Config) -> None:
    for name in ("elementary.geojson", "junior_high.geojson", "jichikai.geojson"):
        gj = _load(data, name)
        gj.pop("crs", None)
        _save(data, name, gj)


def control_csv_without_bom(data: Path, cfg: Config) -> None:
    p = data / "places.csv"
    p.write_text(p.read_text(encoding="utf-8-sig"), encoding="utf-8")


def control_shapefile_without_cpg(data: Path, cfg: Config) -> None:
    _as_shapefile(data, cfg, encoding="cp932").with_suffix(".cpg").unlink(missing_ok=True)


@dataclass(frozen=True)
class Case:
    make: Callable[[Path, Config], str | None]
    cause: str  # a regular expression the one line must match (the cause named)
    finding: str | None = None  # for accepted inputs: the finding code expected in the report

    @property
    def id(self) -> str:
        return self.make.__name__

    @property
    def accepted(self) -> bool:
        return self.make.__name__.startswith("control_") or self.finding is not None


BAD = [
    Case(yaml_duplicate_layers, r"duplicate key 'layers'.*lines \d+ and \d+"),
    Case(yaml_duplicate_nested, r"duplicate key 'title'"),
    Case(config_missing_name, r"invalid config.*name|name.*invalid config"),
    Case(config_not_mapping, r"not a region config"),
    Case(config_bad_yaml, r"not valid YAML"),
    Case(unclosed_ring, r"ring.*(closed|close)"),
    Case(nan_coordinate, r"NaN|not a number"),
    Case(two_point_ring, r"ring|points"),
    Case(swapped_axes, r"swapped"),
    Case(empty_features, r"no features"),
    Case(truncated_geojson, r"cannot read"),
    Case(missing_file, r"file not found"),
    Case(huge_number_one_line, r"one line|number"),
    Case(shp_missing_dbf, r"\.dbf"),
    Case(shp_truncated, r"truncated"),
    Case(shp_missing_prj, r"coordinate reference system"),
    Case(nested_zip, r"zip inside|inside the zip|nested"),
    Case(damaged_zip, r"zip"),
    Case(csv_missing_lat, r"column"),
    Case(csv_nan_lat, r"lat|coordinate"),
    Case(csv_lat_out_of_range, r"lat|coordinate|range"),
    Case(csv_not_text, r"decode|encoding|UTF-8|Shift_JIS|read"),
    Case(key_code_conflict, r"KEY_CODE.*本町一丁目|本町一丁目.*KEY_CODE"),
    Case(negative_population, r"negative"),
    Case(elderly_above_total, r"65\+.*(above|more)"),
    Case(network_one_node, r"network.*(node|edge|empty)"),
    Case(network_empty_after_filter, r"no walkable ways"),
    Case(network_garbage, r"OSM|read"),
    Case(dem_all_nodata, r"nodata"),
    Case(dem_far_away, r"DEM.*(overlap|outside|away)"),
    Case(dem_not_raster, r"raster"),
    Case(plan_covers_nothing, r"covers none|cover.*nothing|outside the region"),
    Case(plan_identical_areas, r"identical"),
    Case(plan_unknown_unit, r"幻の小学校"),
    # An OSM file of another city is clipped to this city's outline while it is read: nothing is
    # left, and the build says so (a network only partly over the region is a warning instead).
    Case(network_other_city, r"inside the outline"),
    Case(district_far_away, "", finding="district_outlier"),
    Case(bowtie_district, "", finding="repaired_geometry"),
    Case(control_crs_less_geojson, ""),
    Case(control_csv_without_bom, ""),
    Case(control_shapefile_without_cpg, ""),
]


# --- running ----------------------------------------------------------------------------------

def hash_tree(root: Path) -> dict[str, str]:
    """Every file and link under ``root`` with its sha256 (links: their target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def kennai(*args: str, root: Path, cwd: Path, preexec: Callable[[], None] | None = None
           ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KENNAI_BUILD_ROOT": str(root), "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "kennai", "--lang", "en", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=240,
                          preexec_fn=preexec)


@dataclass
class Outcome:
    result: subprocess.CompletedProcess[str]
    before: dict[str, str]
    after: dict[str, str]
    info: dict[str, Any] | None


def _run(case: Case, good: Path, tmp: Path) -> Outcome:
    data = tmp / "data"
    shutil.copytree(DEMO, data)
    cfg = _base_config(data)
    text = case.make(data, cfg)
    config = tmp / "demo.yaml"
    config.write_text(text if text is not None
                      else yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False),
                      encoding="utf-8")
    root = tmp / "root"
    shutil.copytree(good, root, symlinks=True)
    before = hash_tree(root)
    res = kennai("build", str(config), root=root, cwd=tmp)
    info = None
    if res.returncode == 0:
        shown = kennai("info", str(config), "--json", root=root, cwd=tmp)
        info = json.loads(shown.stdout) if shown.returncode == 0 else None
    return Outcome(res, before, hash_tree(root), info)


@pytest.fixture(scope="module")
def good_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build root holding a good demo build (what every bad case must leave untouched)."""
    root = tmp_path_factory.mktemp("good")
    data = root.parent / "good-data"
    shutil.copytree(DEMO, data)
    cfg = _base_config(data)
    (data / "demo.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    build_region(load_config(data / "demo.yaml"), build_dir=root / "demo")
    return root


@pytest.fixture(scope="module")
def outcomes(good_build: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case of the corpus, run three at a time."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {c.id: pool.submit(_run, c, good_build, tmp_path_factory.mktemp(c.id))
                   for c in BAD}
        return {k: f.result() for k, f in futures.items()}


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("case", [c for c in BAD if not c.accepted], ids=lambda c: c.id)
def test_bad_input_is_one_line_exit_2_and_keeps_the_build(case: Case,
                                                          outcomes: dict[str, Outcome]) -> None:
    got = outcomes[case.id]
    line = _one_line(got.result.stderr)
    assert got.result.returncode == 2, (got.result.returncode, line)
    assert re.search(case.cause, line), line
    assert got.after == got.before  # the previous build, byte for byte


@pytest.mark.parametrize("case", [c for c in BAD if c.accepted], ids=lambda c: c.id)
def test_odd_but_valid_input_builds(case: Case, outcomes: dict[str, Outcome]) -> None:
    got = outcomes[case.id]
    assert got.result.returncode == 0, got.result.stderr
    assert got.info is not None
    codes = {f["code"] for f in got.info["findings"]}
    if case.finding:
        assert case.finding in codes, codes
        hit = next(f for f in got.info["findings"] if f["code"] == case.finding)
        assert hit["level"] == "warning"
        # ... and printed by the build, not only stored (rich wraps lines: compare unspaced).
        assert re.sub(r"\s+", "", hit["message"]) in re.sub(r"\s+", "", got.result.stdout)
    else:
        # A control region has no walk network: its figures are straight-line only, and say so.
        expected = {"straight_line_only"} if got.info.get("network") is None else set()
        assert {f["code"] for f in got.info["findings"] if f["level"] != "info"} == expected, codes


# --- environment faults -----------------------------------------------------------------------

def _demo_config(tmp: Path) -> Path:
    data = tmp / "data"
    shutil.copytree(DEMO, data)
    config = tmp / "demo.yaml"
    config.write_text(yaml.safe_dump(_base_config(data), allow_unicode=True), encoding="utf-8")
    return config


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                         capture_output=True)
    if res.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.decode().strip()})")


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_read_only_build_root_is_one_line_and_keeps_the_build(good_build: Path,
                                                              tmp_path: Path) -> None:
    config = _demo_config(tmp_path)
    root = tmp_path / "ro"
    _mount_tmpfs(root, "8m")
    try:
        shutil.copytree(good_build, root, symlinks=True, dirs_exist_ok=True)
        before = hash_tree(root)
        if subprocess.run(["mount", "-o", "remount,ro", str(root)]).returncode:
            pytest.skip("cannot remount read-only")
        res = kennai("build", str(config), root=root, cwd=tmp_path)
        assert res.returncode == 2 and re.search(r"read-only", _one_line(res.stderr)), res.stderr
        assert hash_tree(root) == before
        # Exports alike: a treasure map into the read-only folder.
        res = kennai("treasure-map", str(config), "--district", "みなと東小学校",
                     "-o", str(root / "map.html"), root=tmp_path / "other", cwd=tmp_path)
        assert res.returncode == 2 and re.search(r"read-only", _one_line(res.stderr)), res.stderr
    finally:
        _umount(root)


def test_full_disk_is_one_line_and_keeps_the_build(good_build: Path, tmp_path: Path) -> None:
    config = _demo_config(tmp_path)
    root = tmp_path / "full"
    used = sum(p.stat().st_size for p in good_build.rglob("*") if p.is_file())
    _mount_tmpfs(root, f"{used // 1024 + 40}k")
    try:
        shutil.copytree(good_build, root, symlinks=True, dirs_exist_ok=True)
        before = hash_tree(root)
        res = kennai("build", str(config), root=root, cwd=tmp_path)
        assert res.returncode == 2 and re.search(r"disk is full", _one_line(res.stderr)), \
            res.stderr
        assert hash_tree(root) == before
        assert not [p for p in root.iterdir() if ".tmp-" in p.name]
    finally:
        _umount(root)


def test_file_size_limit_is_one_line(good_build: Path, tmp_path: Path) -> None:
    config = _demo_config(tmp_path)
    root = tmp_path / "root"
    shutil.copytree(good_build, root, symlinks=True)
    before = hash_tree(root)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    res = kennai("build", str(config), root=root, cwd=tmp_path, preexec=limit)
    assert res.returncode == 2 and re.search(r"too large|full|cannot write",
                                             _one_line(res.stderr)), res.stderr
    assert hash_tree(root) == before


def test_build_root_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    config = _demo_config(tmp_path)
    (tmp_path / "root").write_text("not a folder", encoding="utf-8")
    res = kennai("build", str(config), root=tmp_path / "root", cwd=tmp_path)
    assert res.returncode == 2 and re.search(r"folder|directory|cannot write",
                                             _one_line(res.stderr)), res.stderr
