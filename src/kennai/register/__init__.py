"""The gathering-place register: places staff find on their walks, in SQLite or PostGIS.

Coordinators add, edit and retire places (通いの場) through the API; each change records who
and when, in one transaction with its entry in the change log, so the register never holds a
half-made change. Retired places stay in the register (with who/when/why) but leave the map and
the analysis. The build reads the register as one more places source with
:func:`register_places`, so access results pick the changes up on the next ``kennai build``.

Two stores share one interface, :class:`PlaceRegister` (validation, the change log and every
query are written once, in the base class):

* a SQLite file (the default): ``build/<region>.register.sqlite``, beside the build folder
  (which a rebuild replaces), or the path in ``KENNAI_REGISTER``;
* PostgreSQL + PostGIS when several people edit: a ``postgresql://`` URL in ``KENNAI_REGISTER``
  or ``kennai serve --register``. Places are ``geometry(Point, 4326)`` with a GiST index.

Concurrent editors cannot lose an update: every change reads the place it changes under a
lock held to the commit (``BEGIN IMMEDIATE`` in SQLite, ``SELECT … FOR UPDATE`` in PostgreSQL),
so a second editor waits, then sees the first one's commit (an edit of a place retired in the
meantime is refused) and both changes are in the log.

This package re-exports its modules' public names, each imported on first use (PEP 562), so
that checking whether a build is current (its register's fingerprint) loads neither store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as mypy and readers see them; imported by __getattr__ at run time
    from kennai.register.base import PLACE_FIELDS, SOURCE_NAME, TEXT_FIELDS, PlaceRegister
    from kennai.register.location import (
        RegisterLocation,
        default_register_path,
        is_database_url,
        register_location,
    )
    from kennai.register.postgis import PostGISRegister
    from kennai.register.source import register_fingerprint, register_places
    from kennai.register.sqlite import SQLiteRegister

#: The submodule defining each public name, imported by :func:`__getattr__` on first use.
_SOURCES: dict[str, tuple[str, ...]] = {
    "base": ("PLACE_FIELDS", "SOURCE_NAME", "TEXT_FIELDS", "PlaceRegister"),
    "location": ("RegisterLocation", "default_register_path", "is_database_url",
                 "register_location"),
    "postgis": ("PostGISRegister",),
    "source": ("register_fingerprint", "register_places"),
    "sqlite": ("SQLiteRegister",),
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

__all__ = [
    "PLACE_FIELDS",
    "SOURCE_NAME",
    "TEXT_FIELDS",
    "PlaceRegister",
    "PostGISRegister",
    "RegisterLocation",
    "SQLiteRegister",
    "default_register_path",
    "is_database_url",
    "register_fingerprint",
    "register_location",
    "register_places",
]


def __getattr__(name: str) -> Any:
    """Import a public name's submodule on first use and keep the name here."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name == "PlaceRegister":  # ``PlaceRegister(location)`` opens a store: both must be known
        importlib.import_module(f"{__name__}.sqlite")
        importlib.import_module(f"{__name__}.postgis")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
