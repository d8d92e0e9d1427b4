"""Run a batch on a Dask cluster: scan every region, hand out border places, build, summarise.

:func:`run_batch` starts a :class:`distributed.LocalCluster` (``workers`` processes of one
thread each: memory and CPU go per municipality) or connects to a running scheduler, and
submits one scan task, then one build task, per municipality. A municipality whose inputs
(by sha256), config, neighbour places and kennai version are those of its last successful run
is skipped; a failed one is always tried again. The :class:`BatchResult` says what ran, what
was skipped and what failed, and its ``exit_code`` is :data:`PARTIAL_EXIT` when any failed.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kennai.batch.failures import Failure, failure_from, write_failures
from kennai.batch.manifest import BatchItem
from kennai.batch.neighbours import neighbour_places, write_neighbour_places
from kennai.batch.outputs import (
    NEIGHBOURS_DIR,
    REGIONS_DIR,
    RESULT_KINDS,
    partition_file,
    read_task_record,
)
from kennai.batch.scan import Scan, scan_region
from kennai.batch.summary import write_summaries
from kennai.batch.task import TaskResult, TaskSpec, run_task
from kennai.errors import ConfigError
from kennai.i18n import get_lang, t

#: The exit code of a batch in which some municipalities failed (the others are written).
PARTIAL_EXIT = 3
#: ``(done, failed, total)`` after each finished task.
BatchProgress = Callable[[int, int, int], None]


@dataclass
class BatchResult:
    """What a batch did: the codes it ran and skipped, its failures and each task's costs."""

    out_dir: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    tasks: list[TaskResult] = field(default_factory=list)
    dashboard: str | None = None
    wall_seconds: float = 0.0
    #: From the start to the scans' end (cluster start included), and of the build tasks alone.
    scan_seconds: float = 0.0
    build_seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when every municipality is done, :data:`PARTIAL_EXIT` when some failed."""
        return PARTIAL_EXIT if self.failures else 0


def safe_scan(item: BatchItem, regions_root: Path, lang: str) -> Scan | Failure:
    """:func:`kennai.batch.scan.scan_region` as a task that returns its failure."""
    from kennai.i18n import set_lang

    set_lang(lang)
    try:
        return scan_region(item, regions_root)
    except Exception as exc:
        return failure_from(item, "scan", exc)


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A client of the cluster at ``scheduler``, or of a new LocalCluster of ``workers``."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    if workers < 1:
        raise ConfigError(t("--workers は 1 以上です", "--workers must be 1 or more"),
                          feature="--workers", hint=t("例: --workers 2", "e.g. --workers 2"))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL) as cluster, \
            Client(cluster) as client:
        yield client


def _outcome(future: Any, item: BatchItem, stage: str) -> Any:
    """A future's result, or the failure of ``item`` when its worker died under it (out of
    memory, killed): the scheduler's error, in one line, and the batch goes on."""
    try:
        return future.result()
    except Exception as exc:  # e.g. distributed.KilledWorker
        return failure_from(item, stage, exc)


def _task_digest(scan: Scan, neighbours_sha: str) -> str:
    return hashlib.sha256(f"{scan.digest}:{neighbours_sha}".encode()).hexdigest()


def _done_before(out_dir: Path, item: BatchItem, digest: str) -> bool:
    record = read_task_record(out_dir, item.code)
    return (record is not None and record.get("status") == "ok" and record.get("digest") == digest
            and all(partition_file(out_dir, kind, item).is_file() for kind in RESULT_KINDS))


def _specs(scans: list[Scan], out_dir: Path, lang: str, force: bool
           ) -> tuple[list[TaskSpec], list[str]]:
    """The tasks to run, largest inputs first, and the codes to skip (unchanged since their last
    success)."""
    near = neighbour_places(scans)
    specs, skipped = [], []
    for scan in sorted(scans, key=lambda s: -s.input_bytes):
        places = near.get(scan.item.code)
        path, sha = None, ""
        if places is not None:
            path = out_dir / NEIGHBOURS_DIR / f"{scan.item.code}.geojson"
            sha = write_neighbour_places(places, path)
        else:
            (out_dir / NEIGHBOURS_DIR / f"{scan.item.code}.geojson").unlink(missing_ok=True)
        digest = _task_digest(scan, sha)
        if not force and _done_before(out_dir, scan.item, digest):
            skipped.append(scan.item.code)
            continue
        specs.append(TaskSpec(scan.item, out_dir, digest, path,
                              0 if places is None else len(places), lang))
    return specs, skipped


