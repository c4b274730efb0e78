"""The Prefect flows against a real Prefect API server and real PostgreSQL: both fan-out modes, the writers' cap,
retries of transient errors, the failure alert and the run's artifacts."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter, FlowRunFilterParentFlowRunId, LogFilter, LogFilterFlowRunId, TaskRunFilter, TaskRunFilterName,
)
from prefect.logging.handlers import APILogHandler

from conftest import REPO, write

ROOT = REPO
HEADER = "LMK_KEY,POSTCODE,CURRENT_ENERGY_EFFICIENCY,UPRN\n"


def rows(prefix: str, count: int) -> str:
    return "".join(f"{prefix}{i:08d},TS24 8AB,{i % 100},{100110000000 + i}\n" for i in range(count))


def good_files(src: Path, names: list[str], count: int = 50) -> int:
    for name in names:
        write(src / name / "certificates.csv", HEADER + rows(name, count))
    return len(names) * count


def bad_file(src: Path) -> None:
    write(src / "zz-bad" / "certificates.csv", HEADER + rows("zz", 5) + "only,three,fields\n")


def run_parent(pg, src, **parameters):
    from flows.load_folder import load_csv_folder

    return load_csv_folder(table=pg.table, src=str(src), glob="**/certificates.csv", dest=pg.url,
                           return_state=True, **{"max_bad_rows": 0, "db_concurrency_limit": pg.table, **parameters})


def test_local_mode_loads_every_file_once_and_writes_the_artifact(prefect_api, pg, src):
    expected = good_files(src, ["a", "b", "c"])
    state = run_parent(pg, src, workers=2)
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary["files_loaded"], summary["rows_loaded"], summary["files_failed"]) == (3, expected, 0)
    assert pg.count() == expected
    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts()
        tables = [a for a in artifact if a.key == f"load-{pg.table.replace('_', '-')}"]
        assert tables, "no table artifact"
        data = tables[0].data if isinstance(tables[0].data, list) else json.loads(tables[0].data)
        assert sorted((r["file"], r["status"], r["rows loaded"]) for r in data) == [
            ("a/certificates.csv", "loaded", 50), ("b/certificates.csv", "loaded", 50),
            ("c/certificates.csv", "loaded", 50)]
        progress = [a for a in artifact if a.key == f"progress-{pg.table.replace('_', '-')}"]
        assert progress and float(progress[0].data) == 100.0
        assert progress[0].description.startswith(f"{pg.table}: 3 of 3 files to load finished (")
        APILogHandler().flush()  # the run's log lines go to the API in batches
        logs = [log.message for log in client.read_logs(log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])))]
    size = sum(f.stat().st_size for f in src.rglob("*.csv")) / 1000
    assert f"scanning 3 files ({size:.1f} kB) to plan the load" in logs  # the planning scan is not silent
    assert f"scanned 3 of 3 files ({size:.1f} kB of {size:.1f} kB)" in logs
    assert any(m.startswith(f"{pg.table}: 3 files loaded, 0 skipped (unchanged), 0 failed;") for m in logs)
    again = run_parent(pg, src, workers=2)
    assert again.is_completed() and again.result()["files_skipped"] == 3 and pg.count() == expected
    with get_client(sync_client=True) as client:  # nothing to load is done, not stuck at 0 %
        (progress,) = [a for a in client.read_latest_artifacts() if a.key == f"progress-{pg.table.replace('_', '-')}"]
    assert float(progress.data) == 100.0


def test_local_mode_names_the_failed_file_and_loads_the_rest(prefect_api, pg, src):
    expected = good_files(src, ["a", "b"])
    bad_file(src)
    state = run_parent(pg, src)
    assert state.is_failed()
    assert "1 of 3 files failed" in state.message and "zz-bad/certificates.csv" in state.message
    assert "expected 4 fields" in state.message
    assert pg.count() == expected
    with get_client(sync_client=True) as client:  # bad data is not worth a retry
        (failed,) = [a for a in client.read_latest_artifacts() if a.key == f"failed-{pg.table.replace('_', '-')}"]
        data = failed.data if isinstance(failed.data, list) else json.loads(failed.data)
        assert [(r["file"], r["line"], "expected 4 fields" in r["reason"]) for r in data] == [
            ("zz-bad/certificates.csv", None, True)]  # too many bad rows: the file fails, not one line of it
        (bad,) = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=["load zz-bad/certificates.csv"])),
            flow_run_filter=FlowRunFilter(id={"any_": [state.state_details.flow_run_id]}))
    assert bad.run_count == 1 and bad.state.type.value == "FAILED"


@pytest.fixture(scope="module")
def served_child(prefect_api):
    """The per-file child deployment served on this machine: the kubernetes fan-out path without a cluster."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}  # not every 10 s
    process = subprocess.Popen([sys.executable, "-m", "flows.load_file"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    with get_client(sync_client=True) as client:
        while True:
            try:
                client.read_deployment_by_name("load-csv-file/local")
                break
            except Exception:  # noqa: BLE001 - not served yet
                if time.monotonic() > deadline or process.poll() is not None:
                    process.kill()
                    pytest.fail("the child deployment was not served within 90 s")
                time.sleep(0.5)
    yield "load-csv-file/local"
    process.terminate()
    process.wait(timeout=30)


def test_kubernetes_mode_fails_the_parent_naming_the_bad_file(prefect_api, served_child, pg, src):
    expected = good_files(src, ["a", "b"])
    bad_file(src)
    state = run_parent(pg, src, fanout="kubernetes", child_deployment=served_child)
    assert state.is_failed(), state
    assert "1 of 3 files failed" in state.message and "zz-bad/certificates.csv" in state.message
    assert pg.count() == expected
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[state.state_details.flow_run_id])))
    by_name = {c.name: c.state.type.value for c in children}
    keys = ["a/certificates.csv", "b/certificates.csv", "zz-bad/certificates.csv"]
    assert by_name == {**{f"{pg.table}: scan {key}": "COMPLETED" for key in keys},  # the bad row is the load's
                       **{f"{pg.table}: {key}": "FAILED" if key.startswith("zz") else "COMPLETED" for key in keys}}


