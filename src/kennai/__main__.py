"""``python -m kennai`` runs the ``kennai`` command."""

from kennai.cli import main

main()
