"""One pass over an OSM file for all of a build's readers gives what each reader gives alone.

The demo town's OSM XML always runs; Ishigaki's PBF (real, ../shared/data) runs when present.
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import shapely

from kennai.config import Source, load_config
from kennai.errors import InputError
from kennai.io import osm, osm_pass
from kennai.io.osm import (
    BUILDINGS,
    WALK_WAYS,
    Buildings,
    Places,
    WalkWays,
    places_key,
    read_osm_buildings,
    read_osm_places,
    read_walk_ways,
)
from kennai.io.osm_basemap import BASEMAP, Basemap, read_osm_basemap
from kennai.io.osm_plan import whole_file_reads
from tests.conftest import PIPELINES, ROOT, shared

DEMO = ROOT / "data" / "boundaries" / "demo" / "town.osm"
ISHIGAKI = shared("ishigaki", "network", "ishigaki_city_osm_2024-04-11.osm.pbf")
TAGS = ({"building": []}, {"highway": ["bus_stop", "pedestrian"], "amenity": []})


def _file(name: str) -> Path:
    path = {"demo": DEMO, "ishigaki": ISHIGAKI}[name]
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    return path


def _places(path: Path, tags: dict[str, list[str]]) -> dict | str:
    try:
        return read_osm_places(Source(path=path, osm_tags=tags)).to_wkb().to_dict("list")
    except InputError as exc:  # a tag set the file has none of: the same error both ways
        return str(exc)


def _everything(path: Path, clip: shapely.Geometry) -> dict[str, object]:
    """Every reader's output: the ways, buildings and places whole, the basemap clipped."""
    osm._LAST_UNCLIPPED[0] = None  # the network's own one-file cache: a fresh read
    ways = read_walk_ways(path)
    out: dict[str, object] = {f: getattr(ways, f) for f in ways.__dataclass_fields__}
    out["buildings"] = read_osm_buildings(path).to_wkb().to_dict("list")
    for i, tags in enumerate(TAGS):
        out[f"places{i}"] = _places(path, tags)
    out["basemap"] = read_osm_basemap(path, clip=clip).to_wkb().to_dict("list")
    out["basemap_whole"] = read_osm_basemap(path).to_wkb().to_dict("list")
    return out


def _plan(path: Path) -> dict[Path, dict]:
    plan: dict = {WALK_WAYS: WalkWays, BUILDINGS: Buildings, BASEMAP: Basemap}
    for tags in TAGS:
        plan[places_key(tags)] = partial(Places, tags)
    return {path: plan}


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("name", ["demo", "ishigaki"])
def test_a_shared_pass_gives_every_reader_what_it_reads_alone(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(name)
    lon, lat = read_walk_ways(path).lon, read_walk_ways(path).lat
    # A quarter of the file's extent, so that the clipped basemap drops something.
    clip = shapely.box(lon.min(), lat.min(), (lon.min() + lon.max()) / 2,
                       (lat.min() + lat.max()) / 2)
    alone = _everything(path, clip)
    passes: list[int] = []
    real = osm_pass.stream
    def counted(p: Path, cs: list, **kw: str) -> None:  # the real pass, counted
        passes.append(len(cs))
        real(p, cs, **kw)

    for module in (osm_pass, osm):  # the readers stream through kennai.io.osm.collect
        monkeypatch.setattr(module, "stream", counted)
    with osm_pass.shared_pass(_plan(path)):
        together = _everything(path, clip)
    assert together.keys() == alone.keys()
    assert [k for k in alone if not _same(alone[k], together[k])] == []
    assert len(alone["buildings"]["geometry"]) > 0
    assert len(alone["basemap"]["geometry"]) < len(alone["basemap_whole"]["geometry"])
    # One pass fed all five readers; the whole basemap, asked for a second time, read alone.
    assert passes == [5, 1]


def test_a_reader_takes_its_result_once_and_the_plan_ends_with_the_block() -> None:
    with osm_pass.shared_pass(_plan(DEMO)):
        assert isinstance(osm_pass.take(DEMO, BUILDINGS), Buildings)
        assert osm_pass.take(DEMO, BUILDINGS) is None  # handed over: not held for the build
        assert osm_pass.take(DEMO, "no such read") is None
    assert osm_pass.take(DEMO, WALK_WAYS) is None
    assert not osm_pass._PLANNED.plans and not osm_pass._PLANNED.done


def test_a_plan_is_its_own_threads() -> None:
    # The API's updater builds in a thread of its own: another thread's plan is not its.
    got: list[object] = []
    with osm_pass.shared_pass(_plan(DEMO)):
        other = threading.Thread(target=lambda: got.append(osm_pass.take(DEMO, BUILDINGS)))
        other.start()
        other.join()
        assert got == [None] and isinstance(osm_pass.take(DEMO, BUILDINGS), Buildings)


def test_a_broken_file_in_a_shared_pass_is_the_readers_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "city.osm.pbf"
    bad.write_bytes(b"not a protocol buffer at all")
    with osm_pass.shared_pass(_plan(bad)), pytest.raises(InputError) as caught:
        read_osm_buildings(bad)
    assert "not a readable OSM file" in str(caught.value) and str(caught.value.path) == str(bad)


def test_only_a_region_nothing_clips_plans_whole_file_reads() -> None:
    ishigaki = whole_file_reads(load_config(PIPELINES / "ishigaki.yaml"))
    (path, reads), = ishigaki.items()
    assert path.name == ISHIGAKI.name
    assert set(reads) == {WALK_WAYS, BUILDINGS, BASEMAP, places_key(
        {"amenity": ["community_centre", "townhall", "social_facility", "library"]}),
        places_key({"shop": ["supermarket", "convenience"]}),
        places_key({"highway": ["bus_stop"]})}
    # Districts bound the demo town: its OSM file is streamed clipped, reader by reader.
    assert whole_file_reads(load_config(PIPELINES / "demo.yaml")) == {}
