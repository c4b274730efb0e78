"""The Prefect fan-outs: the engine's per-file jobs as Prefect task runs on threads, or as runs of the per-file
deployment (one Kubernetes Job pod per file). Both follow ``data_processor.fanout.FanOut``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.deployments import run_deployment
from prefect.futures import PrefectFlowRunFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from data_processor import FanOut, LocalProcesses, Settings
from data_processor.discover import Discovery
from data_processor.engine import parallel_writers
from data_processor.jobs import (
    ScanJob, ScanOutcome, forget_handoffs, handed_off, recorded_result, scan_job_to_json,
)
from data_processor.types import FilePlan, LoadPlan, LoadResult
from flows.tasks import FileLoadFailed, load_file_task


class PrefectThreads:
    """Each file's load a task run on one of ``threads`` threads of this flow run, its write holding a slot of the
    ``db_limit`` concurrency limit; scans on this machine's worker processes (``processes``)."""

    def __init__(self, threads: int, db_limit: str, processes: LocalProcesses) -> None:
        self.threads, self.db_limit, self.processes = threads, db_limit, processes

    def scan(self, jobs: list[ScanJob]) -> Iterator[ScanOutcome]:
        return self.processes.scan(jobs)

    def load(self, plan: LoadPlan, files: list[FilePlan], dest: str, run_id: str) -> Iterator[LoadResult]:
        with ThreadPoolTaskRunner(max_workers=self.threads) as runner:
            futures = {runner.submit(load_file_task, {"key": f.source.key, "plan": plan, "dest": dest,
                                                      "run_id": run_id, "db_limit": self.db_limit}): f
                       for f in files}
            for future in as_completed(list(futures)):
                file = futures[future]
                try:
                    yield future.result()
                except Exception as exc:  # noqa: BLE001 - FileLoadFailed, or a transient error retried out
                    error = reason(str(exc), file.source.key)
                    yield LoadResult(file.source.key, "failed", bytes=file.source.size, error=error)


class KubernetesPods:
    """One run of the per-file ``deployment`` per file and job (one Job pod each), for scans and for loads.

    The parent opens no data file: a pod scans its file and hands the statistics back through the database, and
    a load's outcome is read from the ledger (the database is the record, not the pods' Prefect results). Each wave
    waits for all its runs; a run that ended without leaving an outcome fails its file, named.
    """

    def __init__(self, deployment: str, table: str, dest: str, run_id: str, db_limit: str, pass_dest: bool) -> None:
        """``pass_dest``: give the child the URL as a parameter (stored with its run) instead of its DEST_SQL."""
        self.deployment, self.table, self.dest, self.run_id = deployment, table, dest, run_id
        self.db_limit, self.pass_dest = db_limit, pass_dest
        self.wave = 0

    def scan(self, jobs: list[ScanJob]) -> Iterator[ScanOutcome]:
        if not jobs:
            return
        dest, run_id = self.dest, self.run_id
        self.wave += 1
        runs = {self._start(f"scan {job.source.key}", {"scan": scan_job_to_json(job)}): job for job in jobs}
        get_run_logger().info("started %d scan runs of %s", len(runs), self.deployment)
        for future in as_completed(list(runs)):
            job, state = runs[future], future.state
            found = handed_off(dest, self.table, run_id, job.source.key)
            yield found if found is not None else LoadResult(
                job.source.key, "failed", bytes=job.source.size, error=reason(state.message, job.source.key))
        forget_handoffs(dest, self.table, run_id)

    def load(self, plan: LoadPlan, files: list[FilePlan], dest: str, run_id: str) -> Iterator[LoadResult]:
        logger = get_run_logger()
        self.wave += 1
        runs = {self._start(f.source.key, {"plan": plan.for_file(f).to_json()}): f for f in files}
        logger.info("started %d load runs of %s", len(runs), self.deployment)
        for future in as_completed(list(runs)):
            file, state = runs[future], future.state
            found = recorded_result(dest, plan, file, run_id)
            if state.is_completed() and found is not None and found.status == "loaded":
                yield found
                continue
            handed = handed_off(dest, self.table, run_id, file.source.key)
            if state.is_completed() and isinstance(handed, LoadResult) and handed.status == "misfit":
                yield handed
                continue
            failed_here = found is not None and found.status == "failed"
            error = found.error if failed_here else reason(state.message, file.source.key)
            logger.error("child run %s for %s ended %s: %s", future.flow_run_id, file.source.key, state.type.value,
                         error)
            yield LoadResult(file.source.key, "failed", bytes=file.source.size, error=error)
        forget_handoffs(dest, self.table, run_id)

    def _start(self, what: str, parameters: dict) -> PrefectFlowRunFuture:
        """Start one child run (returns at once); a rescheduled parent finds the runs it started, not new ones."""
        parent = FlowRunContext.get().flow_run
        parameters |= {"run_id": self.run_id, "db_limit": self.db_limit}
        if self.pass_dest:
            parameters["dest"] = self.dest
        child = run_deployment(
            self.deployment,
            parameters=parameters,
            timeout=0,
            flow_run_name=f"{self.table}: {what}",
            idempotency_key=f"{parent.id}:{parent.run_count}:{self.wave}:{what}",
            tags=["data-processor", f"table:{self.table}"],
        )
        return PrefectFlowRunFuture(flow_run_id=child.id)


@contextmanager
def fan_out_for(fanout: str, settings: Settings, found: Discovery, child_deployment: str, db_limit: str,
                pass_dest: bool) -> Iterator[FanOut]:
    """The fan-out the ``fanout`` parameter names, ready for the run (a local pool started, its imports under way)."""
    if fanout == "kubernetes":
        yield KubernetesPods(child_deployment, settings.table, settings.dest_url, settings.run_id, db_limit, pass_dest)
        return
    with LocalProcesses(settings.worker_count, found.files) as processes:
        yield PrefectThreads(parallel_writers(settings.dest_url, settings.worker_count), db_limit, processes)



def reason(message: str | None, key: str) -> str:
    """The engine's own sentence from a failed run's or task's message, without Prefect's wrapping, naming the file."""
    text = (message or "no reason given").split(f"{FileLoadFailed.__name__}: ", 1)[-1]
    return text if text.startswith(key) else f"{key}: {text}"
