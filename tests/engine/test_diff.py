"""A changed file is applied as a row difference: only the rows it no longer has are deleted, only its new rows
inserted, in the file's one transaction; the table afterwards equals the new release exactly (every database).

The loads run as the monthly job does, with a null marker: on PostgreSQL a clean new file loaded without one goes
to COPY as it is, never parsed and so never hashed, and its first change is replaced whole
(``test_postgres_raw_file_copy_stores_no_hashes_so_the_first_change_replaces``)."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa

from conftest import write
from data_processor import Settings
from data_processor.engine import dry_run
from data_processor.diff import StoredRows, row_hashes
from data_processor.testing import PAUSE_AT, PAUSE_DIR
from test_crash import paused_at

HEADER = "id,name,amount\n"


def rows_text(rows: list[tuple]) -> str:
    return HEADER + "".join(f"{i},{n},{a}\n" for i, n, a in rows)


def release(count: int, seed: int = 0) -> list[tuple]:
    rng = random.Random(seed)
    return [(i, f"name {rng.randrange(10**6)}", f"{rng.randrange(10**4)}.{rng.randrange(100):02d}")
            for i in range(count)]


def table_rows(db) -> collections.Counter:
    """The table's rows as text, lineage columns left out: a multiset to compare with a release."""
    got = db.rows(f"SELECT id, name, amount FROM {db.q(db.table)}")
    return collections.Counter((int(i), n, None if a is None else f"{a:.2f}") for i, n, a in got)


def expected(rows: list[tuple]) -> collections.Counter:
    return collections.Counter((int(i), n, None if a in ("", None) else f"{float(a):.2f}") for i, n, a in rows)


def load(db, src):
    return db.load(src, null_values=("NO DATA!",), hash_first_load=True)  # as the monthly EPC job loads


def only(summary):
    [result] = [r for r in summary.results if r.status != "skipped"]
    assert summary.exit_code == 0, summary.failed
    return result


# -- the pure parts -----------------------------------------------------------------------------------------------


def test_matching_is_a_multiset_difference_whatever_the_batches():
    rng = random.Random(7)
    for _ in range(300):
        old = [rng.randrange(6) for _ in range(rng.randrange(25))]
        new = [rng.randrange(6) for _ in range(rng.randrange(25))]
        stored, inserted, at = StoredRows(np.array(old, np.int64)), [], 0
        while at < len(new):
            batch = np.array(new[at:at + rng.randrange(1, 6)], np.int64)
            inserted += batch[~stored.match(batch)].tolist()
            at += len(batch)
        hashes, copies, every = stored.gone()
        gone = collections.Counter(dict(zip(hashes.tolist(), copies.tolist())))
        old_count, new_count = collections.Counter(old), collections.Counter(new)
        assert every.tolist() == [old_count[h] == n for h, n in zip(hashes.tolist(), copies.tolist())]
        assert collections.Counter(inserted) == new_count - old_count
        assert gone == old_count - new_count
        assert (stored.unchanged, stored.deleted) == (sum((old_count & new_count).values()),
                                                      sum((old_count - new_count).values()))


def test_a_row_hash_is_of_its_values_in_order():
    def batch(*rows):
        return pa.RecordBatch.from_pylist([dict(zip("ab", r)) for r in rows],
                                          schema=pa.schema([("a", pa.string()), ("b", pa.string())]))

    rows = [("x", "y"), ("x", "y"), ("y", "x"), ("x,", "y"), ("x", ",y"), ("x", None), ("x", ""), ('x"\n', "y"),
            ("x", '"\ny')]
    hashes = row_hashes(batch(*rows))
    assert hashes.dtype == np.int64 and hashes[0] == hashes[1]
    assert len(set(hashes[1:].tolist())) == 8  # order, separators, quotes, newlines, NULL and "" tell rows apart
    assert [row_hashes(batch(row))[0] for row in rows] == hashes.tolist()  # whatever else the batch holds
    assert row_hashes(batch()).tolist() == []


# -- against every database ---------------------------------------------------------------------------------------


