"""A whole run without Prefect: discover → lock → scan (parallel) → plan → DDL → load (parallel) → summary.

The CLI and the Prefect flows both call these functions; they hold no Prefect or terminal code. Worker processes
are started with ``spawn`` (pyarrow's thread pools do not survive ``fork``) and open their own engine.
"""

from __future__ import annotations

import importlib.abc
import logging
import multiprocessing
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlalchemy as sa

from . import ddl, ledger, rejects
from .db import check_connection, database_errors, make_engine
from .discover import Discovery, Problem
from .errors import DatabaseDown, DataProcessorError, NoFilesMatched, TransientDatabaseError, WorkerDied
from .load import load_file, remove_file
from .plan import FileScan, build_plan, check_table_name, check_width, read_schema_file, scan_file
from .retry import outage, retry_delays
from .sources import discover_source, display
from .text import plural
from .types import FilePlan, LoadPlan, LoadResult

if TYPE_CHECKING:  # load workers import this module; pydantic would cost each ~0.3 s and ~9 MB (measured)
    from .settings import Settings

log = logging.getLogger(__name__)

PARALLEL_MIN_BYTES = 32 << 20
"""Below this much input, worker processes cost more to start (about a second each) than they save."""


@dataclass
class Prepared:
    """Everything decided before the first row is written."""

    plan: LoadPlan
    scans: list[FileScan]
    discovery: Discovery
    failures: list[LoadResult] = field(default_factory=list)
    """Files that could not even be scanned (unreadable, not CSV): they count as failed."""
    changes: list[str] = field(default_factory=list)
    existing: bool = False


