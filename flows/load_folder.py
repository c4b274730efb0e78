"""``load-csv-folder``: the parent flow. Plan once, then one load per new or changed file, then one summary.

Under the table's run lock it discovers and scans every file, plans the schema and applies the DDL (once, before
any load), then fans out:

* ``fanout="local"`` maps the load task over the files on N worker threads (a laptop, CI, ``make run``);
* ``fanout="kubernetes"`` starts one run of the per-file child deployment per file (one Job pod each), waits for
  all of them and fails, naming the files, if any child did not complete (Prefect does not propagate that).

Either way each file's write takes a slot of the ``db_concurrency_limit`` global concurrency limit, so the
database never sees more than ``max_db_writers`` loads at once.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Literal
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.futures import PrefectFlowRunFuture, as_completed
from prefect.runtime import flow_run as current_run
from prefect.settings import PREFECT_API_URL
from prefect.task_runners import ThreadPoolTaskRunner

from data_processor.db import masked
from data_processor.output import summary_fields, summary_line
from data_processor.errors import ConfigError
from data_processor.run import Prepared, RunSummary, locked, parallel_writers, prepare, recorded_result
from data_processor.settings import Settings
from data_processor.text import plural, printable
from data_processor.types import FilePlan, LoadResult
from data_processor.sources import display
from flows.report import ProgressArtifact, ScanLog, failure_message, publish
from flows.tasks import FileLoadFailed, load_file_task

DB_LIMIT = "data-processor-db"
"""The global concurrency limit every file's write takes a slot of (shared by all tables on one database)."""


class FilesFailed(Exception):
    """Some files did not load; the message names each one and why, ``payload`` is the run's summary."""

    def __init__(self, message: str, payload: dict) -> None:
        super().__init__(message, payload)
        self.message, self.payload = message, payload

    def __str__(self) -> str:
        return self.message


def run_name() -> str:
    """``certificates 2026-Q4 (2026-11-24 09:30)``: which table, which quarter, when (London time)."""
    table = current_run.parameters.get("table") or "?"
    now = dt.datetime.now(ZoneInfo("Europe/London"))
    return f"{table} {now.year}-Q{(now.month - 1) // 3 + 1} ({now:%Y-%m-%d %H:%M})"


@task(name="plan", cache_policy=NO_CACHE, persist_result=False)
def plan_task(options: Settings) -> Prepared:
    """Discover, fingerprint and scan every file; plan one schema; create or evolve the table."""
    logger = get_run_logger()
    prepared = prepare(options, ScanLog(logger), apply_ddl=True)
    for change in prepared.changes:
        logger.info("schema: %s", change, extra={"event.action": "schema.change"})
    for problem in prepared.discovery.problems:
        (logger.error if problem.fatal else logger.warning)("%s: %s", printable(problem.key), problem.reason)
    states = [s.plan.state for s in prepared.scans]
    logger.info("%s: %d new, %d changed, %d unchanged; %d unreadable", plural(len(states), "file"),
                states.count("new"), states.count("changed"), states.count("unchanged"), len(prepared.failures))
    return prepared


def check_deployment(name: str) -> None:
    """Fail before planning (which may scan gigabytes) when the per-file deployment does not exist."""
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(name)
        except ObjectNotFound:
            raise ConfigError(f"no deployment {name!r} on this Prefect server: run `prefect deploy --all` "
                              "(or pass child_deployment)") from None


def ensure_db_limit(name: str, slots: int | None, default: int) -> None:
    """Create the writers' concurrency limit if it is missing; set its size when ``slots`` is given."""
    if not name:
        return
    with get_client(sync_client=True) as client:
        if slots:
            client.upsert_global_concurrency_limit_by_name(name, slots)
            return
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:  # the first run against this Prefect server
            client.upsert_global_concurrency_limit_by_name(name, default)


