"""What the server serves from one build, swapped whole when the data change.

A :class:`Snapshot` holds the region, its tiles, access results and surface as read from one
build version. After a register edit the :class:`Updater` rebuilds in a background thread
(edits arriving meanwhile are folded into the next rebuild) and swaps the snapshot in one
assignment, so a reader sees the old results or the new ones, never a mixture, and the server
never restarts. A rebuild made outside (``kennai build`` while the server runs) is picked up the
same way, by the build pointer moving to a new version.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kennai.access import ACCESS_DIR, AccessResults, PointRouter, load_access
from kennai.atomic import current_version
from kennai.build import build_region
from kennai.config import RegionConfig, default_build_dir
from kennai.encoded_json import EncodedJSON, encode_json
from kennai.errors import KennaiError
from kennai.raster_tiles import SurfaceTiles
from kennai.region import Region, open_region
from kennai.register import RegisterLocation
from kennai.tiles import TileSet, region_tile_set

_V = TypeVar("_V")

#: How long the updater waits after an edit for more edits before it rebuilds (seconds).
DEBOUNCE_S = 0.3
#: How many derived answers (coverage tables, gaps, suggestions, and each encoded) a snapshot
#: keeps.
MEMO_SIZE = 512
#: The zooms whose simplified layers are made when a snapshot is loaded (the web map's range).
PREPARE_MAXZOOM = 18
#: How often a reader checks whether the build pointer moved (seconds).
WATCH_S = 1.0


@dataclass
class Snapshot:
    """One build version, as served: region, tiles, access results, surface (and the point
    router, made on first use)."""

    region: Region
    tiles: TileSet
    access: AccessResults | None
    surface: SurfaceTiles | None
    version: Path | None
    _router: PointRouter | None = field(default=None, repr=False)
    _router_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _memo: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _making: dict[Hashable, threading.Event] = field(default_factory=dict, repr=False)

    def memo(self, key: Hashable, make: Callable[[], _V]) -> _V:
        """``make()`` for this version, made once and kept (the ``MEMO_SIZE`` last used), or the
        :class:`KennaiError` it raised: what depends only on the data is not recomputed per
        request, and a swap to a new snapshot after an edit or rebuild starts afresh, so
        nothing stale is served. ``make`` must not return ``None``.

        Requests for a key being made wait for that one making rather than each making it
        again (a burst of first requests would otherwise run ``make`` once per request, side
        by side, and each would take as long as all of them)."""
        kept = self._kept_or_claim(key)
        if isinstance(kept, threading.Event):  # this request makes it; others wait on ``kept``
            claim = kept
            try:
                try:
                    kept = make()  # outside the lock: answers for other keys run side by side
                except KennaiError as exc:
                    kept = exc
                with self._memo_lock:
                    self._memo[key] = kept
                    while len(self._memo) > MEMO_SIZE:
                        self._memo.popitem(last=False)
            finally:
                with self._memo_lock:
                    del self._making[key]
                claim.set()
        if isinstance(kept, KennaiError):  # a refusal of this data is as stable as an answer
            raise kept.with_traceback(None)
        return kept

    def _kept_or_claim(self, key: Hashable) -> Any:
        """The kept value of ``key``, or, when nobody is making it, a new event: the caller
        makes it and sets the event. Waits while another request makes it."""
        while True:
            with self._memo_lock:
                if key in self._memo:
                    self._memo.move_to_end(key)
                    return self._memo[key]
                making = self._making.get(key)
                if making is None:
                    claim = self._making[key] = threading.Event()
                    return claim
            making.wait()  # then read what it made (or make it, if it failed)

    def answer(self, key: Hashable, make: Callable[[], Any]) -> EncodedJSON:
        """The JSON answer ``make()`` of this version, encoded once (:func:`memo` of its bytes,
        gzip and ETag): a request for it sends kept bytes."""
        return self.memo(("json", key), lambda: encode_json(make()))

    def point_router(self) -> PointRouter | None:
        """The router for clicked points of this version (two Dijkstra runs, once)."""
        if self.access is None:
            return None
        with self._router_lock:
            if self._router is None:
                self._router = PointRouter(self.region, self.access)
            return self._router


#: What a server does with a snapshot as soon as it is loaded, beside serving (e.g. make the
#: answers every page load asks for, so the first requests find them made).
Warmer = Callable[["Snapshot"], None]


def load_snapshot(config: RegionConfig, build_dir: Path | None, *,
                  warm: Warmer | None = None) -> Snapshot:
    """Open the build behind ``build_dir`` (the pointer) as a snapshot of its current version,
    and start ``warm`` on it in the background.

    Raises :class:`~kennai.errors.KennaiError` when the region has not been built.
    """
    region = open_region(config, build_dir=build_dir)
    assert region.build_dir is not None
    stored = region.build_dir / ACCESS_DIR / "access.json"
    access = load_access(region.build_dir) if stored.is_file() else None
    surface = SurfaceTiles(access.surface_path) if access is not None and access.surface_path \
        and access.surface_path.is_file() else None
    tiles = region_tile_set(region, access=access)
    snapshot = Snapshot(region, tiles, access, surface, region.build_dir)
    threading.Thread(target=_prepare, args=(snapshot, warm), name="kennai-prepare",
                     daemon=True).start()
    return snapshot


def _prepare(snapshot: Snapshot, warm: Warmer | None) -> None:
    """Beside serving: the warm-up answers first (a fraction of a second), then each tile layer
    simplified once per zoom (about 0.1 s a zoom) rather than in the first tile of each zoom."""
    if warm is not None:
        with contextlib.suppress(Exception):  # an optimisation: its request will say what is wrong
            warm(snapshot)
    snapshot.tiles.prepare(0, PREPARE_MAXZOOM)
    # The prepared layers are a million long-lived objects: kept out of the garbage collector's
    # full passes, those stop costing requests pauses of tens of milliseconds now and then.
    # Unfrozen and collected first, so that a replaced snapshot frozen before is not kept.
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class Updater:
    """Keeps a snapshot current: rebuilds after edits (in the background, one at a time) and
    reloads when the build pointer moves."""

    def __init__(self, config: RegionConfig, build_dir: Path | None, register: RegisterLocation,
                 snapshot: Snapshot, *, warm: Warmer | None = None) -> None:
        self.config = config
        self.warm = warm
        self.build_dir = build_dir or default_build_dir(config)
        # A build is rebuilt through its pointer (build/<region>); an app opened on one version
        # folder itself serves that version as it is (rebuilding there would move the folder).
        self.follows = self.build_dir.is_symlink() or not self.build_dir.exists()
        self.register = register
        self.snapshot = snapshot
        self.updating = False
        self.pending = False
        self.last_error: str | None = None
        self.updated_at: float = time.time()
        self._lock = threading.Lock()
        self._checked = time.monotonic()

    def current(self) -> Snapshot:
        """The snapshot to serve; reloads first when a build made elsewhere replaced it."""
        now = time.monotonic()
        if self.follows and now - self._checked >= WATCH_S and not self.updating:
            self._checked = now
            version = current_version(self.build_dir)
            if version is not None and version != self.snapshot.version:
                with self._lock:
                    if current_version(self.build_dir) != self.snapshot.version:
                        self._swap(load_snapshot(self.config, self.build_dir, warm=self.warm))
        return self.snapshot

    def request(self) -> None:
        """Ask for a rebuild (after a register edit); returns at once. Nothing happens for an
        app serving one version folder rather than the build pointer."""
        if not self.follows:
            return
        with self._lock:
            self.pending = True
            if self.updating:
                return
            self.updating = True
        threading.Thread(target=self._run, name="kennai-rebuild", daemon=True).start()

    def wait(self, timeout: float = 120.0) -> bool:
        """Wait until no rebuild is running or pending (for tests and scripts)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.updating and not self.pending:
                return True
            time.sleep(0.05)
        return False

    def status(self) -> dict[str, object]:
        """What ``GET /status`` says: updating or not, the version served, the last error."""
        return {"updating": self.updating or self.pending, "follows_edits": self.follows,
                "version": self.snapshot.version.name if self.snapshot.version else None,
                "built_at": self.snapshot.region.metadata.get("built_at"),
                "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                            time.localtime(self.updated_at)),
                "last_error": self.last_error}

    def _run(self) -> None:
        while True:
            time.sleep(DEBOUNCE_S)
            with self._lock:
                if not self.pending:
                    self.updating = False
                    return
                self.pending = False
            try:
                build_region(self.config, build_dir=self.build_dir, register=self.register)
                self._swap(load_snapshot(self.config, self.build_dir, warm=self.warm))
                self.last_error = None
            except KennaiError as exc:  # the old results stay served; the status says why
                self.last_error = exc.format()
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"

    def _swap(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot  # one assignment: readers see the old snapshot or this one
        self.updated_at = time.time()
