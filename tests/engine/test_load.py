"""The guarantees, proven against SQLite, PostgreSQL and MariaDB alike (one contract, three writers)."""

from __future__ import annotations

import threading

import pytest

from conftest import write

CERTS = (
    "LMK_KEY,POSTCODE,CURRENT_ENERGY_EFFICIENCY,TOTAL_FLOOR_AREA,INSPECTION_DATE,SECONDHEAT_DESCRIPTION,"
    "WALLS_ENERGY_EFF,UPRN\n"
    "89931970062019053113040836250130,TS24 8AB,72,84.5,2019-05-31,None,N/A,100110000001\n"
    "89931970062019053113040836250131,01234,,101.25,2020-02-29,Room heaters,Good,\n"
    '89931970062019053113040836250132,CF10 1AA,55,60,2021-12-31,"Boiler, mains gas",Poor,100110000003\n'
)


def test_loads_values_exactly(db, src):
    write(src / "a" / "certificates.csv", CERTS)
    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    assert db.count() == 3
    rows = db.rows(
        f"SELECT lmk_key, postcode, current_energy_efficiency, inspection_date, secondheat_description, "
        f"walls_energy_eff, uprn FROM {db.q(db.table)} ORDER BY lmk_key"
    )
    assert [r[1] for r in rows] == ["TS24 8AB", "01234", "CF10 1AA"]  # leading zero kept
    assert [r[2] for r in rows] == [72, None, 55]  # integers with a blank stay integers
    assert all(isinstance(r[2], int) for r in rows if r[2] is not None)
    assert rows[0][4] == "None" and rows[0][5] == "N/A"  # literals are data
    assert [r[6] for r in rows] == [100110000001, None, 100110000003]  # 12 digits: bigint, not float
    assert rows[0][0] == "89931970062019053113040836250130"
    assert rows[2][4] == "Boiler, mains gas"


def test_rerun_loads_nothing_twice(db, src):
    write(src / "certificates.csv", CERTS)
    first = db.load(src)
    second = db.load(src)
    assert first.count("loaded") == 1 and second.count("skipped") == 1 and second.count("loaded") == 0
    assert db.count() == 3


def test_changed_file_replaces_only_its_rows(db, src):
    write(src / "a" / "certificates.csv", CERTS)
    write(src / "b" / "certificates.csv", CERTS.replace("8913", "7713"))
    assert db.load(src).exit_code == 0
    assert db.count() == 6
    lines = CERTS.splitlines()
    write(src / "a" / "certificates.csv", "\n".join(lines[:2]) + "\n")  # a shrinks to one row
    summary = db.load(src)
    assert (summary.count("loaded"), summary.count("skipped")) == (1, 1)
    assert db.count() == 4
    ledger = db.rows("SELECT file_key, rows_loaded, status FROM data_processor_files WHERE table_name = :t "
                     "ORDER BY file_key", t=db.table)
    assert ledger == [("a/certificates.csv", 1, "loaded"), ("b/certificates.csv", 3, "loaded")]


def test_bad_rows_go_to_rejects_with_line_and_reason(db, src):
    text = (
        "id,name,when\n"
        "1,ok,2020-01-01\n"
        "2,too,many,fields\n"
        '3,"multi\nline",2020-01-03\n'
        "4,short\n"
        "\n"
        "5,last,2020-01-05\n"
    )
    write(src / "x.csv", text)
    summary = db.load(src)
    result = summary.results[0]
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 3, 2)
    rejects = db.rows(f"SELECT file_key, line, raw_text, reason FROM {db.q(db.table + '_rejects')} ORDER BY line")
    assert rejects == [
        ("x.csv", 3, "2,too,many,fields", "expected 3 fields, found 4"),
        ("x.csv", 6, "4,short", "expected 3 fields, found 2"),
    ]


