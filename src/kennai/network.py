"""The walk network as arrays: nodes, edges with lengths in metres, and their geometry.

A :class:`WalkNetwork` is in the region's projected CRS, each edge keeping its full polyline
so that residents and places can be snapped onto the edge itself, not only to its end nodes.
It is stored in the build as one ``.npz`` (:meth:`WalkNetwork.save`, :meth:`WalkNetwork.load`).
The readers that make one from OSM, GraphML or line files are :mod:`kennai.io.network`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS


@dataclass(slots=True)
class WalkNetwork:
    """An undirected walk network in a projected CRS.

    ``edge_u``/``edge_v`` index into the node arrays; ``edge_geometry`` runs from node
    ``edge_u`` to node ``edge_v``.
    """

    crs: CRS
    node_id: np.ndarray
    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_highway: np.ndarray
    edge_geometry: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    #: What is made from the network once and kept with it: its graphs, its snap index.
    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

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
        """The convex hull of the nodes (GEOS's), made once. Qhull first picks the extreme
        nodes, so GEOS builds the same hull from a few hundred points rather than every node
        (0.87 s and 290 MiB for a million nodes, against 0.14 s)."""
        if "hull" not in self.derived:
            from scipy.spatial import ConvexHull, QhullError  # scipy only when a hull is made

            xy = self.node_xy
            # All on a line (or NaN): GEOS takes every node.
            with contextlib.suppress(QhullError, ValueError):
                if len(xy) > 64:
                    xy = xy[ConvexHull(xy).vertices]
            self.derived["hull"] = shapely.convex_hull(shapely.multipoints(xy))
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
        """Write the arrays to one ``.npz`` (fast to reload; geometry as ragged coordinates)."""
        _, coords, offsets = shapely.to_ragged_array(self.edge_geometry)
        np.savez(path, crs=np.array(self.crs.to_wkt()), node_id=self.node_id,
                 node_xy=self.node_xy, edge_u=self.edge_u, edge_v=self.edge_v,
                 edge_length=self.edge_length, edge_highway=self.edge_highway.astype(str),
                 geom_coords=coords, geom_offsets=offsets[0])

    @classmethod
    def load(cls, path: Path, info: dict[str, Any] | None = None) -> WalkNetwork:
        """Read what :meth:`save` wrote."""
        with np.load(path, allow_pickle=False) as z:
            geoms = shapely.from_ragged_array(shapely.GeometryType.LINESTRING,
                                              z["geom_coords"], (z["geom_offsets"],))
            return cls(CRS.from_wkt(str(z["crs"])), z["node_id"], z["node_xy"], z["edge_u"],
                       z["edge_v"], z["edge_length"], z["edge_highway"].astype(object), geoms,
                       dict(info or {}))
