"""A regional OSM file read clipped to a polygon equals reading a file pre-clipped to it.

The pre-clipped files are written two ways: by a plain in-memory extract written here (load
everything, keep what ``osmium extract`` keeps, write it with pyosmium), which always runs, and
by ``osmium extract`` itself when the osmium command is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely

from kennai.config import Source
from kennai.errors import EmptyLayerError
from kennai.io.osm import OSMWays, read_osm_buildings, read_osm_places, read_walk_ways
from tests.conftest import ROOT, shared

ISHIGAKI = ("ishigaki", "network", "ishigaki_city_osm_2024-04-11.osm.pbf")
MALTA = ("bench", "malta_osm_2016-11-09.osm.pbf")
MEGURO = ("tokyo-meguro", "network", "nakameguro_ebisu_2018.osm")
#: The central town of Ishigaki (a 16-gon, so the exact polygon test matters, not the box).
ISHIGAKI_TOWN = shapely.Point(124.163, 24.345).buffer(0.025, quad_segs=4)


def _need(*parts: str) -> Path:
    path = shared(*parts)
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    return path


def reference_extract(src: Path, polygon: shapely.Geometry, folder: Path) -> tuple[Path, Path]:
    """What ``osmium extract -s complete_ways`` and ``-s smart`` keep, done in memory.

    Nodes inside the polygon; ways with a node inside, with all their nodes; relations with a
    kept member; for ``smart``, the kept multipolygon relations' member ways too.

    Returns
    -------
    tuple
        The ``complete_ways`` file and the ``smart`` file.
    """
    nodes = {n.id: (n.location.lon, n.location.lat, dict(n.tags))
             for n in osmium.FileProcessor(str(src), osmium.osm.NODE) if n.location.valid()}
    ways = {w.id: ([nd.ref for nd in w.nodes], dict(w.tags))
            for w in osmium.FileProcessor(str(src), osmium.osm.WAY)}
    rels = {r.id: ([(m.type, m.ref, m.role) for m in r.members], dict(r.tags))
            for r in osmium.FileProcessor(str(src), osmium.osm.RELATION)}
    ids = np.fromiter(nodes, dtype=np.int64)
    xy = np.array([nodes[i][:2] for i in ids])
    inside = set(ids[shapely.intersects_xy(polygon, xy[:, 0], xy[:, 1])].tolist())
    kept_ways = {w for w, (refs, _) in ways.items() if any(r in inside for r in refs)}
    kept_rels = {r for r, (members, _) in rels.items()
                 if any((t == "n" and m in inside) or (t == "w" and m in kept_ways)
                        for t, m, _ in members)}
    members = {m for r in kept_rels if rels[r][1].get("type") == "multipolygon"
               for t, m, _ in rels[r][0] if t == "w" and m in ways}
    mutable = osmium.osm.mutable
    outs = []
    for name, way_ids in (("complete_ways", kept_ways), ("smart", kept_ways | members)):
        kept_nodes = inside | {r for w in way_ids for r in ways[w][0] if r in nodes}
        out = folder / f"{name}.osm.pbf"
        with osmium.SimpleWriter(str(out), overwrite=True) as writer:
            for i in sorted(kept_nodes):
                lon, lat, tags = nodes[i]
                writer.add_node(mutable.Node(id=i, location=(lon, lat), tags=tags))
            for i in sorted(way_ids):
                writer.add_way(mutable.Way(id=i, nodes=ways[i][0], tags=ways[i][1]))
            for i in sorted(kept_rels):
                writer.add_relation(mutable.Relation(id=i, members=rels[i][0], tags=rels[i][1]))
        outs.append(out)
    return outs[0], outs[1]


def osmium_extract(src: Path, polygon: shapely.Geometry, out: Path, strategy: str) -> Path:
    """The same with the osmium command (skips the test when it is not installed)."""
    exe = shutil.which("osmium")
    if exe is None:
        pytest.skip("the osmium command (osmium-tool) is not installed")
    poly = out.with_suffix(".poly.geojson")
    poly.write_text(json.dumps({"type": "Feature", "properties": {},
                                "geometry": json.loads(shapely.to_geojson(polygon))}))
    subprocess.run([exe, "extract", "-s", strategy, "-p", str(poly), str(src), "-o", str(out),
                    "--overwrite"], check=True, capture_output=True)
    return out


def _same_ways(a: OSMWays, b: OSMWays) -> None:
    for field in ("node_ids", "lon", "lat", "offsets", "highway", "name"):
        x, y = getattr(a, field), getattr(b, field)
        assert len(x) == len(y) and (x == y).all(), field


def _same_buildings(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    assert len(a) == len(b)
    wkb = sorted(zip(shapely.to_wkb(a.geometry.normalize().values), a["building"], strict=True))
    assert wkb == sorted(zip(shapely.to_wkb(b.geometry.normalize().values), b["building"],
                             strict=True))


def _same_places(clipped: gpd.GeoDataFrame, pre: gpd.GeoDataFrame,
                 polygon: shapely.Geometry) -> None:
    # A pre-clipped file also holds the vertices of kept ways outside the polygon; a tagged
    # vertex there is a place in it. The clip keeps nodes inside the polygon only.
    node = pre["place_id"].str.startswith("osm:n")
    pre = pre[~node | pre.geometry.intersects(polygon)]
    cols = ["place_id", "name", "category", "address"]
    assert clipped[cols].to_dict("records") == pre[cols].reset_index(drop=True).to_dict("records")
    assert np.allclose(shapely.get_coordinates(clipped.geometry.values),
                       shapely.get_coordinates(pre.geometry.values))


@pytest.mark.realdata
@pytest.mark.slow
def test_ishigaki_clip_equals_a_pre_clipped_file(tmp_path: Path) -> None:
    src = _need(*ISHIGAKI)
    ways_ref, areas_ref = reference_extract(src, ISHIGAKI_TOWN, tmp_path)
    clipped = read_walk_ways(src, clip=ISHIGAKI_TOWN)
    _same_ways(clipped, read_walk_ways(ways_ref))
    whole = read_walk_ways(src)
    assert 0 < len(clipped.offsets) < len(whole.offsets) / 2
    buildings = read_osm_buildings(src, clip=ISHIGAKI_TOWN)
    assert len(buildings) > 1000
    _same_buildings(buildings, read_osm_buildings(areas_ref))
    _same_places(read_osm_places(Source(path=src), clip=ISHIGAKI_TOWN),
                 read_osm_places(Source(path=areas_ref)), ISHIGAKI_TOWN)


@pytest.mark.realdata
def test_ishigaki_clip_equals_osmium_extract(tmp_path: Path) -> None:
    src = _need(*ISHIGAKI)
    complete = osmium_extract(src, ISHIGAKI_TOWN, tmp_path / "complete.osm.pbf", "complete_ways")
    smart = osmium_extract(src, ISHIGAKI_TOWN, tmp_path / "smart.osm.pbf", "smart")
    _same_ways(read_walk_ways(src, clip=ISHIGAKI_TOWN), read_walk_ways(complete))
    _same_buildings(read_osm_buildings(src, clip=ISHIGAKI_TOWN), read_osm_buildings(smart))
    _same_places(read_osm_places(Source(path=src), clip=ISHIGAKI_TOWN),
                 read_osm_places(Source(path=smart)), ISHIGAKI_TOWN)


def _touching(ways: OSMWays, polygon: shapely.Geometry) -> np.ndarray:
    inside = shapely.intersects_xy(polygon, ways.lon, ways.lat)
    return np.add.reduceat(inside, ways.offsets[:-1]) > 0


@pytest.mark.realdata
def test_malta_clipped_to_valletta_keeps_only_ways_touching_the_outline() -> None:
    src = _need(*MALTA)
    outline = gpd.read_file(ROOT / "pipelines" / "malta_valletta_outline.geojson")
    clip = outline.to_crs(32633).buffer(1000).to_crs(4326).union_all()
    ways = read_walk_ways(src, clip=clip)
    assert _touching(ways, clip).all()  # every kept way has a node inside ...
    far = ~shapely.intersects_xy(clip.buffer(0.05), ways.lon, ways.lat)
    assert far.sum() < 0.01 * len(ways.lon)  # ... and only crossing ways reach beyond it
    whole = read_walk_ways(src)
    assert len(ways.offsets) - 1 < 0.2 * (len(whole.offsets) - 1)
    # The same ways as the whole file's that touch the outline, in the same order.
    keep = _touching(whole, clip)
    assert (whole.highway[keep] == ways.highway).all()


@pytest.mark.realdata
def test_osm_xml_is_clipped_too() -> None:
    src = _need(*MEGURO)
    box = shapely.box(139.698, 35.640, 139.703, 35.644)
    ways = read_walk_ways(src, clip=box)
    assert _touching(ways, box).all() and len(ways.offsets) > 10
    places = read_osm_places(Source(path=src), clip=box)
    whole = read_osm_places(Source(path=src))
    assert set(places["place_id"]) <= set(whole["place_id"])


@pytest.mark.realdata
def test_clip_outside_the_file_is_a_clear_error() -> None:
    src = _need(*ISHIGAKI)
    with pytest.raises(EmptyLayerError, match="inside the outline"):
        read_walk_ways(src, clip=shapely.box(139.0, 35.0, 139.1, 35.1))
    with pytest.raises(ValueError, match="Polygon"):
        read_walk_ways(src, clip=shapely.LineString([(124.1, 24.3), (124.2, 24.4)]))


@pytest.mark.realdata
def test_a_clipped_read_after_an_unclipped_one_equals_the_streamed_one() -> None:
    """A build reads the ways unclipped (to find the region), then clipped: the clipped read
    is then the cached ways filtered, and must equal streaming the file with the clip."""
    from kennai.io import osm as osm_io

    src = _need(*ISHIGAKI)
    osm_io._LAST_UNCLIPPED[0] = None
    streamed = read_walk_ways(src, clip=ISHIGAKI_TOWN)
    whole = read_walk_ways(src)
    assert osm_io._LAST_UNCLIPPED[0] is not None
    assert read_walk_ways(src) is whole  # a second whole read (Malta's build) is not parsed
    cached = read_walk_ways(src, clip=ISHIGAKI_TOWN)
    for field in ("node_ids", "lon", "lat", "offsets", "highway", "name"):
        assert np.array_equal(getattr(cached, field), getattr(streamed, field)), field
    with pytest.raises(EmptyLayerError, match="inside the outline"):
        read_walk_ways(src, clip=shapely.box(139.0, 35.0, 139.1, 35.1))