def test_too_many_bad_rows_name_the_earliest_whatever_its_kind(db, src, tmp_path):
    """Bad values, ragged rows and copies of the header are counted apart; the error names the one met first."""
    write(src / "x.csv", "id,amount\n1,10\n\n2,\"twelve\"\n3\nid,amount\n4,30\n")
    schema = write(tmp_path / "schema.yaml", "columns:\n  id: integer\n  amount: integer\n")
    [failed] = db.load(src, schema_file=str(schema), max_bad_rows=2).failed
    assert (failed.error.line, failed.error.kind) == (None, "TooManyRejects")  # the file fails whole
    assert failed.error.reason.startswith("3 bad rows exceed --max-bad-rows 2 (first, line 4: ")
    assert "twelve" in failed.error.reason and db.count() == 0


def test_value_that_does_not_fit_an_explicit_schema_is_rejected(db, src, tmp_path):
    write(src / "x.csv", "id,amount\n1,10\n2,twelve\n3,30\n4,99999999999\n")
    schema = write(tmp_path / "schema.yaml", "columns:\n  id: integer\n  amount: integer\n")
    summary = db.load(src, schema_file=str(schema))
    assert summary.results[0].rows_loaded == 2 and summary.results[0].rows_rejected == 2
    rejects = db.rows(f"SELECT line, raw_text, reason FROM {db.q(db.table + '_rejects')} ORDER BY line")
    assert [r[:2] for r in rejects] == [(3, "2,twelve"), (5, "4,99999999999")]
    assert "'twelve' is not a valid integer" in rejects[0][2]


def test_too_many_bad_rows_fail_the_file_whole(db, src):
    write(src / "good.csv", "id,v\n1,a\n")
    write(src / "bad.csv", "id,v\n1,a\n2\n3\n4\n")
    summary = db.load(src, max_bad_rows=2)
    assert summary.exit_code == 1
    [failed] = summary.failed
    assert failed.key == "bad.csv" and str(failed.error) == \
        "bad.csv: 3 bad rows exceed --max-bad-rows 2 (first, line 3: expected 2 fields, found 1)"
    assert db.count() == 1  # only good.csv; nothing of bad.csv
    assert db.scalar("SELECT status FROM data_processor_files WHERE file_key = 'bad.csv' AND table_name = :t",
                     t=db.table) == "failed"


def test_cp1252_file_among_utf8_files(db, src):
    write(src / "utf8.csv", "id,cost\n1,£100 - £350\n")
    write(src / "cp1252.csv", "id,cost\n2,£500 - £1,500\n".replace("£500 - £1,500", '"£500 - £1,500"').encode("cp1252"))
    assert db.load(src).exit_code == 0
    assert sorted(r[0] for r in db.rows(f"SELECT cost FROM {db.q(db.table)}")) == ["£100 - £350", "£500 - £1,500"]
    assert db.rows("SELECT file_key, encoding FROM data_processor_files WHERE table_name = :t ORDER BY file_key",
                   t=db.table) == [("cp1252.csv", "cp1252"), ("utf8.csv", "utf-8")]


def test_utf8_file_with_a_corrupt_byte_rejects_only_that_row(db, src):
    write(src / "x.csv", "id,text\n1,0.13 W/m²K\n".encode() + b"2,bad \xff byte\n" + "3,£5\n".encode())
    result = db.load(src).results[0]
    assert (result.rows_loaded, result.rows_rejected) == (2, 1)
    assert db.scalar(f"SELECT line FROM {db.q(db.table + '_rejects')}") == 3


def test_awkward_headers(db, src):
    long_a, long_b = "A" * 70 + " current", "A" * 70 + " potential"
    write(src / "x.csv", f"select,Order,order,,{long_a},{long_b},2nd\n1,2,3,4,5,6,7\n")
    assert db.load(src).exit_code == 0
    columns = [r[0] for r in db.rows(
        "SELECT column_name FROM data_processor_columns WHERE table_name = :t ORDER BY column_name", t=db.table)]
    assert {"select", "order", "order_2", "column_4", "c_2nd"} <= set(columns)
    assert len(columns) == 7 and all(len(c) <= 63 for c in columns)