@flow(name="load-csv-folder", flow_run_name=run_name, log_prints=True)
def load_csv_folder(
    table: str,
    src: str = ".",
    glob: str = "**/*.csv",
    dest: str | None = None,
    workers: int = 0,
    schema_file: str | None = None,
    max_bad_rows: int = 1000,
    null_values: list[str] | None = None,
    fanout: Literal["local", "kubernetes"] = "local",
    child_deployment: str = "load-csv-file/k8s",
    db_concurrency_limit: str = DB_LIMIT,
    max_db_writers: int | None = None,
    lock_timeout: float = 600.0,
    prune: bool = False,
) -> dict:
    """Load every new or changed CSV file under ``src`` matching ``glob`` into ``table``, exactly once.

    Args:
        table: Target table, created or widened as the files need.
        src: Where the files are: a folder (in Kubernetes, the data volume's mount path), ``s3://bucket/prefix``,
            ``https://…``, or a zip archive (local or remote) read as if it were the folder. Credentials come from
            the environment (``AWS_*``, a profile, pod identity), never from this parameter.
        glob: Which files, relative to ``src`` (the prefix, or inside the zip); ``**`` spans folders.
        dest: SQLAlchemy URL. Leave empty to read ``DEST_SQL`` from the environment (a Kubernetes Secret), so
            no password is stored with the run's parameters.
        workers: Files loaded at once in ``local`` mode; 0 = one per CPU this run may use (SQLite: always one).
        schema_file: YAML/JSON file of column types overriding inference.
        max_bad_rows: A file with more bad rows fails whole.
        null_values: Values that mean NULL besides the empty field, e.g. ``["NO DATA!"]``.
        fanout: ``local`` (threads in this run) or ``kubernetes`` (one child flow run, one pod, per file).
        child_deployment: The per-file deployment ``kubernetes`` mode starts.
        db_concurrency_limit: Global concurrency limit capping writers on the database.
        max_db_writers: Size of that limit; empty keeps the limit as it is (created with ``workers`` if missing).
        lock_timeout: Seconds to wait for another run on the same table.
        prune: Delete the rows of files loaded earlier that no longer match (else they stay, with a note).
    """
    logger = get_run_logger()
    started = dt.datetime.now(dt.timezone.utc)
    run_id = str(FlowRunContext.get().flow_run.id)
    options = Settings(src=src, glob=glob, dest=dest, table=table, workers=workers, schema_file=schema_file,
                       max_bad_rows=max_bad_rows, null_values=tuple(null_values or ()),
                       lock_timeout=lock_timeout, run_id=run_id, prune=prune)
    dest_url = options.dest_url
    logger.info("loading %s from %s/%s into %s (%s fan-out)", table, display(src), glob, masked(dest_url), fanout)
    if dest and masked(dest) != dest:
        logger.warning("the dest parameter holds a password, and Prefect stores parameters with the run: "
                       "give the URL as DEST_SQL in the environment (a Kubernetes Secret) instead")
    if fanout == "kubernetes":
        check_deployment(child_deployment)
    if fanout == "local" and not PREFECT_API_URL.value():
        # Prefect's temporary API lives and dies with this process, so no other run can share a limit on it, and on
        # its SQLite database each slot takes ~2 s to acquire: this run's threads are the cap instead.
        db_concurrency_limit = ""
        options = options.model_copy(
            update={"workers": min(options.worker_count, max_db_writers or options.worker_count)})
        writers = parallel_writers(dest_url, options.worker_count)
        logger.info("temporary Prefect API: %s (this run's threads)", "at most one file writes at a time"
                    if writers == 1 else f"at most {writers} files write at once")
    ensure_db_limit(db_concurrency_limit, max_db_writers, default=options.worker_count)
    with locked(options):
        prepared = plan_task(options)
        results = list(prepared.failures)
        pending = [s.plan for s in prepared.scans if s.plan.state != "unchanged"]
        results += [LoadResult(s.plan.source.key, "skipped", bytes=s.plan.source.size)
                    for s in prepared.scans if s.plan.state == "unchanged"]
        progress = ProgressArtifact(table, len(pending))
        if fanout == "kubernetes":
            results += fan_out_to_deployments(prepared, pending, options, child_deployment, db_concurrency_limit,
                                              dest_given=bool(dest), progress=progress)
        else:
            results += fan_out_locally(prepared, pending, options, db_concurrency_limit, progress)
    results.sort(key=lambda r: r.key)
    seconds = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()
    summary = RunSummary(table, results, prepared.discovery.problems, prepared.changes, seconds)
    payload = publish(summary)
    logger.info(summary_line(summary), extra={"event.action": "load.summary", **summary_fields(summary)})
    if summary.exit_code:
        raise FilesFailed(failure_message(summary), payload)
    return payload


