"""The parent's rules for a child run marked Crashed (``flows.children``), decided on the states and heartbeat counts
one look sees: no server, no clock (``now`` is given). tests/flows/test_children.py proves them against a real server."""

from __future__ import annotations

import logging
import uuid

from prefect.client.schemas.objects import FlowRun
from prefect.states import Crashed, Pending, Running

from flows.children import Child, ChildLimits, Children

LIMITS = ChildLimits(liveness=6, start_timeout=30, deadline=0, attempts=3)


def rules() -> tuple[Children, list[int]]:
    started: list[int] = []

    def start(_what: str, _parameters: dict, attempt: int) -> uuid.UUID:
        started.append(attempt)
        return uuid.uuid4()

    children = Children(LIMITS, "pool", start, dict, lambda _what, _run: None, lambda what, error: (what, error))
    return children, started


def look(children: Children, child: Child, state, beats: int, now: float):  # noqa: ANN001
    run = FlowRun(id=child.run, flow_id=uuid.uuid4(), state=state)
    return children._look(child, run, beats, now, logging.getLogger("test"))  # noqa: SLF001


def test_a_crashed_run_whose_running_state_was_never_seen_but_that_beats_is_waited_for():
    """The race seen in CI: the test marked the run Crashed between two of the parent's looks, so the parent never
    saw it Running; its heartbeats say it works, so no second run may race it."""
    children, started = rules()
    child = Child("a.csv", {}, uuid.uuid4(), started_at=0.0)
    assert look(children, child, Pending(), 0, now=1.0) is None
    assert look(children, child, Crashed(message="pod watch timed out"), 3, now=2.0) is None
    assert look(children, child, Crashed(message="pod watch timed out"), 7, now=7.5) is None
    assert started == []  # waited for, not started again


def test_a_crashed_run_that_never_beat_is_started_again():
    children, started = rules()
    child = Child("a.csv", {}, uuid.uuid4(), started_at=0.0)
    assert look(children, child, Crashed(message="image pull failed"), 0, now=1.0) is None
    assert started == [2] and child.attempt == 2


def test_a_crashed_run_whose_beats_stopped_for_the_liveness_bound_is_started_again():
    children, started = rules()
    child = Child("a.csv", {}, uuid.uuid4(), started_at=0.0)
    assert look(children, child, Running(), 1, now=1.0) is None
    assert look(children, child, Crashed(message="node lost"), 2, now=2.0) is None
    assert started == []
    assert look(children, child, Crashed(message="node lost"), 2, now=8.5) is None  # silent 6.5 s ≥ 6
    assert started == [2]
    assert (child.beats, child.heard_at, child.running_since) == (0, 0.0, None)  # the new run is heard afresh