def test_new_column_in_a_later_file_is_added(db, src):
    write(src / "a.csv", "id,name\n1,x\n")
    assert db.load(src).exit_code == 0
    write(src / "b.csv", "id,name,extra\n2,y,new\n")
    summary = db.load(src)
    assert "added column extra (text)" in summary.changes
    assert db.rows(f"SELECT id, extra FROM {db.q(db.table)} ORDER BY id") == [(1, None), (2, "new")]


def test_semicolon_tab_crlf_gzip_and_bom(db, src):
    import gzip

    write(src / "semi.csv", "id;name\r\n1;a\r\n")
    write(src / "tab.csv", "\ufeffid\tname\n2\tb\n")
    write(src / "cr.csv", "id,name\r3,c\r")
    write(src / "zipped.csv", gzip.compress(b"id,name\n4,d\n"))
    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    assert db.rows(f"SELECT id, name FROM {db.q(db.table)} ORDER BY id") == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]


def test_null_values_option(db, src):
    write(src / "x.csv", "id,rating\n1,NO DATA!\n2,B\n")
    db.load(src, null_values=("NO DATA!",))
    assert db.rows(f"SELECT rating FROM {db.q(db.table)} ORDER BY id") == [(None,), ("B",)]


DISTRO_INFO = (  # Debian's distro-info CSV: the fields of a release not yet released are left out, not empty
    "version,codename,series,created,release,eol,eol-lts,eol-elts\n"
    "12,Bookworm,bookworm,2021-08-14,2023-06-10,2026-06-10,2028-06-30,2033-06-30\n"
    "13,Trixie,trixie,2023-06-10,2025-08-09\n"
    "14,Forky,forky,2025-08-09\n"
    ",Sid,sid,1993-08-16\n"
)


def test_short_rows_are_rejects_by_default_and_the_plan_says_how_to_load_them(db, src):
    write(src / "debian.csv", DISTRO_INFO)
    summary = db.load(src)
    [result] = summary.results
    assert (result.rows_loaded, result.rows_rejected) == (1, 3)
    assert [(p.key, p.reason) for p in summary.problems] == [
        ("debian.csv", "3 rows have fewer fields than the header: rejected; --null-padding would load them, the "
                       "missing fields NULL")]


def test_null_padding_loads_short_rows_with_null_in_the_missing_fields(db, src):
    """Every row loads; the missing fields are NULL and do not decide a column's type; a long row is still a
    reject, and a padded row with a bad value is rejected at its own line."""
    write(src / "debian.csv", DISTRO_INFO + "15,Duke,duke,2027-01-01,x,y,z,w,surplus\n")
    summary = db.load(src, null_padding=True)
    [result] = summary.results
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 4, 1)
    got = db.rows(f"SELECT version, codename, {db.q('release')}, eol_elts FROM {db.q(db.table)} ORDER BY codename")
    assert [tuple(None if v is None else str(v) for v in row) for row in got] == [
        ("12", "Bookworm", "2023-06-10", "2033-06-30"), ("14", "Forky", None, None), (None, "Sid", None, None),
        ("13", "Trixie", "2025-08-09", None)]
    assert db.rows(f"SELECT line, reason FROM {db.q(db.table + '_rejects')}") == [(6, "expected 8 fields, found 9")]
    assert ("debian.csv", "3 rows have fewer fields than the header: loaded, the missing fields NULL "
                          "(--null-padding)") in [(p.key, p.reason) for p in summary.problems]

    write(src / "more.csv", "version,codename,series,created,release\n16,Next,next,2029-02-28,2030-01-01\n"
                            "17,Later,later,2029-02-30\n18,Last\n19\n")
    schema = write(src.parent / "schema.yaml", "columns: {created: date}\n")
    more = next(r for r in db.load(src, null_padding=True, schema_file=str(schema)).results if r.key == "more.csv")
    assert (more.rows_loaded, more.rows_rejected) == (3, 1)  # 2029-02-30 is no date, in a padded row: rejected
    assert db.rows(f"SELECT line, raw_text FROM {db.q(db.table + '_rejects')} WHERE file_key = 'more.csv'") == [
        (3, "17,Later,later,2029-02-30")]


