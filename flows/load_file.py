"""``load-csv-file``: the per-file child flow. On Kubernetes each run is one Job pod doing one file's job.

A parent run starts it twice per new or changed file: first with ``scan`` (the file's statistics, handed back
through the database, so the parent reads no data file), then with ``plan`` (the parent's plan cut down to this
file) to load it. The database URL comes from ``DEST_SQL`` (the pod's Secret) unless the parent was given one
explicitly. Running a load twice for the same content loads nothing twice: the engine locks the file's ledger row
and skips content it already holds. While it works the run sends heartbeats through the database
(``heartbeat_seconds`` apart), by which the parent tells a working child from a lost pod (``flows/children.py``).
"""

from __future__ import annotations

import sys

from prefect import flow
from prefect.context import FlowRunContext

from data_processor import records
from data_processor.jobs import hand_off, heartbeat, scan_job_from_json, scan_one
from data_processor.settings import Destination
from data_processor.target import Target
from data_processor.testing import pause_point
from data_processor.types import Failure, LoadPlan, LoadResult
from flows.options import DB_LIMIT
from flows.tasks import FileLoadFailed, load_file_task


@flow(name="load-csv-file", log_prints=True)
def load_csv_file(plan: dict | None = None, run_id: str = "", dest: str | None = None,
                  db_limit: str | None = DB_LIMIT, scan: dict | None = None, heartbeat_seconds: float = 0) -> dict:
    """Load the one file of ``plan`` into its table, or with ``scan`` scan one file for the parent's plan.

    Args:
        plan: The parent's plan cut down to this file (``LoadPlan.to_json``).
        run_id: The parent run's id, recorded in the ledger.
        dest: SQLAlchemy URL; empty reads ``DEST_SQL`` from the environment.
        db_limit: Global concurrency limit whose slot the write takes; empty for none.
        scan: Instead of loading: the file to scan (``ScanJob``, as JSON).
        heartbeat_seconds: Seconds between this run's heartbeats in the database; 0 for none.
    """
    url = Destination(dest=dest).dest_url
    me = str(FlowRunContext.get().flow_run.id)
    if scan is not None:
        job = scan_job_from_json(scan)
        target = Target(url, job.table, run_id)
        with heartbeat(target, me, heartbeat_seconds):
            outcome = scan_one(job)
            hand_off(target, outcome)
        if isinstance(outcome, LoadResult):  # the file could not be scanned
            raise FileLoadFailed(outcome.error or Failure(job.source.key, "cannot be scanned"))
        return {"file": job.source.key, "state": outcome.plan.state, "rows": outcome.rows}
    if plan is None:
        raise ValueError("load-csv-file needs plan (to load a file) or scan (to scan one)")
    load_plan = LoadPlan.from_json(plan)
    (file,) = load_plan.files
    target = Target(url, load_plan.table, run_id)
    with heartbeat(target, me, heartbeat_seconds):
        pause_point("child-loading")
        result = load_file_task(key=file.source.key, plan=load_plan, target=target, db_limit=db_limit)
    if result.status == "misfit":
        hand_off(target, result)
    return records.to_data(result)


if __name__ == "__main__":
    # Serve the child on this machine: a parent with fanout="kubernetes" and child_deployment="load-csv-file/local"
    # then exercises the pod-per-file code path without a cluster (one subprocess per file instead of one pod).
    # An argument serves it under another name (the tests kill one such server and leave the others be).
    load_csv_file.serve(name=sys.argv[1] if len(sys.argv) > 1 else "local")