def test_a_release_with_one_percent_changed_writes_only_what_changed(db, src):
    first = release(2000)
    write(src / "certificates-2020.csv", rows_text(first))
    assert only(load(db, src)).applied == "new"

    rng = random.Random(1)
    second = list(first)
    removed = set(rng.sample(range(len(second)), 10))
    second = [r for i, r in enumerate(second) if i not in removed]
    for i in rng.sample(range(len(second)), 10):
        second[i] = (second[i][0], second[i][1] + " changed", second[i][2])
    second += [(10_000 + i, f"late {i}", "1.00") for i in range(20)]
    rng.shuffle(second)  # a regenerated file comes back in another order
    write(src / "certificates-2020.csv", rows_text(second))

    planned = dry_run(Settings(src=str(src), glob="*.csv", dest=db.url, table=db.table))
    assert [planned.applied_as(f) for f in planned.pending] == ["diff"]
    result = only(load(db, src))
    assert (result.applied, result.rows_inserted, result.rows_deleted, result.rows_unchanged) == ("diff", 30, 20, 1980)
    assert result.rows_read == result.rows_loaded + result.rows_rejected == len(second)
    assert table_rows(db) == expected(second)
    assert db.scalar("SELECT rows_loaded FROM data_processor_files WHERE table_name = :t", t=db.table) == 2010


def test_a_release_that_only_reorders_requotes_or_recodes_writes_nothing(db, src):
    rows = release(300, seed=2)
    write(src / "a.csv", rows_text(rows))
    load(db, src)
    shuffled = rows[::-1]
    text = 'id,"name",amount\r\n' + "".join(f'"{i}","{n}",{a}\r\n' for i, n, a in shuffled)
    write(src / "a.csv", text.encode("cp1252"))
    result = only(load(db, src))
    assert (result.applied, result.rows_inserted, result.rows_deleted, result.rows_unchanged) == ("diff", 0, 0, 300)
    assert table_rows(db) == expected(rows)


def test_duplicated_rows_are_a_multiset(db, src):
    same = (1, "twin", "2.00")
    write(src / "a.csv", rows_text([same, same, same, (2, "b", "1.00")]))
    load(db, src)
    write(src / "a.csv", rows_text([(2, "b", "1.00"), same, same]))  # one copy of three removed
    result = only(load(db, src))
    assert (result.rows_inserted, result.rows_deleted, result.rows_unchanged) == (0, 1, 3)
    assert table_rows(db) == expected([same, same, (2, "b", "1.00")])
    write(src / "a.csv", rows_text([same, (2, "b", "1.00"), same, same, same]))  # and two more again
    result = only(load(db, src))
    assert (result.rows_inserted, result.rows_deleted, result.rows_unchanged) == (2, 0, 3)
    assert table_rows(db) == expected([same] * 4 + [(2, "b", "1.00")])


def test_a_row_moved_to_another_year_file_is_deleted_from_one_and_inserted_in_the_other(db, src):
    moved = (7, "moved", "7.00")
    write(src / "2019.csv", rows_text([(1, "a", "1.00"), moved]))
    write(src / "2020.csv", rows_text([(2, "b", "2.00")]))
    load(db, src)
    write(src / "2019.csv", rows_text([(1, "a", "1.00")]))
    write(src / "2020.csv", rows_text([(2, "b", "2.00"), moved]))
    summary = load(db, src)
    by_key = {r.key: (r.applied, r.rows_inserted, r.rows_deleted, r.rows_unchanged) for r in summary.results}
    assert by_key == {"2019.csv": ("diff", 0, 1, 1), "2020.csv": ("diff", 1, 0, 1)}
    assert table_rows(db) == expected([(1, "a", "1.00"), (2, "b", "2.00"), moved])
    assert (summary.rows_inserted, summary.rows_deleted, summary.rows_unchanged) == (1, 1, 2)


