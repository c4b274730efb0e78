"""Inputs that used to load wrong data with exit 0, or end in a traceback: each is now right, or one clear line.

Odd headers are parsed by the same CSV parser and dialect as the data; a copy of the header inside a file is a
reject, never data; a file whose bytes change during its load is rolled back, never committed as a mix.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

import data_processor.read
from conftest import cli, write
from data_processor.testing import PAUSE_AT, PAUSE_DIR


def columns_of(db) -> list[str]:
    import sqlalchemy as sa

    lineage = ("_file_id", "_row_hash")
    return [c["name"] for c in sa.inspect(db.engine).get_columns(db.table) if c["name"] not in lineage]


# -- headers ------------------------------------------------------------------------------------------------------


def test_a_quoted_newline_in_the_header_is_not_a_data_row(db, src):
    write(src / "x.csv", '"multi\nline",b\n1,2\n3,4\n')
    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    assert columns_of(db) == ["multi_line", "b"]
    assert db.rows(f"SELECT multi_line, b FROM {db.q(db.table)} ORDER BY b") == [(1, 2), (3, 4)]


def test_semicolons_inside_quoted_header_cells_do_not_make_it_a_semicolon_file(db, src):
    write(src / "x.csv", '"floor; level; band","walls; roof",n\n"1st","cavity, filled",1\n"2nd",solid,2\n')
    summary = db.load(src)
    assert summary.exit_code == 0 and summary.rows_rejected == 0, summary.failed
    assert columns_of(db) == ["floor_level_band", "walls_roof", "n"]
    assert db.count() == 2


def test_a_semicolon_file_with_commas_in_its_values_is_still_a_semicolon_file(db, src):
    write(src / "x.csv", "id;amount;note\n1;2,5;a, b\n2;3,5;c\n")
    summary = db.load(src)
    assert summary.rows_rejected == 0 and columns_of(db) == ["id", "amount", "note"]


@pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
def test_a_header_longer_than_64_kb_is_read_whole(db, src):
    names = [f"a_rather_long_column_name_number_{i:05d}_of_many_xyz" for i in range(1500)]  # ~77 KB
    write(src / "wide.csv", ",".join(names) + "\n" + ",".join(str(i) for i in range(1500)) + "\n")
    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    assert columns_of(db) == names
    assert db.scalar(f"SELECT {names[-1]} FROM {db.q(db.table)}") == 1499


def test_a_header_only_file_without_a_final_newline_loads_zero_rows(db, src):
    write(src / "empty-ish.csv", "id,name")
    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    assert summary.results[0].status == "loaded" and summary.rows_loaded == 0
    assert db.load(src).count("skipped") == 1  # and an empty table is not mistaken for one that was emptied


def test_blank_lines_before_the_header(db, src):
    write(src / "x.csv", "\n\nid,name\n1,a\n")
    assert db.load(src).exit_code == 0
    assert db.rows(f"SELECT id, name FROM {db.q(db.table)}") == [(1, "a")]


# -- a copy of the header inside the file -------------------------------------------------------------------------


def test_a_repeated_header_is_a_reject_not_data(db, src):
    part = "id,postcode,amount\n1,01234,2.5\n2,TS24 8AB,3.5\n"
    write(src / "concatenated.csv", part + part.replace("1,", "3,", 1).replace("2,TS", "4,TS", 1))
    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    result = summary.results[0]
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 4, 1)
    rejects = db.rows(f"SELECT line, raw_text, reason FROM {db.q(db.table + '_rejects')}")
    assert rejects == [(4, "id,postcode,amount", rejects[0][2])] and rejects[0][2].startswith("repeated header")
    assert db.rows(f"SELECT id, amount FROM {db.q(db.table)} ORDER BY id")[0] == (1, pytest.approx(2.5))
    assert db.scalar(f"SELECT SUM(id) FROM {db.q(db.table)}") == 10  # id stayed a number


def test_a_repeated_header_with_its_byte_order_mark(db, src):
    part = "\ufeffid,name\n1,a\n"
    write(src / "x.csv", part + part.replace("1,a", "2,b"))
    result = db.load(src).results[0]
    assert (result.rows_loaded, result.rows_rejected) == (2, 1)


# -- a file that changes while it loads ---------------------------------------------------------------------------


def _load_in_thread(db, src, **kwargs):
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("summary", db.load(src, **kwargs)))
    thread.start()
    return thread, outcome


def _wait_for(folder: Path, point: str, thread: threading.Thread) -> None:
    while not (folder / f"{point}.reached").exists():
        assert thread.is_alive(), f"the load ended before reaching {point}"
        thread.join(0.02)


def _rewrite_in_place(path: Path) -> None:
    """Same size, different bytes after the first block: what `cp new old` does to an open file."""
    data = bytearray(path.read_bytes())
    tail = len(data) // 2
    data[tail:] = data[tail:].replace(b"name", b"EMAN")
    with open(path, "r+b") as f:
        f.write(bytes(data))


@pytest.mark.parametrize("point", ["batch-written", "before-commit"])
def test_a_file_rewritten_during_its_load_is_rolled_back_never_a_mix(db, src, tmp_path, monkeypatch, point):
    """Mid-read, the rewrite is caught and nothing commits; after the last byte was read and checked, the rows
    committed are exactly the planned bytes. Either way the next run loads the new content whole."""
    monkeypatch.setattr(data_processor.read, "BLOCK_SIZE", 16 << 10)
    monkeypatch.setattr(data_processor.read, "BATCH_BYTES", 32 << 10)
    rows = "".join(f"{i},name {i}\n" for i in range(20_000))
    path = write(src / "x.csv", "id,name\nragged\n" + rows)  # one reject: the PostgreSQL fast path is not taken
    monkeypatch.setenv(PAUSE_AT, point)
    monkeypatch.setenv(PAUSE_DIR, str(tmp_path))
    thread, outcome = _load_in_thread(db, src, workers=1)
    _wait_for(tmp_path, point, thread)
    _rewrite_in_place(path)
    (tmp_path / f"{point}.go").touch()
    thread.join(120)
    result = outcome["summary"].results[0]
    if point == "batch-written":
        assert result.status == "failed" and "changed during the load" in str(result.error)
        assert db.count() == 0
    else:
        assert result.status == "loaded"
        assert db.scalar(f"SELECT COUNT(*) FROM {db.q(db.table)} WHERE name LIKE 'EMAN%'") == 0
    monkeypatch.delenv(PAUSE_AT)
    rerun = db.load(src)
    assert rerun.exit_code == 0 and rerun.count("loaded") == 1 and db.count() == 20_000
    assert db.scalar(f"SELECT COUNT(*) FROM {db.q(db.table)} WHERE name LIKE 'EMAN%'") > 0


def test_a_file_changed_between_planning_and_loading_is_not_loaded(db, src, monkeypatch):
    """Also the PostgreSQL fast path, which sends the file's own bytes to COPY."""
    import data_processor.jobs as jobs

    path = write(src / "x.csv", "id,name\n1,a\n2,b\n")
    original = jobs.load_one

    def load_after_a_rewrite(*args, **kwargs):
        path.write_text("id,name\n1,a\n2,X\n")
        return original(*args, **kwargs)

    monkeypatch.setattr(jobs, "load_one", load_after_a_rewrite)
    result = db.load(src, workers=1).results[0]
    assert result.status == "failed" and "changed during the load" in str(result.error)
    assert db.count() == 0