def test_null_markers_bare_or_quoted_are_null_and_text_holding_them_is_kept(db, src):
    """The same values on every database; on PostgreSQL through the raw-file COPY (its rows carry no hash), the
    markers made empty fields in the bytes on the way."""
    write(src / "x.csv", 'id,rating,note,n\n1,NO DATA!,"NO DATA!",NO DATA!\n2,"B","a,NO DATA!",7\n'
                         '3,NO DATA!x,"line\nNO DATA!",""\n4,,"say ""NO DATA!""",NO DATA!\n')
    summary = db.load(src, null_values=("NO DATA!",))
    assert summary.exit_code == 0, summary.failed
    assert db.rows(f"SELECT id, rating, note, n FROM {db.q(db.table)} ORDER BY id") == [
        (1, None, None, None), (2, "B", "a,NO DATA!", 7), (3, "NO DATA!x", "line\nNO DATA!", None),
        (4, None, 'say "NO DATA!"', None)]
    hashed = db.scalar(f"SELECT COUNT(_row_hash) FROM {db.q(db.table)}")
    assert hashed == (0 if db.engine.dialect.name == "postgresql" else 4)


def test_hash_first_load_hashes_every_row_of_a_clean_new_file(db, src):
    """Asked for, a clean first load is parsed and hashed even where it could be copied raw (PostgreSQL), so its
    first change is applied as a difference."""
    write(src / "x.csv", "id,v\n1,a\n2,b\n3,NO DATA!\n")
    assert db.load(src, null_values=("NO DATA!",), hash_first_load=True).exit_code == 0
    assert db.scalar(f"SELECT COUNT(_row_hash) FROM {db.q(db.table)}") == 3
    write(src / "x.csv", "id,v\n1,a\n2,b\n3,NO DATA!\n4,d\n")
    [result] = db.load(src, null_values=("NO DATA!",)).results
    assert (result.applied, result.rows_inserted, result.rows_unchanged) == ("diff", 1, 3)


def test_null_markers_in_a_new_file_checked_on_its_way_into_an_existing_table(db, src):
    """A file whose columns the table already has is not scanned whole but checked while it is copied: a marker
    in an integer column is a null there too, not a value that outgrows the column."""
    write(src / "a.csv", "id,n\n1,5\n")
    assert db.load(src, null_values=("NO DATA!",)).exit_code == 0
    write(src / "b.csv", "id,n\n2,NO DATA!\n3,\"NO DATA!\"\n4,8\n")
    summary = db.load(src, null_values=("NO DATA!",))
    assert summary.exit_code == 0, summary.failed
    assert db.rows(f"SELECT id, n FROM {db.q(db.table)} ORDER BY id") == [(1, 5), (2, None), (3, None), (4, 8)]


@pytest.mark.parametrize("workers", [2])
def test_parallel_files(db, src, workers, monkeypatch):
    monkeypatch.setattr("data_processor.fanout.PARALLEL_MIN_BYTES", 0)  # real worker processes, even for tiny files
    for i in range(6):
        write(src / f"f{i}.csv", "id,v\n" + "".join(f"{i * 100 + j},{j}\n" for j in range(50)))
    summary = db.load(src, workers=workers)
    assert summary.count("loaded") == 6 and db.count() == 300


