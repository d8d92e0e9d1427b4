"""The results of an access computation: every resident location with its nearest place.

One object carries what the rest of kennai reads: the residents and places frames, the options
they were computed with, and what is summarised from them (coverage, gaps, suggestions, the
surface), filled in step by step by :func:`kennai.access.pipeline.analyse`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd

from kennai.access.options import AccessOptions


@dataclass
class AccessResults:
    """Residents with their nearest place, and everything summarised from them."""

    residents: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    options: AccessOptions
    info: dict[str, Any] = field(default_factory=dict)
    coverage: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    gaps: gpd.GeoDataFrame | None = None
    suggestions: gpd.GeoDataFrame | None = None
    surface_path: Path | None = None
