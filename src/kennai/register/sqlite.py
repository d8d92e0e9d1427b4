"""The register in one SQLite file (the default): one writer at a time."""

from __future__ import annotations

import sqlite3
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
"""


class SQLiteRegister(PlaceRegister, scheme="sqlite"):
    """The register in one SQLite file: one writer at a time (``BEGIN IMMEDIATE``)."""

    def __init__(self, location: RegisterLocation, *,
                 bounds: tuple[float, float, float, float] | None = None) -> None:
        super().__init__(location, bounds=bounds)
        self.path = Path(location)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SQLITE_SCHEMA)
            have = {row["name"] for row in conn.execute("PRAGMA table_info(places)")}
            for name in ADDED_FIELDS:  # a register made before these fields existed
                if name not in have:
                    conn.execute(f"ALTER TABLE places ADD COLUMN {name} TEXT NOT NULL DEFAULT ''")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # the write lock, before the read of the place
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
