"""The walk network as arrays: nodes, edges with lengths in metres, and their polylines.

A :class:`WalkNetwork` is in the region's projected CRS, each edge keeping its full polyline
so that residents and places can be snapped onto the edge itself, not only to its end nodes.
The polylines are kept as one ragged array of vertices (``edge_coords`` with ``edge_offsets``);
GEOS geometries are made from them only when asked for (:attr:`WalkNetwork.edge_geometry`,
:meth:`WalkNetwork.edge_geometries`): two million GEOS lines are about 400 MB and a second,
and a build's snapping and routing need none of them. It is stored in the build as one
``.npz`` (:meth:`WalkNetwork.save`, :meth:`WalkNetwork.load`). The readers that make one from
OSM, GraphML or line files are :mod:`kennai.io.network`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from kennai.geometry import points_hull


def shared_strings(values: Any) -> np.ndarray:
    """``values`` as an object array whose equal strings are one Python object: a road class
    per edge is a handful of distinct words, not two million strings (about 120 MB)."""
    codes, names = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return np.asarray(names, dtype=object)[codes]


def ragged_take(offsets: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the polylines ``index`` of a ragged array: the positions of their vertices, in order,
    and their offsets into those."""
    index = np.asarray(index, dtype=np.int64)
    sizes = offsets[index + 1] - offsets[index]
    new_offsets = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(sizes, out=new_offsets[1:])
    pts = np.arange(int(new_offsets[-1]), dtype=np.int64)
    pts += np.repeat(offsets[index] - new_offsets[:-1], sizes)
    return pts, new_offsets