@dataclass
class RunSummary:
    table: str
    results: list[LoadResult]
    problems: list[Problem]
    changes: list[str]
    seconds: float

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def rows_loaded(self) -> int:
        return sum(r.rows_loaded for r in self.results)

    @property
    def rows_rejected(self) -> int:
        return sum(r.rows_rejected for r in self.results)

    @property
    def bytes_loaded(self) -> int:
        return sum(r.bytes for r in self.results if r.status == "loaded")

    @property
    def failed(self) -> list[LoadResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or any(p.fatal for p in self.problems) else 0


Progress = Callable[[str, object], None]
"""``progress(event, payload)``: "discovered" with the Discovery (before the planning scan), "scanned" with a
FileScan (or the LoadResult of a file that could not be read), "planned" with the LoadPlan, "loaded" with a
LoadResult."""


def _quiet(_event: str, _payload: object) -> None:
    pass


@lru_cache(maxsize=4)
def _engine(url: str) -> tuple:
    return make_engine(url)


def prepare(options: Settings, progress: Progress = _quiet, apply_ddl: bool = False) -> Prepared:
    """Discover and scan every file and plan the schema; with ``apply_ddl`` also create or evolve the tables."""
    found = _discover(options)
    engine, _ = _engine(options.dest_url)
    with _workers(options.worker_count, found.files) as pool, database_errors(engine):
        return _prepare(options, found, pool, progress, apply_ddl)


def _discover(options: Settings) -> Discovery:
    found = discover_source(options.src, options.glob)
    if not found.files and not any(p.fatal for p in found.problems):
        raise NoFilesMatched(display(options.src), options.glob)
    return found


def _prepare(options: Settings, found: Discovery, pool: Executor | None, progress: Progress,
             apply_ddl: bool) -> Prepared:
    engine, writer = _engine(options.dest_url)
    check_table_name(options.table, writer.CAPABILITIES)
    check_connection(engine, writer)
    known = ledger.entries(engine, options.table)
    existing = ddl.existing_columns(engine, options.table)
    holds_rows = any(e.status == "loaded" and (e.rows_loaded is None or e.rows_loaded > 0) for e in known.values())
    if holds_rows and (existing is None or ddl.is_empty(engine, options.table)):
        # Someone dropped or emptied the table to reload it: what the ledger remembers is no longer there.
        found.problems.append(Problem(options.table, f"the table is {'missing' if existing is None else 'empty'} "
                                      f"but the ledger lists {plural(len(known), 'loaded file')}: loading them again", False))
        if apply_ddl:
            ledger.forget(engine, options.table)
            rejects.clear(engine, options.table)
        known = {}
    _gone(options, found, known, engine if apply_ddl else None)
    overrides = read_schema_file(options.schema_file) if options.schema_file else None
    scans, failures = [], []
    biggest_first = sorted(found.files, key=lambda f: -f.size)  # so no worker is left with a big file at the end
    jobs = [(f.key, (f, options.null_values, known.get(f.key))) for f in biggest_first]
    progress("discovered", found)
    for outcome in _map(scan_file, jobs, pool):
        if isinstance(outcome, LoadResult):
            failures.append(outcome)
        else:
            scans.append(outcome)
        progress("scanned", outcome)
    scans.sort(key=lambda s: s.plan.source.key)
    to_load = [s for s in scans if s.plan.state != "unchanged"]
    plan = build_plan(options.table, scans if to_load else [], existing, overrides, options.null_values,
                      options.max_bad_rows)
    check_width(plan, writer.CAPABILITIES)
    prepared = Prepared(plan, scans, found, failures, existing=existing is not None)
    progress("planned", plan)
    if apply_ddl and to_load:
        ledger.ensure_tables(engine)
        prepared.changes = ddl.apply(engine, plan, writer, existing, to_load[0].plan.source.key)
    return prepared


def _gone(options: Settings, found: Discovery, known: dict, engine: sa.Engine | None) -> None:
    """Files the ledger has loaded that no longer match: a note, or with ``prune`` (and ``engine``) their rows go.

    A quarterly dump drops a folder when local authorities merge; its rows would otherwise stay beside the same
    certificates in the merged authority's file. Deleting is opt-in: a narrower --glob looks the same.
    """
    present = {f.key for f in found.files} | {p.key for p in found.problems}  # unreadable is not gone
    gone = sorted(set(known) - present)
    if not gone:
        return
    if not options.prune:
        found.problems.append(Problem(options.table, f"{plural(len(gone), 'file')} loaded earlier "
                                      f"{'is' if len(gone) == 1 else 'are'} not matched now "
                                      f"(deleted, moved, or outside --glob), e.g. {gone[0]}: their rows stay in "
                                      "the table; --prune deletes them", False))
        return
    for key in gone:
        if engine is None:
            found.problems.append(Problem(key, "no longer matched: --prune would delete its rows", False))
            continue
        rows = remove_file(engine, options.table, known[key].id)
        found.problems.append(Problem(key, f"no longer matched: pruned, its {plural(rows, 'row')} deleted", False))


def load(options: Settings, progress: Progress = _quiet) -> RunSummary:
    """Load every new or changed file; unchanged files are skipped. Never raises for a bad file: it is reported."""
    started = time.monotonic()
    options = options if options.run_id else _with_run_id(options)
    found = _discover(options)
    parallel = parallel_writers(options.dest_url, options.worker_count)
    engine, _ = _engine(options.dest_url)
    with _workers(options.worker_count, found.files) as pool, locked(options), database_errors(engine):
        prepared = _prepare(options, found, pool, progress, apply_ddl=True)
        results = list(prepared.failures)
        for failure in prepared.failures:
            progress("loaded", failure)
        pending = []
        for scan in prepared.scans:
            if scan.plan.state == "unchanged":
                skipped = LoadResult(scan.plan.source.key, "skipped", bytes=scan.plan.source.size)
                results.append(skipped)
                progress("loaded", skipped)
            else:
                pending.append(scan.plan)
        pending.sort(key=lambda file: -file.source.size)
        jobs = [(file.source.key, (options.dest_url, prepared.plan, file, options.run_id)) for file in pending]
        load_pool = pool if parallel > 1 else None
        for outcome in _map(load_one, jobs, load_pool):
            results.append(outcome)
            progress("loaded", outcome)
    results.sort(key=lambda r: r.key)
    return RunSummary(options.table, results, prepared.discovery.problems, prepared.changes,
                      time.monotonic() - started)


@contextmanager
def locked(options: Settings) -> Iterator[None]:
    """Hold the table's run lock (one run per table at a time).

    A second run waits up to ``options.lock_timeout`` seconds, then fails with :class:`TableLocked`. The run is
    recorded as the table's holder, so its files notice if the lock dies with its connection and another run
    takes the table (:class:`TableLockLost`); releasing a lock whose connection died is not an error.
    """
    engine, writer = _engine(options.dest_url)
    check_table_name(options.table, writer.CAPABILITIES)
    check_connection(engine, writer)
    ledger.ensure_tables(engine)
    with database_errors(engine), writer.table_lock(engine, options.table, options.lock_timeout):
        ledger.take_over(engine, options.table, options.run_id)
        yield


def parallel_writers(dest: str, wanted: int) -> int:
    """How many files may load into ``dest`` at once: SQLite takes one writer at a time."""
    _, writer = _engine(dest)
    return max(1, min(wanted, writer.CAPABILITIES.parallel_writers or wanted))


def load_one(dest: str, plan: LoadPlan, file: FilePlan, run_id: str = "",
             pauses: tuple[float, ...] | None = None) -> LoadResult:
    """Load one planned file, retrying transient database errors after each of ``pauses`` (default: the retry
    policy, :func:`retry_delays`; each attempt is atomic, so a retry never duplicates rows). After the last,
    :class:`TransientDatabaseError` propagates; once the database has failed for longer than the whole policy,
    :class:`DatabaseDown` does, at the first failure, with no more waiting."""
    engine, writer = _engine(dest)
    pauses = retry_delays() if pauses is None else pauses
    for attempt, pause in enumerate((*pauses, None), start=1):
        try:
            result = load_file(engine, writer, plan, file, run_id)
        except TransientDatabaseError as exc:
            engine.dispose()  # the pool's connections may all be dead (a database restart)
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


def recorded_result(dest: str, plan: LoadPlan, file: FilePlan, run_id: str) -> LoadResult | None:
    """How the ledger says ``file`` ended: loaded with exactly the planned content, or failed in run ``run_id``;
    None if the ledger does not know (the load never reached the database)."""
    engine, _ = _engine(dest)
    row = ledger.recorded(engine, plan.table, file.source.key)
    if row is None:
        return None
    if row.status == "loaded" and row.sha256 == file.sha256:
        return LoadResult(file.source.key, "loaded", rows_read=row.rows_read or 0, rows_loaded=row.rows_loaded or 0,
                          rows_rejected=row.rows_rejected or 0, bytes=row.size or 0, seconds=row.seconds or 0.0)
    if row.status == "failed" and row.error and row.run_id == run_id:
        return LoadResult(file.source.key, "failed", bytes=file.source.size, error=row.error)
    return None


def _with_run_id(options: Settings) -> Settings:
    return options.model_copy(update={"run_id": uuid.uuid4().hex[:16]})


def _call(function: Callable, key: str, args: tuple):  # noqa: ANN202
    """Run ``function`` in a worker; an expected error comes back as a failed result instead of an exception."""
    try:
        return function(*args)
    except DataProcessorError as exc:
        error = str(exc)
        return LoadResult(key, "failed", error=error if error.startswith(key) else f"{key}: {error}")


def _map(function: Callable, jobs: list[tuple[str, tuple]], pool: Executor | None) -> Iterator:
    """``function(*job)`` for every job, in this process or over the pool's processes; yielded as they finish."""
    if pool is None or len(jobs) <= 1:
        for key, args in jobs:
            yield _call(function, key, args)
        return
    futures = {pool.submit(_call, function, key, args): key for key, args in jobs}
    for future in as_completed(futures):
        try:
            yield future.result()
        except BrokenProcessPool:
            raise WorkerDied(futures[future]) from None


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden in load workers)", name=name)


