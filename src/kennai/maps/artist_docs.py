"""matplotlib imported without writing its artists' property lists into their docstrings.

Every Artist subclass matplotlib defines makes the docstring of its ``set()`` from a listing of
all its properties (:func:`matplotlib.artist.kwdoc`): about 0.1 s of a printed map's start-up,
for text that only ``help()`` shows. Behaviour and output are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

#: What the property lists of the artist classes defined meanwhile say instead.
SKIPPED = "Properties: see the matplotlib documentation (not listed at import)."


def _skipped(artist: object) -> str:
    return SKIPPED


@contextmanager
def artist_docs_skipped() -> Iterator[None]:
    """Import under this without matplotlib's artist property listings (restored after)."""
    import matplotlib.artist as artist
    from matplotlib import _docstring

    kwdoc = artist.kwdoc
    artist.kwdoc = _skipped
    try:
        yield
    finally:
        artist.kwdoc = kwdoc
        params = getattr(getattr(_docstring, "interpd", None), "params", {})
        for key in [k for k, v in params.items() if v is SKIPPED]:
            del params[key]  # later ``%(Name:kwdoc)s`` substitutions list the properties again
