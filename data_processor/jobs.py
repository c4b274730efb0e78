"""One file's work, the same wherever it runs: in this process, a worker process, a Prefect task or a pod.

``scan_one`` learns what a file holds (for the plan); ``load_one`` loads one planned file, retrying transient
database errors. Both report an expected failure of the file as a failed :class:`LoadResult`, never by raising,
so a fan-out can carry it back as data. A pod's outcome travels through the database, not through Prefect: the ledger
(``recorded_result``) for a load, ``hand_off``/``handed_off`` for a scan or a load to do again wider; while it
works, its ``heartbeat`` tells the run that started it that it is alive (``heard``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from . import ledger, records
from .errors import DatabaseDown, DataProcessorError, TransientDatabaseError, failure
from .ledger import Entry
from .loader import load_file
from .planning import FileScan, scan_file
from .retry import outage, retry_delays
from .target import Target
from .types import Failure, FilePlan, LoadPlan, LoadResult, SourceFile

log = logging.getLogger(__name__)

ScanOutcome = FileScan | LoadResult
"""What scanning a file gives: its statistics, or the failed result of a file that cannot be read."""


@dataclass(frozen=True)
class ScanJob:
    """What a scan of one file needs: plain data, so it can travel to another process or a pod as JSON."""

    table: str
    source: SourceFile
    null_values: tuple[str, ...] = ()
    entry: Entry | None = None
    """The ledger's row for the file, if it has one (an unchanged file then needs no full scan)."""
    table_columns: tuple[str, ...] | None = None
    """The existing table's columns: a file whose columns are all among them is verified while it loads instead
    of scanned in full (one pass over its bytes)."""
    max_columns: int | None = None
    """The database's limit: a wider file is not worth its statistics (the plan fails on its width)."""
    null_padding: bool = False
    """Rows with fewer fields than the header are rows, padded with nulls (their values count)."""


def scan_one(job: ScanJob) -> ScanOutcome:
    """Scan ``job.source``; a file that cannot be read comes back as a failed result naming it."""
    return as_result(job.source.key, scan_file, job.source, job.null_values, job.entry, job.table_columns,
                     job.max_columns, job.null_padding)


def load_reported(target: Target, plan: LoadPlan, file: FilePlan) -> LoadResult:
    """:func:`load_one`, with a database that stayed unreachable through every retry reported as the file's
    failure (the other files still get their turn)."""
    return as_result(file.source.key, load_one, target, plan, file)


def load_one(target: Target, plan: LoadPlan, file: FilePlan, pauses: tuple[float, ...] | None = None) -> LoadResult:
    """Load one planned file, retrying transient database errors after each of ``pauses`` (default: the retry
    policy, :func:`retry_delays`; each attempt is atomic, so a retry never duplicates rows). After the last,
    :class:`TransientDatabaseError` propagates; once the database has failed for longer than the whole policy,
    :class:`DatabaseDown` does, at the first failure, with no more waiting."""
    pauses = retry_delays() if pauses is None else pauses
    for attempt, pause in enumerate((*pauses, None), start=1):
        try:
            result = load_file(target, plan, file)
        except TransientDatabaseError as exc:
            target.engine.dispose()  # the pool's connections may all be dead (a database restart)
            outage.failed()
            if pause is None or outage.is_down():
                log.warning("%s: %s (after %d attempts)", file.source.key, exc, attempt,
                            extra={"file": file.source.key, "status": "failed", "error": str(exc)})
                if outage.is_down():
                    raise DatabaseDown(exc.reason, exc.database) from None
                raise
            time.sleep(pause)
        else:
            outage.succeeded()
            return result
    raise AssertionError("unreachable")


def as_result(key: str, function, *args):  # noqa: ANN001, ANN201 - returns what function returns
    """``function(*args)``; an expected error comes back as a failed result naming the file, not an exception."""
    try:
        return function(*args)
    except DataProcessorError as exc:
        return LoadResult(key, "failed", error=failure(key, exc))


def recorded_result(target: Target, file: FilePlan) -> LoadResult | None:
    """How the ledger says ``file`` ended: loaded with exactly the planned content, or failed in the target's run;
    None if the ledger does not know (the load never reached the database)."""
    row = ledger.recorded(target, file.source.key)
    if row is None:
        return None
    if row.status == "loaded" and row.sha256 == file.sha256:
        return LoadResult(file.source.key, "loaded", rows_read=row.rows_read or 0, rows_loaded=row.rows_loaded or 0,
                          rows_rejected=row.rows_rejected or 0, bytes=row.size or 0, seconds=row.seconds or 0.0,
                          applied=row.applied or "", rows_inserted=row.rows_inserted or 0,
                          rows_deleted=row.rows_deleted or 0, rows_unchanged=row.rows_unchanged or 0)
    if row.status == "failed" and row.error and row.run_id == target.run_id:
        return LoadResult(file.source.key, "failed", bytes=file.source.size,
                          error=Failure.parse(file.source.key, row.error))
    return None


def scan_job_to_json(job: ScanJob) -> dict:
    return records.to_data(job)


def scan_job_from_json(data: dict) -> ScanJob:
    return records.from_data(ScanJob, data)


def hand_off(target: Target, outcome: ScanOutcome) -> None:
    """Record a job's outcome (a scan, or a failed or misfit load) for the run that started it elsewhere."""
    kind = "scan" if isinstance(outcome, FileScan) else "result"
    text = records.to_text(outcome)
    key = outcome.plan.source.key if isinstance(outcome, FileScan) else outcome.key
    ledger.hand_off(target, key, kind, text)


def handed_off(target: Target, key: str) -> ScanOutcome | None:
    """What the job for ``key`` handed back to the target's run, or None if nothing (it crashed first)."""
    found = ledger.handed_off(target, key)
    if found is None:
        return None
    kind, text = found
    return records.from_text(FileScan if kind == "scan" else LoadResult, text)


def forget_handoffs(target: Target) -> None:
    """The run has read what its jobs handed back."""
    ledger.forget_handoffs(target)


@contextmanager
def heartbeat(target: Target, job: str, every: float) -> Iterator[None]:
    """While the block runs, count a heartbeat of ``job`` every ``every`` seconds (0: none) in the database, where
    the run that started the job elsewhere looks for it: beats that stop mean the job's pod or process is gone.

    A beat that fails (the database briefly away) is logged and the next one tried: the job's own work decides
    whether it fails, not its heartbeat.
    """
    if every <= 0:
        yield
        return
    stop = threading.Event()

    def beating() -> None:
        while True:
            try:
                ledger.beat(target, job)
            except DataProcessorError as exc:
                log.warning("heartbeat of %s not recorded: %s", job, exc)
            if stop.wait(every):
                return

    thread = threading.Thread(target=beating, name=f"heartbeat {job}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)


def heard(target: Target) -> dict[str, int]:
    """How many heartbeats each job started by the target's run has sent so far (by the job's name)."""
    return ledger.heard(target)