def _unique_names(scans: list[Scan]) -> tuple[list[Scan], list[Failure]]:
    """Scans whose region name is the first of its kind; later ones fail (one build folder)."""
    seen: dict[str, str] = {}
    kept, failed = [], []
    for scan in scans:
        if scan.name in seen:
            exc = ConfigError(t(f"地域名 {scan.name} が {seen[scan.name]} と同じです",
                                f"region name {scan.name} is also that of {seen[scan.name]}"),
                              path=scan.item.config, feature="name",
                              hint=t("name を変えてください", "give it another name"))
            failed.append(failure_from(scan.item, "scan", exc))
            continue
        seen[scan.name] = scan.item.code
        kept.append(scan)
    return kept, failed


def run_batch(items: list[BatchItem], out_dir: Path, *, workers: int = 2,
              scheduler: str | None = None, force: bool = False,
              on_progress: BatchProgress | None = None,
              on_dashboard: Callable[[str], None] | None = None) -> BatchResult:
    """Run every municipality of ``items`` as one Dask task each and write ``out_dir``.

    Parameters
    ----------
    items
        The municipalities (:mod:`kennai.batch.manifest`).
    out_dir
        The batch output folder (created; an earlier output there is updated).
    workers
        Worker processes of the LocalCluster started when no ``scheduler`` is given.
    scheduler
        The address of a running Dask scheduler (``tcp://host:8786``).
    force
        Run every municipality, even those whose inputs are unchanged.
    on_progress, on_dashboard
        Told ``(done, failed, total)`` after each task, and the dashboard address once.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = BatchResult(out_dir)
    lang = get_lang()
    run_id = uuid.uuid4().hex[:8]  # task keys of two batches on one scheduler never meet
    with dask_client(workers, scheduler) as client:
        result.dashboard = str(client.dashboard_link) if client.dashboard_link else None
        if on_dashboard is not None and result.dashboard:
            on_dashboard(result.dashboard)
        scan_futures = [client.submit(safe_scan, item, out_dir / REGIONS_DIR, lang,
                                      key=f"scan-{item.code}-{run_id}", pure=False) for item in items]
        scanned = [_outcome(future, item, "scan") for future, item in zip(scan_futures, items,
                                                                           strict=True)]
        result.failures += [s for s in scanned if isinstance(s, Failure)]
        scans, clashes = _unique_names([s for s in scanned if isinstance(s, Scan)])
        result.failures += clashes
        result.scan_seconds = time.perf_counter() - started
        specs, result.skipped = _specs(scans, out_dir, lang, force)
        before = failed = len(result.failures)  # scan failures are finished tasks too
        total = len(specs) + before
        if on_progress is not None:
            on_progress(before, failed, total)
        from distributed import as_completed

        builds_started = time.perf_counter()
        futures = {client.submit(run_task, spec, key=f"build-{spec.item.code}-{run_id}",
                                 pure=False): spec
                   for spec in specs}
        for done, future in enumerate(as_completed(list(futures)), start=1):
            outcome = _outcome(future, futures[future].item, "build")
            task = outcome if isinstance(outcome, TaskResult) else \
                TaskResult(futures[future].item, 0.0, 0.0, "", failure=outcome)
            result.tasks.append(task)
            result.ran.append(task.item.code)
            if task.failure is not None:
                result.failures.append(task.failure)
                failed += 1
            if on_progress is not None:
                on_progress(before + done, failed, total)
        result.build_seconds = time.perf_counter() - builds_started
    failed_codes = {f.municipality for f in result.failures}
    records = [r for item in items if item.code not in failed_codes
               and (r := read_task_record(out_dir, item.code)) is not None]
    write_summaries(out_dir, records)
    write_failures(out_dir, sorted(result.failures, key=lambda f: f.municipality))
    result.wall_seconds = time.perf_counter() - started
    return result