def test_null_and_an_empty_field_are_one_identity_as_they_load_the_same(db, src):
    write(src / "a.csv", rows_text([(1, "a", ""), (2, "b", "3.00")]))
    load(db, src)
    write(src / "a.csv", HEADER + '2,b,3.00\n1,a,NO DATA!\n')  # the marker and the empty field both load as NULL
    result = only(load(db, src))
    assert (result.applied, result.rows_inserted, result.rows_deleted, result.rows_unchanged) == ("diff", 0, 0, 2)
    write(src / "a.csv", HEADER + '2,b,3.00\n1,a,5.00\n')  # NULL → a value is a change
    result = only(load(db, src))
    assert (result.rows_inserted, result.rows_deleted, result.rows_unchanged) == (1, 1, 1)
    assert table_rows(db) == expected([(1, "a", "5.00"), (2, "b", "3.00")])


def test_a_new_column_replaces_the_file_whole_and_the_plan_says_so(db, src):
    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.00")]))
    load(db, src)
    write(src / "a.csv", "id,name,amount,rating\n1,a,1.00,C\n2,b,2.00,D\n")
    planned = dry_run(Settings(src=str(src), glob="*.csv", dest=db.url, table=db.table))
    assert [planned.applied_as(f) for f in planned.pending] == ["replace (its columns or their types changed)"]
    result = only(load(db, src))
    assert (result.applied, result.rows_inserted, result.rows_deleted) == ("replace", 2, 2)
    assert sorted(db.rows(f"SELECT id, rating FROM {db.q(db.table)}")) == [(1, "C"), (2, "D")]
    write(src / "a.csv", "id,name,amount,rating\n1,a,1.00,C\n2,b,2.00,E\n")  # its hashes are laid down: diffed
    result = only(load(db, src))
    assert (result.applied, result.rows_inserted, result.rows_deleted, result.rows_unchanged) == ("diff", 1, 1, 1)


def test_a_column_widened_in_the_same_run_replaces_the_files_that_have_it(db, src):
    write(src / "a.csv", "id,code\n1,10\n2,20\n")
    write(src / "b.csv", "id,code\n3,30\n")
    load(db, src)
    write(src / "a.csv", "id,code\n1,10\n2,20\n4,40\n")
    write(src / "b.csv", "id,code\n3,030\n")  # a code with a leading zero: code becomes text
    summary = load(db, src)
    assert summary.exit_code == 0, summary.failed
    # b.csv is found to misfit while it loads: the table is widened after a.csv was diffed under the old type
    assert {r.key: r.applied for r in summary.results} == {"a.csv": "diff", "b.csv": "replace"}
    assert sorted(db.rows(f"SELECT id, code FROM {db.q(db.table)}")) == [(1, "10"), (2, "20"), (3, "030"),
                                                                         (4, "40")]
    write(src / "a.csv", "id,code\n1,10\n2,20\n4,041\n")  # a.csv's hashes were made under integer: replaced
    assert only(load(db, src)).applied == "replace"
    assert sorted(db.rows(f"SELECT id, code FROM {db.q(db.table)}")) == [(1, "10"), (2, "20"), (3, "030"),
                                                                         (4, "041")]


def test_a_bad_row_in_the_new_release_is_a_reject_and_the_counts_reconcile(db, src):
    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.00"), (3, "c", "3.00")]))
    load(db, src)
    write(src / "a.csv", HEADER + "1,a,1.00\n2,b,2.00,extra\n3,c,3.00\n5,e,5.00\n")
    result = only(load(db, src))
    assert (result.applied, result.rows_read, result.rows_loaded, result.rows_rejected) == ("diff", 4, 3, 1)
    assert (result.rows_inserted, result.rows_deleted, result.rows_unchanged) == (1, 1, 2)
    assert table_rows(db) == expected([(1, "a", "1.00"), (3, "c", "3.00"), (5, "e", "5.00")])
    rejects = db.rows(f"SELECT line, reason FROM {db.q(db.table + '_rejects')}")
    assert rejects == [(3, "expected 3 fields, found 4")]


