"""Plain line strings decoded from well-known binary straight into vertex arrays.

A street file of two million lines read as GEOS geometries costs about a second and 400 MB
before anything is done with them, and the network needs only their vertices. GDAL hands the
lines over as one Arrow column of WKB; when every one is a 2-D little-endian ``LineString``
(what GeoPackage, FlatGeobuf and GeoJSON street files hold), their coordinates are read from
the buffer with numpy. Anything else (multi-part, Z, big-endian, null) is left to GEOS.
"""

from __future__ import annotations

import numpy as np

#: The bytes before a WKB line string's points: byte order (1), type (4), point count (4).
HEADER = 9
#: ISO WKB's type code of a 2-D line string.
LINESTRING = 2


def plain_linestrings(data: np.ndarray, offsets: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """The vertices (m × 2) and per-line vertex offsets of WKB records ``data[offsets[i]:
    offsets[i + 1]]``, or ``None`` unless every record is a 2-D little-endian line string of at
    least two points whose length matches its point count.

    Parameters
    ----------
    data
        The records' bytes, one after another (``uint8``).
    offsets
        Where each record starts, and where the last ends (``len(records) + 1``).
    """
    data = np.ascontiguousarray(data, dtype=np.uint8)
    offsets = np.asarray(offsets, dtype=np.int64)
    starts, sizes = offsets[:-1], np.diff(offsets)
    if len(starts) == 0 or (sizes < HEADER).any() or offsets[-1] > len(data):
        return None
    four = np.lib.stride_tricks.as_strided(data, shape=(len(data) - 3, 4), strides=(1, 1))
    kind = four[starts + 1].view("<u4").ravel()
    count = four[starts + 5].view("<u4").ravel().astype(np.int64)
    if ((data[starts] != 1).any() or (kind != LINESTRING).any() or (count < 2).any()
            or (sizes != HEADER + 16 * count).any()):
        return None
    vertex_offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(count, out=vertex_offsets[1:])
    # Byte position of every coordinate: record start + header + 8 bytes per number.
    numbers = np.arange(2 * int(vertex_offsets[-1]), dtype=np.int64) * 8
    numbers += np.repeat(starts + HEADER - 16 * vertex_offsets[:-1], 2 * count)
    eight = np.lib.stride_tricks.as_strided(data, shape=(len(data) - 7, 8), strides=(1, 1))
    coords = eight[numbers].view("<f8").reshape(-1, 2).astype(np.float64)
    return coords, vertex_offsets