# -- one clear line, the right exit code ---------------------------------------------------------------------------


@pytest.mark.parametrize("db", ["postgres", "mariadb", "sqlite"], indirect=True)
def test_nul_bytes_are_rejected_and_their_raw_text_stored(db, src):
    write(src / "x.csv", b"a,b\n1,x\x00y\n2,z\n")
    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    assert db.rows(f"SELECT line, raw_text FROM {db.q(db.table + '_rejects')}") == [(2, "1,x\\x00y")]


@pytest.mark.parametrize("db", ["postgres", "sqlite"], indirect=True)
def test_more_columns_than_the_database_allows_is_one_line(db, src):
    write(src / "w.csv", ",".join(f"c{i}" for i in range(2000)) + "\n" + ",".join("1" * 2000) + "\n")
    result = cli("load", "--src", str(src), "--dest", db.url, "--table", db.table)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "2,002 columns (w.csv alone has 2,000)" in result.stderr


def test_a_header_wider_than_a_read_block_says_how_wide_not_empty(src, tmp_path):
    """90,000 columns (a 600 kB header line, wider than a 512 kB read block): the width error, not Arrow's "Empty
    CSV file or block", and no statistics gathered for columns that can never load (that took minutes)."""
    width = 90_000
    write(src / "w.csv", ",".join(f"col{i}" for i in range(width)) + "\n" + ",".join("1" * width) + "\n")
    result = cli("load", "--src", str(src), "--dest", f"sqlite:///{tmp_path}/w.db", "--table", "w")
    assert result.returncode == 2, result.stderr
    assert "would need 90,002 columns (w.csv alone has 90,000); sqlite allows 2,000" in result.stderr, result.stderr
    assert "Empty CSV" not in result.stderr and "Traceback" not in result.stderr


def test_a_table_name_longer_than_the_database_keeps_is_one_line(src, pg):
    write(src / "x.csv", "a\n1\n")
    result = cli("load", "--src", str(src), "--dest", pg.url, "--table", "t" * 200)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is 200 bytes; postgresql allows 63" in result.stderr


def test_no_process_is_left_behind_when_the_command_returns(src, pg):
    for name in "abc":
        write(src / f"{name}.csv", "id\n" + "".join(f"{i}\n" for i in range(10)))
    code = ("import data_processor.fanout as r, data_processor.cli as c; r.PARALLEL_MIN_BYTES = 0; c.run()")
    command = [sys.executable, "-c", code, "load", "--src", str(src), "--dest", pg.url, "--table", pg.table,
               "--workers", "2"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    left = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True).stdout.split()
    assert left == [], f"processes of the command's group still there: {left}"
    assert pg.count() == 30
    assert os.getpgid(os.getpid()) != process.pid


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowed interrupt
def test_a_ctrl_c_swallowed_by_a_weakref_callback_still_stops_the_load(src, sqlite_db):
    """Ctrl-C lands where the main thread is: inside a weakref callback Python prints "Exception ignored" and drops
    it (seen with 20,000 tiny files: the run went on to the end). The latched interrupt stops the next file."""
    import signal
    import weakref

    from data_processor import interrupts

    for name in "abc":
        write(src / f"{name}.csv", "id\n1\n")

    class Future:
        pass

    with interrupts.latched():
        future = Future()
        weakref.finalize(future, os.kill, os.getpid(), signal.SIGINT)  # SIGINT handled inside the callback
        del future  # the interrupt raised in the callback, and dropped there: we are still here
        with pytest.raises(KeyboardInterrupt):
            sqlite_db.load(src)
    assert not sa.inspect(sqlite_db.engine).has_table(sqlite_db.table) or sqlite_db.count() == 0