def fan_out_locally(prepared: Prepared, pending: list[FilePlan], options: Settings, db_limit: str,
                    progress: ProgressArtifact) -> list[LoadResult]:
    """One load task per file on a pool of worker threads; a failed file is reported, never raised past here."""
    results = []
    with ThreadPoolTaskRunner(max_workers=parallel_writers(options.dest_url, options.worker_count)) as runner:
        futures = {
            runner.submit(load_file_task, {"key": f.source.key, "plan": prepared.plan, "dest": options.dest_url,
                                           "run_id": options.run_id, "db_limit": db_limit}): f
            for f in pending
        }
        for future in as_completed(list(futures)):
            file = futures[future]
            try:
                results.append(future.result())
            except Exception as exc:  # noqa: BLE001 - FileLoadFailed, or a transient error retried out
                error = _reason(str(exc), file)
                results.append(LoadResult(file.source.key, "failed", bytes=file.source.size, error=error))
            progress.advance()
    return results


def fan_out_to_deployments(prepared: Prepared, pending: list[FilePlan], options: Settings, deployment: str,
                           db_limit: str, dest_given: bool, progress: ProgressArtifact) -> list[LoadResult]:
    """One run of the per-file deployment per file (one Kubernetes Job each); wait for all; read their outcome
    from the ledger (the database is the record, not the pods' local results)."""
    logger = get_run_logger()
    parent = FlowRunContext.get().flow_run
    futures = {}
    for file in pending:
        parameters = {"plan": prepared.plan.for_file(file).to_json(), "run_id": options.run_id, "db_limit": db_limit}
        if dest_given:
            parameters["dest"] = options.dest_url
        child = run_deployment(
            deployment,
            parameters=parameters,
            timeout=0,
            flow_run_name=f"{options.table}: {file.source.key}",
            idempotency_key=f"{parent.id}:{file.source.key}:{parent.run_count}",
            tags=["data-processor", f"table:{options.table}"],
        )
        futures[PrefectFlowRunFuture(flow_run_id=child.id)] = file
    logger.info("started %d child runs of %s", len(futures), deployment)
    results = []
    for future in as_completed(list(futures)):
        file, state = futures[future], future.state
        found = recorded_result(options.dest_url, prepared.plan, file, options.run_id)
        if state.is_completed() and found is not None and found.status == "loaded":
            results.append(found)
        else:
            error = found.error if found is not None and found.status == "failed" else _reason(state.message, file)
            results.append(LoadResult(file.source.key, "failed", bytes=file.source.size, error=error))
            logger.error("child run %s for %s ended %s: %s", future.flow_run_id, file.source.key, state.type.value,
                         error)
        progress.advance()
    return results


def _reason(message: str | None, file: FilePlan) -> str:
    """The engine's own sentence from a failed state's message, without Prefect's wrapping."""
    text = (message or "no reason given").split(f"{FileLoadFailed.__name__}: ", 1)[-1]
    return text if text.startswith(file.source.key) else f"{file.source.key}: {text}"


if __name__ == "__main__":
    load_csv_folder(table=os.environ.get("DEST_TABLE", "certificates"), src=os.environ.get("SRC_DATA_FOLDER", "."),
                    glob=os.environ.get("SRC_FILE_NAME", "**/*.csv"))
