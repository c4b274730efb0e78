"""The command line as a user meets it: help, exit codes, one-line errors, secrets never printed."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys

import pytest

from conftest import POSTGRES_URL, cli, write


def test_help_teaches_every_command():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("load", "plan", "status"):
        assert command in result.stdout
        sub = cli(command, "--help")
        assert sub.returncode == 0 and "Usage:" in sub.stdout
    assert "SRC_DATA_FOLDER" in cli("load", "--help").stdout


def test_load_summary_and_exit_code_zero(src, tmp_path):
    write(src / "a.csv", "id,v\n1,x\n2,y\n")
    dest = f"sqlite:///{tmp_path}/out.db"
    result = cli("load", "--src", str(src), "--glob", "*.csv", "--dest", dest, "--table", "t")
    assert result.returncode == 0, result.stderr
    assert re.search(r"t: 1 file loaded, 0 skipped \(unchanged\), 0 failed; 2 rows loaded, 0 rejected", result.stdout)
    assert "schema: created table t with 2 columns" in result.stdout
    again = cli("load", "--src", str(src), "--glob", "*.csv", "--dest", dest, "--table", "t")
    assert "0 files loaded, 1 skipped" in again.stdout
    status = cli("status", "--dest", dest, "--table", "t")
    assert status.returncode == 0 and "a.csv" in status.stdout and "loaded" in status.stdout


def test_the_rejects_hint_is_a_query_that_runs(src, tmp_path):
    write(src / "a.csv", "id,v\n1,x\n2,y,surplus\n")
    dest = tmp_path / "out.db"
    result = cli("load", "--src", str(src), "--glob", "*.csv", "--dest", f"sqlite:///{dest}", "--table", "t")
    [hint] = [line for line in result.stdout.splitlines() if line.startswith("rejected rows: ")]
    with sqlite3.connect(dest) as conn:
        assert conn.execute(hint.removeprefix("rejected rows: ")).fetchall() == [
            ("a.csv", 3, "2,y,surplus", "expected 2 fields, found 3")]


def test_environment_variables_of_the_original_script(src, tmp_path):
    write(src / "sub" / "data.csv", "id\n1\n")
    env = {"SRC_DATA_FOLDER": str(src), "SRC_FILE_NAME": "**/data.csv",
           "DEST_SQL": f"sqlite:///{tmp_path}/env.db", "DEST_TABLE": "from_env"}
    result = cli("load", env=env)
    assert result.returncode == 0, result.stderr
    assert "from_env: 1 file loaded, 0 skipped (unchanged), 0 failed; 1 row loaded" in result.stdout
    assert "loaded  sub/data.csv: 1 row in" in result.stderr


def test_failed_file_exits_one_and_names_it(src, tmp_path):
    write(src / "good.csv", "id,v\n1,x\n")
    write(src / "bad.csv", "id,v\n1\n2\n")
    result = cli("load", "--src", str(src), "--glob", "*.csv", "--dest", f"sqlite:///{tmp_path}/o.db",
                 "--table", "t", "--max-bad-rows", "1")
    assert result.returncode == 1
    assert "bad.csv: 2 bad rows exceed --max-bad-rows 1" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--src", "/nonexistent/folder", "--table", "t"], "does not exist"),
        (["--glob", "*.nothing", "--table", "t"], "no file under"),
        (["--glob", "*.csv"], "a table name is required"),
        (["--dest", "not a url", "--table", "t"], "is not a database URL; expected postgresql://"),
        (["--dest", "oracle://u@h/db", "--table", "t"], "no bulk writer for database 'oracle'"),
        (["--dest", "postgresql://u:S3cret@127.0.0.1:abc/db", "--table", "t"], "the port is missing or not a number"),
        (["--dest", "postgresql://u:S3cret@127.0.0.1/db?port=abc", "--table", "t"], "the port in ?port= is not a number"),
        (["--dest", "mysql://u:S3cret@127.0.0.1/db?port=abc", "--table", "t"], "the port in ?port= is not a number"),
        (["--dest", "foo://u:S3cret@h/db", "--table", "t"], "no bulk writer for database 'foo'"),
        (["--dest", "postgresql+foo://u:S3cret@h/db", "--table", "t"], "SQLAlchemy has no driver 'postgresql+foo'"),
        (["--dest", "host=127.0.0.1 user=postgres password=S3cret dbname=test", "--table", "t"],
         "is a libpq key=value string; give a URL instead: postgresql://"),
        (["--dest", "host=h password='S3cret pw' dbname=x", "--table", "t"], "password=*** dbname=x"),
        (["--dest", "postgresql://u:S3c@ret@h/db", "--table", "t"], "write an @ in the password as %40"),
        (["--dest", "u:S3cret@h", "--table", "t"], "is not a database URL"),
    ],
)
def test_usage_errors_exit_two_with_one_line(src, args, message):
    write(src / "a.csv", "id\n1\n")
    result = cli("load", "--src", str(src), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "S3c" not in result.stdout + result.stderr and "ret@" not in result.stderr  # no part of a password


def test_postgres_scheme_is_an_alias(src, pg):
    """libpq, Heroku and many tools write postgres://; SQLAlchemy alone refuses it."""
    write(src / "a.csv", "id\n1\n")
    result = cli("load", "--src", str(src), "--glob", "*.csv", "--table", pg.table,
                 "--dest", pg.url.replace("postgresql://", "postgres://"))
    assert result.returncode == 0, result.stderr
    assert pg.count() == 1