def test_kubernetes_mode_plans_without_the_parent_reading_a_data_file(prefect_api, served_child, pg, src,
                                                                         monkeypatch):
    """Pods scan their own files and hand the statistics back through the database: the parent only lists."""
    import data_processor.fingerprint

    def no_reading_here(source, *args, **kwargs):
        raise AssertionError(f"the parent opened {source}")

    monkeypatch.setattr(data_processor.fingerprint, "open_source", no_reading_here)  # every byte read goes by it
    expected = good_files(src, ["a", "b", "c"])
    state = run_parent(pg, src, fanout="kubernetes", child_deployment=served_child)
    assert state.is_completed(), state.message
    assert (state.result()["files_loaded"], pg.count()) == (3, expected)
    assert pg.scalar("SELECT COUNT(*) FROM data_processor_handoffs WHERE table_name = :t", t=pg.table) == 0
    rerun = run_parent(pg, src, fanout="kubernetes", child_deployment=served_child)
    assert rerun.is_completed() and rerun.result()["files_skipped"] == 3 and pg.count() == expected


class Inbox(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Inbox.received.append(json.loads(body or b"{}"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Inbox)
    Inbox.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alert", Inbox.received
    server.shutdown()


def wait_for(inbox: list[dict], wanted, seconds: float = 120) -> list[dict]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not any(wanted(m) for m in inbox):
        time.sleep(0.2)
    return [m for m in inbox if wanted(m)]


def test_setup_alerts_is_idempotent_and_the_failure_alert_arrives(prefect_api, pg, src, webhook):
    from prefect.automations import Automation

    from flows.alerts import AlertSettings, setup_alerts

    url, inbox = webhook
    setup_alerts(AlertSettings(url))
    second = setup_alerts(AlertSettings(url))
    assert all(line.endswith("unchanged") for line in second), second
    with get_client(sync_client=True) as client:
        names = [a.name for a in client.read_automations()]
    assert sorted(n for n in names if n.startswith("data-processor")) == [
        "data-processor: run failed or crashed", "data-processor: run stuck in Pending",
        "data-processor: run stuck in Running"]
    assert Automation.read(name="data-processor: run failed or crashed").enabled
    good_files(src, ["a"])
    bad_file(src)
    state = run_parent(pg, src)
    assert state.is_failed()
    alerts = wait_for(inbox, lambda m: pg.table in m.get("text", ""))
    assert alerts, f"no alert within 120 s; received {inbox}"
    text = alerts[0]["text"]
    assert "zz-bad/certificates.csv" in text and "Failed" in alerts[0]["subject"]
    assert f"Table: {pg.table}" in text and f"Run: {state.state_details.flow_run_id}" in text  # no UI URL set here


def test_a_completed_load_posts_its_summary_to_the_success_webhook(prefect_api, pg, src, webhook):
    from flows.alerts import AlertSettings, setup_alerts

    url, inbox = webhook
    setup_alerts(AlertSettings(url, success_url=url))
    again = setup_alerts(AlertSettings(url, success_url=url))
    assert all(line.endswith("unchanged") for line in again), again
    expected = good_files(src, ["a", "b"])
    assert run_parent(pg, src).is_completed()
    posts = wait_for(inbox, lambda m: m.get("table") == pg.table and "files_loaded" in m)
    assert posts, f"no summary within 120 s; received {inbox}"
    summary = posts[0]  # the body is the summary itself, an object: no JSON string to decode a second time
    assert (summary["files_loaded"], summary["rows_loaded"], summary["exit_code"]) == (2, expected, 0)
    assert isinstance(summary["files"], list) and isinstance(summary["failed"], list)
    assert {f["key"] for f in summary["files"]} == {"a/certificates.csv", "b/certificates.csv"}


def test_a_run_stuck_in_running_alerts(prefect_api, pg, src, webhook):
    """The parent waits on the table lock another run holds: after the threshold, the stuck-run alert fires."""
    import datetime as dt

    from data_processor import Settings, locked
    from flows.alerts import AlertSettings, setup_alerts

    url, inbox = webhook
    setup_alerts(AlertSettings(url, running_after=dt.timedelta(seconds=10)))
    try:
        good_files(src, ["a"])
        outcome = {}
        with locked(Settings(src=str(src), glob="**/certificates.csv", dest=pg.url, table=pg.table)):
            runner = threading.Thread(target=lambda: outcome.update(state=run_parent(pg, src, lock_timeout=60)))
            runner.start()
            stuck = wait_for(inbox, lambda m: pg.table in m.get("text", "") and "Running" in m.get("subject", ""),
                             seconds=45)
        runner.join(timeout=120)
    finally:
        setup_alerts(AlertSettings(url))
    assert stuck, f"no stuck-run alert within 45 s; received {inbox}"
    assert "longer than expected" in stuck[0]["text"]
    assert outcome["state"].is_completed() and pg.count() == 50


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    best = current = 0
    for _, step in edges:
        current += step
        best = max(best, current)
    return best


def test_the_database_writer_cap_holds(prefect_api, pg, src):
    """Six files, six worker threads, a limit of two: never more than two files write at once (from the ledger's
    per-file start and commit times, which are taken inside the limit's slot)."""
    good_files(src, [f"f{i}" for i in range(6)], count=40_000)
    state = run_parent(pg, src, workers=6, max_db_writers=2)
    assert state.is_completed(), state.message
    spans = pg.rows("SELECT attempted_at, loaded_at FROM data_processor_files WHERE table_name = :t", t=pg.table)
    assert len(spans) == 6
    assert _max_overlap([(a.timestamp(), b.timestamp()) for a, b in spans]) <= 2


class _Lines(logging.Handler):
    """The run's log lines as this process emits them (the flow runs on a thread here)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def wait_for(self, text: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.lines):
            assert time.monotonic() < deadline, f"no line with {text!r} in {self.lines}"
            time.sleep(0.05)


@pytest.fixture
def flow_lines():
    lines, logger = _Lines(), logging.getLogger("prefect.flow_runs")
    logger.addHandler(lines)
    yield lines
    logger.removeHandler(lines)


def test_a_run_waits_for_writer_slots_held_elsewhere_says_so_and_goes_on_when_freed(prefect_api, pg, src,
                                                                                   flow_lines):
    """Both slots of the limit held by another holder: the run says it waits, naming the limit, and loads once one
    is freed, with as many threads as slots it got (one)."""
    from prefect.concurrency.sync import concurrency

    expected = good_files(src, ["a", "b", "c"])
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(pg.table, 2)
    outcome = {}
    with concurrency(pg.table, occupy=1, strict=True):
        with concurrency(pg.table, occupy=1, strict=True):
            runner = threading.Thread(target=lambda: outcome.update(state=run_parent(pg, src, workers=2)))
            runner.start()
            flow_lines.wait_for(f"waiting for 1 slot of the writers' limit {pg.table} (2 of 2 held by other loads")
        runner.join(timeout=120)
    state = outcome["state"]
    assert state.is_completed(), state.message
    assert pg.count() == expected
    assert any(line.startswith(f"got 1 slot of the writers' limit {pg.table} after") for line in flow_lines.lines)
    assert f"loading with 1 thread: the writers' limit {pg.table} has no more free" in flow_lines.lines
    spans = pg.rows("SELECT attempted_at, loaded_at FROM data_processor_files WHERE table_name = :t", t=pg.table)
    assert _max_overlap([(a.timestamp(), b.timestamp()) for a, b in spans]) == 1
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(pg.table).active_slots == 0


def test_a_transient_database_error_is_retried_and_the_file_loads_once(prefect_api, pg, src):
    """The load's connection is killed while it waits on a lock; the task retries and the file lands once."""
    expected = good_files(src, ["a"])
    assert run_parent(pg, src).is_completed()
    expected += good_files(src, ["b"])
    blocker = pg.engine.connect()
    blocker.execute(sa.text(f"LOCK TABLE {pg.q(pg.table)} IN EXCLUSIVE MODE"))  # reads pass, writes wait
    killed = []

    def kill_the_waiting_load() -> None:
        with pg.engine.connect() as admin:
            for _ in range(600):
                pid = admin.execute(sa.text(  # a new file's first write to the table is its COPY
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE :q"
                ), {"q": f"COPY {pg.table} %"}).scalar()
                if pid:
                    admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                    killed.append(pid)
                    break
                admin.rollback()  # pg_stat_activity is a snapshot per transaction
                time.sleep(0.05)
        blocker.rollback()
        blocker.close()

    threading.Thread(target=kill_the_waiting_load, daemon=True).start()
    state = run_parent(pg, src)
    assert killed, "the load never waited on the lock"
    assert state.is_completed(), state.message
    assert pg.count() == expected
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=["load b/certificates.csv"])),
                                     flow_run_filter=FlowRunFilter(id={"any_": [state.state_details.flow_run_id]}))
    assert [r.run_count for r in runs] == [2]


