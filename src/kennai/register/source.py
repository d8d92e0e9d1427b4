"""The register as the build sees it: one more places source, and a fingerprint for the hash."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from kennai.register.location import RegisterLocation, is_database_url

if TYPE_CHECKING:  # loaded by register_places(); the fingerprint needs neither
    import geopandas as gpd
    from pyproj import CRS


def register_fingerprint(location: RegisterLocation) -> str:
    """What the build's input hash records for the register: it changes with every change.

    Either store gives its revision (the number of changes) and the time of its last change, as
    ``<scheme>:<revision>:<timestamp>``, without reading the places; a SQLite file is opened
    read-only for it (its recent changes may still be in the ``-wal`` file beside it, so the
    file's own bytes do not tell), and ``none`` when there is no file. A file that cannot be
    read as a register is hashed, with its ``-wal``.
    """
    if is_database_url(location):
        from kennai.register.postgis import PostGISRegister  # the stores only when one is opened

        return PostGISRegister(location).fingerprint()
    path = Path(location)
    if not path.is_file():
        return "none"
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
                                ) as conn:
            count, last = conn.execute("SELECT COUNT(*), MAX(at) FROM place_events").fetchone()
        return f"sqlite:{count}:{last or '-'}"
    except sqlite3.Error:
        pass
    h = hashlib.sha256()
    for part in (path, path.with_name(path.name + "-wal")):
        if part.is_file():
            h.update(part.read_bytes())
    return f"sqlite:{h.hexdigest()}"


def register_places(location: RegisterLocation, *, crs: CRS | str | None = None
                    ) -> gpd.GeoDataFrame:
    """The register's active places in the places schema, for the build to read as a source.

    Parameters
    ----------
    location
        The register's SQLite file or PostgreSQL URL. A missing file means an empty register
        (no places), not an error.
    crs
        Project to this CRS (default: EPSG:4326, the register's own).

    Returns
    -------
    GeoDataFrame
        ``place_id, name, category, address, weekdays, start_time, end_time, schedule_note,
        description, source_file`` and point geometry; ``source_file`` is ``register``.
    """
    import geopandas as gpd

    from kennai.register.base import SOURCE_NAME, TEXT_FIELDS
    from kennai.register.postgis import PostGISRegister
    from kennai.register.sqlite import SQLiteRegister

    columns = ["place_id", *TEXT_FIELDS]
    if is_database_url(location) or Path(location).is_file():
        store = PostGISRegister if is_database_url(location) else SQLiteRegister
        frame = store(location).to_frame()
    else:
        frame = gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs="EPSG:4326")
    out = gpd.GeoDataFrame(frame[columns].astype(str), geometry=frame.geometry.values,
                           crs="EPSG:4326")
    out["source_file"] = SOURCE_NAME
    return out.to_crs(crs) if crs is not None else out
