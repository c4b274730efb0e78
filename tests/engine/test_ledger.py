"""ledger: what each table holds of each file, on every database we support."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import write
from data_processor import ledger
from data_processor.db import make_engine
from data_processor.errors import TableLockLost
from data_processor.planning import scan_file
from data_processor.target import Target
from data_processor.types import CsvDialect, FilePlan, LoadResult, SourceFile


@pytest.fixture
def book(db):
    """``db`` with the ledger tables; also forgets the second table and the holder rows a test makes."""
    ledger.ensure_tables(db.engine)
    yield db
    ledger.forget(db.target(table=f"{db.table}_b"))
    with db.engine.begin() as conn:
        conn.execute(sa.delete(ledger.runs).where(ledger.runs.c.table_name.in_([db.table, f"{db.table}_b"])))


def file_plan(key: str, content: bytes, etag: str | None = None) -> FilePlan:
    return FilePlan(SourceFile(Path(key), key, len(content), etag=etag), CsvDialect("cp1252", ";"),
                    hashlib.sha256(content).hexdigest(), ("a",), ("a",))


def load(db, file_id: int, file: FilePlan, rows: int = 2, run_id: str = "run-1") -> None:
    """What a file's transaction records once its rows are written."""
    with db.engine.begin() as conn:
        ledger.record_loaded(conn, db.target(run_id), file_id, file,
                             LoadResult(file.source.key, "loaded", rows + 1, rows, 1, seconds=0.12345))


def test_register_gives_one_id_per_table_and_file(book):
    table = book.table
    first = ledger.register(book.target(table=table), "a.csv")
    assert ledger.register(book.target(table=table), "a.csv") == first
    other_table = ledger.register(book.target(table=f"{table}_b"), "a.csv")
    second = ledger.register(book.target(table=table), "b.csv")
    assert len({first, other_table, second}) == 3
    assert ledger.entries(book.target(table=table)) == {
        "a.csv": ledger.Entry(first, "new", None, None, None, None),
        "b.csv": ledger.Entry(second, "new", None, None, None, None),
    }


def test_a_load_records_what_the_table_now_holds(book):
    content = b"a\n1\n2\n"
    file = file_plan("dir/a.csv", content, etag='"e1"')
    file_id = ledger.register(book.target(), "dir/a.csv")
    with book.engine.begin() as conn:
        assert not ledger.claim(conn, file_id, file).unchanged  # registered, nothing loaded yet
    load(book, file_id, file)
    row = ledger.recorded(book.target(), "dir/a.csv")
    assert (row.status, row.size, row.sha256, row.etag, row.encoding, row.delimiter) == (
        "loaded", 6, hashlib.sha256(content).hexdigest(), '"e1"', "cp1252", ";")
    assert (row.rows_read, row.rows_loaded, row.rows_rejected, row.seconds, row.error, row.run_id) == (
        3, 2, 1, 0.123, None, "run-1")
    assert row.loaded_at is not None
    assert ledger.entries(book.target()) == {
        "dir/a.csv": ledger.Entry(file_id, "loaded", 6, file.sha256, 2, '"e1"')}
    with book.engine.begin() as conn:
        assert ledger.claim(conn, file_id, file).unchanged  # a second load of the same bytes does nothing
        assert not ledger.claim(conn, file_id, file_plan("dir/a.csv", b"a\n1\n3\n")).unchanged


def test_a_failure_keeps_the_counts_of_what_the_table_still_holds(book):
    file = file_plan("a.csv", b"a\n1\n2\n")
    file_id = ledger.register(book.target(), "a.csv")
    load(book, file_id, file)
    ledger.record_failed(book.target("run-2"), file_id, "a.csv, line 3: bad")
    row = ledger.recorded(book.target(), "a.csv")
    assert (row.status, row.error, row.run_id, row.rows_loaded, row.sha256) == (
        "failed", "a.csv, line 3: bad", "run-2", 2, file.sha256)
    with book.engine.begin() as conn:
        assert not ledger.claim(conn, file_id, file).unchanged  # a failed file is loaded again
    load(book, file_id, file, run_id="run-3")
    row = ledger.recorded(book.target(), "a.csv")
    assert (row.status, row.error, row.run_id) == ("loaded", None, "run-3")  # and the old error goes


def test_states_the_planning_scan_reads_from_the_ledger(book, tmp_path):
    """new → loaded (unchanged on the next run) → edited (changed) → failed (changed, loaded again) → forgotten."""
    path = write(tmp_path / "x.csv", b"a\n1\n")

    def state() -> str:
        entry = ledger.entries(book.target()).get("x.csv")
        return scan_file(SourceFile(path, "x.csv", path.stat().st_size), (), entry).plan.state

    assert state() == "new"
    file_id = ledger.register(book.target(), "x.csv")
    assert state() == "new"  # registered by a run that died before loading
    load(book, file_id, file_plan("x.csv", path.read_bytes()))
    assert state() == "unchanged"
    path.write_bytes(b"a\n1\n2\n")
    assert state() == "changed"
    path.write_bytes(b"a\n1\n")
    ledger.record_failed(book.target("run-2"), file_id, "boom")
    assert state() == "changed"
    ledger.forget(book.target())
    assert state() == "new"


