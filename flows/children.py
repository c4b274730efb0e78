"""Watching the kubernetes fan-out's child runs, so the parent never waits on one without a bound.

A cluster loses pods: a node goes, a pod is evicted, a pod never leaves Pending, a worker stops polling, and the
child's Prefect state can stay Running forever or say Crashed about a pod that then completes. So the parent does
not wait on states alone. It polls its children's states and their heartbeats (a count each child raises in the
database every few seconds, ``jobs.heartbeat``), and for each child:

* it ended and the database holds its outcome (the ledger, or what it handed back): that is the outcome, whatever
  the state says (a pod marked Crashed that committed is loaded, never failed, and never loaded twice);
* it ended Crashed without an outcome, or it is Running but its heartbeats stopped for ``liveness`` seconds, or
  it was started but not Running after ``start_timeout``, or it ran past ``deadline``: its run is cancelled and a
  new one started, up to ``attempts`` runs; then its file fails with one line ("no heartbeat for 120 s; tried 3
  times"). A child marked Crashed that still beats is alive (a pod that outlived the pod watch): it is waited for,
  so a late pod never races its replacement (and the file's row lock keeps even that race exactly once);
* it was never picked up by a worker within ``start_timeout``: its file fails, naming the pool's missing worker
  (another run would wait the same);
* it failed on its own (bad data, an error it reported) or was cancelled by someone: its file fails, not retried.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.states import Cancelled

from data_processor.errors import DataProcessorError
from data_processor.text import plural
from flows.options import FLOW

Outcome = TypeVar("Outcome")

PAGE = 200
"""Runs read per API call (the server's page limit)."""
CANCELLED_BY_PARENT = "cancelled by its parent: "
"""How a run the parent gave up on is cancelled: a rescheduled parent that finds it starts the next run."""


@dataclass(frozen=True)
class ChildLimits:
    """How long a child may be silent, unstarted or running, and how many runs a file gets. The defaults fit the
    monthly job on a cluster: a lost pod is noticed within about two minutes, a pod may take 15 minutes to be
    scheduled and pull its image, and no file loads for six hours."""

    liveness: float = FLOW.child_liveness
    """A Running child whose heartbeats stop this many seconds is lost."""
    start_timeout: float = FLOW.child_start_timeout
    """A child not Running this many seconds after it was started never started."""
    deadline: float = FLOW.child_deadline
    """No child runs longer than this many seconds (0: no deadline)."""
    attempts: int = FLOW.child_attempts
    """Runs a file gets before it fails."""

    @property
    def heartbeat(self) -> float:
        """Seconds between a child's heartbeats: six chances to be heard within ``liveness``."""
        return max(1.0, self.liveness / 6)

    @property
    def poll(self) -> float:
        """Most seconds between two looks at the children (the first come sooner): a child that ends is seen within
        two seconds, and a thousand children cost five API calls a look."""
        return min(2.0, max(0.5, self.liveness / 10))


@dataclass
class Child:
    """One file's job across its runs."""

    what: str
    parameters: dict
    run: uuid.UUID
    attempt: int = 1
    started_at: float = field(default_factory=time.monotonic)
    running_since: float | None = None
    beats: int = 0
    heard_at: float = 0.0

    def restarted(self, run: uuid.UUID) -> None:
        self.run, self.attempt, self.started_at, self.running_since = run, self.attempt + 1, time.monotonic(), None
        self.beats, self.heard_at = 0, 0.0  # the new run's heartbeats count from nothing

    def silent_for(self, beats: int, now: float) -> float:
        """Seconds since this run last showed life (its start of running, or a new heartbeat)."""
        if beats != self.beats:
            self.beats, self.heard_at = beats, now
        return now - max(self.running_since or now, self.heard_at)


class Children(Generic[Outcome]):
    """A wave of child runs watched to the end: ``watch`` yields one outcome per job, each exactly once.

    ``start(what, parameters, attempt)`` starts a run and returns its id; ``heard()`` returns the heartbeat count
    of each run (by run id); ``settle(what, state)`` returns the job's outcome recorded in the database, or None;
    ``fail(what, error)`` makes the outcome of a job that failed.
    """

    def __init__(self, limits: ChildLimits, pool: str, start: Callable[[str, dict, int], uuid.UUID],
                 heard: Callable[[], dict[str, int]], settle: Callable[[str, FlowRun], Outcome | None],
                 fail: Callable[[str, str], Outcome]) -> None:
        self.limits, self.pool = limits, pool
        self.start, self.heard, self.settle, self.fail = start, heard, settle, fail

    def watch(self, jobs: dict[str, dict]) -> Iterator[Outcome]:
        logger = get_run_logger()
        waiting = {what: Child(what, parameters, self.start(what, parameters, 1)) for what, parameters in jobs.items()}
        pause = 0.5  # short runs are seen soon after they end; long waves are looked at every ``poll`` seconds
        while waiting:
            try:
                runs, beats, now = self._runs([c.run for c in waiting.values()]), self.heard(), time.monotonic()
            except DataProcessorError as exc:  # the database briefly away: judge no child on missing heartbeats
                logger.warning("cannot read the children's heartbeats (%s); looking again", exc)
                time.sleep(self.limits.poll)
                continue
            for child in list(waiting.values()):
                run = runs.get(child.run)
                if run is None or run.state is None:
                    continue
                outcome = self._look(child, run, beats.get(str(child.run), 0), now, logger)
                if outcome is not None:
                    del waiting[child.what]
                    yield outcome
            if waiting:
                time.sleep(pause)
                pause = min(pause * 1.5, self.limits.poll)

    def _look(self, child: Child, run: FlowRun, beats: int, now: float, logger) -> Outcome | None:  # noqa: ANN001
        """The job's outcome if it has one now; otherwise None (still going, or started again)."""
        kind, limits = run.state.type, self.limits
        beating = beats > child.beats  # a heartbeat is as good as a Running state seen: the run works
        if child.running_since is None and (kind in (StateType.RUNNING, StateType.CANCELLING) or beating):
            child.running_since, child.heard_at = now, now
        silent = child.silent_for(beats, now)
        if run.state.is_final():
            found = self.settle(child.what, run)
            if found is not None:
                return found
            if kind == StateType.COMPLETED:  # its outcome is gone (a parent rescheduled after reading it)
                return self._again(child, "its run left no outcome to read", logger, ended=True)
            if kind == StateType.CANCELLED and _message(run).startswith(CANCELLED_BY_PARENT):
                return self._again(child, _message(run).removeprefix(CANCELLED_BY_PARENT), logger, ended=True)
            if kind != StateType.CRASHED:  # it failed on its own, or someone cancelled it: not worth another run
                return self.fail(child.what, _ended(run))
            if child.running_since is not None and silent < limits.liveness:
                return None  # marked Crashed but still beating: a late pod, waited for
            return self._again(child, f"its run crashed ({_message(run)})", logger, ended=True)
        if kind in (StateType.RUNNING, StateType.CANCELLING):
            if silent >= limits.liveness:
                return self._again(child, f"no heartbeat for {limits.liveness:.0f} s", logger)
            if limits.deadline and now - child.started_at >= limits.deadline:
                return self._again(child, f"still running after its deadline of {limits.deadline:.0f} s", logger)
            return None
        if now - child.started_at < limits.start_timeout:
            return None
        if kind == StateType.SCHEDULED:  # no worker took it: another run would wait the same
            self._cancel(child.run, "not picked up by a worker")
            return self.fail(child.what, f"no worker picked up its run within {limits.start_timeout:.0f} s: is a "
                                         f"worker polling the work pool of {self.pool}?")
        return self._again(child, f"not running {limits.start_timeout:.0f} s after it was started "
                                  f"(still {run.state.name})", logger)

    def _again(self, child: Child, why: str, logger, ended: bool = False) -> Outcome | None:  # noqa: ANN001
        """Cancel the child's run unless it ``ended`` (a pod that is in fact alive must not race its replacement)
        and start another, or, after the last attempt, fail the job saying what happened."""
        if not ended:
            self._cancel(child.run, why)
        if child.attempt >= self.limits.attempts:
            return self.fail(child.what, f"{why}; tried {plural(child.attempt, 'time')}")
        logger.warning("%s: child run %s %s; starting run %d of %d", child.what, child.run, why, child.attempt + 1,
                       self.limits.attempts)
        child.restarted(self.start(child.what, child.parameters, child.attempt + 1))
        return None

    @staticmethod
    def _cancel(run: uuid.UUID, why: str) -> None:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run, Cancelled(message=f"{CANCELLED_BY_PARENT}{why}"), force=True)

    @staticmethod
    def _runs(ids: list[uuid.UUID]) -> dict[uuid.UUID, FlowRun]:
        found: dict[uuid.UUID, FlowRun] = {}
        with get_client(sync_client=True) as client:
            for at in range(0, len(ids), PAGE):
                page = FlowRunFilter(id=FlowRunFilterId(any_=ids[at:at + PAGE]))
                found |= {run.id: run for run in client.read_flow_runs(flow_run_filter=page, limit=PAGE)}
        return found


def _message(run: FlowRun) -> str:
    return (run.state.message or "no reason given").strip()


def _ended(run: FlowRun) -> str:
    """Why a run that left no outcome ended, in its own words."""
    if run.state.type == StateType.CANCELLED:
        return f"its run was cancelled ({_message(run)}); not started again"
    return _message(run)