def test_masked_hides_every_form_of_password():
    from data_processor.db import masked

    for url in ("postgresql://u:S3cret@h/db", "postgresql://u:S3c/ret@h:abc/db", "postgresql://u:S3c@ret@h/db",
                "postgresql://u@h/db?password=S3cret&sslmode=require", "host=h user=u password=S3cret dbname=d",
                "host=h password = 'S3cret pw' dbname=d"):
        assert "S3c" not in masked(url) and "ret" not in masked(url), (url, masked(url))


def test_database_password_never_printed(src):
    write(src / "a.csv", "id\n1\n")
    result = cli("load", "--src", str(src), "--table", "t", "--dest",
                 "postgresql://postgres:S3cretPassw0rd@127.0.0.1:1/test")
    assert result.returncode == 2
    assert "S3cretPassw0rd" not in result.stdout + result.stderr
    assert "***" in result.stderr and "Traceback" not in result.stderr


def test_plan_touches_nothing(src, pg):
    write(src / "a.csv", "id,code,when\n1,007,2020-01-01\n")
    result = cli("plan", "--src", str(src), "--glob", "*.csv", "--dest", pg.url, "--table", pg.table)
    assert result.returncode == 0, result.stderr
    assert "new" in result.stdout and re.search(r"code\s+code\s+text", result.stdout)
    assert re.search(r"when\s+when\s+date", result.stdout)
    assert pg.scalar("SELECT to_regclass(:t)", t=pg.table) is None


def test_status_of_an_empty_database(tmp_path):
    import sqlite3

    sqlite3.connect(tmp_path / "empty.db").close()
    result = cli("status", "--dest", f"sqlite:///{tmp_path}/empty.db", "--table", "t")
    assert result.returncode == 0 and "nothing loaded yet" in result.stdout


def test_status_of_a_mistyped_sqlite_path_creates_nothing(tmp_path):
    result = cli("status", "--dest", f"sqlite:///{tmp_path}/typo.db", "--table", "t")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == f"error: no SQLite database at '{tmp_path}/typo.db': check --dest (status never creates one)"
    assert not (tmp_path / "typo.db").exists()


