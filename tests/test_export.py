"""`kennai export` and the one table writer: every format reads back with the rows it was given."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from kennai.access import AccessOptions, region_gaps, results_for, suggest_sites
from kennai.cli import app
from kennai.errors import NotFoundError, OutputError
from kennai.export import ExportTable, column_label, write_table
from kennai.export_targets import export_table
from kennai.region import Region

ROOT = Path(__file__).resolve().parents[1]
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def gaps_and_suggestions(demo: Region) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    results = results_for(demo, AccessOptions())
    return region_gaps(demo, results), suggest_sites(demo, results)


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet"])
def test_gaps_and_suggestions_read_back_with_the_same_rows(demo: Region, tmp_path: Path,
                                                           gaps_and_suggestions, suffix: str) -> None:
    gaps, sites = gaps_and_suggestions
    assert len(gaps) > 0 and len(sites) > 0  # the demo has gaps to fill
    for target, expected in (("gaps", gaps), ("suggestions", sites)):
        path = export_table(demo, target)
        out = write_table(path, tmp_path / f"{target}{suffix}")
        back = gpd.read_parquet(out) if suffix == ".parquet" else gpd.read_file(out)
        assert back.crs.to_epsg() == 4326
        assert len(back) == len(expected)
        assert list(back["rank"]) == list(expected["rank"])
        assert back["population" if target == "gaps" else "added_population"].tolist() == \
            pytest.approx(expected["population" if target == "gaps" else "added_population"].tolist())
        # The same shapes, moved to lon/lat.
        moved = expected.to_crs("EPSG:4326").geometry
        # (GeoPackage may promote a mixed layer to Multi*, so compare shapes, not types.)
        assert all(a.hausdorff_distance(b) < 1e-7 for a, b in zip(back.geometry, moved, strict=True))


def test_gpkg_and_parquet_carry_title_and_attribution(demo: Region, tmp_path: Path) -> None:
    table = export_table(demo, "places")
    gpkg = write_table(table, tmp_path / "p.gpkg")
    with sqlite3.connect(gpkg) as db:
        name, ident, desc = db.execute(
            "select table_name, identifier, description from gpkg_contents").fetchone()
    assert name == "places" and ident == table.title and "通いの場" in ident
    assert demo.config.attribution[0] in desc
    meta = json.loads(pq.read_schema(write_table(table, tmp_path / "p.parquet")).metadata[b"kennai"])
    assert meta["title"] == table.title and meta["attribution"] == table.attribution
    assert meta["columns"]["name"] == {"ja": "名称", "en": "name"}
    fgb = gpd.read_file(write_table(table, tmp_path / "p.fgb"))
    assert len(fgb) == len(demo.layer("places")) and fgb.crs.to_epsg() == 4326


def test_population_csv_has_bom_japanese_headers_and_every_row(demo: Region, tmp_path: Path) -> None:
    out = tmp_path / "pop.csv"
    run = CliRunner().invoke(app, ["export", str(ROOT / "pipelines" / "demo.yaml"),
                                   "--layer", "population", "-o", str(out)])
    assert run.exit_code == 0, run.output
    raw = out.read_bytes()
    assert raw.startswith(BOM)
    frame = pd.read_csv(out, encoding="utf-8-sig")
    assert {"名称", "人口", "65歳以上人口"} <= set(frame.columns)
    assert len(frame) == len(demo.layer("population"))
    assert frame["65歳以上人口"].sum() == pytest.approx(demo.layer("population")
                                                    ["population_65plus"].sum())


def test_english_headers_and_threshold_labels() -> None:
    assert column_label("population_65plus", "en") == "population 65+"
    assert column_label("coverage_500m", "ja") == "500m以内の割合"
    assert column_label("coverage_65plus_10min", "ja") == "65歳以上 10分以内の割合"
    assert column_label("coverage_10min", "en") == "share within 10min"
    assert column_label("unheard_of", "ja") == "unheard_of"


def test_access_csv_file_starts_with_bom_and_xlsx_opens(demo: Region, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    config = str(ROOT / "pipelines" / "demo.yaml")
    out = tmp_path / "a.csv"
    run = CliRunner().invoke(app, ["access", config, "--by", "elementary", "--csv", "-o", str(out)])
    assert run.exit_code == 0, run.output
    raw = out.read_bytes()
    assert raw.startswith(BOM)
    head = raw[3:].decode("utf-8").splitlines()[0].split(",")
    assert head[:3] == ["名称", "人口", "65歳以上人口"] and "500m以内の割合" in head
    rows = pd.read_csv(out, encoding="utf-8-sig")
    assert set(demo.layer("elementary")["name"]) <= set(rows["名称"])

    xlsx = tmp_path / "a.xlsx"
    run = CliRunner().invoke(app, ["export", config, "--layer", "access", "--by", "elementary",
                                   "-o", str(xlsx)])
    assert run.exit_code == 0, run.output
    sheet = load_workbook(xlsx).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][0] == "名称" and len(cells) - 1 == len(rows)
    assert [r[0] for r in cells[1:]] == list(rows["名称"])


def test_splits_pieces_export(demo: Region, tmp_path: Path) -> None:
    table = export_table(demo, f"splits:{demo.plan_names[0]}")
    back = gpd.read_file(write_table(table, tmp_path / "s.gpkg"))
    assert len(back) == len(table.frame) > 0 and {"unit", "area", "split"} <= set(back.columns)


def test_bad_outputs_and_targets_are_one_line_errors(demo: Region, tmp_path: Path) -> None:
    table = ExportTable(pd.DataFrame({"name": ["a"]}), "t", "t")
    with pytest.raises(OutputError, match=r"cannot export|書き出せません"):
        write_table(table, tmp_path / "x.shp")
    with pytest.raises(OutputError, match=r"geometry|形がない"):
        write_table(table, tmp_path / "x.gpkg")
    with pytest.raises(OutputError):
        write_table(table, tmp_path / "missing" / "x.csv")
    with pytest.raises(NotFoundError):
        export_table(demo, "no_such_layer")
    run = CliRunner().invoke(app, ["export", str(ROOT / "pipelines" / "demo.yaml"),
                                   "--layer", "gaps", "-o", str(tmp_path / "g.shp")])
    # (kennai.cli.main prints it as one line with exit code 2; the runner calls the app itself.)
    assert isinstance(run.exception, OutputError) and run.exception.exit_code == 2
    assert not (tmp_path / "g.shp").exists()


def test_the_walk_network_exports_with_its_edges(demo: Region, tmp_path: Path) -> None:
    """The build keeps the network as arrays; `kennai export --layer network` writes its edges
    (node ids, length in metres, highway) in lon/lat, every edge."""
    net = demo.network
    assert net is not None
    out = tmp_path / "network.gpkg"
    result = CliRunner().invoke(app, ["export", str(ROOT / "pipelines" / "demo.yaml"),
                                      "--layer", "network", "-o", str(out)])
    assert result.exit_code == 0, result.output
    back = gpd.read_file(out)
    assert len(back) == net.n_edges and back.crs.to_epsg() == 4326
    assert back["length_m"].sum() == pytest.approx(float(net.edge_length.sum()))
    assert {"u", "v", "highway"} <= set(back.columns)