def test_rows_the_database_refuses_are_isolated_by_bisection(db, src):
    """A constraint the planner cannot know of: the batch is bisected, only the refused rows are rejected."""
    import sqlalchemy as sa

    with db.engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {db.q(db.table)} (id INTEGER, v INTEGER CHECK (v < 100), "
                             f"_file_id BIGINT NOT NULL)"))
    rows = "".join(f"{i},{500 if i in (7, 40) else i}\n" for i in range(1, 61))
    write(src / "x.csv", "id,v\n" + rows)
    result = db.load(src).results[0]
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (60, 58, 2)
    rejects = db.rows(f"SELECT line, raw_text, reason FROM {db.q(db.table + '_rejects')} ORDER BY line")
    assert [r[:2] for r in rejects] == [(8, "7,500"), (41, "40,500")]
    assert all("refused by the database" in r[2] for r in rejects)


def test_blank_lines_are_not_rows_and_the_fast_path_falls_back(db, src):
    """pyarrow skips blank lines, PostgreSQL's COPY refuses them: the raw-file path must fall back, not fail."""
    write(src / "x.csv", "id,v\n1,a\n\n2,b\n\n")
    result = db.load(src).results[0]
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == ("loaded", 2, 2, 0)
    assert db.rows(f"SELECT id, v FROM {db.q(db.table)} ORDER BY id") == [(1, "a"), (2, "b")]


def test_quoted_empty_and_whitespace_values(db, src):
    write(src / "x.csv", 'id,v,w\n1,"",  \n2,,"x"\n')
    db.load(src)
    assert db.rows(f"SELECT id, v, w FROM {db.q(db.table)} ORDER BY id") == [(1, None, "  "), (2, None, "x")]


@pytest.mark.parametrize("db", ["postgres", "mariadb"], indirect=True)
def test_the_same_file_loaded_twice_at_once_lands_once(db, src):
    """A rescheduled parent or a retried pod may load a file another worker is loading: the second waits on the
    file's ledger row, then finds it loaded and does nothing."""
    from concurrent.futures import ThreadPoolExecutor

    from data_processor import Settings, apply, locked, plan
    from data_processor.jobs import load_one

    header, rows = CERTS.split("\n", 1)
    write(src / "certificates.csv", header + "\n" + rows * 2000)
    options = Settings(src=str(src), glob="*.csv", dest=db.url, table=db.table)
    with locked(options):
        the_plan = apply(plan(options))
    load_plan, file = the_plan.load_plan, the_plan.load_plan.files[0]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: load_one(the_plan.target, load_plan, file, pauses=()), range(2)))
    assert sorted(r.status for r in results) == ["loaded", "skipped"]
    assert db.count() == 6000


def test_a_quote_never_closed_fails_the_file_naming_its_line(db, src):
    """Read leniently, an unclosed quote swallows every later line into one field: the file must fail instead."""
    write(src / "a.csv", 'id,note\n1,fine\n2,"never closed\n3,swallowed\n4,too\n')
    write(src / "b.csv", 'id,note\n5,12" lagging jacket\n6,"quoted ""and"" closed"\n')  # an inch mark is data
    summary = db.load(src)
    (failed,) = summary.failed
    assert failed.key == "a.csv" and str(failed.error).startswith("a.csv, line 3: a quoted field opens on this line")
    assert db.rows(f"SELECT id, note FROM {db.q(db.table)} ORDER BY id") == [
        (5, '12" lagging jacket'), (6, 'quoted "and" closed')]


