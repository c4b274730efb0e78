"""What a finished parent run leaves behind: a table artifact in the UI, an event for downstream systems, and a
failure message that names every failed file."""

from __future__ import annotations

import re
import time

from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.events import emit_event

from data_processor import records
from data_processor.discovery import Problem
from data_processor.output import ScanTally, size_text, summary_fields
from data_processor.rejects import rejects_table_name
from data_processor.summary import RunSummary
from data_processor.text import plural, printable
from data_processor.types import FilePlan, LoadResult

EVENT_COMPLETED = "data-processor.load.completed"
EVENT_FAILED = "data-processor.load.failed"


class FilesFailed(Exception):
    """Some files did not load; the message names each one and why, ``payload`` is the run's summary."""

    def __init__(self, message: str, payload: dict) -> None:
        super().__init__(message, payload)
        self.message, self.payload = message, payload

    def __str__(self) -> str:
        return self.message


def artifact_key(table: str, kind: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes; one key per table keeps its history together."""
    return f"{kind}-" + re.sub(r"[^a-z0-9]+", "-", table.lower()).strip("-")


class LoadProgress:
    """The share of the pending bytes loaded, as a bar on the run's Artifacts tab, its description saying how many
    files of how many; a progress callback of ``data_processor.load``. Updated at most every ``every`` seconds and
    when the last file ends: an update per file cost more than a small file's load (a new API client each time)."""

    def __init__(self, table: str, pending: list[FilePlan], every: float = 2.0) -> None:
        self.table, self.every = table, every
        self.sizes = {f.source.key: f.source.size for f in pending}
        self.total, self.done_bytes, self.done, self.shown = sum(self.sizes.values()), 0, 0, time.monotonic()
        self.id = create_progress_artifact(0.0 if self.sizes else 100.0, key=artifact_key(table, "progress"),
                                           description=self._description())

    def __call__(self, event: str, payload: object) -> None:
        if event != "loaded" or not isinstance(payload, LoadResult) or payload.key not in self.sizes:
            return
        self.done += 1
        self.done_bytes += self.sizes[payload.key]
        last = self.done == len(self.sizes)
        if last or time.monotonic() - self.shown >= self.every:
            self.shown = time.monotonic()
            share = self.done_bytes / self.total if self.total else self.done / len(self.sizes)
            update_progress_artifact(self.id, 100.0 * share, description=self._description())

    def _description(self) -> str:
        return (f"{self.table}: {self.done:,} of {plural(len(self.sizes), 'file')} to load finished "
                f"({size_text(self.done_bytes)} of {size_text(self.total)})")


class ScanLog:
    """The planning scan on the run's log: how many files, then a line per tenth of the bytes read. The scan reads
    every new or changed file before any loads, so a big drop would otherwise sit silent for minutes."""

    def __init__(self, logger) -> None:  # noqa: ANN001 - a Prefect run logger (an adapter)
        self.logger = logger
        self.tally = ScanTally()

    def __call__(self, event: str, payload: object) -> None:
        if event == "discovered":
            self.tally = ScanTally.of(payload)
            self.logger.info(self.tally.start_line(), extra={"event.action": "scan.start", **self.tally.fields()})
        elif event == "scanned":
            self.tally.add(payload)
            if self.tally.milestone():
                self.logger.info(self.tally.line(), extra={"event.action": "scan.progress", **self.tally.fields()})


def summary_payload(summary: RunSummary) -> dict:
    """The run as JSON: the event payload and the flow's return value (the CLI's summary fields, plus each file)."""
    return summary_fields(summary) | {
        "schema_changes": list(summary.changes),
        "files": [records.to_data(r) for r in summary.results],
        "problems": [records.to_data(p) for p in summary.problems],
        "pruned": dict(summary.pruned),
    }


def summary_from_payload(payload: dict) -> RunSummary:
    """The :class:`RunSummary` back from :func:`summary_payload` (for the CLI's summary of a flow run)."""
    return RunSummary(payload["table"], [records.from_data(LoadResult, f) for f in payload["files"]],
                      [records.from_data(Problem, p) for p in payload["problems"]], payload["schema_changes"],
                      payload["seconds"], payload.get("pruned", {}))


def failure_message(summary: RunSummary) -> str:
    """One paragraph naming each failed file and why (the run's state message, quoted by the alert)."""
    failed = summary_fields(summary)["failed"]
    reasons = "; ".join(f["error"] for f in failed[:20]) + ("; …" if len(failed) > 20 else "")
    return printable(f"{len(failed)} of {plural(len(summary.results), 'file')} failed to load into "
                     f"{summary.table}: {reasons}")


def publish(summary: RunSummary) -> dict:
    """Table artifact (file, status, rows, how they went in, seconds, MB/s), a second one naming each failed file and
    why (errors are long: in the first they pushed the figures past the edge of the screen), and a completed/failed
    event with the summary."""
    payload = summary_payload(summary)
    rows = [
        {
            "file": r.key,
            "status": r.status,
            "rows loaded": r.rows_loaded,
            "rows rejected": r.rows_rejected,
            "applied": r.applied,
            "inserted": r.rows_inserted,
            "deleted": r.rows_deleted,
            "unchanged": r.rows_unchanged,
            "seconds": round(r.seconds, 1),
            "MB/s": round(r.bytes / 1e6 / r.seconds, 1) if r.seconds and r.status == "loaded" else None,
        }
        for r in summary.results
    ]
    if failed := [{key: f[key] for key in ("file", "line", "reason")} for f in payload["failed"]]:
        create_table_artifact(failed, key=artifact_key(summary.table, "failed"),
                              description=f"**{summary.table}**: {plural(len(failed), 'file')} failed to load, and why")
    create_table_artifact(
        rows,
        key=artifact_key(summary.table, "load"),
        description=(
            f"**{summary.table}**: {plural(payload['files_loaded'], 'file')} loaded, {payload['files_skipped']} "
            f"skipped, {payload['files_failed']} failed; {plural(payload['rows_loaded'], 'row')} loaded, "
            f"{payload['rows_rejected']:,} rejected (see `{rejects_table_name(summary.table)}`); "
            f"{payload['rows_inserted']:,} rows inserted, {payload['rows_deleted']:,} deleted, "
            f"{payload['rows_unchanged']:,} unchanged; {payload['seconds']} s, {payload['mb_per_s']} MB/s"
        ),
    )
    emit_event(
        EVENT_FAILED if summary.exit_code else EVENT_COMPLETED,
        resource={"prefect.resource.id": f"data-processor.table.{summary.table}",
                  "prefect.resource.name": summary.table},
        payload=payload,
    )
    return payload
