"""SIGKILL in the middle of a file: nothing of it is committed, and the next run loads it whole, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

ROWS = 400_000


def _big_file(path):
    with open(path, "w") as f:
        f.write("id,name,amount,day\n")
        f.writelines(f"{i},name {i},{i % 997}.{i % 100:02d},2020-01-{1 + i % 28:02d}\n" for i in range(ROWS))


def _ledger_status(db) -> str | None:
    if not sa.inspect(db.engine).has_table("data_processor_files"):
        return None
    return db.scalar("SELECT status FROM data_processor_files WHERE table_name = :t", t=db.table)


def test_sigkill_mid_file_then_rerun_loads_exactly_once(db, src):
    _big_file(src / "big.csv")
    args = [sys.executable, "-m", "data_processor", "load", "--src", str(src), "--glob", "*.csv",
            "--dest", db.url, "--table", db.table, "--workers", "1"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _ledger_status(db) is None and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)  # the ledger row is registered just before the file's transaction begins
    time.sleep(0.5)
    assert process.poll() is None, "the load finished before it could be killed; make the file bigger"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert db.count() == 0
    assert _ledger_status(db) == "new"

    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    assert db.count() == ROWS
    assert db.scalar(f"SELECT COUNT(DISTINCT id) FROM {db.q(db.table)}") == ROWS
    assert db.load(src).count("skipped") == 1 and db.count() == ROWS


def test_a_killed_worker_process_is_one_clear_error_and_the_rerun_loads_once(pg, src):
    """A worker OOM-killed mid-file: exit 1 with one line naming a file, no traceback; the next run loads all."""
    for name in ("a", "b", "c"):
        _big_file(src / f"{name}.csv")  # 3 × ~13 MB: enough for the process pool
    args = [sys.executable, "-m", "data_processor", "load", "--src", str(src), "--glob", "*.csv",
            "--dest", pg.url, "--table", pg.table, "--workers", "2"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while _ledger_status(pg) is None and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    workers = subprocess.run(["pgrep", "-P", str(process.pid), "-f", "spawn_main"], capture_output=True,
                             text=True).stdout.split()
    assert workers, "no worker process to kill"
    os.kill(int(workers[0]), signal.SIGKILL)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, (out, err)
    assert "a worker process died" in err and "Traceback" not in err
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert pg.count() == 3 * ROWS