def test_a_truncated_gzip_fails_that_file_only(db, src):
    import gzip

    whole = gzip.compress(b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(5000)))
    write(src / "cut.csv.gz", whole[: len(whole) // 2])
    write(src / "ok.csv", "id,name\n1,a\n")
    summary = db.load(src, glob="*.csv*")
    (failed,) = summary.failed
    assert failed.key == "cut.csv.gz" and "corrupt or truncated gzip" in str(failed.error)
    assert db.count() == 1


def test_a_row_longer_than_a_read_block_loads(db, src):
    """A 3 MB field (a pasted document, a base64 blob) does not fit Arrow's 1 MB block: read with bigger ones."""
    write(src / "wide.csv", "id,blob\n1," + "x" * 3_000_000 + "\n2,small\n")
    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    assert db.rows(f"SELECT id, LENGTH({db.q('blob')}) FROM {db.q(db.table)} ORDER BY id") == [(1, 3_000_000), (2, 5)]


@pytest.mark.parametrize("how", ["DROP TABLE", "DELETE FROM"])
def test_a_dropped_or_emptied_table_is_loaded_again(db, src, how):
    """Dropping (or emptying) the table is how people ask for a reload: the ledger must not skip every file."""
    import sqlalchemy as sa

    write(src / "a.csv", "id,name\n1,a\n2,b\nx,y,z\n")
    assert db.load(src).rows_loaded == 2
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"{how} {db.q(db.table)}"))
    again = db.load(src)
    assert again.count("loaded") == 1 and again.rows_loaded == 2 and db.count() == 2
    assert any("loading them again" in p.reason for p in again.problems)
    assert db.count(f"{db.table}_rejects") == 1  # the old reject is not kept twice
    assert db.load(src).count("skipped") == 1


def test_a_file_gone_from_the_folder_keeps_its_rows_unless_pruned(db, src):
    """Local authorities merge and their folders vanish from the next quarter's dump: say so; --prune deletes."""
    write(src / "old" / "certificates.csv", "id,name\n1,a\n2,b\nx,y,z\n")
    write(src / "new" / "certificates.csv", "id,name\n3,c\n")
    assert db.load(src).rows_loaded == 3
    (src / "old" / "certificates.csv").unlink()
    kept = db.load(src)
    assert db.count() == 3 and any("1 file loaded earlier is not matched now" in p.reason for p in kept.problems)
    pruned = db.load(src, prune=True)
    assert [p.key for p in pruned.problems] == ["old/certificates.csv"] and "2 rows deleted" in pruned.problems[0].reason
    assert db.rows(f"SELECT id FROM {db.q(db.table)}") == [(3,)]
    assert db.count(f"{db.table}_rejects") == 0
    assert db.scalar("SELECT COUNT(*) FROM data_processor_files WHERE table_name = :t", t=db.table) == 1
    assert pruned.exit_code == 0


def test_a_later_file_widens_a_column_on_every_database(db, src):
    """PostgreSQL and MariaDB change the column's type; SQLite copies the table into the wider column."""
    write(src / "a.csv", "id,v\n1,2\n")
    assert db.load(src).exit_code == 0
    write(src / "b.csv", "id,v\n2,x\n")
    summary = db.load(src)
    assert summary.exit_code == 0, summary.failed
    widened = [change for change in summary.changes if change.startswith("widened")]
    assert widened == ["widened column v: integer → text"]
    assert [str(v) for (v,) in db.rows(f"SELECT v FROM {db.q(db.table)} ORDER BY id")] == ["2", "x"]


@pytest.mark.parametrize("overlap", [True, False])
def test_overlapped_writes_report_in_order_on_this_thread_and_their_errors_raise_here(overlap):
    from data_processor.loader import Overlapped

    seen = []
    with Overlapped(overlap) as writes:
        for i in range(5):
            writes.submit(lambda i=i: (i, [(0, "x")] if i == 3 else []), (),
                          lambda count, refused, tag: seen.append((count, refused, tag, threading.get_ident())), "t")
    assert [s[:3] for s in seen] == [(0, [], "t"), (1, [], "t"), (2, [], "t"), (3, [(0, "x")], "t"), (4, [], "t")]
    assert {s[3] for s in seen} == {threading.get_ident()}

    def refused_by_the_server():
        raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError, match="connection lost"), Overlapped(overlap) as writes:
        writes.submit(refused_by_the_server, (), lambda *_: None)


