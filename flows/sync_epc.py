"""``sync-epc``: the monthly EPC release, unattended. Fetch it if it changed, then load it where it lies.

The service regenerates one zip on the 1st of each month (one CSV per year: ``certificates-YYYY.csv``,
``recommendations-YYYY.csv``). This flow asks the API which release is current and downloads it into ``to`` (a
folder or ``s3://bucket/prefix``) unless ``to`` already holds it; then it runs ``load-csv-folder`` twice as
subflows with the zip itself as the source (members are streamed, never extracted): certificates into one table,
recommendations into another. Files are keyed by member name, so next month's ``certificates-2021.csv`` becomes
that file's rows, applied as a row difference (only the certificates added, removed or changed are written: every
row is hashed from its first load on, ``hash_first_load``); a year
file gone from the release has its rows pruned (certificates can disappear from the register, so a release
replaces, it does not only append). What changed is published for the people downstream: the ``epc-release-changes``
table artifact (per year file: added, removed, unchanged) and the ``data-processor.epc-release.completed`` event
with the totals.
"""

import datetime as dt
import os
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.events import emit_event
from prefect.states import Failed

from data_processor.errors import ConfigError, ServiceRefused
from data_processor.fetch.download import FetchResult, fetch_epc
from data_processor.fetch.epc import TOKEN_ENV
from data_processor.sources import discover_source
from flows.load_folder import load_csv_folder
from flows.options import FLOW, Fanout

DEFAULT_API_URL = "https://api.get-energy-performance-data.communities.gov.uk"
FETCH_RETRY_DELAYS = [60, 300, 900]
"""Seconds before each retry of a fetch that failed for a reason a retry can mend (network, service busy)."""

EVENT_RELEASE_COMPLETED = "data-processor.epc-release.completed"
"""Emitted when a release's loads end, failed or not: what changed in each table, for downstream automations."""

LOADS = (("certificates", "**/certificates-*.csv"), ("recommendations", "**/recommendations-*.csv"))
"""Which members go to which table parameter, by glob over the zip's member paths."""


class _LoggedProgress:
    """A fetch reporter for a flow run: a log line at the start, at each tenth of the bytes, and for each note."""

    def __init__(self) -> None:
        self.logger = get_run_logger()
        self._next = 0.0

    def started(self, name: str, total: int | None, resumed_from: int, verb: str = "downloading") -> None:
        size = f"{total:,} bytes" if total else "size unknown"
        resumed = f", resuming at {resumed_from:,}" if resumed_from else ""
        self.logger.info("%s %s (%s%s)", verb, name, size, resumed)
        self._next = 0.1

    def advanced(self, done: int, total: int | None) -> None:
        if total and done / total >= self._next:
            self.logger.info("%d%% (%s of %s bytes)", int(100 * done / total), f"{done:,}", f"{total:,}")
            self._next = (int(10 * done / total) + 1) / 10

    def note(self, message: str, action: str, **fields: object) -> None:
        self.logger.info(message)


def worth_retrying(_task: object, _task_run: TaskRun, state: State) -> bool:
    """A refused token or missing configuration fails at once; anything else (network, 5xx, a broken transfer)
    is tried again: each attempt resumes the partial file."""
    try:
        state.result()
    except (ServiceRefused, ConfigError):
        return False
    except Exception:  # noqa: BLE001 - every other failure may pass on another attempt
        return True
    return False


@task(name="fetch-epc-release", retries=len(FETCH_RETRY_DELAYS), retry_delay_seconds=FETCH_RETRY_DELAYS,
      retry_condition_fn=worth_retrying, cache_policy=NO_CACHE, persist_result=False)
def fetch_release(to: str, api_url: str) -> FetchResult:
    """The current release into ``to`` (skipped when ``to`` holds it already); the token from ``EPC_API_TOKEN``."""
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise ConfigError(f"no API token: set {TOKEN_ENV} (in Kubernetes, a key of the job's Secret)")
    result = fetch_epc(to, token, api_url=api_url, report=_LoggedProgress())
    get_run_logger().info(result.line())
    return result


def run_name() -> str:
    """``EPC 2026-12 (2026-12-02 06:00)``: the month whose release it loads, and when (London time)."""
    now = dt.datetime.now(ZoneInfo("Europe/London"))
    return f"EPC {now:%Y-%m} ({now:%Y-%m-%d %H:%M})"


