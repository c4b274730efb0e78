"""``load-csv-folder``: the parent flow — the engine's plan → apply → load, watched in the Prefect UI.

Under the table's run lock it plans (the new and changed files are scanned where they are), applies the DDL once,
then loads, through one of two fan-outs (``flows/fanout.py``):

* ``fanout="local"``: scans on worker processes, one load task per file on N threads (a laptop, CI, ``make run``);
* ``fanout="kubernetes"``: one run of the per-file child deployment per file (one Job pod each) for the scans,
  then again for the loads; this run opens no data file. It fails, naming the files, if any child did not load.

Either way each file's write takes a slot of the ``db_concurrency_limit`` global concurrency limit, so the
database never sees more than ``max_db_writers`` loads at once.
"""

import datetime as dt
import os
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.runtime import flow_run as current_run
from prefect.settings import PREFECT_API_URL

from data_processor import FanOut, Plan, Settings, apply, discover, load, locked, plan
from data_processor.db import masked
from data_processor.discovery import Discovery
from data_processor.output import summary_fields, summary_line
from data_processor.sources import display
from data_processor.text import plural, printable
from flows.children import ChildLimits
from flows.fanout import fan_out_for
from flows.options import FLOW, Fanout
from flows.report import FilesFailed, LoadProgress, ScanLog, failure_message, publish
from flows.setup import check_deployment, ensure_db_limit, threads_as_the_cap


def run_name() -> str:
    """``certificates 2026-Q4 (2026-11-24 09:30)``: which table, which quarter, when (London time)."""
    table = current_run.parameters.get("table") or "?"
    now = dt.datetime.now(ZoneInfo("Europe/London"))
    return f"{table} {now.year}-Q{(now.month - 1) // 3 + 1} ({now:%Y-%m-%d %H:%M})"


@task(name="plan", cache_policy=NO_CACHE, persist_result=False)
def plan_task(settings: Settings, fan_out: FanOut, found: Discovery) -> Plan:
    """Scan the new and changed files where they are; plan one schema. Reads no data file in this process."""
    logger = get_run_logger()
    the_plan = plan(settings, fan_out, ScanLog(logger), found)
    for problem in the_plan.problems:
        (logger.error if problem.fatal else logger.warning)("%s: %s", printable(problem.key), problem.reason)
    states = [s.plan.state for s in the_plan.scans]
    logger.info("%s: %d new, %d changed, %d unchanged; %d unreadable", plural(len(states), "file"),
                states.count("new"), states.count("changed"), states.count("unchanged"), len(the_plan.failures))
    return the_plan


@task(name="apply", cache_policy=NO_CACHE, persist_result=False)
def apply_task(the_plan: Plan) -> Plan:
    """Create or widen the table (once, before any load); prune files no longer matched if asked. Returns the plan
    as applied, which the load takes."""
    applied = apply(the_plan)
    for change in applied.changes:
        get_run_logger().info("schema: %s", change, extra={"event.action": "schema.change"})
    return applied


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
    null_padding: bool = False,
    fanout: Fanout = FLOW.fanout,
    child_deployment: str = FLOW.child_deployment,
    db_concurrency_limit: str = FLOW.db_concurrency_limit,
    max_db_writers: int | None = FLOW.max_db_writers,
    lock_timeout: float = 600.0,
    prune: bool = False,
    hash_first_load: bool = False,
    child_liveness: float = FLOW.child_liveness,
    child_start_timeout: float = FLOW.child_start_timeout,
    child_deadline: float = FLOW.child_deadline,
    child_attempts: int = FLOW.child_attempts,
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
        null_padding: Load a row with fewer fields than the header, its missing fields NULL, instead of rejecting it.
        fanout: ``local`` (threads in this run) or ``kubernetes`` (one child flow run, one pod, per file).
        child_deployment: The per-file deployment ``kubernetes`` mode starts.
        db_concurrency_limit: Global concurrency limit capping writers on the database.
        max_db_writers: Size of that limit; empty keeps the limit as it is (created with ``workers`` if missing).
        lock_timeout: Seconds to wait for another run on the same table.
        prune: Delete the rows of files loaded earlier that no longer match (else they stay, with a note).
        hash_first_load: Hash a new file's rows on its first load too (slower on PostgreSQL), so its first change
            is applied as a row difference, not by replacing it whole.
        child_liveness: ``kubernetes``: seconds without a heartbeat after which a Running child is lost (its pod
            gone) and started again.
        child_start_timeout: ``kubernetes``: seconds a child may wait for a worker and a pod before it counts as
            never started.
        child_deadline: ``kubernetes``: seconds any one child may run (0: no deadline).
        child_attempts: ``kubernetes``: runs a file gets (lost, stuck or crashed) before it fails.
    """
    logger = get_run_logger()
    settings = Settings(src=src, glob=glob, dest=dest, table=table, workers=workers,
                        schema_file=schema_file, max_bad_rows=max_bad_rows, null_values=tuple(null_values or ()),
                        null_padding=null_padding,
                        lock_timeout=lock_timeout, run_id=str(FlowRunContext.get().flow_run.id), prune=prune,
                        hash_first_load=hash_first_load)
    logger.info("loading %s from %s/%s into %s (%s fan-out)", table, display(src), glob, settings.dest,
                fanout)
    if dest and masked(dest) != dest:
        logger.warning("the dest parameter holds a password, and Prefect stores parameters with the run: "
                       "give the URL as DEST_SQL in the environment (a Kubernetes Secret) instead")
    if fanout == "kubernetes":
        check_deployment(child_deployment)
    if fanout == "local" and not PREFECT_API_URL.value():
        settings, db_concurrency_limit = threads_as_the_cap(settings, max_db_writers)
    ensure_db_limit(db_concurrency_limit, max_db_writers, default=settings.worker_count)
    found = discover(settings)
    limits = ChildLimits(child_liveness, child_start_timeout, child_deadline, child_attempts)
    with fan_out_for(fanout, settings, found, child_deployment, db_concurrency_limit, bool(dest), limits) as fan_out, \
            locked(settings):
        the_plan = apply_task(plan_task(settings, fan_out, found))
        summary = load(the_plan, fan_out, LoadProgress(table, the_plan.pending))
    payload = publish(summary)
    logger.info(summary_line(summary), extra={"event.action": "load.summary", **summary_fields(summary)})
    if summary.exit_code:
        raise FilesFailed(failure_message(summary), payload)
    return payload


if __name__ == "__main__":
    load_csv_folder(table=os.environ.get("DEST_TABLE", "certificates"), src=os.environ.get("SRC_DATA_FOLDER", "."),
                    glob=os.environ.get("SRC_FILE_NAME", "**/*.csv"))