def test_a_failure_while_a_write_is_in_flight_waits_for_the_write_before_the_transaction_ends():
    """The connection must be idle before the caller rolls back: the block ends only after the write has."""
    from data_processor.loader import Overlapped

    started, go, done = threading.Event(), threading.Event(), threading.Event()

    def slow_write():
        started.set()
        go.wait()
        done.set()
        return 1, []

    threading.Thread(target=lambda: (started.wait(), go.set()), daemon=True).start()
    with pytest.raises(ValueError), Overlapped(True) as writes:
        writes.submit(slow_write, (), lambda *_: None)
        raise ValueError("too many bad rows")
    assert done.is_set()


def test_a_gzip_truncated_between_the_plan_and_the_load_fails_its_file_in_one_line(db, src):
    """The scan read it whole; then it was cut short (a copy still being written). The load said nothing of the
    kind: its EOFError ended the run with a traceback."""
    import gzip

    from data_processor import apply, load, plan
    from data_processor.settings import Settings

    data = gzip.compress(b"id,v\n" + b"".join(b"%d,x\n" % i for i in range(50_000)))
    write(src / "b.csv.gz", data)
    write(src / "a.csv", "id,v\n1,a\n")
    the_plan = apply(plan(Settings(src=str(src), glob="*.csv*", dest=db.url, table=db.table)))
    write(src / "b.csv.gz", data[:len(data) // 2])
    summary = load(the_plan)
    by_key = {r.key: r for r in summary.results}
    assert by_key["a.csv"].status == "loaded" and by_key["b.csv.gz"].status == "failed"
    assert str(by_key["b.csv.gz"].error).startswith("b.csv.gz: cannot read: corrupt or truncated gzip (")
    assert summary.exit_code == 1 and db.count() == 1


MESSY_FIELDS = ["NO DATA!", '"NO DATA!"', "", '""', "x", "NO DATA!x", '"a,NO DATA!,b"', '"say ""NO DATA!"""',
                '"line\nNO DATA!"', "12", "N/A", '"NO DATA!\r\n"', "café", '"x""y"']


@pytest.mark.parametrize("seed", range(20))
def test_the_raw_copy_with_markers_blanked_loads_what_parsing_loads(pg, tmp_path, seed):
    """Random files (BOM or not, CRLF or LF, comma, semicolon or tab, gzip or not, markers bare, quoted, inside
    quoted text and across lines): PostgreSQL's raw COPY, the markers made empty fields in the bytes, gives the same
    table as parsing every row (``hash_first_load``), and the rows it copied carry no hash (it did take that path)."""
    import gzip
    import random

    import sqlalchemy as sa

    rng = random.Random(seed)
    newline, delimiter = rng.choice(["\n", "\r\n"]), rng.choice([",", ";", "\t"])
    fields = [f if f.startswith('"') else f.replace(",", delimiter) for f in MESSY_FIELDS]
    rows = [delimiter.join(rng.choice(fields) for _ in range(4)) for _ in range(rng.randint(1, 40))]
    text = ("\ufeff" if rng.random() < 0.3 else "") + delimiter.join("abcd") + newline + newline.join(rows)
    data = (text + rng.choice(["", newline])).encode()
    folder = tmp_path / "files"
    write(folder / "f.csv.gz", gzip.compress(data)) if rng.random() < 0.3 else write(folder / "f.csv", data)
    tables = {}
    for name, hashed in (("raw", False), ("parsed", True)):
        [result] = pg.load(folder, "*", null_values=("NO DATA!",), workers=1, hash_first_load=hashed).results
        assert result.status == "loaded", result.error
        tables[name] = sorted(pg.rows(f"SELECT a, b, c, d FROM {pg.q(pg.table)}"), key=repr)
        unhashed = pg.scalar(f"SELECT COUNT(*) FROM {pg.q(pg.table)} WHERE _row_hash IS NULL")
        assert unhashed == (len(rows) if name == "raw" else 0)
        with pg.engine.begin() as conn:  # the next load is a first load again
            conn.execute(sa.text(f"DROP TABLE {pg.q(pg.table)}"))
            conn.execute(sa.text("DELETE FROM data_processor_files WHERE table_name = :t"), {"t": pg.table})
    assert tables["raw"] == tables["parsed"]
