"""matplotlib imported for a printed map without its artists' property listings: the listing
function is put back, and a listing asked for later (``%(Line2D:kwdoc)s``) is the real one.
Run in a fresh interpreter, where matplotlib is first imported under the skip."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
from kennai.maps.request import import_renderer
import_renderer("pdf")
import matplotlib.artist as artist
import matplotlib.lines as lines
from matplotlib import _docstring
from kennai.maps.artist_docs import SKIPPED, _skipped
assert artist.kwdoc is not _skipped, "kwdoc not restored"
assert not any(v is SKIPPED for v in _docstring.interpd.params.values()), "placeholder kept"
assert "linewidth" in _docstring.interpd.params["Line2D:kwdoc"], "later listing not real"
assert SKIPPED in (lines.Line2D.set.__doc__ or ""), "listings were not skipped"
print("ok")
"""


def test_listings_skipped_at_import_and_real_afterwards() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