def ragged_lines(coords: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """GEOS line strings of a ragged array of vertices."""
    if len(offsets) < 2:
        return np.zeros(0, dtype=object)
    return np.asarray(shapely.from_ragged_array(
        shapely.GeometryType.LINESTRING, np.ascontiguousarray(coords, dtype=np.float64),
        (np.asarray(offsets, dtype=np.int64),)))


@dataclass(slots=True)
class WalkNetwork:
    """An undirected walk network in a projected CRS.

    ``edge_u``/``edge_v`` index into the node arrays; edge ``i``'s polyline is
    ``edge_coords[edge_offsets[i]:edge_offsets[i + 1]]`` and runs from node ``edge_u`` to node
    ``edge_v``.
    """

    crs: CRS
    node_id: np.ndarray
    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_highway: np.ndarray
    edge_coords: np.ndarray
    edge_offsets: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    #: What is made from the network once and kept with it: its graphs, its snap index.
    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_geometry(cls, crs: CRS, node_id: np.ndarray, node_xy: np.ndarray,
                      edge_u: np.ndarray, edge_v: np.ndarray, edge_length: np.ndarray,
                      edge_highway: np.ndarray, edge_geometry: np.ndarray,
                      info: dict[str, Any] | None = None) -> WalkNetwork:
        """A network whose edges are given as GEOS line strings."""
        geoms = np.asarray(edge_geometry, dtype=object)
        if len(geoms):
            _, coords, (offsets,) = shapely.to_ragged_array(geoms)
        else:
            coords, offsets = np.zeros((0, 2)), np.zeros(1, dtype=np.int64)
        net = cls(crs, node_id, node_xy, edge_u, edge_v, edge_length, edge_highway,
                  coords[:, :2], np.asarray(offsets, dtype=np.int64), dict(info or {}))
        net.derived["edge_geometry"] = geoms
        return net

    @property
    def n_nodes(self) -> int:
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @property
    def edge_geometry(self) -> np.ndarray:
        """Every edge as a GEOS line string, made on first use and kept."""
        if "edge_geometry" not in self.derived:
            self.derived["edge_geometry"] = ragged_lines(self.edge_coords, self.edge_offsets)
        geoms: np.ndarray = self.derived["edge_geometry"]
        return geoms

    def edge_geometries(self, index: np.ndarray) -> np.ndarray:
        """The edges ``index`` as GEOS line strings, without making every edge's."""
        if "edge_geometry" in self.derived:
            return self.edge_geometry[index]
        index = np.asarray(index, dtype=np.int64)
        unique, inverse = np.unique(index, return_inverse=True)
        pts, offsets = ragged_take(self.edge_offsets, unique)
        return ragged_lines(self.edge_coords[pts], offsets)[inverse]

    def take_edges(self, keep: np.ndarray) -> WalkNetwork:
        """The same nodes with only the edges ``keep`` (a mask or an index)."""
        index = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        pts, offsets = ragged_take(self.edge_offsets, index)
        return WalkNetwork(self.crs, self.node_id, self.node_xy, self.edge_u[index],
                           self.edge_v[index], self.edge_length[index],
                           self.edge_highway[index], self.edge_coords[pts], offsets,
                           dict(self.info))

    def components(self) -> np.ndarray:
        """Connected-component label of every node."""
        # scipy here and in hull() only: a map reading the network's edges does not need it
        # (0.15 s)
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n = self.n_nodes
        adj = coo_matrix((np.ones(self.n_edges), (self.edge_u, self.edge_v)), shape=(n, n))
        return connected_components(adj, directed=False)[1]

    def hull(self) -> shapely.Geometry:
        """The convex hull of the nodes (GEOS's, from the nodes that can be its vertices:
        :func:`kennai.geometry.points_hull`), made once."""
        if "hull" not in self.derived:
            self.derived["hull"] = points_hull(self.node_xy)
        hull: shapely.Geometry = self.derived["hull"]
        return hull

    def summary(self) -> dict[str, Any]:
        """Counts, total length and the share of length in the largest connected part."""
        labels = self.components()
        n_comp = int(labels.max()) + 1 if len(labels) else 0
        edge_comp = labels[self.edge_u]
        length_by_comp = np.bincount(edge_comp, weights=self.edge_length, minlength=n_comp)
        total = float(self.edge_length.sum())
        return {
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "length_km": round(total / 1000, 3),
            "components": n_comp,
            "largest_component_length_share": (round(float(length_by_comp.max()) / total, 4)
                                               if total else 0.0),
            **self.info,
        }

    def edges_frame(self) -> gpd.GeoDataFrame:
        """Edges as a GeoDataFrame (``u``, ``v`` are node ids)."""
        return gpd.GeoDataFrame(
            {"u": self.node_id[self.edge_u], "v": self.node_id[self.edge_v],
             "length_m": self.edge_length, "highway": self.edge_highway.astype(str)},
            geometry=self.edge_geometry, crs=self.crs)

    def nodes_frame(self) -> gpd.GeoDataFrame:
        """Nodes as a GeoDataFrame."""
        return gpd.GeoDataFrame(
            {"node_id": self.node_id},
            geometry=shapely.points(self.node_xy), crs=self.crs)


    def save(self, path: Path) -> None:
        """Write the arrays to one ``.npz`` (fast to reload; geometry as ragged coordinates,
        road classes as codes into their names)."""
        codes, names = pd.factorize(np.asarray(self.edge_highway, dtype=object),
                                    use_na_sentinel=False)
        np.savez(path, crs=np.array(self.crs.to_wkt()), node_id=self.node_id,
                 node_xy=self.node_xy, edge_u=self.edge_u, edge_v=self.edge_v,
                 edge_length=self.edge_length, edge_highway_codes=codes.astype(np.int32),
                 edge_highway_names=np.asarray(names, dtype=str),
                 geom_coords=self.edge_coords, geom_offsets=self.edge_offsets)

    @classmethod
    def load(cls, path: Path, info: dict[str, Any] | None = None) -> WalkNetwork:
        """Read what :meth:`save` wrote (also the road classes of builds that stored them as one
        string per edge)."""
        with np.load(path, allow_pickle=False) as z:
            if "edge_highway_codes" in z:
                highway = z["edge_highway_names"].astype(object)[z["edge_highway_codes"]]
            else:
                highway = shared_strings(z["edge_highway"].astype(object))
            return cls(CRS.from_wkt(str(z["crs"])), z["node_id"], z["node_xy"], z["edge_u"],
                       z["edge_v"], z["edge_length"], highway, z["geom_coords"],
                       z["geom_offsets"].astype(np.int64), dict(info or {}))