def test_forget_drops_one_table_and_remove_one_file(book):
    table, other = book.table, f"{book.table}_b"
    for t in (table, other):
        for key in ("a.csv", "b.csv"):
            ledger.register(book.target(table=t), key)
    with book.engine.begin() as conn:
        conn.execute(sa.insert(ledger.columns).values(table_name=table, column_name="a", source_header="A",
                                                      logical_type="text", added_at=ledger.now()))
    with book.engine.begin() as conn:
        ledger.remove(conn, ledger.entries(book.target(table=other))["b.csv"].id)
    assert list(ledger.entries(book.target(table=other))) == ["a.csv"]
    ledger.forget(book.target(table=table))
    assert ledger.entries(book.target(table=table)) == {}
    assert book.scalar("SELECT COUNT(*) FROM data_processor_columns WHERE table_name = :t", t=table) == 0
    assert list(ledger.entries(book.target(table=other))) == ["a.csv"]


def test_status_rows_in_table_and_file_order(book):
    table, other = book.table, f"{book.table}_b"
    for t, key in ((other, "z.csv"), (table, "b.csv"), (table, "a.csv")):
        ledger.register(book.target(table=t), key)
    rows = [(r.table_name, r.file_key) for r in ledger.status_rows(book.engine, None) if r.table_name in (table, other)]
    assert rows == [(table, "a.csv"), (table, "b.csv"), (other, "z.csv")]
    assert [r.file_key for r in ledger.status_rows(book.engine, table)] == ["a.csv", "b.csv"]
    assert ledger.recorded(book.target(table=table), "missing.csv") is None


def test_the_holder_row_keeps_a_run_that_lost_the_table_from_writing(book):
    ledger.take_over(book.target("run-1"))
    with book.engine.begin() as conn:
        ledger.hold(conn, book.target("run-1"))  # the holder itself goes on
        ledger.hold(conn, book.target(""))  # a load outside a run checks nothing
    ledger.take_over(book.target("run-2"))  # another run took the table (e.g. after a restart)
    with book.engine.begin() as conn, pytest.raises(TableLockLost):
        ledger.hold(conn, book.target("run-1"))
    assert book.rows("SELECT run_id FROM data_processor_runs WHERE table_name = :t", t=book.table) == [("run-2",)]


def test_an_empty_database_has_no_ledger_and_ensure_tables_is_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path}/fresh.db"
    engine, _ = make_engine(url)
    assert (ledger.entries(Target(url, "t")), ledger.status_rows(engine, None)) == ({}, [])
    ledger.ensure_tables(engine)
    ledger.ensure_tables(engine)
    assert {"data_processor_files", "data_processor_columns", "data_processor_runs"} <= set(
        sa.inspect(engine).get_table_names())
    engine.dispose()


def test_a_ledger_from_before_object_sources_gains_its_etag_column(tmp_path):
    """An older ledger has no ``etag``: reading it works, and the next run adds the column once."""
    url = f"sqlite:///{tmp_path}/old.db"
    engine, _ = make_engine(url)
    old = sa.MetaData()
    sa.Table("data_processor_files", old, *(sa.Column(c.name, c.type, primary_key=c.primary_key)
                                           for c in ledger.files.c if c.name != "etag"))
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO data_processor_files (table_name, file_key, status, size, sha256) "
                             "VALUES ('t', 'a.csv', 'loaded', 3, 'abc')"))
    assert ledger.entries(Target(url, "t")) == {"a.csv": ledger.Entry(1, "loaded", 3, "abc", None, None)}
    assert ledger.recorded(Target(url, "t"), "a.csv").status == "loaded"
    ledger.ensure_tables(engine)
    assert "etag" in [c["name"] for c in sa.inspect(engine).get_columns("data_processor_files")]
    assert ledger.entries(Target(url, "t"))["a.csv"].etag is None
    engine.dispose()


def test_heartbeats_count_per_job_and_are_forgotten_with_the_hand_offs(book):
    """What the parent of the kubernetes fan-out reads to tell a working child from a lost pod."""
    import threading

    from data_processor.jobs import heartbeat, heard
    from data_processor.target import Target

    run_1, run_2 = Target(book.url, book.table, "run-1"), Target(book.url, book.table, "run-2")

    for _ in range(3):
        ledger.beat(book.target("run-1"), "child-a")
    ledger.beat(book.target("run-1"), "child-b")
    ledger.beat(book.target("run-2"), "child-a")
    assert heard(run_1) == {"child-a": 3, "child-b": 1}
    beating = threading.Event()
    with heartbeat(run_1, "child-c", every=0.01):
        while heard(run_1).get("child-c", 0) < 3:  # it beats on its own while work runs
            beating.wait(0.01)
    after = heard(run_1)["child-c"]
    beating.wait(0.1)
    assert heard(run_1)["child-c"] == after  # and stops when the work ends
    ledger.forget_handoffs(book.target("run-1"))
    assert heard(run_1) == {} and heard(run_2) == {"child-a": 1}
    ledger.forget_handoffs(book.target("run-2"))
