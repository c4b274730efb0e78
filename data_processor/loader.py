"""Load one file, exactly once: its old rows out, its rows in, its rejects and its ledger row, in one transaction.

A changed file whose rows carry hashes of the same layout is applied as a row difference (``diff.py``): only the
rows it no longer has are deleted and only its new rows inserted. Otherwise its old rows are deleted and all its
rows inserted (each with its hash, so its next change can be diffed).

If anything goes wrong before the commit (a crash, a kill, too many bad rows, counts that do not reconcile) the
transaction rolls back and the table still holds exactly what it held before; the ledger still describes it.
A batch the database refuses is bisected under savepoints until the refused rows are found, so one bad row
costs a few extra bulk calls, never a row-by-row load of the file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from . import ledger
from .db import raises_database_errors
from .ddl import target_table
from .diff import StoredRows, applied_as, row_hashes, row_layout
from .errors import (
    DatabaseError, DataProcessorError, FileChanged, ReconciliationError, TableLockLost, TerminalDatabaseError,
    TooManyRejects, TransientDatabaseError, failure,
)
from .logs import result_fields
from .null_markers import blankable, blanked
from .fingerprint import Witness, open_raw
from .read import WRITE_BATCH_BYTES, is_padded, iter_batches, locate_rows
from .rejects import insert as insert_rejects
from .rejects import rejects_table
from .sources import READ_ERRORS, read_failure, replaced_while_read
from .target import Target
from .testing import pause_point
from .types import FILE_ID_COLUMN, ROW_HASH_COLUMN, Failure, FilePlan, LoadPlan, LoadResult, Reject
from .validate import check_batch
from .verify import Misfit, Pipe, Verifier
from .writers import RowsRefused, Writer, gone_table

log = logging.getLogger("data_processor.load")
"""Named for what it logs, one record per file loaded: dashboards and the docs filter on this name."""

REPEATED_HEADER = "repeated header: a copy of the header row (files concatenated?), not data"


def load_file(target: Target, plan: LoadPlan, file: FilePlan) -> LoadResult:
    """Load ``file`` into the target's table as ``plan`` says, in the target's run; a failed file leaves the table
    untouched and says why.

    Logs one INFO record saying how the file ended (fields: file, status, rows_read, rows_loaded, rows_rejected,
    bytes, seconds, and error when it failed); a transient database error propagates unlogged, to be retried.
    """
    result = _load_file(target, plan, file)
    if result.status == "failed":
        log.info("failed %s", result.error, extra=result_fields(result))
    elif result.status == "misfit":
        log.info("misfit %s: nothing loaded; %s", result.key,
                 ", ".join(f"{c.name} needs {c.describe()}" for c in result.widen), extra=result_fields(result))
    elif result.applied == "diff":
        log.info("%s %s (diff): %d rows inserted, %d deleted, %d unchanged, %d rejected in %.1f s", result.status,
                 result.key, result.rows_inserted, result.rows_deleted, result.rows_unchanged, result.rows_rejected,
                 result.seconds, extra=result_fields(result))
    else:
        log.info("%s %s: %d rows loaded, %d rejected in %.1f s", result.status, result.key, result.rows_loaded,
                 result.rows_rejected, result.seconds, extra=result_fields(result))
    return result


def _load_file(target: Target, plan: LoadPlan, file: FilePlan) -> LoadResult:
    started = time.monotonic()
    file_id = ledger.register(target, file.source.key)
    try:
        with target.errors(), target.engine.begin() as conn:  # driver errors of the commit and rollback too
            ledger.hold(conn, target)
            held = ledger.claim(conn, file_id, file)
            if held.unchanged:
                return LoadResult(file.source.key, "skipped", bytes=file.source.size)
            result, layout = _load_in_transaction(conn, target.writer, plan, file, file_id, held, started)
            ledger.record_loaded(conn, target, file_id, file, result, layout)
            pause_point("before-commit")
        return result
    except Misfit as exc:  # rolled back: the run widens the columns and loads the file again
        return LoadResult(file.source.key, "misfit", bytes=file.source.size, seconds=time.monotonic() - started,
                          widen=exc.widen)
    except TransientDatabaseError:
        raise
    except TableLockLost as exc:  # the run holding the table now owns its ledger rows too: record nothing
        return LoadResult(file.source.key, "failed", bytes=file.source.size, seconds=time.monotonic() - started,
                          error=failure(file.source.key, exc))
    except DataProcessorError as exc:  # a database error, or one of the file's
        error = failure(file.source.key, exc)
    except READ_ERRORS as exc:  # the disk or the store, a truncated gzip, a bad zip member: as the scan says it
        error = failure(file.source.key, read_failure(file.source.key, exc, FileChanged(file.source.key)))
    except pa.ArrowException as exc:  # a read error a reader wrapped is still the read error
        error = failure(file.source.key, FileChanged(file.source.key)) if replaced_while_read(exc) else \
            Failure(file.source.key, f"cannot parse as CSV: {exc}", kind=type(exc).__name__)
    try:
        ledger.record_failed(target, file_id, str(error))
    except DatabaseError:
        pass  # the database is gone; the failure is still reported to the caller
    return LoadResult(file.source.key, "failed", bytes=file.source.size, seconds=time.monotonic() - started,
                      error=error)


@raises_database_errors
def remove_file(target: Target, file_id: int) -> int:
    """Delete a file's rows, rejects and ledger row in one transaction (the file is gone); returns rows deleted."""
    table = sa.table(target.table, sa.column(FILE_ID_COLUMN))
    with target.engine.begin() as conn:
        deleted = _delete_rows(conn, table, file_id)
        _delete_rejects(conn, rejects_table(sa.MetaData(), target.table), file_id)
        ledger.remove(conn, file_id)
    return deleted


