"""JSON logs: logging.yml's ECS lines, the run on every record inside a flow, secrets masked, and a command line
whose every line is a JSON object in ``--log-format json``."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, cli, write
from data_processor.logs import SecretMaskingFilter, configure, mask

LOGGING_YML = REPO / "logging.yml"

DB_URL = "postgresql://u:s3cret@h/db"
SLACK = "https://hooks.slack.com/services/T000/B000/slackSECRET"
TEAMS = "https://contoso.webhook.office.com/webhookb2/teamsSECRET/IncomingWebhook/x"
ENV_HOOK = "https://alerts.example.com/hook/envSECRET"
SECRETS = ("s3cret", "slackSECRET", "teamsSECRET", "envSECRET")


def json_lines(text: str) -> list[dict]:
    """Every line of ``text`` parsed; fails on any line that is not one JSON object."""
    objects = []
    for line in text.splitlines():
        value = json.loads(line)  # raises on a text line, and on an empty one
        assert isinstance(value, dict), line
        objects.append(value)
    return objects


def assert_ecs(record: dict) -> None:
    stamp = dt.datetime.fromisoformat(record["@timestamp"])
    assert stamp.utcoffset() == dt.timedelta(0), record["@timestamp"]
    assert record["log.level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    assert record["log.logger"] and isinstance(record["message"], str)


# -- logging.yml, loaded the way Prefect loads it -------------------------------------------------------------------


class YmlLogging:
    """Logging configured by Prefect from logging.yml; the console handler writes into ``buffer``."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def records(self) -> list[dict]:
        return json_lines(self.buffer.getvalue())


@pytest.fixture
def yml_logging() -> Iterator[YmlLogging]:
    from prefect.logging.configuration import setup_logging
    from prefect.settings import PREFECT_LOGGING_SETTINGS_PATH, temporary_settings

    logs = YmlLogging()
    root = logging.getLogger()
    before = list(root.handlers)
    stdout = sys.stdout
    with temporary_settings({PREFECT_LOGGING_SETTINGS_PATH: LOGGING_YML}):
        sys.stdout = logs.buffer  # logging.yml's console handler is ext://sys.stdout, resolved now
        try:
            config = setup_logging(incremental=False)
        finally:
            sys.stdout = stdout
        assert config["handlers"]["console"]["formatter"] == "json"  # ours, not Prefect's default
        yield logs
    # Back to Prefect's default. It leaves alone a root logger that has a handler of its own (ours), and loggers it
    # does not mention (data_processor) would keep ours: take them off first.
    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
    for name in config["loggers"]:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
    setup_logging(incremental=False)


def test_logging_yml_writes_ecs_json_and_stays_quiet_outside_a_run(yml_logging):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Prefect's API handler warns about records outside a run
        logging.getLogger("data_processor.load").info("loaded %s", "a.csv", extra={"file": "a.csv", "rows_loaded": 2})
        logging.getLogger("some.library").warning("disk almost full")
        logging.getLogger("some.library").info("below the root's WARNING: not written")
    records = yml_logging.records()
    assert [r["log.logger"] for r in records] == ["data_processor.load", "some.library"]
    for record in records:
        assert_ecs(record)
        assert "flow_run_id" not in record
    assert records[0] | {"@timestamp": None} == {
        "@timestamp": None, "log.level": "INFO", "log.logger": "data_processor.load", "message": "loaded a.csv",
        "file.path": "a.csv", "rows_loaded": 2,  # ECS: file and error are objects in Elasticsearch
    }
    assert records[1]["log.level"] == "WARNING" and records[1]["message"] == "disk almost full"


def test_secrets_never_reach_a_line(yml_logging, monkeypatch):
    monkeypatch.setenv("ALERT_WEBHOOK_URL", ENV_HOOK)
    log = logging.getLogger("data_processor.secrets")
    log.info(f"connecting to {DB_URL}, alerts to {SLACK}")
    log.info("connecting to %s, alerts to %s and %s", DB_URL, TEAMS, ENV_HOOK)
    log.info("settings", extra={"dest": DB_URL, "hooks": [SLACK, {"teams": TEAMS}], "env": f"url={ENV_HOOK}"})
    try:
        raise ConnectionError(f"cannot reach {DB_URL}")
    except ConnectionError:
        log.exception("lost the database")
    text = yml_logging.buffer.getvalue()
    for secret in SECRETS:
        assert secret not in text
    records = yml_logging.records()
    assert records[0]["message"] == "connecting to postgresql://u:***@h/db, alerts to ***"
    assert records[1]["message"] == "connecting to postgresql://u:***@h/db, alerts to *** and ***"
    assert records[2]["dest"] == "postgresql://u:***@h/db" and records[2]["hooks"] == ["***", {"teams": "***"}]
    assert "cannot reach postgresql://u:***@h/db" in records[3]["exc_info"]


