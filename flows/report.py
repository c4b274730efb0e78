"""What a finished parent run leaves behind: a table artifact in the UI, an event for downstream systems, and a
failure message that names every failed file."""

from __future__ import annotations

import re
from dataclasses import asdict

from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.events import emit_event

from data_processor.discover import Problem
from data_processor.output import summary_fields
from data_processor.rejects import rejects_table_name
from data_processor.run import RunSummary
from data_processor.types import LoadResult, Reject

EVENT_COMPLETED = "data-processor.load.completed"
EVENT_FAILED = "data-processor.load.failed"


def artifact_key(table: str, kind: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes; one key per table keeps its history together."""
    return f"{kind}-" + re.sub(r"[^a-z0-9]+", "-", table.lower()).strip("-")


class ProgressArtifact:
    """The percentage of files finished, updated as each one ends (a bar on the run's Artifacts tab)."""

    def __init__(self, table: str, total: int) -> None:
        self.total, self.done = max(total, 1), 0
        self.id = create_progress_artifact(0.0 if total else 100.0, key=artifact_key(table, "progress"),
                                           description=f"Files of {table} finished, of {total} to load")

    def advance(self) -> None:
        self.done += 1
        update_progress_artifact(self.id, 100.0 * self.done / self.total)


def summary_payload(summary: RunSummary) -> dict:
    """The run as JSON: the event payload and the flow's return value (the CLI's summary fields, plus each file)."""
    return summary_fields(summary) | {
        "schema_changes": list(summary.changes),
        "files": [asdict(r) | {"rejects_sample": [asdict(x) for x in r.rejects_sample]} for r in summary.results],
        "problems": [asdict(p) for p in summary.problems],
    }


def summary_from_payload(payload: dict) -> RunSummary:
    """The :class:`RunSummary` back from :func:`summary_payload` (for the CLI's summary of a flow run)."""
    results = [LoadResult(**(f | {"rejects_sample": tuple(Reject(**x) for x in f["rejects_sample"])}))
               for f in payload["files"]]
    return RunSummary(payload["table"], results, [Problem(**p) for p in payload["problems"]],
                      payload["schema_changes"], payload["seconds"])


def failure_message(summary: RunSummary) -> str:
    """One paragraph naming each failed file and why (the run's state message, quoted by the alert)."""
    failed = summary_fields(summary)["failed"]
    reasons = "; ".join(f["error"] if (f["error"] or "").startswith(f["file"]) else f"{f['file']}: {f['error']}"
                        for f in failed[:20]) + ("; …" if len(failed) > 20 else "")
    return f"{len(failed)} of {len(summary.results)} files failed to load into {summary.table}: {reasons}"


def publish(summary: RunSummary) -> dict:
    """Table artifact (file, status, rows, seconds, MB/s) and a completed/failed event with the summary."""
    payload = summary_payload(summary)
    rows = [
        {
            "file": r.key,
            "status": r.status,
            "rows loaded": r.rows_loaded,
            "rows rejected": r.rows_rejected,
            "seconds": round(r.seconds, 1),
            "MB/s": round(r.bytes / 1e6 / r.seconds, 1) if r.seconds and r.status == "loaded" else None,
            "error": r.error or "",
        }
        for r in summary.results
    ]
    create_table_artifact(
        rows,
        key=artifact_key(summary.table, "load"),
        description=(
            f"**{summary.table}**: {payload['files_loaded']} files loaded, {payload['files_skipped']} skipped, "
            f"{payload['files_failed']} failed; {payload['rows_loaded']:,} rows loaded, "
            f"{payload['rows_rejected']:,} rejected (see `{rejects_table_name(summary.table)}`); "
            f"{payload['seconds']} s, {payload['mb_per_s']} MB/s"
        ),
    )
    emit_event(
        EVENT_FAILED if summary.exit_code else EVENT_COMPLETED,
        resource={"prefect.resource.id": f"data-processor.table.{summary.table}",
                  "prefect.resource.name": summary.table},
        payload=payload,
    )
    return payload
