"""`kennai` commands for access (registered on the app from kennai.cli)."""

from kennai.cli import app  # noqa: F401