def _delete_rows(conn: sa.Connection, table: sa.TableClause, file_id: int) -> int:
    """Every row of the file out (it is replaced whole, or gone); returns rows deleted."""
    return conn.execute(sa.delete(table).where(table.c[FILE_ID_COLUMN] == file_id)).rowcount


def _delete_rejects(conn: sa.Connection, rejects: sa.Table, file_id: int) -> None:
    """The file's rejects out (the DDL creates the rejects table with the table)."""
    conn.execute(sa.delete(rejects).where(rejects.c[FILE_ID_COLUMN] == file_id))


def _load_in_transaction(
    conn: sa.Connection, writer: Writer, plan: LoadPlan, file: FilePlan, file_id: int, held: ledger.Claim,
    started: float,
) -> tuple[LoadResult, str | None]:
    """The file's rows as the table must now hold them, and the layout their hashes were made under (None: the
    raw-file fast path loaded them unhashed)."""
    metadata = sa.MetaData()
    table, rejects = target_table(plan, writer, metadata), rejects_table(metadata, plan.table)
    layout = row_layout(plan, file)
    applied, _ = applied_as(held.rows_loaded, held.row_layout, layout)
    stored = _stored_rows(conn, writer, table, file_id, held.rows_loaded) if applied == "diff" else None
    if applied == "diff" and stored is None:  # the table does not hold exactly the hashed rows the ledger counts
        applied = "replace"
    _delete_rejects(conn, rejects, file_id)
    deleted = _delete_rows(conn, table, file_id) if applied == "replace" else 0
    if applied == "new" and _can_copy_file(writer, plan, file):
        copy = _copy_verified if file.verify else _copy_whole_file
        copied = copy(conn, writer, table, plan, file, file_id)
        if copied is not None:
            return LoadResult(file.source.key, "loaded", rows_read=copied, rows_loaded=copied,
                              bytes=file.source.size, seconds=time.monotonic() - started, applied="new",
                              rows_inserted=copied), None
    columns = [*file.columns, FILE_ID_COLUMN, ROW_HASH_COLUMN]
    ragged: list[tuple[str, str]] = []
    repeated: list[tuple[str, str]] = []
    bad: tuple[dict[int, str], dict[int, str]] = ({}, {})  # by row number: rows in file order, short rows padded
    bases = [0, 0]
    read = inserted = 0

    def on_ragged(text: str, fields: int) -> None:
        ragged.append((text, f"expected {len(file.columns)} fields, found {fields}"))

    def on_repeated_header() -> None:
        repeated.append(("", REPEATED_HEADER))

    def written(count: int, refused: list[tuple[int, str]], kept: np.ndarray, base: int, kind: int) -> None:
        nonlocal inserted
        inserted += count
        bad[kind].update((base + int(kept[row]), reason) for row, reason in refused)
        pause_point("batch-written")

    witness = Witness()
    verifier = Verifier(plan, file) if file.verify else None
    batches = iter_batches(file.source, file.dialect, len(file.columns), plan.null_values, on_ragged,
                           on_repeated_header, witness, batch_bytes=WRITE_BATCH_BYTES, pad_short=plan.null_padding)
    with Overlapped(writer.CAPABILITIES.overlapped_writes) as writes:
        for batch in batches:
            kind = int(is_padded(batch))
            row_base = bases[kind]
            read += batch.num_rows
            checked = check_batch(batch, file, plan)
            good, kept, hashes = checked.good, checked.kept, row_hashes(checked.good)
            if stored is not None:  # only the rows the table does not hold yet
                new = np.flatnonzero(~stored.match(hashes))
                good, kept, hashes = good.take(pa.array(new)), kept[new], hashes[new]
            if verifier is not None:  # a row the table holds fits its columns: it loaded under the same types
                verifier.observe(good, range(len(file.columns)))
                if verifier.misfit:  # nothing of the file will load: only its statistics still matter
                    continue
            bad[kind].update((row_base + row, reason) for row, reason in checked.bad.items())
            if good.num_rows:
                stamped = good.append_column(FILE_ID_COLUMN, pa.array(np.full(good.num_rows, file_id, np.int64)))
                stamped = stamped.append_column(ROW_HASH_COLUMN, pa.array(hashes))
                writes.submit(write_isolating, (conn, writer, table, columns, stamped), written, kept, row_base,
                              kind)
            bases[kind] += batch.num_rows
            _check_limit(file, plan, bad, ragged, repeated)
    _check_unchanged(file, witness)
    if verifier is not None:
        verifier.check()
    _check_limit(file, plan, bad, ragged, repeated)  # a file of nothing but ragged rows yields no batch
    if stored is not None:
        pause_point("diff-inserted")
        deleted = _delete_gone(conn, writer, table, file_id, stored)
    read += len(ragged) + len(repeated)
    found = _locate(file, plan, bad, ragged, repeated)
    unchanged = stored.unchanged if stored is not None else 0
    loaded = unchanged + inserted
    if found:
        insert_rejects(conn, rejects, plan.table, file_id, file.source.key, found)
    if read != loaded + len(found):
        raise ReconciliationError(file.source.key, read, loaded, len(found))
    return LoadResult(
        file.source.key, "loaded", rows_read=read, rows_loaded=loaded, rows_rejected=len(found),
        bytes=file.source.size, seconds=time.monotonic() - started, rejects_sample=tuple(found[:5]),
        applied=applied, rows_inserted=inserted, rows_deleted=deleted, rows_unchanged=unchanged,
    ), layout


