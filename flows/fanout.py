"""The Prefect fan-outs: the engine's per-file jobs as Prefect task runs on threads, or as runs of the per-file
deployment (one Kubernetes Job pod per file). Both follow ``data_processor.fanout.FanOut``."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext
from prefect.deployments import run_deployment
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from data_processor import FanOut, LocalProcesses, Settings
from data_processor.discovery import Discovery
from data_processor.engine import parallel_writers
from data_processor.jobs import (
    ScanJob, ScanOutcome, forget_handoffs, handed_off, heard, recorded_result, scan_job_to_json,
)
from data_processor.target import Target
from data_processor.text import plural
from data_processor.types import Failure, FilePlan, LoadPlan, LoadResult
from flows.children import ChildLimits, Children
from flows.tasks import FileLoadFailed, load_file_task
from flows.writer_slots import writer_slots


class PrefectThreads:
    """Each file's load a task run on one of ``threads`` threads of this flow run; scans on this machine's worker
    processes (``processes``). The run holds one slot of the ``db_limit`` concurrency limit per thread for all its
    loads (``flows.writer_slots``), asked once, not once per file; with fewer slots free it writes with fewer
    threads."""

    def __init__(self, threads: int, db_limit: str, processes: LocalProcesses) -> None:
        self.threads, self.db_limit, self.processes = threads, db_limit, processes

    def scan(self, jobs: list[ScanJob], target: Target) -> Iterator[ScanOutcome]:
        return self.processes.scan(jobs, target)

    def load(self, plan: LoadPlan, files: list[FilePlan], target: Target) -> Iterator[LoadResult]:
        if not files:
            return
        logger, wanted = get_run_logger(), min(self.threads, len(files))
        with writer_slots(self.db_limit, wanted, logger, fewer_ok=True) as threads, \
                ThreadPoolTaskRunner(max_workers=threads) as runner:
            if threads < wanted:
                logger.info("loading with %s: the writers' limit %s has no more free", plural(threads, "thread"),
                            self.db_limit)
            futures = {runner.submit(load_file_task, {"key": f.source.key, "plan": plan, "target": target,
                                                      "db_limit": None}): f
                       for f in files}
            for future in as_completed(list(futures)):
                file = futures[future]
                try:
                    result = future.result()
                except FileLoadFailed as exc:
                    result = LoadResult(file.source.key, "failed", bytes=file.source.size, error=exc.failure)
                except Exception as exc:  # noqa: BLE001 - a transient error retried out, or Prefect's own
                    result = LoadResult(file.source.key, "failed", bytes=file.source.size,
                                        error=reason(str(exc), file.source.key))
                yield result


class KubernetesPods:
    """One run of the per-file ``deployment`` per file and job (one Job pod each), for scans and for loads.

    The parent opens no data file: a pod scans its file and hands the statistics back through the database, and
    a load's outcome is read from the ledger (the database is the record, not the pods' Prefect results). Each wave
    waits for all its runs, watched by ``flows.children``: a lost, stuck or crashed child is started again, a
    bounded number of times, and a file whose runs left no outcome fails, named, saying what happened.
    """

    def __init__(self, deployment: str, db_limit: str, pass_dest: bool, limits: ChildLimits) -> None:
        """``pass_dest``: give the child the URL as a parameter (stored with its run) instead of its DEST_SQL."""
        self.deployment, self.db_limit, self.pass_dest, self.limits = deployment, db_limit, pass_dest, limits
        self.wave = 0

    def scan(self, jobs: list[ScanJob], target: Target) -> Iterator[ScanOutcome]:
        if not jobs:
            return
        self.wave += 1
        by_key = {job.source.key: job for job in jobs}

        def settle(key: str, run: FlowRun) -> ScanOutcome | None:
            return handed_off(target, key)

        def fail(key: str, error: str) -> LoadResult:
            return LoadResult(key, "failed", bytes=by_key[key].source.size, error=reason(error, key))

        get_run_logger().info("starting %s of %s", plural(len(jobs), "scan run"), self.deployment)
        yield from self._children(target, settle, fail).watch(
            {key: {"scan": scan_job_to_json(job)} for key, job in by_key.items()})
        forget_handoffs(target)

    def load(self, plan: LoadPlan, files: list[FilePlan], target: Target) -> Iterator[LoadResult]:
        logger = get_run_logger()
        self.wave += 1
        by_key = {f.source.key: f for f in files}

        def settle(key: str, run: FlowRun) -> LoadResult | None:
            found = recorded_result(target, by_key[key])
            if found is not None:  # loaded (whatever the run's state says), or failed on its own
                return found
            handed = handed_off(target, key)
            return handed if isinstance(handed, LoadResult) and handed.status == "misfit" else None

        def fail(key: str, error: str) -> LoadResult:
            failure = reason(error, key)
            logger.error("%s: not loaded: %s", key, failure.reason)
            return LoadResult(key, "failed", bytes=by_key[key].source.size, error=failure)

        logger.info("starting %s of %s", plural(len(files), "load run"), self.deployment)
        yield from self._children(target, settle, fail).watch(
            {key: {"plan": plan.for_file(f).to_json()} for key, f in by_key.items()})
        forget_handoffs(target)

    def _children(self, target: Target, settle, fail) -> Children:  # noqa: ANN001 - see Children
        start = functools.partial(self._start, target)
        return Children(self.limits, self.deployment, start, lambda: heard(target), settle, fail)

    def _start(self, target: Target, what: str, parameters: dict, attempt: int) -> uuid.UUID:
        """Start one child run (returns at once). The key is the parent's run, the wave, the job and the attempt, not
        the parent's own attempt: a parent rescheduled (its pod lost) finds the children it started and watches them
        by the same rules (``flows.children``), instead of starting a second run per file."""
        parent = FlowRunContext.get().flow_run
        parameters = parameters | {"run_id": target.run_id, "db_limit": self.db_limit,
                                   "heartbeat_seconds": self.limits.heartbeat}
        if self.pass_dest:
            parameters["dest"] = target.dest
        kind = "scan " if "scan" in parameters else ""
        again = f" (run {attempt})" if attempt > 1 else ""
        child = run_deployment(
            self.deployment,
            parameters=parameters,
            timeout=0,
            flow_run_name=f"{target.table}: {kind}{what}{again}",
            idempotency_key=f"{parent.id}:{self.wave}:{kind}{what}:{attempt}",
            tags=["data-processor", f"table:{target.table}"],
        )
        return child.id


@contextmanager
def fan_out_for(fanout: str, settings: Settings, found: Discovery, child_deployment: str, db_limit: str,
                pass_dest: bool, limits: ChildLimits) -> Iterator[FanOut]:
    """The fan-out the ``fanout`` parameter names, ready for the run (a local pool started, its imports under way)."""
    if fanout == "kubernetes":
        yield KubernetesPods(child_deployment, db_limit, pass_dest, limits)
        return
    with LocalProcesses(settings.worker_count, found.files) as processes:
        yield PrefectThreads(parallel_writers(settings.dest_url, settings.worker_count), db_limit, processes)


def reason(message: str | None, key: str) -> Failure:
    """The file's failure from a failed run's or task's message: the engine's own sentence without Prefect's
    wrapping, taken apart (file, line, reason)."""
    text = (message or "no reason given").split(f"{FileLoadFailed.__name__}: ", 1)[-1]
    return Failure.parse(key, text)