def test_the_flow_command_runs_the_flow_on_a_real_server(prefect_api, pg, src):
    expected = good_files(src, ["a", "b"])
    bad_file(src)
    with_password = pg.url.replace("postgres@", "postgres:s3cret-pw@")  # the server trusts loopback: ignored
    done = subprocess.run(
        [sys.executable, "-m", "data_processor", "flow", "--src", str(src), "--glob", "**/certificates.csv",
         "--dest", with_password, "--table", pg.table, "--max-bad-rows", "0"], capture_output=True, text=True,
        timeout=180, env={**os.environ, "PREFECT_API_URL": prefect_api},
    )
    assert "s3cret-pw" not in done.stdout + done.stderr
    with get_client(sync_client=True) as client:  # nor in what Prefect stored and shows in the UI
        (run,) = [r for r in client.read_flow_runs() if r.parameters.get("table") == pg.table]
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    assert "s3cret-pw" not in json.dumps(run.parameters) and logs
    assert not any("s3cret-pw" in log.message for log in logs)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"{pg.table}: 2 files loaded, 0 skipped (unchanged), 1 failed; {expected:,} rows loaded" in done.stdout
    assert "FAILED  zz-bad/certificates.csv: 1 bad row exceeds --max-bad-rows 0" in done.stdout
    assert pg.count() == expected


