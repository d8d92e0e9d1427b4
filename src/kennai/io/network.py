"""Walk networks read from what a region provides: OSM files, OSMnx GraphML, line files.

Whatever the input, the result is a :class:`~kennai.network.WalkNetwork` in the region's
projected CRS. Ways are split only where they meet other ways (an OSMnx-style simplified
graph), each edge keeping its full polyline. Disconnected parts are kept and reported, never
dropped; centre-line files without topology can have their loose ends joined
(:mod:`kennai.io.network_snap`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from kennai.arrays import unique_rows_inverse, unique_sorted
from kennai.config import Source
from kennai.errors import EmptyLayerError, InputError
from kennai.i18n import t
from kennai.io.network_snap import snap_line_ends
from kennai.io.osm import read_walk_ways
from kennai.io.vector import LineVertices, read_line_vertices, read_vector
from kennai.network import WalkNetwork, shared_strings


def _project(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> np.ndarray:
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = tr.transform(lon, lat)
    return np.column_stack([x, y])


def from_polylines(
    node_ids: np.ndarray,
    xy: np.ndarray,
    offsets: np.ndarray,
    highway: np.ndarray,
    crs: CRS,
    *,
    info: dict[str, Any] | None = None,
) -> WalkNetwork:
    """Build a simplified network from polylines that share node ids where they meet.

    A polyline is split at every node used by another polyline (or twice by itself) and at its
    ends; each piece becomes one edge with its geometry and its length in metres.
    """
    n_pts = len(node_ids)
    way_of_pt = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    is_end = np.zeros(n_pts, dtype=bool)
    is_end[offsets[:-1]] = True
    is_end[offsets[1:] - 1] = True
    uniq, inverse, counts = np.unique(node_ids, return_inverse=True, return_counts=True)
    split = is_end | (counts[inverse] > 1)
    # Edge pieces: from each split point to the next split point of the same way.
    split_idx = np.flatnonzero(split)
    same_way = way_of_pt[split_idx[:-1]] == way_of_pt[split_idx[1:]]
    starts = split_idx[:-1][same_way]
    ends = split_idx[1:][same_way]
    # Segment lengths between consecutive points (across way boundaries masked out).
    seg = np.hypot(*np.diff(xy, axis=0).T)
    seg[way_of_pt[1:] != way_of_pt[:-1]] = 0.0
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    lengths = cum[ends] - cum[starts]
    # Geometry: points starts..ends inclusive for each edge, as one ragged array.
    sizes = ends - starts + 1
    edge_offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(sizes, out=edge_offsets[1:])
    pt_index = np.arange(int(edge_offsets[-1]), dtype=np.int64)
    pt_index += np.repeat(starts - edge_offsets[:-1], sizes)
    # Keep only the nodes that are edge ends.
    used = unique_sorted(np.concatenate([inverse[starts], inverse[ends]]))
    remap = np.full(len(uniq), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    first_pt = np.zeros(len(uniq), dtype=np.int64)
    first_pt[inverse[::-1]] = np.arange(n_pts)[::-1]
    net = WalkNetwork(
        crs=crs,
        node_id=uniq[used],
        node_xy=xy[first_pt[used]],
        edge_u=remap[inverse[starts]],
        edge_v=remap[inverse[ends]],
        edge_length=lengths,
        edge_highway=shared_strings(highway)[way_of_pt[starts]],
        edge_coords=xy[pt_index],
        edge_offsets=edge_offsets,
        info=dict(info or {}),
    )
    return _drop_zero_loops(net)


def _drop_zero_loops(net: WalkNetwork) -> WalkNetwork:
    """Remove edges that start and end at the same node with no length (duplicate points)."""
    keep = ~((net.edge_u == net.edge_v) & (net.edge_length <= 0))
    return net if keep.all() else net.take_edges(keep)


def network_from_osm(path: Path, crs: CRS, *, clip: shapely.Geometry | None = None) -> WalkNetwork:
    """The walk network of an OSM file (PBF or XML), only the ways touching ``clip`` (EPSG:4326)
    when given, so a regional extract is read down to the city as it streams."""
    ways = read_walk_ways(path, clip=clip)
    xy = _project(ways.lon, ways.lat, crs)
    return from_polylines(ways.node_ids, xy, ways.offsets, ways.highway, crs,
                          info={"source": path.name, "format": "osm"})


def network_from_lines(lines: gpd.GeoDataFrame, crs: CRS, *, source: Path) -> WalkNetwork:
    """A network from line features: edge files with ``u``/``v`` node ids, or plain lines.

    Plain lines (no ``u``/``v``) are joined where their ends share coordinates (to 1 cm).
    Multi-part lines are split into their parts; ``highway`` gives each its road class.
    """
    polylines = line_polylines(lines, crs, source=source)
    return from_polylines(*polylines, crs, info={"source": source.name, "format": "lines"})


def line_polylines(lines: gpd.GeoDataFrame, crs: CRS, *, source: Path
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`from_polylines` takes of line features: vertex ids, vertices (in ``crs``),
    the lines' offsets and road classes. Nothing returned refers to ``lines``, so a caller can
    let the frame go before the network is made (two million lines are most of a gigabyte).
    """
    # On the geometry arrays, not frame copies: a frame of two million lines copied four times
    # (reprojected, exploded, filtered twice) was most of a large build's peak memory.
    geoms = lines.geometry.values
    geoms = np.asarray(geoms if lines.crs == crs else geoms.to_crs(crs))
    row = np.arange(len(geoms))
    if bool((shapely.get_type_id(geoms) >= 4).any()):  # multi-part: one line per part
        geoms, row = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(geoms) == 1) & ~shapely.is_empty(geoms)
    if not keep.all():
        geoms, row = geoms[keep], row[keep]
    if len(geoms) == 0:
        raise EmptyLayerError(t("線の地物が 1 件もありません", "no line features"), path=source,
                              hint=t("道路中心線のファイルを指定してください",
                                     "give a street centre-line or edge file"))
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(index, minlength=len(geoms)))])
    return _vertex_ids(coords, offsets, row, lines, source=source)


