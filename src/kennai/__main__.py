"""``python -m kennai`` runs the ``kennai`` command."""

from kennai.cli import main

# Guarded: the worker processes of a batch's Dask cluster are spawned and import this module
# again, and must not run the command a second time.
if __name__ == "__main__":
    main()