def test_second_run_on_the_same_table_waits_then_says_why(src, pg):
    import sqlalchemy as sa

    from data_processor.db import make_engine

    write(src / "a.csv", "id\n1\n")
    engine, writer = make_engine(POSTGRES_URL)
    with writer.table_lock(engine, pg.table, timeout=1):
        result = cli("load", "--src", str(src), "--glob", "*.csv", "--dest", pg.url, "--table", pg.table,
                     "--lock-timeout", "1")
    assert result.returncode == 2
    assert f"another data-processor run is loading table {pg.table}: waiting up to 1 second" in result.stderr
    assert f"another data-processor run is loading table '{pg.table}'" in result.stderr
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": pg.table}).scalar() is None
    engine.dispose()


def test_the_engine_never_needs_pandas(src, tmp_path):
    """The production image has no pandas; the CLI and its workers run as if it were absent (40 MB less each)."""
    write(src / "a.csv", "id,code,amount,day\n1,007,1.5,2020-01-31\n2,010,,2020-02-29\n")
    script = (
        "import sys\n"
        "from data_processor import Settings, run\nfrom data_processor.fanout import slim_process\n"
        "slim_process()\n"
        f"summary = run(Settings(src={str(src)!r}, glob='*.csv', dest='sqlite:///{tmp_path}/p.db', table='t'))\n"
        "assert summary.rows_loaded == 2 and summary.exit_code == 0, summary\n"
        "assert 'pandas' not in sys.modules\n"
        "try:\n    import pandas\nexcept ModuleNotFoundError:\n    print('hidden')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "hidden", done.stderr


def test_file_names_cannot_forge_lines_or_drive_the_terminal(src, tmp_path):
    """A name holding a newline or an ANSI escape is shown escaped in text; JSON keeps the real name."""
    import json

    write(src / "two\nlines.csv", "id\n1\n")
    write(src / "\x1b[2Jred.csv", "id\n1\n")
    write(src / "bad\rname.csv", "id\n1\n2,3\n")
    dest = f"sqlite:///{tmp_path}/n.db"
    result = cli("load", "--src", str(src), "--glob", "*.csv", "--dest", dest, "--table", "t", "--max-bad-rows", "0")
    assert result.returncode == 1, result.stderr
    shown = result.stdout + result.stderr
    assert "\x1b" not in shown and "\r" not in shown
    assert "loaded  two\\nlines.csv: 1 row in" in result.stderr and "loaded  \\x1b[2Jred.csv: 1 row" in result.stderr
    assert "FAILED  bad\\rname.csv" in result.stdout
    assert all(line.startswith(("loaded ", "FAILED ", "schema: ", "t: ", "rejected rows")) or not line
               for line in shown.splitlines()), shown
    status = cli("status", "--dest", dest, "--table", "t")
    assert "two\\nlines.csv" in status.stdout and "\x1b" not in status.stdout
    as_json = cli("--log-format", "json", "status", "--dest", dest, "--table", "t")
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    files = {o["file.path"] for o in lines if o["event.action"] == "status.file"}
    assert {"two\nlines.csv", "\x1b[2Jred.csv"} <= files


def test_the_planning_scan_shows_progress_on_a_terminal(src, tmp_path):
    """stderr on a terminal: a bar for the scan (files and bytes) before the load's bar."""
    import os
    import pty

    from data_processor.output import size_text

    for name in ("a", "b", "c"):
        write(src / f"{name}.csv", "id,v\n" + "".join(f"{i},x\n" for i in range(1000)))
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "data_processor", "load", "--src", str(src), "--glob", "*.csv", "--dest",
             f"sqlite:///{tmp_path}/p.db", "--table", "t"], stdout=subprocess.PIPE, stderr=follower, text=True,
            timeout=120, env={**os.environ, "TERM": "xterm", "COLUMNS": "160"})
        os.close(follower)
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other end is closed and drained
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0, screen
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode())
    total = size_text(sum(f.stat().st_size for f in src.iterdir()))
    assert f"scanned 3 of 3 files ({total} of {total})" in text, text
    assert "3 of 3 files done, 3,000 rows loaded" in text, text
