"""Prefect's run context on log records, so a library's lines (``data_processor.*``) say which run they belong to.

Prefect's own run loggers (``get_run_logger()``) attach ``flow_run_id``, ``flow_name``, ``task_run_id``... as
extras; a plain ``logging.getLogger(__name__)`` in the engine does not. ``RunContextFilter`` fills them in from
the current flow/task run context. ``logging.yml`` puts it on the console handler (JSON lines carry the run) and,
with ``require_run: true``, on the API handler of the ``data_processor`` logger: inside a run its records show on
the run in the UI; outside one (the plain CLI) they are dropped there instead of making Prefect warn.
"""

from __future__ import annotations

import logging

from prefect.context import FlowRunContext, TaskRunContext

RUN_FIELDS = ("flow_run_id", "flow_run_name", "flow_name", "task_run_id", "task_run_name", "task_name")
"""The record attributes this filter sets, when the run context has them and the record does not already."""


def run_fields() -> dict[str, str]:
    """The current flow and task run, as log fields; empty outside a run."""
    fields: dict[str, str] = {}
    task_context = TaskRunContext.get()
    if task_context is not None:
        task_run = task_context.task_run
        fields |= {"task_run_id": str(task_run.id), "task_run_name": task_run.name,
                   "task_name": task_context.task.name}
        if task_run.flow_run_id is not None:
            fields["flow_run_id"] = str(task_run.flow_run_id)
    flow_context = FlowRunContext.get()
    if flow_context is not None:
        if flow_context.flow_run is not None:
            fields |= {"flow_run_id": str(flow_context.flow_run.id), "flow_run_name": flow_context.flow_run.name}
        if flow_context.flow is not None:
            fields["flow_name"] = flow_context.flow.name
    return fields


class RunContextFilter(logging.Filter):
    """Adds the current run's ids and names to every record that lacks them; never raises.

    Args:
        require_run: Pass only records that belong to a flow run (for an API handler, which cannot send others).
    """

    def __init__(self, name: str = "", require_run: bool = False) -> None:
        super().__init__(name)
        self.require_run = require_run

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            for key, value in run_fields().items():
                if getattr(record, key, None) in (None, "", "<unknown>"):
                    setattr(record, key, value)
        except Exception:  # noqa: BLE001 - a log line must never fail because of its decoration
            pass
        return bool(getattr(record, "flow_run_id", None)) or not self.require_run