def _stored_rows(conn: sa.Connection, writer: Writer, table: sa.Table, file_id: int,
                 expected: int) -> StoredRows | None:
    """The hashes of the file's rows in the table, read in this transaction (the file's ledger row is locked, so
    no one else writes its rows); None when a row has none or the table does not hold the rows the ledger counts
    (the file is then replaced whole)."""
    hashes = writer.stored_hashes(conn, table, file_id, expected)
    return None if hashes is None or len(hashes) != expected else StoredRows(hashes)


def _delete_gone(conn: sa.Connection, writer: Writer, table: sa.Table, file_id: int, stored: StoredRows) -> int:
    """Delete the rows the new file no longer has, listed in a temporary table (bulk-written: no WAL on
    PostgreSQL); the table must hold exactly the copies expected."""
    if not stored.deleted:
        return 0
    hashes, copies, every = stored.gone()
    gone = gone_table()
    gone.drop(conn, checkfirst=True)  # MariaDB keeps a temporary table for the session: one a failed load left
    gone.create(conn)
    listed = pa.record_batch([pa.array(hashes), pa.array(copies), pa.array(every.astype(np.int16))],
                             names=["row_hash", "copies", "every"])
    writer.bulk_write(conn, gone, listed.schema.names, listed)
    deleted = writer.delete_gone(conn, table, file_id, gone)
    gone.drop(conn)
    if deleted != stored.deleted:
        raise TerminalDatabaseError(f"deleted {deleted:,} rows where the file's hashes said {stored.deleted:,} "
                                    "are gone; nothing was changed (is another process writing the table?)")
    return deleted


