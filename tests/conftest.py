"""Shared fixtures: where the real data lives, and built regions reused across tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg_server import postgis_server  # noqa: F401  (the session's throwaway PostGIS fixture)

from kennai.build import build_region
from kennai.config import RegionConfig, load_config
from kennai.region import Region

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PIPELINES = ROOT / "pipelines"

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"real data not found at {SHARED} (../shared/data is absent)"
)


def shared(*parts: str) -> Path:
    """A path under ../shared/data (tests using it are marked ``needs_shared``)."""
    return SHARED.joinpath(*parts)


def _build(config_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Region:
    cfg: RegionConfig = load_config(config_path)
    out = tmp_path_factory.mktemp(cfg.name) / cfg.name
    region, _ = build_region(cfg, build_dir=out)
    return region


@pytest.fixture(scope="session")
def yaizu(tmp_path_factory: pytest.TempPathFactory) -> Region:
    """焼津市 built from the original shapefiles and CSVs (session-wide, built once)."""
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED}")
    return _build(PIPELINES / "yaizu.yaml", tmp_path_factory)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Region:
    """The embedded demo region (session-wide, built once)."""
    return _build(PIPELINES / "demo.yaml", tmp_path_factory)


def _has_japanese_font() -> bool:
    from kennai.errors import TreasureMapError
    from kennai.maps.fonts import japanese_font

    try:
        japanese_font()
    except TreasureMapError:
        return False
    return True


#: Map tests need a Japanese font (scripts/setup_system.sh installs IPAexGothic).
needs_font = pytest.mark.skipif(not _has_japanese_font(),
                                reason="no Japanese font installed (scripts/setup_system.sh)")
