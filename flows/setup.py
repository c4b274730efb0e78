"""What a parent run checks and sets up on the Prefect server before it plans."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from data_processor import Settings
from data_processor.engine import parallel_writers
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


def threads_as_the_cap(settings: Settings, max_db_writers: int | None) -> tuple[Settings, str]:
    """On Prefect's temporary API: no concurrency limit (returned empty), this run's threads are the cap instead.

    The temporary API lives and dies with this process, so no other run can share a limit on it, and on its SQLite
    database each slot takes ~2 s to acquire.
    """
    from prefect import get_run_logger

    settings = settings.model_copy(
        update={"workers": min(settings.worker_count, max_db_writers or settings.worker_count)})
    writers = parallel_writers(settings.dest_url, settings.worker_count)
    get_run_logger().info("temporary Prefect API: %s", "at most one file writes at a time" if writers == 1
                          else f"at most {writers} files write at once")
    return settings, ""