# -- inside a real flow run -----------------------------------------------------------------------------------------


def test_engine_records_carry_the_run_and_reach_the_ui(prefect_api, yml_logging, src, tmp_path):
    """``prefect_api`` is conftest's session-wide temporary Prefect server."""
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    from data_processor import Settings, run

    @task(name="load-folder-task")
    def load_task(folder: str, dest: str) -> int:
        return run(Settings(src=folder, glob="*.csv", dest=dest, table="t", workers=1)).rows_loaded

    @flow(name="json-logs-test")
    def json_logs_flow(folder: str, dest: str) -> int:
        logging.getLogger("data_processor.probe").info("using %s", DB_URL)
        logging.getLogger("some.library").warning("a library's warning")
        return load_task(folder, dest)

    write(src / "a.csv", "id,v\n1,x\n2,y\n")
    state = json_logs_flow(str(src), f"sqlite:///{tmp_path}/out.db", return_state=True)
    assert state.is_completed() and state.result() == 2
    flow_run_id = str(state.state_details.flow_run_id)

    records = yml_logging.records()
    for record in records:
        assert_ecs(record)
    (loaded,) = [r for r in records if r["log.logger"] == "data_processor.load"]
    assert loaded["flow_run_id"] == flow_run_id and loaded["flow_name"] == "json-logs-test"
    assert loaded["task_name"] == "load-folder-task" and loaded["task_run_id"]
    assert {k: loaded[k] for k in ("file.path", "status", "rows_read", "rows_loaded", "rows_rejected", "bytes")} == {
        "file.path": "a.csv", "status": "loaded", "rows_read": 2, "rows_loaded": 2, "rows_rejected": 0, "bytes": 13,
    }
    assert isinstance(loaded["seconds"], float) and "error.message" not in loaded
    (probe,) = [r for r in records if r["log.logger"] == "data_processor.probe"]
    assert probe["flow_run_id"] == flow_run_id and "task_run_id" not in probe
    (library,) = [r for r in records if r["log.logger"] == "some.library"]  # only the console handler sees it
    assert library["flow_run_id"] == flow_run_id and library["flow_name"] == "json-logs-test"
    assert any(r["log.logger"] == "prefect.flow_runs" and r.get("flow_run_id") == flow_run_id for r in records)

    APILogHandler().flush()  # the API handler sends in batches
    with get_client(sync_client=True) as client:
        in_ui = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    by_logger = {log.name: log.message for log in in_ui}
    assert by_logger["data_processor.load"].startswith("loaded a.csv: 2 rows loaded")
    assert by_logger["data_processor.probe"] == "using postgresql://u:***@h/db"
    assert "s3cret" not in yml_logging.buffer.getvalue() + "".join(log.message for log in in_ui)


# -- the engine's own configuration (the command line's logging) ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DB_URL, "postgresql://u:***@h/db"),
        ("mysql+pymysql://root:p@ss:w0rd@db:3306/x?charset=utf8", "mysql+pymysql://root:***@db:3306/x?charset=utf8"),
        ("redis://:onlypass@cache:6379/0", "redis://:***@cache:6379/0"),
        ("postgresql://loader@db/epc (no password)", "postgresql://loader@db/epc (no password)"),
        ("already hidden: postgresql://u:***@h/db", "already hidden: postgresql://u:***@h/db"),
        (f"alert {SLACK}, then {TEAMS}.", "alert ***, then ***."),
        ("https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual?sig=XYZ", "***"),
        ("see https://example.com/docs and https://hooks.slack.com.evil/x", None),
    ],
)
def test_mask(text, expected):
    assert mask(text) == (text if expected is None else expected)


def test_mask_alert_webhook_from_the_environment(monkeypatch):
    monkeypatch.setenv("ALERT_WEBHOOK_URL", ENV_HOOK)
    assert mask(f"posting to {ENV_HOOK}") == "posting to ***"