def test_webhook_urls_are_stored_as_secrets(prefect_api, webhook):
    """A webhook URL is a credential: what the API returns for the saved block must not show it."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from flows.alerts import BLOCK_NAME, AlertSettings, setup_alerts

    url, _ = webhook
    setup_alerts(AlertSettings(url + "?token=t0p-secret"))
    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name(BLOCK_NAME, "custom-webhook", include_secrets=False)
    assert "t0p-secret" not in json.dumps(document.data, default=str)
    saved = CustomWebhookNotificationBlock.load(BLOCK_NAME).secrets.get_secret_value()["webhook_url"]
    assert saved.endswith("t0p-secret")
    changed = setup_alerts(AlertSettings(url))  # a new URL is a change, though both are hidden
    assert changed[0] == f"notification block {BLOCK_NAME}: updated"


def test_a_missing_child_deployment_is_one_clear_error(prefect_api, pg, src):
    good_files(src, ["a"])
    state = run_parent(pg, src, fanout="kubernetes", child_deployment="load-csv-file/nowhere")
    assert state.is_failed()
    assert "no deployment 'load-csv-file/nowhere' on this Prefect server: run `prefect deploy --all`" in state.message
    assert not sa.inspect(pg.engine).has_table(pg.table)  # failed before planning, scanning or any DDL


def test_the_flow_command_on_a_temporary_api(src, tmp_path):
    """No server configured (a laptop, `make run`, or the command typed outside make): Prefect's temporary API, this
    run's threads as the cap, no telemetry errors (this network has no route out), and the summary said once."""
    good_files(src, ["a", "b"])
    unset = {"PREFECT_API_URL", "PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK"}  # as in a fresh shell
    env = {k: v for k, v in os.environ.items() if k not in unset}
    done = subprocess.run(
        [sys.executable, "-m", "data_processor", "flow", "--src", str(src), "--dest", f"sqlite:///{tmp_path}/t.db",
         "--table", "t", "--workers", "2"], capture_output=True, text=True, timeout=180,
        env={**env, "PREFECT_HOME": str(tmp_path / "prefect")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    everything = done.stdout + done.stderr
    assert "t: 2 files loaded, 0 skipped (unchanged), 0 failed; 100 rows loaded" in done.stdout
    assert everything.count("t: 2 files loaded") == 1 and everything.count("schema: created table t") == 1
    assert "temporary Prefect API: at most one file writes at a time" in everything  # SQLite: one writer
    assert "telemetry" not in everything.lower() and "Traceback" not in everything


def setup_alerts_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "data_processor", "setup-alerts", *args], capture_output=True,
                          text=True, timeout=180, env=env)


