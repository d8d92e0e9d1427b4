"""Many municipalities at once on a Dask cluster, results as GeoParquet and in PostGIS.

One concern per module: ``manifest`` (what to run), ``scan`` (outline, reach, places, input
digest), ``neighbours`` (places across the border), ``task`` (one municipality: build, access,
split checks), ``outputs`` (the folder layout and atomic writers), ``failures``, ``summary``,
``runner`` (the Dask scheduler, reruns, :class:`BatchResult`), ``postgis`` (loading the results)
and ``serving`` (reading them back for the API, from a folder or from PostGIS).
"""

from kennai.batch.failures import Failure
from kennai.batch.manifest import BatchItem, items_from_configs, read_manifest
from kennai.batch.runner import PARTIAL_EXIT, BatchResult, run_batch

__all__ = ["PARTIAL_EXIT", "BatchItem", "BatchResult", "Failure", "items_from_configs",
           "read_manifest", "run_batch"]