def slim_process() -> None:
    """Set up a process that loads files (the CLI and every worker) to use less memory; measured per worker:

    * Arrow's jemalloc pool instead of its default mimalloc: jemalloc gives freed memory back, mimalloc kept
      about 35 MB more at the same speed;
    * pandas hidden, as in the production image, which does not install it: pyarrow imports it (about 40 MB
      and 0.3 s) at its first conversion of a Python value, only to check for pandas types, and the engine
      never holds pandas objects.
    """
    if "jemalloc" in pa.supported_memory_backends():
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    if not any(isinstance(finder, _NoPandas) for finder in sys.meta_path):
        sys.meta_path.insert(0, _NoPandas())


@contextmanager
def _workers(count: int, files: list) -> Iterator[Executor | None]:
    """One process pool for the whole run, or None when one process is as fast (one worker, little data)."""
    if count <= 1 or len(files) <= 1 or sum(f.size for f in files) < PARALLEL_MIN_BYTES:
        yield None
        return
    size = min(count, len(files))
    pool = ProcessPoolExecutor(size, mp_context=multiprocessing.get_context("spawn"), initializer=slim_process)
    for _ in range(size):
        pool.submit(int)  # start every worker now: their imports (~0.6 s) overlap the lock, ledger and DDL work
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _stop_resource_tracker()


def _stop_resource_tracker() -> None:
    """End the helper process ``spawn`` starts beside the pool, and reap it, so that when the command returns no
    process of its group is left (a scheduler that watches the group, or ``timeout``, would wait on or kill it)."""
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)  # noqa: SLF001 - no public way to do this
    if stop is not None:
        stop()