def test_a_table_loaded_before_row_hashes_is_replaced_once_then_diffed(db, src):
    """The upgrade: a table and ledger as the previous version left them (no ``_row_hash``, no layout in the
    ledger) need no manual step."""
    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.00")]))
    load(db, src)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {db.q(db.table)} DROP COLUMN _row_hash"))
        conn.execute(sa.text("UPDATE data_processor_files SET row_layout = NULL, applied = NULL WHERE table_name = :t"),
                     {"t": db.table})

    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.50")]))
    planned = dry_run(Settings(src=str(src), glob="*.csv", dest=db.url, table=db.table))
    assert [planned.applied_as(f) for f in planned.pending] == [
        "replace (its rows carry no row hashes yet; later changes are diffed)"]
    summary = load(db, src)
    assert any("added column _row_hash" in change for change in summary.changes)
    assert (only(summary).applied, only(summary).rows_deleted) == ("replace", 2)
    assert "_row_hash" in [c["name"] for c in sa.inspect(db.engine).get_columns(db.table)]

    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.75")]))
    result = only(load(db, src))
    assert (result.applied, result.rows_inserted, result.rows_deleted, result.rows_unchanged) == ("diff", 1, 1, 1)
    assert table_rows(db) == expected([(1, "a", "1.00"), (2, "b", "2.75")])


def test_postgres_raw_file_copy_stores_no_hashes_so_the_first_change_replaces(pg, src):
    """Without null markers a clean new file goes to COPY as it is (never parsed, so never hashed)."""
    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.00")]))
    pg.load(src)
    assert pg.scalar(f"SELECT COUNT(_row_hash) FROM {pg.q(pg.table)}") == 0
    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.50")]))
    assert only(pg.load(src)).applied == "replace"
    assert pg.scalar(f"SELECT COUNT(_row_hash) FROM {pg.q(pg.table)}") == 2
    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.75")]))
    assert only(pg.load(src)).applied == "diff"


def test_killed_between_the_inserts_and_the_deletes_leaves_the_old_release_and_readers_never_see_a_mix(
        db, src, tmp_path):
    old = release(500, seed=3)
    write(src / "a.csv", rows_text(old))
    load(db, src)
    new = old[50:] + [(1000 + i, "new", "1.00") for i in range(50)]
    write(src / "a.csv", rows_text(new))
    args = [sys.executable, "-m", "data_processor", "load", "--src", str(src), "--glob", "*.csv", "--dest", db.url,
            "--table", db.table, "--workers", "1", "--null-values", "NO DATA!", "--hash-first-load"]
    env = {**os.environ, PAUSE_AT: "diff-inserted", PAUSE_DIR: str(tmp_path)}
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        paused_at(tmp_path, "diff-inserted", process)  # the new rows are written, the old not yet deleted
        assert table_rows(db) == expected(old)  # a reader sees the old release, whole
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert table_rows(db) == expected(old)
    result = only(load(db, src))
    assert (result.applied, result.rows_inserted, result.rows_deleted, result.rows_unchanged) == ("diff", 50, 50, 450)
    assert table_rows(db) == expected(new)


def test_a_table_that_no_longer_holds_what_the_ledger_counts_is_replaced_not_diffed(db, src):
    """A row without a hash, or one deleted by hand: the stored hashes cannot be trusted to be the file's rows."""
    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.00"), (3, "c", "3.00")]))
    load(db, src)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {db.q(db.table)} SET _row_hash = NULL WHERE id = 1"))
    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.00"), (3, "c", "3.50")]))
    result = only(load(db, src))
    assert (result.applied, result.rows_deleted, result.rows_inserted) == ("replace", 3, 3)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {db.q(db.table)} WHERE id = 2"))
    write(src / "a.csv", rows_text([(1, "a", "1.00"), (2, "b", "2.00"), (3, "c", "3.75")]))
    result = only(load(db, src))
    assert (result.applied, result.rows_deleted, result.rows_inserted) == ("replace", 2, 3)
    assert table_rows(db) == expected([(1, "a", "1.00"), (2, "b", "2.00"), (3, "c", "3.75")])