def test_configure_json_masks_and_turns_warnings_into_records():
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure("json", logging.INFO, stream=stream)
    try:
        logging.getLogger("data_processor.x").info("dest %s", DB_URL, extra={"hook": SLACK})
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("something deprecated", DeprecationWarning, stacklevel=1)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)
    records = json_lines(stream.getvalue())
    assert [r["log.logger"] for r in records] == ["data_processor.x", "py.warnings"]
    for record in records:
        assert_ecs(record)
    assert records[0]["message"] == "dest postgresql://u:***@h/db" and records[0]["hook"] == "***"
    assert "something deprecated" in records[1]["message"]


def test_masking_filter_is_idempotent_and_keeps_the_record():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s %d%%", (DB_URL, 5), None)
    secrets = SecretMaskingFilter()
    assert secrets.filter(record) and secrets.filter(record)
    assert record.getMessage() == "a postgresql://u:***@h/db 5%"


# -- the command line in --log-format json ---------------------------------------------------------------------------


def test_cli_json_load_every_line_is_an_object(src, tmp_path):
    write(src / "a.csv", "id,v\n1,x\n2,y\n")
    write(src / "b.csv", "id,v\n3,z\n4\n")  # one ragged row: rejected
    write(src / "bad.csv", "id,v\n1\n2\n")  # two bad rows > --max-bad-rows 1: the file fails
    dest = f"sqlite:///{tmp_path}/out.db"
    result = cli("--log-format", "json", "load", "--src", str(src), "--glob", "*.csv", "--dest", dest,
                 "--table", "t", "--max-bad-rows", "1")
    assert result.returncode == 1, result.stderr
    out, err = json_lines(result.stdout), json_lines(result.stderr)
    for record in out + err:
        assert_ecs(record)
        assert record["log.logger"] == "data_processor.cli"

    files = {r["file.path"]: r for r in err if r["event.action"] == "load.file"}
    assert {name: r["status"] for name, r in files.items()} == {"a.csv": "loaded", "b.csv": "loaded",
                                                                "bad.csv": "failed"}
    assert files["b.csv"]["rows_read"] == 2 and files["b.csv"]["rows_rejected"] == 1
    assert "exceed --max-bad-rows 1" in files["bad.csv"]["error.message"] and files["bad.csv"]["log.level"] == "ERROR"

    (summary,) = [r for r in out if r["event.action"] == "load.summary"]
    assert {k: summary[k] for k in ("table", "files_loaded", "files_skipped", "files_failed", "rows_loaded",
                                    "rows_rejected")} == {
        "table": "t", "files_loaded": 2, "files_skipped": 0, "files_failed": 1, "rows_loaded": 3, "rows_rejected": 1,
    }
    assert isinstance(summary["seconds"], float) and isinstance(summary["mb_per_s"], float)
    assert [f["file"] for f in summary["failed"]] == ["bad.csv"] and "exceed" in summary["failed"][0]["error"]
    assert summary["message"].startswith("t: 2 files loaded, 0 skipped (unchanged), 1 failed; 3 rows loaded")

    again = cli("--log-format", "json", "load", "--src", str(src), "--glob", "[ab].csv", "--dest", dest,
                "--table", "t")
    (summary,) = [r for r in json_lines(again.stdout) if r["event.action"] == "load.summary"]
    assert summary["files_skipped"] == 2 and summary["failed"] == [] and again.returncode == 0
    assert [r["event.action"] for r in json_lines(again.stderr)] == ["scan.start", "scan.file", "scan.file",
                                                                     "load.file", "load.file"]

    status = cli("status", "--dest", dest, "--table", "t", env={"DATA_PROCESSOR_LOG_FORMAT": "json"})
    rows = json_lines(status.stdout)
    assert status.returncode == 0 and status.stderr == ""
    assert {(r["file.path"], r["status"]) for r in rows if r["event.action"] == "status.file"} == {
        ("a.csv", "loaded"), ("b.csv", "loaded"), ("bad.csv", "failed")}
    assert (rows[-1]["event.action"], rows[-1]["rows_loaded"], rows[-1]["rows_inserted"]) == ("status.total", 3, 3)


