"""What a parent run checks and creates on the Prefect server before it plans."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from data_processor.errors import ConfigError


def check_deployment(name: str) -> None:
    """Fail before planning (which starts a pod per file) when the per-file deployment does not exist."""
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
