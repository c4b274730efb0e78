"""The flows' own options: how a load runs on Prefect, not what it loads. Declared once, here; the ``flow``
command's options are generated from them and the flows' parameters take their defaults from them, as the engine's
options come from ``data_processor.settings.Settings``. Imports no Prefect (the CLI lists its commands without it).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Literal

import click
from pydantic import BaseModel, Field

Fanout = Literal["local", "kubernetes"]

KUBERNETES_CHILD = "load-csv-file/k8s"
"""The per-file deployment a parent on Kubernetes starts (prefect.yaml)."""

DB_LIMIT = "data-processor-db"
"""The global concurrency limit every writer takes a slot of (shared by all tables on one database)."""


class FlowOptions(BaseModel):
    """How ``load-csv-folder`` runs its files; each field is a parameter of the flow and an option of ``flow``."""

    fanout: Fanout = Field(
        "local", description="local: scans on worker processes and loads as task runs on threads of this run; "
        "kubernetes: one run of the child deployment (one pod) per file.")
    child_deployment: str = Field(KUBERNETES_CHILD, description="The per-file deployment the kubernetes fan-out starts.")
    db_concurrency_limit: str = Field(
        DB_LIMIT, description="The Prefect global concurrency limit each writer takes a slot of: one per database "
        "server, shared by every table on it.")
    max_db_writers: int | None = Field(
        None, ge=1, description="Files writing to the database at once, across every process and pod (the size of "
        "that limit); empty keeps the limit as it is (created with the run's workers if missing).")
    child_liveness: float = Field(
        120.0, ge=1, description="kubernetes: seconds without a heartbeat after which a running child (its pod "
        "lost) is started again.")
    child_start_timeout: float = Field(
        900.0, ge=1, description="kubernetes: seconds a child may wait for a worker and its pod to start.")
    child_deadline: float = Field(
        6 * 3600.0, ge=0, description="kubernetes: seconds any one child may run; 0 for no deadline.")
    child_attempts: int = Field(
        3, ge=1, description="kubernetes: runs a file gets (lost, stuck or crashed) before it fails.")


FLOW = FlowOptions()
"""The defaults."""


def flow_options(function: Callable) -> Callable:
    """Click options for every field of :class:`FlowOptions`: flag, type, default and help from the field."""
    for name, info in reversed(FlowOptions.model_fields.items()):
        function = click.option(f"--{name.replace('_', '-')}", name, type=_click_type(info), default=info.default,
                                show_default=info.default is not None, help=info.description)(function)
    return function


def _click_type(info) -> click.ParamType:  # noqa: ANN001 - a pydantic FieldInfo
    kinds = [k for k in typing.get_args(info.annotation) if k is not types.NoneType] or [info.annotation]
    low = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
    if typing.get_origin(info.annotation) is Literal:
        return click.Choice(typing.get_args(info.annotation))
    if kinds[0] is int:
        return click.IntRange(min=low)
    if kinds[0] is float:
        return click.FloatRange(min=low)
    return click.STRING
