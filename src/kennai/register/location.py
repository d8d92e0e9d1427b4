"""Where a register lives: a SQLite file, or a PostgreSQL database named by its URL."""

from __future__ import annotations

import os
from pathlib import Path

from kennai.config import RegionConfig, beside_build

#: Where a register lives: a SQLite file, or a ``postgresql://`` URL (kept as ``str``).
RegisterLocation = str | Path
_URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: RegisterLocation) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(_URL_SCHEMES)


def register_location(text: str | Path) -> RegisterLocation:
    """A ``--register`` / ``KENNAI_REGISTER`` value as a location: a URL stays text, else a path.

    (``Path`` would fold the ``//`` of a URL, so URLs must never go through it.)
    """
    return str(text) if is_database_url(str(text)) else Path(text)


def default_register_path(config: RegionConfig, build_dir: Path | None = None
                          ) -> RegisterLocation:
    """Where a region's register lives: beside its build folder, or ``KENNAI_REGISTER``."""
    env = os.environ.get("KENNAI_REGISTER")
    if env:
        return register_location(env)
    return beside_build(config, "register.sqlite", build_dir)