def test_cli_json_plan_one_object_per_row(src, tmp_path):
    write(src / "a.csv", "id,code\n1,007\n")
    result = cli("--log-format", "json", "plan", "--src", str(src), "--glob", "*.csv",
                 "--dest", f"sqlite:///{tmp_path}/p.db", "--table", "t")
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    assert [(r["event.action"], r.get("file.path") or r.get("column")) for r in rows] == [
        ("plan.file", "a.csv"), ("plan.column", "id"), ("plan.column", "code"),
    ]
    assert rows[2]["type"] == "text" and rows[2]["table_state"] == "new"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--log-format", "json", "load", "--glob", "*.nothing", "--table", "t"], {}, "no file under"),
        (["load", "--no-such-option"], {"DATA_PROCESSOR_LOG_FORMAT": "json"}, "No such option"),
        (["--log-format", "json", "load", "--table", "t", "--dest",
          "postgresql://postgres:S3cretPassw0rd@127.0.0.1:1/x"], {}, "postgres:***@127.0.0.1:1/x"),
    ],
)
def test_cli_json_error_is_one_object_on_stderr(src, args, env, message):
    write(src / "a.csv", "id\n1\n")
    result = cli(*_with_src(args, src), env=env)
    assert result.returncode == 2 and result.stdout == ""
    (error,) = json_lines(result.stderr)
    assert_ecs(error)
    assert error["log.level"] == "ERROR" and error["exit_code"] == 2 and message in error["message"]
    assert "S3cretPassw0rd" not in result.stderr and "Traceback" not in result.stderr


def _with_src(args: list[str], src: Path) -> list[str]:
    """``args`` with ``--src src`` right after the ``load`` command name."""
    at = args.index("load") + 1
    return [*args[:at], "--src", str(src), *args[at:]]


def test_cli_text_mode_is_not_json(src, tmp_path):
    write(src / "a.csv", "id\n1\n")
    result = cli("load", "--src", str(src), "--glob", "*.csv", "--dest", f"sqlite:///{tmp_path}/t.db", "--table", "t")
    assert result.returncode == 0
    assert result.stdout.startswith("schema: created table t") and "{" not in result.stdout + result.stderr
    assert result.stderr.startswith("loaded  a.csv: 1 row in ")


def test_cli_json_shows_the_planning_scan_file_by_file(src, tmp_path):
    """The scan reads every new or changed file before anything loads: each one read is a line, with the totals."""
    sizes = {}
    for name, rows in (("a.csv", 10), ("b.csv", 300), ("c.csv", 0)):
        sizes[name] = write(src / name, "id\n" + "".join(f"{i}\n" for i in range(rows))).stat().st_size
    result = cli("--log-format", "json", "plan", "--src", str(src), "--glob", "*.csv",
                 "--dest", f"sqlite:///{tmp_path}/s.db", "--table", "t")
    assert result.returncode == 0, result.stderr
    scan = json_lines(result.stderr)
    start, *files = scan
    total = sum(sizes.values())  # 1,184 bytes
    assert start["event.action"] == "scan.start"
    assert start["message"] == f"scanning 3 files ({total / 1000:.1f} kB) to plan the load"
    assert (start["files_total"], start["bytes_total"]) == (3, sum(sizes.values()))
    assert [r["event.action"] for r in files] == ["scan.file"] * 3
    assert [r["files_scanned"] for r in files] == [1, 2, 3] and {r["file.path"] for r in files} == set(sizes)
    assert files[-1]["bytes_scanned"] == sum(sizes.values()) and files[-1]["message"].startswith("scanned 3 of 3 files")


@pytest.mark.parametrize("where", ["before", "after", "equals", "last"])
def test_log_format_is_taken_anywhere_on_the_line(src, tmp_path, where):
    write(src / "a.csv", "id\n1\n")
    load = ["load", "--src", str(src), "--glob", "*.csv", "--dest", f"sqlite:///{tmp_path}/a.db", "--table", "t"]
    args = {"before": ["--log-format", "json", *load], "after": ["load", "--log-format", "json", *load[1:]],
            "equals": [*load[:3], "--log-format=json", *load[3:]], "last": [*load, "--log-format", "json"]}[where]
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    (summary,) = [r for r in json_lines(result.stdout) if r["event.action"] == "load.summary"]
    assert summary["files_loaded"] == 1 and json_lines(result.stderr)
