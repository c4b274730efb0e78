"""SIGKILL in the middle of a file: nothing of it is committed, and the next run loads it whole, once.

The kill lands at a known point (the file's rows are written and its ledger row updated, the commit not yet sent:
``pause_point("before-commit")``), never after a guessed sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from data_processor.testing import PAUSE_AT, PAUSE_DIR

ROWS = 100_000


def _big_file(path):
    with open(path, "w") as f:
        f.write("id,name,amount,day\n")
        f.writelines(f"{i},name {i},{i % 997}.{i % 100:02d},2020-01-{1 + i % 28:02d}\n" for i in range(ROWS))


def _ledger_status(db) -> str | None:
    if not sa.inspect(db.engine).has_table("data_processor_files"):
        return None
    return db.scalar("SELECT status FROM data_processor_files WHERE table_name = :t", t=db.table)


def paused_at(folder: Path, point: str, process: subprocess.Popen, timeout: float = 120) -> int:
    """The pid of the process that reached ``point`` (it waits there until ``<point>.go`` exists)."""
    reached = folder / f"{point}.reached"
    deadline = time.monotonic() + timeout
    while not reached.exists():
        assert process.poll() is None, f"the load ended ({process.returncode}) before reaching {point}"
        assert time.monotonic() < deadline, f"the load never reached {point}"
        time.sleep(0.02)
    return int(reached.read_text())


def _pausing(tmp_path: Path, point: str) -> dict:
    return {**os.environ, PAUSE_AT: point, PAUSE_DIR: str(tmp_path)}


def test_sigkill_mid_file_then_rerun_loads_exactly_once(db, src, tmp_path):
    _big_file(src / "big.csv")
    args = [sys.executable, "-m", "data_processor", "load", "--src", str(src), "--glob", "*.csv",
            "--dest", db.url, "--table", db.table, "--workers", "1"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=_pausing(tmp_path, "before-commit"))
    pid = paused_at(tmp_path, "before-commit", process)
    assert pid == process.pid  # one worker: the CLI process loads the file itself
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert db.count() == 0
    assert _ledger_status(db) == "new"

    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    assert db.count() == ROWS
    assert db.scalar(f"SELECT COUNT(DISTINCT id) FROM {db.q(db.table)}") == ROWS
    assert db.load(src).count("skipped") == 1 and db.count() == ROWS


def test_a_killed_worker_process_is_one_clear_error_and_the_rerun_loads_once(pg, src, tmp_path):
    """A worker OOM-killed mid-file: exit 1 with one line naming a file, no traceback; the next run loads all."""
    for name in ("a", "b", "c"):
        _big_file(src / f"{name}.csv")
    # a pool even for these small files: PARALLEL_MIN_BYTES would otherwise load them in one process
    args = [sys.executable, "-c", "import data_processor.fanout as r, data_processor.cli as c; "
            "r.PARALLEL_MIN_BYTES = 0; c.run()", "load", "--src", str(src), "--glob", "*.csv",
            "--dest", pg.url, "--table", pg.table, "--workers", "2"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_pausing(tmp_path, "before-commit"))
    worker = paused_at(tmp_path, "before-commit", process)
    assert worker != process.pid  # a pool worker holds the file's transaction
    os.kill(worker, signal.SIGKILL)
    (tmp_path / "before-commit.go").touch()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, (out, err)
    assert "a worker process died" in err and "Traceback" not in err
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert pg.count() == 3 * ROWS