@flow(name="sync-epc", flow_run_name=run_name, log_prints=True)
def sync_epc(
    to: str = "/data/epc",
    api_url: str = DEFAULT_API_URL,
    certificates_table: str = "certificates",
    recommendations_table: str = "recommendations",
    null_values: list[str] | None = None,
    max_bad_rows: int = 1000,
    workers: int = 0,
    fanout: Fanout = FLOW.fanout,
    child_deployment: str = FLOW.child_deployment,
    max_db_writers: int | None = FLOW.max_db_writers,
    prune: bool = True,
    child_limits: dict[str, float] | None = None,
) -> dict:
    """Fetch the EPC release if it changed, then load its certificates and recommendations, each into its table.

    Args:
        to: Where the release is kept: a folder, or ``s3://bucket/prefix`` (credentials from the environment).
        api_url: The EPC bulk-file API (a test server in tests).
        certificates_table: Table for ``certificates-YYYY.csv``.
        recommendations_table: Table for ``recommendations-YYYY.csv``.
        null_values: Values that mean NULL besides the empty field; default ``["NO DATA!"]``.
        max_bad_rows: A file with more bad rows fails whole.
        workers: Files loaded at once (``local`` fan-out); 0 = one per CPU this run may use.
        fanout: ``local`` (threads) or ``kubernetes`` (one child run, one pod, per file).
        child_deployment: The per-file deployment ``kubernetes`` fan-out starts.
        max_db_writers: Size of the writers' global concurrency limit; empty keeps it.
        prune: Delete the rows of year files the release no longer has.
        child_limits: ``kubernetes``: the loads' ``child_liveness``, ``child_start_timeout``, ``child_deadline``
            or ``child_attempts``, where the defaults do not fit (see load-csv-folder).
    """
    logger = get_run_logger()
    fetched = fetch_release(to, api_url)
    release = fetched.release or {}
    tables = {"certificates": certificates_table, "recommendations": recommendations_table}
    summaries: dict[str, dict | str] = {}
    for kind, glob in LOADS:
        if not discover_source(fetched.location, glob).files:  # the archive's directory only: no data read
            summaries[kind] = f"the release has no {glob.removeprefix('**/')} file: {tables[kind]} left as it was"
            logger.error("%s", summaries[kind])
            continue
        state = load_csv_folder(
            table=tables[kind], src=fetched.location, glob=glob, null_values=null_values or ["NO DATA!"],
            max_bad_rows=max_bad_rows, workers=workers, fanout=fanout, child_deployment=child_deployment,
            max_db_writers=max_db_writers, prune=prune, hash_first_load=True, return_state=True, **(child_limits or {}),
        )
        outcome = state.result(raise_on_failure=False)
        summaries[kind] = getattr(outcome, "payload", outcome)  # a FilesFailed carries the run's summary
        if not state.is_completed():
            logger.error("%s: %s", tables[kind], state.message)
    create_markdown_artifact(
        key="epc-release",
        markdown=_release_markdown(fetched, summaries, tables),
        description=f"EPC release {release.get('lastUpdated', '?')}",
    )
    changes = publish_changes(release.get("lastUpdated", "?"), summaries, tables)
    result = {"release": release, "fetch": fetched.status, "location": fetched.location, "loads": summaries,
              "changes": changes}
    failed = [summary if isinstance(summary, str) else f"loading {tables[kind]} failed (its run names every failed "
              "file and why)" for kind, summary in summaries.items()
              if not isinstance(summary, dict) or summary.get("exit_code")]
    if failed:  # a state, not an exception: the run's message is the story, with no traceback under it
        return Failed(message=f"EPC release {release.get('lastUpdated', '?')}: {'; '.join(failed)}", data=result)
    return result


def release_changes(summaries: dict, tables: dict[str, str]) -> tuple[list[dict], dict]:
    """Per loaded or pruned file, the rows the release added, removed and left as they were; and the totals per
    table."""
    rows, totals = [], {}
    for kind, summary in summaries.items():
        if not isinstance(summary, dict):
            continue
        table = tables[kind]
        total = totals.setdefault(table, {"added": 0, "removed": 0, "unchanged": 0, "files_changed": 0})
        for f in summary.get("files", []):
            if f.get("status") != "loaded":
                continue
            rows.append({"table": table, "file": f["key"], "applied": f.get("applied", ""),
                         "added": f.get("rows_inserted", 0), "removed": f.get("rows_deleted", 0),
                         "unchanged": f.get("rows_unchanged", 0)})
            total["files_changed"] += 1
            for name, field in (("added", "rows_inserted"), ("removed", "rows_deleted"),
                                ("unchanged", "rows_unchanged")):
                total[name] += f.get(field, 0)
        for key, removed in summary.get("pruned", {}).items():  # a year file gone from the release
            rows.append({"table": table, "file": key, "applied": "pruned", "added": 0, "removed": removed,
                         "unchanged": 0})
            total["files_changed"] += 1
            total["removed"] += removed
    return rows, totals


def publish_changes(release: str, summaries: dict, tables: dict[str, str]) -> dict:
    """The ``epc-release-changes`` table artifact and the release's completion event; returns the totals."""
    rows, totals = release_changes(summaries, tables)
    added = sum(t["added"] for t in totals.values())
    removed = sum(t["removed"] for t in totals.values())
    create_table_artifact(
        rows or [{"table": "", "file": "nothing changed", "applied": "", "added": 0, "removed": 0, "unchanged": 0}],
        key="epc-release-changes",
        description=f"**What changed in EPC release {release}**: {added:,} rows added, {removed:,} removed, in "
                    f"{len(rows)} new, changed or removed year files",
    )
    emit_event(EVENT_RELEASE_COMPLETED,
               resource={"prefect.resource.id": "data-processor.epc-release", "prefect.resource.name": release},
               payload={"release": release, "added": added, "removed": removed, "tables": totals})
    return totals


def _release_markdown(fetched: FetchResult, summaries: dict, tables: dict[str, str]) -> str:
    release = fetched.release or {}
    lines = [
        f"**EPC release {release.get('lastUpdated', '?')}** ({release.get('fileSize', fetched.size):,} bytes), "
        f"{'downloaded' if fetched.status == 'downloaded' else 'already there'}: `{fetched.location}`",
        "",
        "| table | files loaded | skipped | failed | rows loaded | rows rejected |",
        "|---|---|---|---|---|---|",
    ]
    for kind, summary in summaries.items():
        if isinstance(summary, dict):
            lines.append(f"| {tables[kind]} | {summary.get('files_loaded', 0)} | {summary.get('files_skipped', 0)} | "
                         f"{summary.get('files_failed', 0)} | {summary.get('rows_loaded', 0):,} | "
                         f"{summary.get('rows_rejected', 0):,} |")
        else:
            lines.append(f"| {tables[kind]} | – | – | – | – | – |")
    notes = [f"- {summary}" for summary in summaries.values() if isinstance(summary, str)]
    return "\n".join(lines + ([""] + notes if notes else []))


if __name__ == "__main__":
    sync_epc(to=os.environ.get("EPC_DIR", "./.epc"))
