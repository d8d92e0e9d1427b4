"""Passes over an OpenStreetMap file that feed several readers at once.

Every OSM reader of kennai (walkable ways, buildings, places by tag, basemap features) is a
:class:`Collector`: it says which keys it wants of nodes, ways and areas, and takes the objects
one by one. :func:`stream` runs any number of collectors over one pass of the file, with one
filter per entity type in pyosmium's C++ (the union of their keys), so Python sees each wanted
object once.

A build that reads a whole file several times over (a city given only as an OSM extract reads
its network, buildings, places, other destinations and basemap from it) plans those reads with
:func:`shared_pass`: the first reader to ask runs every planned collector in one pass, and the
others take their results from it. On Ishigaki that is two decodings of the file (the areas'
relations, then everything) instead of sixteen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import osmium

#: What a collector wants of one entity type: a key (any value), or a (key, value) pair.
Want = str | tuple[str, str]


class Collector(Protocol):
    """What one reader wants of a file, and what it does with each object it is given.

    An empty tuple means the reader wants no objects of that type. A collector is given every
    object of a type it wants that passes the pass's filter (for a shared pass the union of
    every collector's wants), so it checks its own tags.
    """

    node_keys: tuple[Want, ...]
    way_keys: tuple[Want, ...]
    area_keys: tuple[Want, ...]

    def node(self, node: osmium.osm.Node) -> None:
        """Take one node."""

    def way(self, way: osmium.osm.Way) -> None:
        """Take one way (its node locations set)."""

    def area(self, area: osmium.osm.Area) -> None:
        """Take one assembled area."""


def _filter(wants: tuple[Want, ...]) -> osmium.filter.KeyFilter | osmium.filter.TagFilter:
    """pyosmium's filter for these wants: a tag filter when all are pairs, else a key filter
    on every key named (a superset the collectors narrow)."""
    if all(isinstance(w, tuple) for w in wants):
        return osmium.filter.TagFilter(*(w for w in wants if isinstance(w, tuple)))
    return osmium.filter.KeyFilter(*dict.fromkeys(w if isinstance(w, str) else w[0]
                                                  for w in wants))


def stream(path: Path, collectors: list[Collector], *, locations: str = "flex_mem") -> None:
    """Run ``collectors`` over one pass of the file at ``path``.

    Node locations go to ``locations`` (a pyosmium index name, e.g. an on-disk index for a
    clipped read) when some collector wants ways or areas. pyosmium's errors (a file that is
    not OSM) pass through as :class:`RuntimeError` for the reader to name.
    """
    node_wants = _union(c.node_keys for c in collectors)
    way_wants = _union(c.way_keys for c in collectors)
    area_wants = _union(c.area_keys for c in collectors)
    osm = osmium.osm
    read, wanted = osm.NODE, osm.NOTHING
    if way_wants or area_wants:
        read |= osm.WAY
    if area_wants:
        read |= osm.RELATION
    for bits, wants in ((osm.NODE, node_wants), (osm.WAY, way_wants), (osm.AREA, area_wants)):
        if wants:
            wanted |= bits
    if wanted == osm.NOTHING:
        return
    fp = osmium.FileProcessor(str(path), read)
    if way_wants or area_wants:
        fp = fp.with_locations(locations)
    if area_wants:
        fp = fp.with_areas(_filter(area_wants))
    fp = fp.with_filter(osmium.filter.EntityFilter(wanted))
    for bits, wants in ((osm.NODE, node_wants), (osm.WAY, way_wants), (osm.AREA, area_wants)):
        if wants:
            only = _filter(wants)
            only.enable_for(bits)  # objects of the other types pass it untested
            fp = fp.with_filter(only)
    by_node: list[Callable[[osm.Node], None]] = [c.node for c in collectors if c.node_keys]
    by_way: list[Callable[[osm.Way], None]] = [c.way for c in collectors if c.way_keys]
    by_area: list[Callable[[osm.Area], None]] = [c.area for c in collectors if c.area_keys]
    for obj in fp:
        if isinstance(obj, osm.Area):
            for take_area in by_area:
                take_area(obj)
        elif isinstance(obj, osm.Way):
            for take_way in by_way:
                take_way(obj)
        elif isinstance(obj, osm.Node):
            for take_node in by_node:
                take_node(obj)


def _union(groups: Iterator[tuple[Want, ...]]) -> tuple[Want, ...]:
    return tuple(dict.fromkeys(want for wants in groups for want in wants))


class _Planned(threading.local):
    """One thread's planned reads (a build runs in one thread; the API's updater and a
    server's requests build in threads of their own, and never share a plan)."""

    def __init__(self) -> None:
        #: Per file, the reads a build has planned: {reader key: a new collector}.
        self.plans: dict[Path, dict[Hashable, Callable[[], Collector]]] = {}
        #: Per file, the collectors of its shared pass, once it has run.
        self.done: dict[Path, dict[Hashable, Collector]] = {}


_PLANNED = _Planned()


@contextmanager
def shared_pass(plans: Mapping[Path, Mapping[Hashable, Callable[[], Collector]]]
                ) -> Iterator[None]:
    """Within the block, whole-file reads of a planned file come from one pass over it.

    Parameters
    ----------
    plans
        Per file, the readers that will read it whole: a key each (as the reader asks for it
        with :func:`take`) and a function making its collector.
    """
    keys = [Path(p).resolve() for p in plans]
    for key, plan in zip(keys, plans.values(), strict=True):
        _PLANNED.plans[key] = dict(plan)
    try:
        yield
    finally:
        for key in keys:
            _PLANNED.plans.pop(key, None)
            _PLANNED.done.pop(key, None)


def take(path: Path, key: Hashable) -> Collector | None:
    """The collector ``key`` of the file's shared pass, handed over once (the pass runs on the
    first ask; what a reader took is not held for the rest of the build), or None when no
    build has planned that read of the file, or it was taken.

    RuntimeError from pyosmium passes through, as from :func:`stream`.
    """
    where = Path(path).resolve()
    plan = _PLANNED.plans.get(where)
    if plan is None or key not in plan:
        return None
    done = _PLANNED.done.get(where)
    if done is None:
        made = {k: make() for k, make in plan.items()}
        stream(where, list(made.values()))
        done = _PLANNED.done[where] = made
    del plan[key]
    return done.pop(key)
