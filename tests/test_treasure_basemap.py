"""The basemap of the printed maps as a build keeps it: read back, it is the basemap made from
the OSM file and the network, and the pages drawn over it are the same PDFs, byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kennai.maps.treasure import write_treasure_map
from kennai.region import Region
from tests.conftest import needs_font


def _basemap_made_then_cached(region: Region, tmp_path: Path) -> None:
    """The basemap a build caches reads back as the one made from the OSM file and the network,
    and a page drawn over either is the same PDF, byte for byte."""
    from geopandas.testing import assert_geodataframe_equal

    from kennai.maps.basemap import CACHE_DIR, load_basemap

    assert region.build_dir is not None
    shutil.rmtree(region.build_dir / CACHE_DIR, ignore_errors=True)
    made = load_basemap(region)
    assert (region.build_dir / CACHE_DIR / "roads.parquet").is_file()
    cached = load_basemap(region)
    assert cached.osm == made.osm
    for name, frame in made.layers().items():
        assert_geodataframe_equal(cached.layers()[name], frame, check_crs=True)
    district = str(region.layer("elementary")["name"].iloc[0])
    pages = [write_treasure_map(region, tmp_path / f"{k}.pdf", layer="elementary",
                                district=district, basemap=base).read_bytes()
             for k, base in (("made", made), ("cached", cached))]
    assert pages[0] == pages[1]


@needs_font
def test_the_demo_basemap_cached_by_the_build_is_the_one_made(
        demo: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the PDF's creation date
    _basemap_made_then_cached(demo, tmp_path)


@pytest.mark.realdata
@needs_font
def test_the_yaizu_basemap_cached_by_the_build_is_the_one_made(
        yaizu: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    _basemap_made_then_cached(yaizu, tmp_path)


def test_a_build_that_cannot_keep_the_basemap_still_draws_it(
        demo: Region, monkeypatch: pytest.MonkeyPatch) -> None:
    import kennai.maps.basemap as basemap

    def refuse(_: Path) -> None:
        raise PermissionError("read-only build")

    assert demo.build_dir is not None
    shutil.rmtree(demo.build_dir / basemap.CACHE_DIR, ignore_errors=True)
    monkeypatch.setattr(basemap, "atomic_dir", refuse)
    base = basemap.load_basemap(demo)
    assert not base.roads.empty and not (demo.build_dir / basemap.CACHE_DIR).exists()
