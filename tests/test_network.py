"""End-snapping of centre-line files without topology, and the graph built from a network."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS

from kennai.graph import build_graph
from kennai.io.network import network_from_lines
from kennai.io.network_snap import snap_line_ends

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ROSENKA = SHARED / "yaizu" / "network" / "rosenka_street_segments_2024.gpkg"
CRS_M = CRS.from_epsg(6676)


def lines_net(*coords: list[tuple[float, float]]):
    gdf = gpd.GeoDataFrame(geometry=[shapely.LineString(c) for c in coords], crs=CRS_M)
    return network_from_lines(gdf, CRS_M, source=Path("test.gpkg"))


def test_crossroads_of_ends_stopping_short_become_one_junction():
    # Four streets stop 4 m short of a crossroads centre: each is nearest to its neighbour, so
    # nearest-edge joins alone would leave two pairs; the end cluster joins all four.
    net = lines_net([(-100, 0), (-4, 0)], [(4, 0), (100, 0)], [(0, -100), (0, -4)],
                    [(0, 4), (0, 100)])
    assert net.summary()["components"] == 4
    out = snap_line_ends(net, tolerance_m=10)
    assert out.summary()["components"] == 1
    rep = out.info["snap"]
    assert rep["end_clusters"] == 1 and rep["joined_ends"] == 4
    assert rep["largest_component_length_share_after"] == 1.0
    # Walking straight across the junction costs the gap (8 m), not more than the detour.
    g = build_graph(out, weight="length")
    from scipy.sparse.csgraph import dijkstra

    west = int(np.flatnonzero((out.node_xy == [-100, 0]).all(axis=1))[0])
    east = int(np.flatnonzero((out.node_xy == [100, 0]).all(axis=1))[0])
    assert dijkstra(g.matrix, indices=west)[east] == pytest.approx(200.0)


def test_t_junction_end_splits_the_edge_it_stops_short_of():
    net = lines_net([(0, 0), (200, 0)], [(80, 3), (80, 100)])
    out = snap_line_ends(net, tolerance_m=5)
    assert out.summary()["components"] == 1
    assert out.info["snap"]["split_edges"] == 1
    assert out.n_edges == 4  # the through street in two, the side street, one connector
    assert out.edge_length.sum() == pytest.approx(200 + 97 + 3)
    connector = out.edge_highway == "connector"
    assert out.edge_length[connector].tolist() == pytest.approx([3.0])


def test_gaps_wider_than_the_tolerance_stay_open_and_are_reported():
    net = lines_net([(0, 0), (100, 0)], [(130, 0), (300, 0)])
    out = snap_line_ends(net, tolerance_m=20)
    assert out.summary()["components"] == 2
    assert out.info["snap"]["joined_ends"] == 0
    assert out.info["snap"]["largest_component_length_share_after"] == pytest.approx(170 / 270,
                                                                                     abs=1e-4)
    assert out.n_edges == net.n_edges  # nothing dropped


def test_end_touching_a_junction_node_joins_it_without_a_split():
    net = lines_net([(0, 0), (100, 0)], [(100, 0), (200, 0)], [(100, 2), (100, 50)])
    out = snap_line_ends(net, tolerance_m=5)
    assert out.info["snap"]["split_edges"] == 0
    assert out.summary()["components"] == 1


def test_graph_reduces_parallel_edges_of_the_network():
    # Two different streets between the same junctions: the graph keeps the shorter.
    net = lines_net([(0, 0), (100, 0)], [(0, 0), (50, 40), (100, 0)])
    g = build_graph(net, weight="length")
    assert g.matrix[0, 1] == pytest.approx(100.0) and g.matrix[1, 0] == pytest.approx(100.0)



@pytest.mark.parametrize("steps_factor", [1.0, 2.0])
def test_a_time_graph_made_like_the_length_graph_is_the_one_made_alone(steps_factor: float) -> None:
    """The time graph reuses the length graph's matrix (values over the speed) when times are
    lengths over one speed; it must equal the one built from the edges, parallel edges and
    steps included (with steps slower, it is built from the edges)."""
    rng = np.random.default_rng(8)
    pts = rng.uniform(0, 300, (60, 2))
    lines = [[tuple(pts[i]), tuple(pts[(i * 7 + 3) % 60])] for i in range(60)]
    lines += [[tuple(pts[0]), (150.0, 150.0), tuple(pts[3])], [tuple(pts[0]), tuple(pts[3])]]
    gdf = gpd.GeoDataFrame({"highway": ["steps" if i % 5 == 0 else "footway"
                                        for i in range(len(lines))]},
                           geometry=[shapely.LineString(c) for c in lines], crs=CRS_M)
    net = network_from_lines(gdf, CRS_M, source=Path("t.gpkg"))
    length = build_graph(net, weight="length")
    alone = build_graph(net, weight="time", steps_factor=steps_factor)
    like = build_graph(net, weight="time", steps_factor=steps_factor, like=length)
    for name in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(like.matrix, name), getattr(alone.matrix, name)), name
    shared = np.shares_memory(like.matrix.indices, length.matrix.indices)
    assert shared == (steps_factor == 1.0)  # the length graph's structure, not a sorted copy


@pytest.mark.realdata
@pytest.mark.skipif(not ROSENKA.is_file(), reason=f"rosenka lines not found at {ROSENKA}")
def test_rosenka_lines_connect_when_snapped():
    lines = gpd.read_file(ROSENKA, layer="rosenka_lines")
    net = network_from_lines(lines, CRS_M, source=ROSENKA)
    raw = net.summary()
    assert raw["largest_component_length_share"] < 0.01  # no topology in the file
    out = snap_line_ends(net, tolerance_m=15)
    rep = out.info["snap"]
    assert rep["largest_component_length_share_after"] > 0.3
    assert out.summary()["components"] < raw["components"] / 50
    assert out.edge_length.sum() >= net.edge_length.sum()  # nothing lost, gaps added


@pytest.mark.parametrize("kind", ["scatter", "line", "few", "grid", "diamond"])
def test_the_hull_is_geos_hull_of_every_node(kind: str) -> None:
    """The hull drops the nodes strictly inside the extreme nodes' octagon first; GEOS must give
    the very same polygon as from every node (a scatter, nodes all on a line, fewer nodes than
    the filter is used for, a street grid with many nodes on the octagon's sides, and a
    diamond whose octagon has repeated corners)."""
    rng = np.random.default_rng(4)
    gx, gy = np.meshgrid(np.arange(40.0) * 80, np.arange(30.0) * 80)
    t = rng.random(2_000) * 2 * np.pi
    xy = {"scatter": rng.normal(0, 500, (20_000, 2)),
          "line": np.column_stack([np.arange(200.0), 2 * np.arange(200.0)]),
          "few": rng.random((9, 2)),
          "grid": np.column_stack([gx.ravel(), gy.ravel()]),
          "diamond": np.column_stack([np.cos(t), np.sin(t)]) * rng.random((2_000, 1))
          @ np.array([[1.0, 1.0], [-1.0, 1.0]]) * 100}[kind]
    lines = [[tuple(a), tuple(b)] for a, b in itertools.pairwise(xy)]
    net = lines_net(*lines)
    want = shapely.convex_hull(shapely.multipoints(net.node_xy))
    assert shapely.equals_exact(net.hull(), want, 0)


@pytest.mark.skipif(not ROSENKA.is_file(), reason=f"needs {ROSENKA} (../shared/data)")
def test_the_hull_of_a_real_network_is_geos_hull() -> None:
    lines = gpd.read_file(ROSENKA, layer="rosenka_lines")
    net = network_from_lines(lines, CRS_M, source=ROSENKA)
    assert shapely.equals_exact(net.hull(), shapely.convex_hull(shapely.multipoints(net.node_xy)), 0)


def test_multi_part_lines_empty_rows_and_an_edge_without_u_v() -> None:
    """Multi-part lines become one edge per part and rows without a line are left out, as
    before; an edge with no ``u`` is named by its feature number in the file, counted before
    parts are split or rows left out."""
    from kennai.errors import InputError

    geoms = [shapely.MultiLineString([[(0, 0), (10, 0)], [(10, 0), (10, 10)]]), None,
             shapely.LineString([(10, 10), (0, 10)]),
             shapely.GeometryCollection([shapely.Point(5, 5), shapely.LineString([(0, 10), (0, 0)])])]
    gdf = gpd.GeoDataFrame({"highway": ["a", "b", "c", "d"]}, geometry=geoms, crs=CRS_M)
    net = network_from_lines(gdf, CRS_M, source=Path("t.gpkg"))
    assert net.n_edges == 4 and sorted(net.edge_highway) == ["a", "a", "c", "d"]
    uv = gpd.GeoDataFrame({"u": [1, 2, None], "v": [2, 3, 1]}, crs=CRS_M, geometry=[
        None, shapely.LineString([(0, 0), (1, 0)]), shapely.LineString([(1, 0), (2, 0)])])
    with pytest.raises(InputError) as err:
        network_from_lines(uv, CRS_M, source=Path("t.gpkg"))
    assert "t.gpkg: 3 件目:" in err.value.format()  # not the 2nd line read


def _same_lines(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) == len(b) and bool(shapely.equals_exact(a, b, 0).all())


def test_edges_are_made_as_geos_lines_only_when_asked_and_subsets_are_the_same_lines(
        tmp_path: Path) -> None:
    """The network keeps its polylines as ragged vertices: a subset of edges made as lines is
    those edges' lines of the whole, a network of some edges keeps their lines, and a saved
    network (also one saved with one road-class string per edge, as builds before did) reads
    back the same."""
    from kennai.network import WalkNetwork

    net = lines_net([(0, 0), (5, 1), (10, 0)], [(10, 0), (10, 10)], [(10, 10), (3, 7), (0, 10)],
                    [(0, 10), (0, 0)])
    assert "edge_geometry" not in net.derived  # none made while the network was read
    idx = np.array([3, 1, 1, 0])
    assert _same_lines(net.edge_geometries(idx), net.edge_geometry[idx])
    assert _same_lines(net.edge_geometries(np.zeros(0, dtype=int)), np.zeros(0, dtype=object))
    part = net.take_edges(np.array([False, True, False, True]))
    assert _same_lines(part.edge_geometry, net.edge_geometry[[1, 3]])
    assert list(part.edge_length) == list(net.edge_length[[1, 3]])
    net.save(tmp_path / "n.npz")
    back = WalkNetwork.load(tmp_path / "n.npz")
    assert _same_lines(back.edge_geometry, net.edge_geometry)
    assert list(back.edge_highway) == list(net.edge_highway)
    with np.load(tmp_path / "n.npz") as z:
        old = {k: z[k] for k in z.files if not k.startswith("edge_highway")}
    np.savez(tmp_path / "old.npz", edge_highway=net.edge_highway.astype(str), **old)
    assert list(WalkNetwork.load(tmp_path / "old.npz").edge_highway) == list(net.edge_highway)


@pytest.mark.realdata
@pytest.mark.skipif(not ROSENKA.is_file(), reason=f"needs {ROSENKA} (../shared/data)")
def test_real_edges_lengths_and_lines_are_geos_own() -> None:
    """On Yaizu's centre-lines: the edges made from the ragged vertices are the lines the file's
    pieces make, and the snap index's edge lengths are GEOS's ``length`` to the bit."""
    from kennai.segments import Segments

    lines = gpd.read_file(ROSENKA, layer="rosenka_lines")
    net = network_from_lines(lines, CRS_M, source=ROSENKA)
    want = shapely.length(net.edge_geometry)
    assert np.array_equal(Segments(net).edge_lengths(), want)
    n_vertices = int(shapely.get_num_coordinates(net.edge_geometry).sum())
    assert n_vertices == len(net.edge_coords) > net.n_edges


def _assert_same_network(got, want) -> None:  # type: ignore[no-untyped-def]
    for name in ("node_id", "node_xy", "edge_u", "edge_v", "edge_length", "edge_coords",
                 "edge_offsets"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert list(got.edge_highway) == list(want.edge_highway)


YAIZU_EDGES = SHARED / "yaizu" / "network" / "yaizu_station_800m_walk_edges_osm.geojson"


@pytest.mark.realdata
@pytest.mark.parametrize(("path", "layer"), [(ROSENKA, "rosenka_lines"), (YAIZU_EDGES, None)])
def test_plain_lines_read_as_vertices_make_the_network_a_frame_makes(path: Path,
                                                                     layer: str | None) -> None:
    """Yaizu's centre-lines (GeoPackage, lon/lat) and station edges (GeoJSON with u/v) read
    straight into vertex arrays give the very network their GeoDataFrame gives."""
    if not path.is_file():
        pytest.skip(f"needs {path} (../shared/data)")
    from kennai.config import Source
    from kennai.io.network import read_network
    from kennai.io.vector import read_line_vertices, read_vector

    assert read_line_vertices(path, layer=layer) is not None  # the fast way is the one taken
    got = read_network(Source(path=path, layer=layer), CRS_M)
    want = network_from_lines(read_vector(path, layer=layer), CRS_M, source=path)
    _assert_same_network(got, want)


def test_files_of_other_lines_are_read_as_frames(tmp_path: Path) -> None:
    """Multi-part lines and big-endian or 3-D WKB are not read as plain vertices but as a frame
    (the same network); a line with no geometry stops with read_vector's one-line error."""
    from kennai.config import Source
    from kennai.errors import InputError
    from kennai.io.network import read_network
    from kennai.io.vector import read_line_vertices
    from kennai.io.wkb import plain_linestrings

    plain = [shapely.LineString([(0, 0), (10, 0)]), shapely.LineString([(10, 0), (10, 10)])]
    multi = [plain[0], shapely.MultiLineString([[(10, 0), (10, 10)], [(10, 10), (0, 10)]])]
    for name, geoms in (("plain", plain), ("multi", multi)):
        path = tmp_path / f"{name}.gpkg"
        gpd.GeoDataFrame({"highway": ["a", "b"]}, geometry=geoms, crs=CRS_M).to_file(path)
        assert (read_line_vertices(path) is None) == (name == "multi")
        _assert_same_network(read_network(Source(path=path), CRS_M),
                             network_from_lines(gpd.read_file(path), CRS_M, source=path))
    wkb = [shapely.to_wkb(plain, byte_order=0), shapely.to_wkb(multi),
           shapely.to_wkb([shapely.LineString([(0, 0, 1), (1, 1, 1)])] * 2), shapely.to_wkb(plain)]
    for blobs, fits in zip(wkb, (False, False, False, True), strict=True):
        data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])])
        assert (plain_linestrings(data, offsets) is not None) == fits
    holey = tmp_path / "holey.gpkg"
    gpd.GeoDataFrame({"highway": ["a", "b"]}, geometry=[plain[0], None], crs=CRS_M).to_file(holey)
    assert read_line_vertices(holey) is None
    with pytest.raises(InputError) as err:
        read_network(Source(path=holey), CRS_M)
    assert "holey.gpkg" in err.value.format() and "2 件目" in err.value.format()
    # A table with no geometry at all (a GeoPackage attribute table): read_vector's error.
    import pandas as pd
    import pyogrio

    table = tmp_path / "table.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"u": [1], "v": [2]}), table)
    assert read_line_vertices(table) is None
    with pytest.raises(InputError) as err:
        read_network(Source(path=table), CRS_M)
    assert "table.gpkg" in err.value.format()
