"""Building a region: real Yaizu files, checks, CRS, the build store and the CLI contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import yaml

from kennai.build import build_region
from kennai.config import load_config
from kennai.crs import choose_crs
from kennai.errors import CheckError, ConfigError, InputError
from kennai.region import Region, open_region
from tests.conftest import PIPELINES, ROOT, needs_shared


def _kennai(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "kennai", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=300)


@needs_shared
@pytest.mark.realdata
def test_yaizu_counts_names_and_repair(yaizu: Region) -> None:
    assert yaizu.crs.to_epsg() == 6676
    assert len(yaizu.layer("elementary")) == 13
    assert len(yaizu.layer("junior_high")) == 9
    assert len(yaizu.layer("neighbourhood")) == 35
    assert len(yaizu.layer("places")) == 28
    assert {"焼津東小学校", "焼津西小学校"} <= set(yaizu.layer("elementary")["name"])
    assert "大村中学校" in set(yaizu.layer("junior_high")["name"])
    assert "小川第13自治会" in set(yaizu.layer("neighbourhood")["name"])
    repaired = [f for f in yaizu.findings if f.code == "repaired_geometry"]
    assert [f.feature for f in repaired] == ["小川第13自治会"]
    assert yaizu.layer("neighbourhood").is_valid.all()
    assert yaizu.network is not None and yaizu.network.n_nodes == 658
    # the 13 districts tile 70.56 km² (SOURCES.md)
    assert shapely.union_all(yaizu.layer("elementary").geometry.values).area / 1e6 == \
        pytest.approx(70.56, abs=0.01)


@needs_shared
@pytest.mark.realdata
def test_yaizu_build_is_reused_and_metadata_complete(yaizu: Region) -> None:
    meta = yaizu.metadata
    assert meta["crs"]["epsg"] == 6676
    assert any(i["path"].endswith("小学校区.dbf") and len(i["sha256"]) == 64 for i in meta["inputs"])
    assert {"geopandas", "shapely", "gdal"} <= set(meta["versions"])
    assert meta["layers"]["population"]["population"] == 139_462
    again, rebuilt = build_region(yaizu.config, build_dir=yaizu.build_dir)
    assert not rebuilt
    assert len(again.layer("elementary")) == 13


def _write_config(tmp_path: Path, layers: dict, **extra: object) -> Path:
    cfg = {"name": "t", "title": "テスト", "layers": layers, **extra}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def _districts(tmp_path: Path, names: list[str], fname: str = "es.geojson") -> Path:
    boxes = [shapely.box(138.30 + 0.01 * i, 34.85, 138.31 + 0.01 * i, 34.86)
             for i in range(len(names))]
    path = tmp_path / fname
    gpd.GeoDataFrame({"name": names}, geometry=boxes, crs=4326).to_file(path)
    return path


def test_duplicate_names_stop_the_build_and_write_nothing(tmp_path: Path) -> None:
    es = _districts(tmp_path, ["東小学校", "東小学校", "西小学校"])
    cfg = load_config(_write_config(tmp_path, {"elementary": {"path": str(es)}}))
    out = tmp_path / "build" / "t"
    with pytest.raises(CheckError) as exc:
        build_region(cfg, build_dir=out)
    assert "東小学校" in exc.value.format("en")
    assert not out.exists()
    build = tmp_path / "build"
    assert not build.exists() or list(build.iterdir()) == []  # no temp folders left behind


def test_failed_rebuild_keeps_previous_build(tmp_path: Path) -> None:
    es = _districts(tmp_path, ["東小学校", "西小学校"])
    path = _write_config(tmp_path, {"elementary": {"path": str(es)}})
    out = tmp_path / "build" / "t"
    region, rebuilt = build_region(load_config(path), build_dir=out)
    assert rebuilt and len(region.layer("elementary")) == 2
    es.write_text("{ broken", encoding="utf-8")
    with pytest.raises(Exception):  # noqa: B017 - any KennaiError; the point is what remains
        build_region(load_config(path), build_dir=out)
    assert len(open_region(load_config(path), build_dir=out).layer("elementary")) == 2


def test_changed_input_triggers_rebuild(tmp_path: Path) -> None:
    es = _districts(tmp_path, ["東小学校", "西小学校"])
    path = _write_config(tmp_path, {"elementary": {"path": str(es)}})
    out = tmp_path / "build" / "t"
    build_region(load_config(path), build_dir=out)
    _districts(tmp_path, ["東小学校", "西小学校", "南小学校"])
    region, rebuilt = build_region(load_config(path), build_dir=out)
    assert rebuilt and len(region.layer("elementary")) == 3


def test_places_outside_region_are_reported(tmp_path: Path) -> None:
    es = _districts(tmp_path, ["東小学校", "西小学校"])
    places = tmp_path / "p.csv"
    places.write_text("名称,緯度,経度\n中の家,34.855,138.305\n外の家,34.95,138.5\n",
                      encoding="utf-8-sig")
    path = _write_config(tmp_path, {"elementary": {"path": str(es)},
                                    "places": {"path": str(places)}})
    region, _ = build_region(load_config(path), build_dir=tmp_path / "b")
    outside = [f for f in region.findings if f.code == "outside_region"]
    assert [f.feature for f in outside] == ["外の家"]
    assert len(region.layer("places")) == 2  # reported, not dropped


def test_tiling_gap_and_overlap(tmp_path: Path) -> None:
    boxes = [shapely.box(0, 0, 1000, 1000), shapely.box(900, 0, 2000, 1000),  # 100 m overlap
             shapely.box(0, 1000, 2000, 2000).difference(shapely.box(500, 1200, 700, 1400))]
    path = tmp_path / "es.gpkg"
    gpd.GeoDataFrame({"name": ["A小学校", "B小学校", "C小学校"]}, geometry=boxes,
                     crs=6676).to_file(path)
    region, _ = build_region(load_config(_write_config(tmp_path, {"elementary": {"path": str(path)}})),
                             build_dir=tmp_path / "b")
    codes = sorted(f.code for f in region.findings if f.layer == "elementary")
    assert codes == ["gap", "overlap"]


def test_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = _write_config(tmp_path, {"schools": {"path": "x.geojson"}})
    with pytest.raises(ConfigError, match="unknown layer kind"):
        load_config(bad)
    (tmp_path / "y.yaml").write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="YAML"):
        load_config(tmp_path / "y.yaml")


def test_crs_choice() -> None:
    assert choose_crs("auto", (138.2, 34.8, 138.4, 34.9)).to_epsg() == 6676  # Shizuoka: VIII
    assert choose_crs("auto", (124.1, 24.3, 124.3, 24.6)).to_epsg() == 6684  # Ishigaki: XVI
    assert choose_crs("auto", (131.2, 33.9, 131.3, 34.0)).to_epsg() == 6671  # Yamaguchi: III
    assert choose_crs("auto", (139.6, 35.6, 139.8, 35.7), prefecture=13).to_epsg() == 6677
    assert choose_crs("auto", (14.2, 35.8, 14.6, 36.1)).to_epsg() == 32633  # Malta: UTM 33N
    assert choose_crs("EPSG:2450", (0, 0, 0, 0)).to_epsg() == 2450
    with pytest.raises(ConfigError, match="projected"):
        choose_crs("EPSG:4326", (0, 0, 0, 0))


def test_cli_bad_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "es.geojson"
    broken.write_text("{ not json", encoding="utf-8")
    cfg = _write_config(tmp_path, {"elementary": {"path": str(broken)}})
    res = _kennai("--lang", "en", "build", str(cfg), cwd=tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "es.geojson" in lines[0] and "cannot read" in lines[0]
    assert not (tmp_path / "build" / "t").exists()
    ja = _kennai("build", str(cfg), cwd=tmp_path)
    assert "読み込めません" in ja.stderr


@needs_shared
@pytest.mark.realdata
def test_cli_info_json_yaizu(tmp_path: Path) -> None:
    res = _kennai("info", str(PIPELINES / "yaizu.yaml"), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["crs"]["epsg"] == 6676
    counts = {k: v["count"] for k, v in report["layers"].items()}
    assert counts["elementary"] == 13 and counts["junior_high"] == 9
    assert counts["neighbourhood"] == 35 and counts["places"] == 28
    assert any(f["code"] == "repaired_geometry" and f["feature"] == "小川第13自治会"
               for f in report["findings"])


def test_cli_info_writes_nothing_until_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    root = tmp_path / "root"
    monkeypatch.setenv("KENNAI_BUILD_ROOT", str(root))
    res = _kennai("info", str(PIPELINES / "demo.yaml"), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["layers"]["elementary"]["count"] == 4 and report["build_dir"] is None
    assert not root.exists() or not any(root.iterdir())
    assert list(tmp_path.iterdir()) == ([root] if root.exists() else [])
    # Once built (and up to date), info reads the build, access results included.
    assert _kennai("build", str(PIPELINES / "demo.yaml"), "--json", cwd=tmp_path).returncode == 0
    built = json.loads(_kennai("info", str(PIPELINES / "demo.yaml"), "--json", cwd=tmp_path).stdout)
    assert built["build_dir"] == str(root / "demo") and built["access"]["places"] > 0
    assert {k: v for k, v in built.items() if k not in ("access", "build_dir", "built_at")} \
        == {k: v for k, v in report.items() if k not in ("access", "build_dir", "built_at")}


def test_register_places_join_the_build_and_trigger_a_rebuild(tmp_path: Path) -> None:
    from kennai.register import PlaceRegister, default_register_path

    es = _districts(tmp_path, ["東小学校", "西小学校"])
    places = tmp_path / "p.csv"
    places.write_text("名称,緯度,経度\n公民館,34.855,138.305\n", encoding="utf-8-sig")
    cfg = load_config(_write_config(tmp_path, {"elementary": {"path": str(es)},
                                               "places": {"path": str(places)}}))
    out = tmp_path / "build" / "t"
    region, _ = build_region(cfg, build_dir=out)
    assert list(region.layer("places")["name"]) == ["公民館"]
    register = PlaceRegister(default_register_path(cfg, out))
    added = register.add({"name": "田中さんの縁側サロン", "category": "サロン",
                          "lon": 138.315, "lat": 34.855}, by="コーディネーター")
    region, rebuilt = build_region(cfg, build_dir=out)
    assert rebuilt
    assert set(region.layer("places")["name"]) == {"公民館", "田中さんの縁側サロン"}
    register.retire(added["place_id"], by="コーディネーター", reason="閉所")
    region, rebuilt = build_region(cfg, build_dir=out)
    assert rebuilt and list(region.layer("places")["name"]) == ["公民館"]


def test_duplicate_names_are_reported_before_the_plans_that_use_them(tmp_path: Path) -> None:
    es = _districts(tmp_path, ["東小学校", "東小学校", "西小学校"])
    table = tmp_path / "plan.csv"
    table.write_text("小学校区,圏域\n東小学校,北\n西小学校,南\n", encoding="utf-8-sig")
    cfg = load_config(_write_config(
        tmp_path, {"elementary": {"path": str(es)}},
        plans=[{"name": "p", "path": str(table), "units": "elementary",
                "unit_column": "小学校区", "area_column": "圏域"}]))
    with pytest.raises(CheckError) as exc:
        build_region(cfg, build_dir=tmp_path / "b")
    line = exc.value.format("en")
    assert "share this name" in line and "東小学校" in line and "es.geojson" in line


def test_wrong_name_column_hint_names_the_setting(tmp_path: Path) -> None:
    es = _districts(tmp_path, ["東小学校", "西小学校"])
    cfg = load_config(_write_config(tmp_path, {"elementary": {"path": str(es),
                                                              "name_column": "SCHOOL"}}))
    with pytest.raises(InputError) as exc:
        build_region(cfg, build_dir=tmp_path / "b")
    assert "change 'name_column: SCHOOL'" in exc.value.format("en")


@pytest.mark.parametrize("name", ["demo", "yaizu"])
def test_build_layers_read_through_arrow_are_the_row_by_row_frames(
        name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyogrio

    from kennai import region as region_module

    built = request.getfixturevalue(name)
    gpkg = built.build_dir / region_module.GPKG
    for layer in pyogrio.list_layers(gpkg)[:, 0]:
        rows = pyogrio.read_dataframe(gpkg, layer=layer)
        for limit in (region_module.ARROW_MAX_FEATURES, 0):  # through Arrow, then row by row
            monkeypatch.setattr(region_module, "ARROW_MAX_FEATURES", limit)
            got = region_module._read_build_layer(gpkg, layer)
            assert list(got.dtypes) == list(rows.dtypes), layer
            assert got.drop(columns="geometry").equals(rows.drop(columns="geometry")), layer
            assert got.geometry.to_wkb().equals(rows.geometry.to_wkb()) and got.crs == rows.crs


def test_a_damaged_build_layer_is_a_one_line_rebuild_hint(demo: Region, tmp_path: Path) -> None:
    """A build whose GeoPackage was cut short since (a copy, a full disk) says which layer it
    cannot read and to rebuild, as a kennai error, not an internal one."""
    import shutil

    from kennai.errors import BuildNotFoundError
    from kennai.region import GPKG, open_region

    assert demo.build_dir is not None
    copy = tmp_path / "b"
    shutil.copytree(demo.build_dir, copy)
    gpkg = copy / GPKG
    gpkg.write_bytes(gpkg.read_bytes()[:4096])  # the SQLite header and little else
    damaged = open_region(demo.config, build_dir=copy)
    with pytest.raises(BuildNotFoundError) as info:
        damaged.layer("buildings")
    text = info.value.format()
    assert "buildings" in text and "kennai build --force" in text and str(gpkg) in text
