"""The kubernetes fan-out against what clusters do to pods (``flows/children.py``): real Prefect server, real
PostgreSQL, the child deployment served by a process of the test's own, which the test kills, starves or pauses.

A child is paused at a named point of its load (``data_processor.testing``), never raced against a timer; each test
ends with the table exact, the parent's summary true, and the parent done within the bound it states.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, LogFilter, LogFilterFlowRunId
from prefect.states import Cancelling, Crashed

from test_flows import ROOT, good_files

PAUSE = "before-commit"
"""Where the served children stop (unless a test names another point): inside the file's transaction."""
LIMITS = ["--child-liveness", "6", "--child-start-timeout", "30", "--max-db-writers", "8"]
"""Heartbeats a second apart, a silent child lost after 6 s; a run not started within 30 s is stuck. Writer slots to
spare: the slots the killed children held stay taken until their leases end (60 s), which is not what is tested."""


SERVE_CHILD = ("-m", "flows.load_file")
SERVE_PARENT = ("-c", "import sys; from flows.load_folder import load_csv_folder; "
                      "load_csv_folder.serve(name=sys.argv[1])")


@contextmanager
def serving(api: str, name: str, pg, pause_dir: Path | None = None, pause: str = PAUSE,
            serve: tuple = SERVE_CHILD):
    """A flow served as deployment ``<flow>/<name>`` (the child unless ``serve`` says the parent) by a process
    group of its own (killable whole), its database in ``DEST_SQL`` as a pod's Secret gives it. Its output is
    dropped unless ``PYTEST_SERVE_LOG_DIR`` names a folder to keep it in (to see why a test failed)."""
    env = {**os.environ, "PREFECT_API_URL": api, "DEST_SQL": pg.url,
           "PREFECT_RUNNER_POLL_FREQUENCY": "1"}  # a run is taken within a second, not ten: the tests take half
    if pause_dir is not None:
        env |= {"DATA_PROCESSOR_PAUSE_AT": pause, "DATA_PROCESSOR_PAUSE_DIR": str(pause_dir)}
    log = Path(os.environ.get("PYTEST_SERVE_LOG_DIR", "/dev/null"))
    log = log / f"{name}-{time.monotonic_ns()}.log" if log.is_dir() else log
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, *serve, name], cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield server
    finally:
        kill(server)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the process and everything it started: a node lost with its pods."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def served(name: str, seconds: float = 90, flow: str = "load-csv-file") -> str:
    deadline = time.monotonic() + seconds
    with get_client(sync_client=True) as client:
        while True:
            try:
                client.read_deployment_by_name(f"{flow}/{name}")
                return f"{flow}/{name}"
            except Exception:  # noqa: BLE001 - not registered yet
                assert time.monotonic() < deadline, f"load-csv-file/{name} was not served within {seconds:.0f} s"
                time.sleep(0.5)


_PARENTS: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_parent_outlives_its_test():
    """A failed test leaves no parent behind, polling for children and holding its table's lock."""
    yield
    while _PARENTS:
        kill(_PARENTS.pop())


def parent(api: str, pg, src: Path, deployment: str, log: Path, *options: str) -> subprocess.Popen:
    """``data-processor flow --fanout kubernetes`` in a process of its own; its output goes to ``log``. Its writers'
    limit is the test's own: slots a killed child held in another test's limit do not slow this one."""
    command = [sys.executable, "-m", "data_processor", "flow", "--src", str(src), "--glob", "**/certificates.csv",
               "--dest", pg.url, "--table", pg.table, "--fanout", "kubernetes", "--child-deployment", deployment,
               "--db-concurrency-limit", pg.table, *LIMITS, *options]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PREFECT_API_URL": api}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    _PARENTS.append(process)
    return process


def finished(process: subprocess.Popen, log: Path, seconds: float) -> str:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        kill(process)
        pytest.fail(f"the parent did not finish within {seconds:.0f} s:\n{log.read_text()[-3000:]}")
    return log.read_text()


def reached(pause_dir: Path, seconds: float = 180, pause: str = PAUSE) -> None:
    deadline = time.monotonic() + seconds
    while not (pause_dir / f"{pause}.reached").exists():
        assert time.monotonic() < deadline, f"no child reached {pause} within {seconds:.0f} s"
        time.sleep(0.1)


def release(pause_dir: Path, pause: str = PAUSE) -> None:
    (pause_dir / f"{pause}.go").touch()