def _can_copy_file(writer: Writer, plan: LoadPlan, file: FilePlan) -> bool:
    """The raw-file fast path is exact only when the scan found nothing the database would parse differently (or,
    for a file to verify, the fingerprint did not, and the rest is checked on the way), and its null markers, if
    any, can be made empty fields on the way (``null_markers``)."""
    return (
        writer.CAPABILITIES.copy_file and not plan.hash_first_load
        and blankable(plan.null_values, file.dialect.delimiter)
        and (file.clean or (file.verify and file.valid_utf8 and not file.has_nul))
        and not plan.unverified.intersection(file.columns) and file.dialect.encoding in ("utf-8", "utf-8-sig")
    )


def _copy_whole_file(conn: sa.Connection, writer: Writer, table: sa.Table, plan: LoadPlan, file: FilePlan,
                     file_id: int) -> int | None:
    """Rows copied by the fast path, or None (rolled back) when the database disagrees with the scan."""
    savepoint = conn.begin_nested()
    witness = Witness()
    try:
        with open_raw(file.source, file.dialect.compression, witness) as stream:
            copied = writer.copy_file(conn, table, file, file_id, _as_copied(witness.guard(stream), plan, file))
    except RowsRefused:
        copied = None
    except Exception:
        if witness.read_error is not None:  # the COPY failed because its input did: that is the story, not a retry
            raise witness.read_error from None
        raise
    else:
        _check_unchanged(file, witness)
    if copied != file.rows:
        savepoint.rollback()
        return None
    savepoint.commit()
    return copied


def _copy_verified(conn: sa.Connection, writer: Writer, table: sa.Table, plan: LoadPlan, file: FilePlan,
                   file_id: int) -> int | None:
    """One pass: the file's bytes go to the database's COPY (another thread) while its typed columns are checked.

    Raises :class:`Misfit` when a value does not fit; returns the rows copied, or None (rolled back) when the file
    has rows only the validating path handles (ragged, a copy of the header, values the database refused).
    """
    verifier = Verifier(plan, file)
    include = sorted({0, *verifier.columns})  # the first column too, to notice a copy of the header
    irregular = 0

    def count(*_: object) -> None:
        nonlocal irregular
        irregular += 1

    savepoint = conn.begin_nested()
    witness, pipe = Witness(), Pipe()
    copying = pipe.start(lambda stream: writer.copy_file(conn, table, file, file_id, _as_copied(stream, plan, file)))
    rows = 0
    try:
        for batch in iter_batches(file.source, file.dialect, len(file.columns), plan.null_values, count, count,
                                  witness, include, pipe.put):
            rows += batch.num_rows
            verifier.observe(batch, include)
            if verifier.misfit or irregular:
                pipe.abort()  # the copy is lost anyway: spare the database the rest of the file
            if pipe.broken(RowsRefused):
                break  # the connection failed: reading on is pointless
        pipe.end()
    except BaseException:
        pipe.abort()
        copying.join()
        raise
    copying.join()
    if failure := pipe.broken(RowsRefused):
        raise failure
    _check_unchanged(file, witness)
    verifier.check()
    if pipe.error is not None or irregular or pipe.result != rows:
        savepoint.rollback()
        return None
    savepoint.commit()
    return rows


def _as_copied(stream: BinaryIO, plan: LoadPlan, file: FilePlan) -> BinaryIO:
    """The bytes the COPY reads: the file's own, its null markers made empty fields (the COPY's one null)."""
    return blanked(stream, plan.null_values, file.dialect.delimiter)


def write_isolating(
    conn: sa.Connection, writer: Writer, table: sa.Table, columns: list[str], batch: pa.RecordBatch
) -> tuple[int, list[tuple[int, str]]]:
    """Write ``batch``; if the database refuses it, bisect under savepoints to find the refused rows.

    Only a refusal of the data rolls back to the savepoint; any other error (a deadlock, a lost connection) has
    already ended the transaction on the server and propagates as it is, so it can be retried whole.
    """
    savepoint = conn.begin_nested()
    try:
        count = writer.bulk_write(conn, table, columns, batch)
    except RowsRefused as exc:
        savepoint.rollback()
        if batch.num_rows == 1:
            return 0, [(0, f"refused by the database: {exc.reason}")]
    else:
        savepoint.commit()
        return count, []
    middle = batch.num_rows // 2
    first_count, first_refused = write_isolating(conn, writer, table, columns, batch.slice(0, middle))
    second_count, second_refused = write_isolating(conn, writer, table, columns, batch.slice(middle))
    return first_count + second_count, first_refused + [(row + middle, r) for row, r in second_refused]


