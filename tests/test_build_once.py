"""A build makes each walk graph and the snap index once: the distances, the suggestions, the
surface and every kind of destination walk the same graphs and snap with the same index.

The real builders run; the test only counts their calls (the CSR matrix of a graph, the edge
tree of a snap index) while ``build_region`` runs on the demo and on Ishigaki.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from kennai import graph
from kennai.build import build_region
from kennai.config import load_config
from kennai.snapping import EdgeIndex, snap_to_edges

ROOT = Path(__file__).resolve().parents[1]
ISHIGAKI = (ROOT.parent / "shared" / "data" / "ishigaki" / "network"
            / "ishigaki_city_osm_2024-04-11.osm.pbf")


def count_builds(monkeypatch: pytest.MonkeyPatch, config: Path, out: Path) -> dict[str, int]:
    """Build ``config`` into ``out`` and count graph matrices and edge trees made meanwhile."""
    counts = {"graphs": 0, "edge_trees": 0}
    csr, index_init = graph.csr_from_edges, EdgeIndex.__init__

    def counting_csr(*args: object, **kw: object) -> object:
        counts["graphs"] += 1
        return csr(*args, **kw)  # type: ignore[arg-type]

    def counting_index(self: EdgeIndex, *args: object, **kw: object) -> None:
        counts["edge_trees"] += 1
        index_init(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(graph, "csr_from_edges", counting_csr)
    monkeypatch.setattr(EdgeIndex, "__init__", counting_index)
    _, rebuilt = build_region(load_config(config), build_dir=out, force=True)
    assert rebuilt
    return counts


def test_demo_build_makes_each_graph_and_the_snap_index_once(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    counts = count_builds(monkeypatch, ROOT / "pipelines" / "demo.yaml", tmp_path / "demo")
    # metres and minutes (elderly, with the DEM's slopes): two graphs, one index
    assert counts == {"graphs": 2, "edge_trees": 1}


@pytest.mark.realdata
@pytest.mark.skipif(not ISHIGAKI.is_file(), reason=f"Ishigaki PBF not found at {ISHIGAKI}")
def test_ishigaki_build_with_three_kinds_makes_them_once(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    # places, food shops and bus stops share the graphs, the index and the residents' snap
    counts = count_builds(monkeypatch, ROOT / "pipelines" / "ishigaki.yaml", tmp_path / "ish")
    assert counts == {"graphs": 2, "edge_trees": 1}


def test_a_remembered_snap_is_a_copy_of_its_own(demo) -> None:  # type: ignore[no-untyped-def]
    net = demo.network
    xy = shapely.get_coordinates(demo.layer("buildings").geometry.values)[:500]
    first = snap_to_edges(net, xy, max_distance_m=300.0)
    first.edge[:] = -1  # callers mark points off the network in place
    again = snap_to_edges(net, xy, max_distance_m=300.0)
    fresh = EdgeIndex(net, remember=0).snap(xy, max_distance_m=300.0)
    assert (again.edge >= 0).any()
    for name in ("edge", "along_m", "perp_m", "xy"):
        np.testing.assert_array_equal(getattr(again, name), getattr(fresh, name))


def test_buildings_from_a_polygon_file_are_read(tmp_path: Path) -> None:
    """A buildings layer that is not OSM (a GeoPackage of footprints, no other column) reads:
    one row per polygon, points and lines left out."""
    import geopandas as gpd

    from kennai.config import Source
    from kennai.io.layers import read_buildings

    path = tmp_path / "buildings.gpkg"
    geoms = [shapely.box(0, 0, 8, 8), shapely.box(20, 0, 28, 8), shapely.Point(50, 50)]
    gpd.GeoDataFrame(geometry=geoms, crs="EPSG:6677").to_file(path, driver="GPKG")
    got = read_buildings(Source(path=path))
    assert len(got) == 2 and list(got["building"]) == ["yes", "yes"]
