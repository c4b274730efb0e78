"""Where the per-file work runs: a fan-out scans and loads a list of files and yields each outcome as it ends.

The engine (``engine.py``) decides what to do; a fan-out only decides where. Here: :class:`InProcess` (one file
after another) and :class:`LocalProcesses` (a pool of worker processes). The Prefect shell adds its own (task
threads, one Kubernetes pod per file) in ``flows/fanout.py``; each honours the same two calls.
"""

from __future__ import annotations

import importlib.abc
import multiprocessing
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

import pyarrow as pa

from . import interrupts
from .errors import WorkerDied
from .jobs import ScanJob, ScanOutcome, load_reported, scan_one
from .target import Target
from .types import FilePlan, LoadPlan, LoadResult, SourceFile

PARALLEL_MIN_BYTES = 32 << 20
"""Below this much input, worker processes cost more to start (about a second each) than they save."""


PRELOAD = ["data_processor.jobs", "psycopg2", "pyarrow.csv", "pyarrow.compute"]
"""Imported once by the fork server, before it forks the workers."""


class FanOut(Protocol):
    """Runs per-file jobs somewhere; outcomes are yielded as they finish, in any order."""

    def scan(self, jobs: list[ScanJob], target: Target) -> Iterator[ScanOutcome]:
        """Scan each file for ``target``'s run: its statistics, or a failed result naming it."""
        ...

    def load(self, plan: LoadPlan, files: list[FilePlan], target: Target) -> Iterator[LoadResult]:
        """Load each of ``files`` (all in ``plan``) into ``target``; a file that fails is a failed result."""
        ...


class InProcess:
    """One file after another in this process: the least memory, no start-up cost."""

    def scan(self, jobs: list[ScanJob], target: Target) -> Iterator[ScanOutcome]:
        return (scan_one(job) for job in jobs)

    def load(self, plan: LoadPlan, files: list[FilePlan], target: Target) -> Iterator[LoadResult]:
        return (load_reported(target, plan, file) for file in files)


class LocalProcesses:
    """A pool of ``workers`` processes for the whole run, started when entered so their imports (~0.6 s) overlap
    the lock, ledger and DDL work; with one worker or little data, plain :class:`InProcess` work instead.

    Processes are forked from a ``forkserver`` that has imported the load path once (never ``fork`` from this
    process: pyarrow's thread pools do not survive it; the server starts none): each worker shares those pages and
    skips the imports, about 70 MB and 0.5 CPU-seconds less per worker than ``spawn``.
    """

    def __init__(self, workers: int, files: Sequence[SourceFile]) -> None:
        big_enough = sum(f.size for f in files) >= PARALLEL_MIN_BYTES
        self.size = min(workers, len(files)) if workers > 1 and len(files) > 1 and big_enough else 1
        self._pool: Executor | None = None

    def __enter__(self) -> LocalProcesses:
        if self.size > 1:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            self._pool = ProcessPoolExecutor(self.size, mp_context=context, initializer=slim_process)
            for _ in range(self.size):
                self._pool.submit(int)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            _stop_helpers()

    def scan(self, jobs: list[ScanJob], target: Target) -> Iterator[ScanOutcome]:
        return self._map(scan_one, [(job.source.key, (job,)) for job in jobs], parallel=True)

    def load(self, plan: LoadPlan, files: list[FilePlan], target: Target) -> Iterator[LoadResult]:
        parallel = (target.capabilities.parallel_writers or self.size) > 1  # SQLite: one writer at a time
        jobs = [(f.source.key, (target, plan, f)) for f in files]
        return self._map(load_reported, jobs, parallel)

    def _map(self, function, jobs: list[tuple[str, tuple]], parallel: bool) -> Iterator:  # noqa: ANN001
        if self._pool is None or not parallel or len(jobs) <= 1:
            for _key, args in jobs:
                interrupts.check()
                yield function(*args)
            return
        futures = {self._pool.submit(function, *args): key for key, args in jobs}
        for future in as_completed(futures):
            interrupts.check()  # a Ctrl-C that a weakref callback swallowed stops the run here
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


def _stop_helpers() -> None:
    """End the fork server and the resource tracker that run beside the pool, and reap them, so that when the
    command returns no process of its group is left (a scheduler that watches the group, or ``timeout``, would wait
    on or kill it)."""
    from multiprocessing import forkserver, resource_tracker

    for helper in (forkserver._forkserver, resource_tracker._resource_tracker):  # noqa: SLF001 - no public way
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            stop()