@pytest.mark.parametrize(("args", "option"), [
    (["--webhook-url", "ftp://x"], "--webhook-url"),
    (["--webhook-url", "http://alerts.example.com/hook/s3cret"], "--webhook-url"),
    (["--webhook-url", "not a url"], "--webhook-url"),
    (["--webhook-url", "https://hooks.slack.com/services/T/B/x", "--on-success-url", "ftp://y"], "--on-success-url"),
])
def test_setup_alerts_refuses_a_url_that_cannot_take_a_post(prefect_api, args, option):
    from flows.alerts import BLOCK_NAME

    with get_client(sync_client=True) as client:
        before = [(b.id, b.updated) for b in client.read_block_documents() if b.name == BLOCK_NAME]
    done = setup_alerts_cli(*args, env={**os.environ, "PREFECT_API_URL": prefect_api})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().count("\n") == 0 and option in done.stderr and "https://" in done.stderr, done.stderr
    assert "s3cret" not in done.stderr and "updated" not in done.stdout + done.stderr
    with get_client(sync_client=True) as client:
        assert [(b.id, b.updated) for b in client.read_block_documents() if b.name == BLOCK_NAME] == before


def test_setup_alerts_without_a_server_says_to_set_one(tmp_path):
    """Prefect's temporary API would take the alerts and vanish with this process: refuse, naming the setting."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = setup_alerts_cli("--webhook-url", "https://hooks.slack.com/services/T/B/x",
                            env={**env, "PREFECT_HOME": str(tmp_path / "prefect")})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().count("\n") == 0 and "PREFECT_API_URL" in done.stderr, done.stderr
    assert "created" not in done.stdout


def test_kubernetes_mode_widens_for_a_misfit_file_and_loads_it_again(prefect_api, served_child, pg, src):
    """A pod finds a value its planned column cannot hold: it hands the misfit back through the database, the
    parent widens the table once and starts a second load run for that file."""
    good_files(src, ["a"])
    assert run_parent(pg, src, fanout="kubernetes", child_deployment=served_child).is_completed()
    write(src / "b" / "certificates.csv", HEADER + rows("b", 20) + "b99,TS24 8AB,0042x,100110000099\n")
    state = run_parent(pg, src, fanout="kubernetes", child_deployment=served_child)
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary["files_loaded"], summary["files_skipped"]) == (1, 1)
    assert summary["schema_changes"] == ["widened column current_energy_efficiency: integer → text"]
    assert pg.scalar(f"SELECT current_energy_efficiency FROM {pg.q(pg.table)} WHERE lmk_key = 'b99'") == "0042x"
    assert pg.count() == 71


def test_both_fan_outs_apply_a_changed_file_as_a_row_difference(prefect_api, served_child, pg, src):
    """The next release in kubernetes fan-out (one pod per file: the result comes back through the ledger) and in
    local fan-out (task runs): only what changed is written, and the summary and table artifact say so."""
    monthly = {"null_values": ["NO DATA!"], "hash_first_load": True}  # as sync-epc loads: every row hashed
    lines = rows("a", 30).splitlines(keepends=True)
    write(src / "a" / "certificates.csv", HEADER + "".join(lines))
    assert run_parent(pg, src, fanout="kubernetes", child_deployment=served_child, **monthly).is_completed()
    write(src / "a" / "certificates.csv", HEADER + "".join(lines[2:][::-1]) + rows("n", 3))
    state = run_parent(pg, src, fanout="kubernetes", child_deployment=served_child, **monthly)
    assert state.is_completed(), state.message
    [pod] = state.result()["files"]
    assert (pod["applied"], pod["rows_inserted"], pod["rows_deleted"], pod["rows_unchanged"]) == ("diff", 3, 2, 28)

    write(src / "a" / "certificates.csv", HEADER + "".join(lines[3:]) + rows("n", 3))
    state = run_parent(pg, src, workers=1, **monthly)
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary["rows_inserted"], summary["rows_deleted"], summary["rows_unchanged"]) == (0, 1, 30)
    with get_client(sync_client=True) as client:
        [table] = [a for a in client.read_latest_artifacts() if a.key == f"load-{pg.table.replace('_', '-')}"]
    data = table.data if isinstance(table.data, list) else json.loads(table.data)
    assert [(r["applied"], r["inserted"], r["deleted"], r["unchanged"]) for r in data] == [("diff", 0, 1, 30)]
    assert pg.count() == 30
