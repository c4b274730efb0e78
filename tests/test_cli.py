"""The command line as a user meets it: help, exit codes, one-line errors, secrets never printed."""

from __future__ import annotations

import re
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
    assert re.search(r"t: 1 files loaded, 0 skipped \(unchanged\), 0 failed; 2 rows loaded, 0 rejected", result.stdout)
    again = cli("load", "--src", str(src), "--glob", "*.csv", "--dest", dest, "--table", "t")
    assert "0 files loaded, 1 skipped" in again.stdout
    status = cli("status", "--dest", dest, "--table", "t")
    assert status.returncode == 0 and "a.csv" in status.stdout and "loaded" in status.stdout


def test_environment_variables_of_the_original_script(src, tmp_path):
    write(src / "sub" / "data.csv", "id\n1\n")
    env = {"SRC_DATA_FOLDER": str(src), "SRC_FILE_NAME": "**/data.csv",
           "DEST_SQL": f"sqlite:///{tmp_path}/env.db", "DEST_TABLE": "from_env"}
    result = cli("load", env=env)
    assert result.returncode == 0, result.stderr
    assert "from_env: 1 files loaded" in result.stdout


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
        (["--dest", "not a url", "--table", "t"], "is not a database URL"),
        (["--dest", "oracle://u@h/db", "--table", "t"], "no bulk writer for database 'oracle'"),
    ],
)
def test_usage_errors_exit_two_with_one_line(src, args, message):
    write(src / "a.csv", "id\n1\n")
    result = cli("load", "--src", str(src), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


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
    result = cli("status", "--dest", f"sqlite:///{tmp_path}/none.db", "--table", "t")
    assert result.returncode == 0 and "nothing loaded yet" in result.stdout


def test_second_run_on_the_same_table_waits_then_says_why(src, pg):
    import sqlalchemy as sa

    from data_processor.db import make_engine

    write(src / "a.csv", "id\n1\n")
    engine, writer = make_engine(POSTGRES_URL)
    with writer.table_lock(engine, pg.table, timeout=1):
        result = cli("load", "--src", str(src), "--glob", "*.csv", "--dest", pg.url, "--table", pg.table,
                     "--lock-timeout", "1")
    assert result.returncode == 2
    assert f"another data-processor run is loading table '{pg.table}'" in result.stderr
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": pg.table}).scalar() is None
    engine.dispose()


def test_the_engine_never_needs_pandas(src, tmp_path):
    """The production image has no pandas; the CLI and its workers run as if it were absent (40 MB less each)."""
    write(src / "a.csv", "id,code,amount,day\n1,007,1.5,2020-01-31\n2,010,,2020-02-29\n")
    script = (
        "import sys\n"
        "from data_processor.run import LoadOptions, slim_process, load\n"
        "slim_process()\n"
        f"summary = load(LoadOptions(src={str(src)!r}, glob='*.csv', dest='sqlite:///{tmp_path}/p.db', table='t'))\n"
        "assert summary.rows_loaded == 2 and summary.exit_code == 0, summary\n"
        "assert 'pandas' not in sys.modules\n"
        "try:\n    import pandas\nexcept ModuleNotFoundError:\n    print('hidden')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "hidden", done.stderr


def test_every_command_has_help_and_is_in_the_readme():
    """Docs that are tested: a command nobody can find is a command nobody uses."""
    from pathlib import Path

    import click

    from data_processor.cli import main

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert set(main.commands) == {"load", "plan", "status", "flow", "setup-alerts"}
    for name, command in main.commands.items():
        assert command.help and len(command.help) > 40, name
        assert f"data-processor {name}" in readme, name
        for option in command.params:
            assert not isinstance(option, click.Option) or option.help, (name, option.name)
