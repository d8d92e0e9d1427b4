"""How a printed map draws its lines: solid opaque lines of one style go to the page as one path
of many pieces, and look as the pieces drawn one by one did (the former drawing, kept here as
the reference)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pytest
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection

import kennai.maps.treasure as treasure
from kennai.maps.fonts import font_rc
from kennai.region import Region
from tests.conftest import needs_font


def _pieces(ax: Axes, geoms: Sequence[shapely.Geometry], **kw: Any) -> None:
    """The reference: every piece of every line its own segment of one LineCollection."""
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return
    if any(g.geom_type in ("Polygon", "MultiPolygon") for g in geoms):
        geoms = [g.boundary if g.geom_type in ("Polygon", "MultiPolygon") else g for g in geoms]
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    coords, index = shapely.get_coordinates(parts, return_index=True)
    ax.add_collection(LineCollection(np.split(coords, np.flatnonzero(np.diff(index)) + 1), **kw))


def _pixels(region: Region, district: str, monkeypatch: pytest.MonkeyPatch, *,
            reference: bool) -> np.ndarray:
    with monkeypatch.context() as patch:
        if reference:
            patch.setattr(treasure, "_lines", _pieces)
        fig = treasure.render_treasure_map(region, layer="elementary", district=district)
    with mpl.rc_context(font_rc()):
        fig.set_dpi(150)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(int)


@needs_font
def test_lines_drawn_as_one_path_look_as_their_pieces_did(
        demo: Region, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same page to the eye: only anti-aliased pixels where two pieces meet differ (a
    piece's end no longer blends over its neighbour's), none by much."""
    for district in demo.layer("elementary")["name"].astype(str)[:2]:
        new = _pixels(demo, district, monkeypatch, reference=False)
        ref = _pixels(demo, district, monkeypatch, reference=True)
        diff = np.abs(new - ref).max(axis=2)
        assert (diff > 16).mean() < 1e-3 and diff.max() <= 80, district
    fig = treasure.render_treasure_map(demo, layer="elementary",
                                       district=str(demo.layer("elementary")["name"].iloc[0]))
    collections = [c for ax in fig.axes for c in ax.collections]
    one_path = [c for c in collections if isinstance(c, PathCollection) and len(c.get_paths()) == 1
                and len(c.get_paths()[0].vertices) > 1000]
    assert one_path, "the minor roads are one path"
    # Dashed lines keep their pieces (dashes restart at every piece of a path).
    assert any(isinstance(c, LineCollection) and len(c.get_paths()) > 1 for c in collections)