def vertex_polylines(lines: LineVertices, crs: CRS, *, source: Path
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`line_polylines` of lines read as vertex arrays (:func:`read_line_vertices`):
    reprojected as a frame's lines are, with the same transformer."""
    coords = lines.coords
    if lines.crs != crs:
        tr = Transformer.from_crs(lines.crs, crs, always_xy=True)
        coords = np.column_stack(tr.transform(coords[:, 0], coords[:, 1]))
    return _vertex_ids(coords, lines.offsets, np.arange(len(lines.offsets) - 1),
                       lines.attributes, source=source)


#: The columns of an edge file: its end nodes' ids and its road class.
U_COLUMN, V_COLUMN, HIGHWAY_COLUMN = "u", "v", "highway"


def _vertex_ids(coords: np.ndarray, offsets: np.ndarray, row: np.ndarray, attrs: pd.DataFrame,
                *, source: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertex ids, vertices, offsets and road classes of lines whose attributes are row ``row``
    of ``attrs`` (a multi-part feature's parts share its row)."""
    if U_COLUMN in attrs.columns and V_COLUMN in attrs.columns:
        # Interior points get ids of their own; ends carry the file's node ids. Ids of interior
        # points are negative so they cannot collide with real ones.
        ids = -(np.arange(len(coords), dtype=np.int64) + 1)
        u = pd.to_numeric(attrs[U_COLUMN], errors="coerce").to_numpy()[row]
        v = pd.to_numeric(attrs[V_COLUMN], errors="coerce").to_numpy()[row]
        if np.isnan(u).any() or np.isnan(v).any():
            bad = int(row[np.flatnonzero(np.isnan(u) | np.isnan(v))[0]])  # the file's feature
            raise InputError(t("u / v が空の辺があります", "an edge has no u / v"),
                             path=source, feature=t(f"{bad + 1} 件目", f"feature {bad + 1}"),
                             hint=t("u, v にノード番号を入れてください", "fill in u and v"))
        ids[offsets[:-1]] = u.astype(np.int64)
        ids[offsets[1:] - 1] = v.astype(np.int64)
    else:
        ids = unique_rows_inverse(np.round(coords / 0.01).astype(np.int64))
    highway = (shared_strings(attrs[HIGHWAY_COLUMN].astype(str).to_numpy())[row]
               if HIGHWAY_COLUMN in attrs.columns
               else np.full(len(row), "unclassified", dtype=object))
    return ids, coords, offsets, highway


def network_from_graphml(path: Path, crs: CRS) -> WalkNetwork:
    """A network from an OSMnx GraphML file."""
    import osmnx as ox

    try:
        graph = ox.load_graphml(path)
    except Exception as exc:
        raise InputError(t(f"GraphML として読めません（{type(exc).__name__}）",
                           f"not a readable GraphML file ({type(exc).__name__})"), path=path,
                         hint=t("OSMnx で保存した GraphML を指定してください",
                                "give a GraphML file saved by OSMnx")) from None
    edges = ox.convert.graph_to_gdfs(graph, nodes=False).reset_index()
    edges["highway"] = edges["highway"].map(lambda h: h[0] if isinstance(h, list) else h)
    return network_from_lines(edges, crs, source=path)


def read_network(src: Source, crs: CRS, *, clip: shapely.Geometry | None = None) -> WalkNetwork:
    """Read the region's walk network from any supported input (OSM files clipped to ``clip``,
    a polygon in EPSG:4326, while they are read).

    Raises
    ------
    EmptyLayerError
        When what is left has no edge to walk along (one node, or loops only).
    """
    path = Path(src.path)
    name = path.name.lower()
    if src.is_osm:
        net = network_from_osm(path, crs, clip=clip)
    elif name.endswith(".graphml"):
        net = network_from_graphml(path, crs)
    else:
        vertices = read_line_vertices(path, layer=src.layer, crs=src.crs,
                                      columns=(U_COLUMN, V_COLUMN, HIGHWAY_COLUMN))
        if vertices is not None:  # plain lines: their vertices, no GEOS geometry
            polylines = vertex_polylines(vertices, crs, source=path)
            del vertices
        else:
            lines = read_vector(path, layer=src.layer, encoding=src.encoding, crs=src.crs)
            polylines = line_polylines(lines, crs, source=path)
            del lines  # the frame's lines before the network's are made
        net = from_polylines(*polylines, crs, info={"source": path.name, "format": "lines"})
        del polylines
        if src.snap_tolerance_m:
            net = snap_line_ends(net, tolerance_m=src.snap_tolerance_m)
    if net.n_edges == 0 or net.n_nodes < 2:
        raise EmptyLayerError(
            t(f"歩行ネットワークに歩ける辺がありません（ノード {net.n_nodes} 個、辺 {net.n_edges} 本）",
              f"the walk network has no edge to walk along ({net.n_nodes} node(s), "
              f"{net.n_edges} edge(s))"),
            path=path, hint=t("道路がつながった範囲のデータを指定してください",
                              "give a network whose streets connect (a larger extract)"))
    return net