class Overlapped:
    """Batch writes made on a thread of their own while the next batch is parsed, so the worker's parsing overlaps
    the server's ingest (the validating path was their sum). One write in flight at a time: memory holds at most
    two batches, and the connection is used by one thread at a time. Each write's outcome goes to its ``then`` on
    the caller's thread, in order. ``overlap=False`` (SQLite): each write runs on the caller's thread, at once."""

    def __init__(self, overlap: bool) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="batch-writer") if overlap else None
        self._in_flight: tuple[Future, Callable, tuple] | None = None

    def submit(self, write: Callable, args: tuple, then: Callable, *context: object) -> None:
        """Write (``write(*args)``) once the write before has ended; ``then(*its result, *context)`` after."""
        self._settle()
        if self._pool is None:
            then(*write(*args), *context)
        else:
            self._in_flight = (self._pool.submit(write, *args), then, context)

    def _settle(self) -> None:
        if self._in_flight is not None:
            future, then, context = self._in_flight
            self._in_flight = None
            then(*future.result(), *context)

    def __enter__(self) -> Overlapped:
        return self

    def __exit__(self, failed: type[BaseException] | None, *_: object) -> None:
        try:
            if failed is None:
                self._settle()
            elif self._in_flight is not None:  # the connection must be idle before the transaction rolls back
                wait([self._in_flight[0]])
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


def _check_unchanged(file: FilePlan, witness: Witness) -> None:
    """The bytes just loaded are the bytes the plan hashed, or nothing of the file may be committed."""
    if not witness.matches(file.source.size, file.sha256):
        raise FileChanged(file.source.key)


def _check_limit(file: FilePlan, plan: LoadPlan, bad: tuple[dict[int, str], dict[int, str]],
                 ragged: list[tuple[str, str]], repeated: list[tuple[str, str]]) -> None:
    """Fail the file once its bad rows exceed ``--max-bad-rows``, naming the earliest: the first of each kind is
    located as the rejects are (the file fails, so this pass stands in for the one that would locate them all)."""
    count = sum(map(len, bad)) + len(ragged) + len(repeated)
    if count > plan.max_bad_rows:
        firsts = tuple({min(rows): rows[min(rows)]} if rows else {} for rows in bad)
        first = _locate(file, plan, firsts, ragged[:1], repeated[:1])[0]
        raise TooManyRejects(file.source.key, count, plan.max_bad_rows, first.reason, first.line)


def _locate(
    file: FilePlan, plan: LoadPlan, bad: tuple[dict[int, str], dict[int, str]], ragged: list[tuple[str, str]],
    repeated: list[tuple[str, str]],
) -> list[Reject]:
    """Rejects with their physical line and raw text (the slow path, only for files that have rejects)."""
    bad_rows, bad_padded = bad
    if not bad_rows and not bad_padded and not ragged and not repeated:
        return []
    witness = Witness()
    good_at, ragged_at, repeated_at, padded_at = locate_rows(
        file.source, file.dialect, len(file.columns), set(bad_rows), set(range(len(ragged))),
        set(range(len(repeated))), witness, set(bad_padded), plan.null_padding,
    )
    _check_unchanged(file, witness)
    found = []
    for rows, located in ((ragged, ragged_at), (repeated, repeated_at)):
        for index, (text, reason) in enumerate(rows):
            line, raw = located.get(index, (None, text))
            found.append(Reject(line, raw, reason))
    for rows, located in ((bad_rows, good_at), (bad_padded, padded_at)):
        for row, reason in sorted(rows.items()):
            line, raw = located.get(row, (None, ""))
            found.append(Reject(line, raw, reason))
    found.sort(key=lambda r: (r.line is None, r.line or 0))
    return found