def load_runs(pg, key: str) -> list:
    """The load runs started for ``key`` (first runs and runs started again)."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            name=FlowRunFilterName(like_=f"{pg.table}: {key}")))
    return sorted(runs, key=lambda r: r.name)


def logged(run_id, text: str, seconds: float = 180) -> None:
    """Wait until flow run ``run_id`` has logged a line holding ``text`` (its lines reach the API in batches)."""
    deadline = time.monotonic() + seconds
    with get_client(sync_client=True) as client:
        while not any(text in log.message for log in client.read_logs(log_filter=LogFilter(
                flow_run_id=LogFilterFlowRunId(any_=[run_id])))):
            assert time.monotonic() < deadline, f"the run did not log {text!r} within {seconds:.0f} s"
            time.sleep(0.5)


def paused_run(pg, keys: list[str]):
    """The load run the test paused: the one still Running once every other has ended."""
    deadline = time.monotonic() + 180
    while True:
        runs = [r for key in keys for r in load_runs(pg, key)]
        running = [r for r in runs if not r.state.is_final()]
        if len(runs) == len(keys) and len(running) == 1 and running[0].state.type.value == "RUNNING":
            return running[0]
        assert time.monotonic() < deadline, f"load runs: {[(r.name, r.state.name) for r in runs]}"
        time.sleep(0.2)


def test_a_lost_serving_process_is_noticed_and_a_fresh_one_loads_every_file(prefect_api, pg, src, tmp_path):
    """A node lost mid-load: the running child falls silent, the ones it had claimed stay Pending. The parent starts
    them again once another process serves the deployment, and every file is loaded once."""
    expected = good_files(src, ["a", "b", "c"])
    name, log = f"lost-{uuid.uuid4().hex[:8]}", tmp_path / "parent.log"
    with serving(prefect_api, name, pg, tmp_path) as first:
        deployment = served(name)
        run = parent(prefect_api, pg, src, deployment, log)
        reached(tmp_path)
        kill(first)
    with serving(prefect_api, name, pg):
        output = finished(run, log, 300)
    assert run.returncode == 0, output[-3000:]
    assert f"{pg.table}: 3 files loaded, 0 skipped (unchanged), 0 failed; {expected:,} rows loaded" in output
    assert pg.count() == expected == pg.scalar(f'SELECT COUNT(DISTINCT lmk_key) FROM {pg.q(pg.table)}')
    assert "no heartbeat for 6 s; starting run 2 of 3" in output
    lost = [r for key in "abc" for r in load_runs(pg, f"{key}/certificates.csv")
            if r.state.message and "no heartbeat for 6 s" in r.state.message]
    assert lost and all(r.state.type.value == "CANCELLED" for r in lost)


def test_a_child_no_worker_picks_up_fails_its_file_within_the_start_timeout(prefect_api, pg, src, tmp_path):
    good_files(src, ["a", "b"])
    name, log = f"unserved-{uuid.uuid4().hex[:8]}", tmp_path / "parent.log"
    with serving(prefect_api, name, pg):
        deployment = served(name)
    started = time.monotonic()
    run = parent(prefect_api, pg, src, deployment, log, "--child-start-timeout", "5")
    output = finished(run, log, 120)
    assert run.returncode == 1, output[-3000:]
    assert (f"FAILED  a/certificates.csv: no worker picked up its run within 5 s: is a worker polling the work "
            f"pool of {deployment}?") in output
    assert not sa.inspect(pg.engine).has_table(pg.table)
    assert time.monotonic() - started < 120
    with get_client(sync_client=True) as client:  # nothing left waiting for a worker that may come later
        left = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=f"{pg.table}: ")))
    assert left and {r.state.type.value for r in left} == {"CANCELLED"}


def test_a_child_cancelled_by_hand_fails_its_file_and_is_not_started_again(prefect_api, pg, src, tmp_path):
    expected = good_files(src, ["a", "b"])
    name, log = f"cancel-{uuid.uuid4().hex[:8]}", tmp_path / "parent.log"
    with serving(prefect_api, name, pg, tmp_path):
        run = parent(prefect_api, pg, src, served(name), log)
        reached(tmp_path)
        victim = paused_run(pg, ["a/certificates.csv", "b/certificates.csv"])
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(victim.id, Cancelling(message="stopped by the on-call engineer"))
        output = finished(run, log, 240)
        release(tmp_path)
    key = victim.name.split(": ", 1)[1]
    assert run.returncode == 1, output[-3000:]
    assert f"FAILED  {key}: its run was cancelled" in output
    assert "not started again" in output
    assert f"{pg.table}: 1 file loaded, 0 skipped (unchanged), 1 failed; {expected // 2:,} rows loaded" in output
    assert pg.count() == expected // 2
    assert len(load_runs(pg, key)) == 1


def test_a_child_marked_crashed_while_alive_is_waited_for_and_counted_loaded(prefect_api, pg, src, tmp_path):
    """The pending-pod case: Prefect says Crashed, but the pod goes on and commits. Its heartbeats say it is alive,
    so no second run races it, and the ledger, not the state, says how the file ended."""
    expected = good_files(src, ["a"])
    name, log = f"crashed-{uuid.uuid4().hex[:8]}", tmp_path / "parent.log"
    with serving(prefect_api, name, pg, tmp_path):
        run = parent(prefect_api, pg, src, served(name), log)
        reached(tmp_path)
        victim = paused_run(pg, ["a/certificates.csv"])
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(victim.id, Crashed(message="pod watch timed out"), force=True)
        time.sleep(10)  # longer than the liveness bound: without its heartbeats the child would be started again
        assert len(load_runs(pg, "a/certificates.csv")) == 1, log.read_text()[-3000:]
        release(tmp_path)
        output = finished(run, log, 240)
    assert run.returncode == 0, output[-3000:]
    assert f"{pg.table}: 1 file loaded, 0 skipped (unchanged), 0 failed; {expected:,} rows loaded" in output
    assert pg.count() == expected
    assert len(load_runs(pg, "a/certificates.csv")) == 1


def test_a_parent_killed_while_its_children_load_is_run_again_and_loads_each_file_once(prefect_api, pg, src,
                                                                                      tmp_path):
    expected = good_files(src, ["a", "b", "c"])
    name = f"rerun-{uuid.uuid4().hex[:8]}"
    with serving(prefect_api, name, pg, tmp_path):
        deployment = served(name)
        first = parent(prefect_api, pg, src, deployment, tmp_path / "first.log")
        reached(tmp_path)
        kill(first)
        second = parent(prefect_api, pg, src, deployment, tmp_path / "second.log")
        release(tmp_path)
        output = finished(second, tmp_path / "second.log", 300)
    assert second.returncode == 0, output[-3000:]
    assert pg.count() == expected == pg.scalar(f'SELECT COUNT(DISTINCT lmk_key) FROM {pg.q(pg.table)}')
    loaded = pg.scalar("SELECT COUNT(*) FROM data_processor_files WHERE table_name = :t AND status = 'loaded'",
                       t=pg.table)
    assert loaded == 3
    counts = re.search(rf"^{pg.table}: (\d+) files? loaded, (\d+) skipped \(unchanged\), 0 failed", output, re.M)
    assert counts and int(counts[1]) + int(counts[2]) == 3, output[-3000:]


def test_a_rescheduled_parent_finds_the_children_it_started_and_starts_no_second_run(prefect_api, pg, src,
                                                                                      tmp_path):
    """The parent's pod is lost while a child works (paused before its load, beating), and Prefect runs the same
    parent run again. It adopts that child (same keys: parent run, wave, file, attempt) and waits for it."""
    from prefect.deployments import run_deployment
    from prefect.states import Scheduled

    expected = good_files(src, ["a", "b"])
    child, parent_name = f"adopt-{uuid.uuid4().hex[:8]}", f"parent-{uuid.uuid4().hex[:8]}"
    with serving(prefect_api, child, pg, tmp_path, pause="child-loading"):
        deployment = served(child)
        parameters = {"table": pg.table, "src": str(src), "glob": "**/certificates.csv", "dest": pg.url,
                      "fanout": "kubernetes", "child_deployment": deployment, "db_concurrency_limit": pg.table,
                      "child_liveness": 6, "child_start_timeout": 30, "max_db_writers": 8}
        with serving(prefect_api, parent_name, pg, serve=SERVE_PARENT) as first:
            run = run_deployment(served(parent_name, flow="load-csv-folder"), parameters=parameters, timeout=0)
            reached(tmp_path, pause="child-loading")
            kill(first)  # the parent's pod is gone; its child goes on
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run.id, Scheduled(), force=True)  # what a rescheduled pod comes back as
        with serving(prefect_api, parent_name, pg, serve=SERVE_PARENT):
            logged(run.id, "starting 1 load run of")  # run again, it has planned: b is loaded, a is not
            release(tmp_path, pause="child-loading")
            deadline = time.monotonic() + 240
            with get_client(sync_client=True) as client:
                while not (state := client.read_flow_run(run.id).state).is_final():
                    assert time.monotonic() < deadline, f"the rescheduled parent is still {state.name}"
                    time.sleep(0.5)
    assert state.is_completed(), state.message
    assert pg.count() == expected == pg.scalar(f"SELECT COUNT(DISTINCT lmk_key) FROM {pg.q(pg.table)}")
    for key in ("a/certificates.csv", "b/certificates.csv"):
        assert [r.name for r in load_runs(pg, key)] == [f"{pg.table}: {key}"], "a second load run was started"
