"""``load-csv-file``: the per-file child flow. On Kubernetes each run is one Job pod loading one planned file.

A parent run starts it with the plan cut down to one file; the database URL comes from ``DEST_SQL`` (the pod's
Secret) unless the parent was given one explicitly. Running it twice for the same content loads nothing twice:
the engine locks the file's ledger row and skips content it already holds.
"""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow

from data_processor.settings import Destination
from data_processor.types import LoadPlan
from flows.load_folder import DB_LIMIT
from flows.tasks import load_file_task


@flow(name="load-csv-file", log_prints=True)
def load_csv_file(plan: dict, run_id: str = "", dest: str | None = None, db_limit: str | None = DB_LIMIT) -> dict:
    """Load the one file of ``plan`` (the parent's plan for it, as JSON) into its table.

    Args:
        plan: The parent's plan cut down to this file (``LoadPlan.to_json``).
        run_id: The parent run's id, recorded in the ledger.
        dest: SQLAlchemy URL; empty reads ``DEST_SQL`` from the environment.
        db_limit: Global concurrency limit whose slot the write takes; empty for none.
    """
    load_plan = LoadPlan.from_json(plan)
    (file,) = load_plan.files
    result = load_file_task(key=file.source.key, plan=load_plan, dest=Destination(dest=dest).dest_url, run_id=run_id,
                            db_limit=db_limit)
    return asdict(result) | {"rejects_sample": [asdict(r) for r in result.rejects_sample]}


if __name__ == "__main__":
    # Serve the child on this machine: a parent with fanout="kubernetes" and child_deployment="load-csv-file/local"
    # then exercises the pod-per-file code path without a cluster (one subprocess per file instead of one pod).
    load_csv_file.serve(name="local")
