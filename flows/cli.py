"""CLI commands that need Prefect, registered as ``data-processor`` commands through the ``data_processor.commands``
entry points (pyproject.toml). Prefect is imported only when one runs."""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import os
import sys

import click

from data_processor import output
from data_processor.cli import settings_options, source_options
from data_processor.settings import Settings, env_name
from flows.options import FlowOptions, flow_options

if importlib.util.find_spec("prefect") is None:
    raise ModuleNotFoundError("the Prefect commands need Prefect: pip install 'data-processor[flows]'", name="prefect")

PREFECT_DEFAULTS = {
    # Prefect's server and SDK send usage data; a data network seldom has a route out, and each failed attempt
    # is an error (or a traceback) on the console of a run that is fine.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    # Without PREFECT_API_URL the temporary API starts in this process: on a busy machine it needs more than
    # Prefect's 20 s, and a run that gives up before it started helps no one.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}
"""Set before Prefect is imported, unless the environment already says otherwise."""

PRINTED_BY_THE_COMMAND = {"load.summary", "schema.change"}
"""``event.action`` of the flow's log records this command prints itself (on stdout, once)."""


def _prefect_environment() -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)


class _SkipWhatTheCommandPrints(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "event.action", None) not in PRINTED_BY_THE_COMMAND


def _console_without_the_summary() -> None:
    """The flow logs its summary for the UI and for workers; here the command prints it, so the console skips it."""
    from prefect.logging.handlers import APILogHandler

    for handler in logging.getLogger().handlers:
        if not isinstance(handler, APILogHandler):
            handler.addFilter(_SkipWhatTheCommandPrints())


@click.command("flow")
@source_options
@settings_options("lock_timeout")
@flow_options
def flow_command(**kwargs) -> None:
    """Run the load as the Prefect flow load-csv-folder: the same load, watched in the Prefect UI.

    Uses the Prefect API in PREFECT_API_URL, or a temporary one when unset. Exit status as for load.
    """
    _prefect_environment()
    from flows.load_folder import FilesFailed, load_csv_folder
    from flows.report import summary_from_payload

    _console_without_the_summary()

    how = FlowOptions(**{name: kwargs.pop(name) for name in FlowOptions.model_fields})
    options = Settings(**kwargs)
    # Prefect stores a run's parameters in its database and shows them in the UI: the URL (and its password)
    # reaches the flow through this process's environment instead, as DEST_SQL does in a pod.
    os.environ[env_name("dest")] = options.dest_url
    what = options.model_dump(include=set(kwargs) - {"dest"}) | {"null_values": list(options.null_values)}
    state = load_csv_folder(**what, dest=None, **how.model_dump(), return_state=True)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, FilesFailed):
        outcome = outcome.payload
    elif isinstance(outcome, BaseException):
        raise outcome  # a DataProcessorError is one line and an exit code; anything else is a bug
    summary = summary_from_payload(outcome)
    output.print_summary(summary)
    sys.exit(summary.exit_code)


@click.command("setup-alerts")
@click.option("--webhook-url", envvar="ALERT_WEBHOOK_URL", required=True, show_envvar=True,
              help="Where failure alerts go: a Slack or Teams incoming webhook, or any URL that takes a JSON POST "
              "(https://; http:// only to localhost).")
@click.option("--kind", type=click.Choice(["auto", "slack", "teams", "webhook"]), default="auto", show_default=True,
              help="Notification block type; auto picks it from the URL's host.")
@click.option("--pending-minutes", type=click.IntRange(min=1), default=30, show_default=True,
              help="Alert when a run stays Pending this long (no worker, no pod).")
@click.option("--running-hours", type=click.FloatRange(min=0.1), default=12, show_default=True,
              help="Alert when a run stays Running this long (a hung load).")
@click.option("--on-success-url", envvar="SUCCESS_WEBHOOK_URL", show_envvar=True,
              help="Optional URL that receives each completed load's summary as JSON (e.g. to start a downstream job).")
def setup_alerts_command(webhook_url: str, kind: str, pending_minutes: int, running_hours: float,
                         on_success_url: str | None) -> None:
    """Create or update the failure alerts on the Prefect server in PREFECT_API_URL. Safe to re-run.

    A notification block, plus automations for: a load-csv-folder or load-csv-file run Failed or Crashed; a run
    stuck in Pending or Running. Each alert names the table, the failed files and why, with a link to the run.
    """
    _prefect_environment()
    from flows.alerts import AlertSettings, setup_alerts

    settings = AlertSettings(webhook_url, kind, dt.timedelta(minutes=pending_minutes),
                             dt.timedelta(hours=running_hours), on_success_url)
    for line in setup_alerts(settings):
        output.current().note(line, action="setup-alerts")

