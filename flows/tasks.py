"""The per-file load as a Prefect task: the engine's ``load_one``, capped and retried the Prefect way.

* **Capped:** in a pod the write runs inside a slot of the writers' global concurrency limit (a missing limit is
  an error, never an uncapped load), so however many pods there are, at most N write at once; a local run holds
  its threads' slots for all its files instead (``flows.writer_slots``) and passes no limit here.
* **Retried only when a retry can help:** a transient database error (connection dropped, restart, deadlock) is
  retried after the engine's delays (``data_processor.retry``, the CLI's policy too); a data error (too many bad
  rows), or a database that stayed down through every delay, fails the task at once. Each attempt is one
  transaction, so a retry can never duplicate rows.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from data_processor.errors import TransientDatabaseError
from data_processor.output import result_line
from data_processor.retry import retry_delays
from data_processor.jobs import load_one
from data_processor.target import Target
from data_processor.types import Failure, LoadPlan, LoadResult
from flows.writer_slots import writer_slots

RETRY_DELAYS = list(retry_delays())
"""Seconds before each retry of a transient failure: the engine's policy, read when the flows are imported."""


class FileLoadFailed(Exception):
    """A file failed for a reason a retry cannot fix; the message names the file, the line and the reason, and
    ``failure`` keeps them apart for the parent that ran the task in its own process."""

    def __init__(self, failure: Failure) -> None:
        self.failure = failure
        super().__init__(str(failure))

    def __reduce__(self) -> tuple:  # pickled whole (Prefect may), not rebuilt from the message alone
        return type(self), (self.failure,)


def is_transient(_task: object, _task_run: TaskRun, state: State) -> bool:
    """Retry condition: only a transient database error is worth another attempt."""
    try:
        state.result()
    except TransientDatabaseError:
        return True
    except Exception:  # noqa: BLE001 - any other failure is final
        return False
    return False


@task(
    name="load-file",
    task_run_name="load {key}",
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=is_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def load_file_task(key: str, plan: LoadPlan, target: Target, db_limit: str | None) -> LoadResult:
    """Load one planned file; raise :class:`FileLoadFailed` if it failed, so its run shows Failed and why."""
    logger = get_run_logger()
    file = next(f for f in plan.files if f.source.key == key)
    with writer_slots(db_limit or "", 1, logger):
        result = load_one(target, plan, file, pauses=())
    if result.status == "failed":
        raise FileLoadFailed(result.error or Failure(key, "failed"))
    logger.info(result_line(result))
    return result
