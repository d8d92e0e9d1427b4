"""The register in one SQLite file (the default): one writer at a time.

The file is in WAL mode, so readers never wait for a writer nor a writer for readers, and
commits need no fsync of the whole file (``synchronous=NORMAL``: a committed change survives a
killed process). Writers of one process take a lock of their own before SQLite's, so they go
as soon as the previous one commits instead of sleeping in SQLite's busy handler (the API
queues its writes on one thread besides); writers of other processes wait up to
:data:`BUSY_TIMEOUT_MS`. Each thread keeps its connection for the register's life: closing the
last one checkpoints the WAL, which would otherwise cost every request.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kennai.register.base import ADDED_FIELDS, PlaceRegister
from kennai.register.location import RegisterLocation

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS places (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    place_id TEXT UNIQUE,
    name TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    weekdays TEXT NOT NULL DEFAULT '',
    start_time TEXT NOT NULL DEFAULT '',
    end_time TEXT NOT NULL DEFAULT '',
    schedule_note TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    frequency TEXT NOT NULL DEFAULT '',
    audience TEXT NOT NULL DEFAULT '',
    fee TEXT NOT NULL DEFAULT '',
    activity TEXT NOT NULL DEFAULT '',
    contact TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    retired_at TEXT,
    retired_by TEXT,
    retired_reason TEXT
);
CREATE TABLE IF NOT EXISTS place_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    place_id TEXT NOT NULL,
    action TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    idem_key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    at TEXT NOT NULL
);
"""
#: How long a writer waits for another's lock before the change is refused (milliseconds).
BUSY_TIMEOUT_MS = 10_000


class SQLiteRegister(PlaceRegister, scheme="sqlite"):
    """The register in one SQLite file: one writer at a time (``BEGIN IMMEDIATE``)."""

    def __init__(self, location: RegisterLocation, *,
                 bounds: tuple[float, float, float, float] | None = None) -> None:
        super().__init__(location, bounds=bounds)
        self.path = Path(location)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writers = threading.Lock()
        # One connection per thread, open for the register's life (dropped with it): closing
        # the last connection to a WAL file checkpoints it, which would cost every request.
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # stored in the file: every connection's
            conn.executescript(_SQLITE_SCHEMA)
            have = {row["name"] for row in conn.execute("PRAGMA table_info(places)")}
            for name in ADDED_FIELDS:  # a register made before these fields existed
                if name not in have:
                    conn.execute(f"ALTER TABLE places ADD COLUMN {name} TEXT NOT NULL DEFAULT ''")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
        yield conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._writers, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # the write lock, before the read of the place
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
