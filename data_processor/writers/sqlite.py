"""SQLite: batched ``executemany`` inside the file's one transaction; a lock file keeps two runs apart.

pysqlite's own transaction handling hides SAVEPOINT from SQLAlchemy, so ``configure_engine`` applies
SQLAlchemy's documented recipe (driver autocommit off, ``BEGIN`` emitted by SQLAlchemy). SQLite has one writer
at a time, so files load one after another.

The run lock is a ``flock`` on a file beside the database, named from a hash of the table name (a name holding
``/`` or ``..`` can never point it elsewhere). ``translate_error`` reads SQLite's result code: ``SQLITE_FULL`` (a
full disk) and ``SQLITE_BUSY``/``SQLITE_LOCKED`` (retried) apart from the rest.
"""

from __future__ import annotations

import fcntl
import hashlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlalchemy as sa

from ..errors import (
    ConfigError, DatabaseError, DatabaseFull, TableLocked, TerminalDatabaseError, TransientDatabaseError,
)
from . import (
    Capabilities, RowsRefused, copies_to_delete, driver_error, fetched_hashes, first_line, no_copy_file,
    quoted_columns,
)

if TYPE_CHECKING:
    from alembic.operations import Operations

DRIVER_ERRORS = (sa.exc.DBAPIError, sqlite3.Error)

CAPABILITIES = Capabilities(
    max_columns=2000,
    name="sqlite",
    max_identifier_bytes=None,
    parallel_writers=1,
    overlapped_writes=False,
)


def configure_engine(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout = 60000")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")


_IMMEDIATE = "data_processor_begin_immediate"


def engine_options() -> dict:
    return {}


def bulk_write(conn: sa.Connection, table: sa.Table, columns: list[str], batch: pa.RecordBatch) -> int:
    name = conn.dialect.identifier_preparer.format_table(table)
    marks = ", ".join("?" * len(columns))
    rows = zip(*(column.to_pylist() for column in batch.columns))
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(f"INSERT INTO {name} ({quoted_columns(conn, columns)}) VALUES ({marks})", rows)
    except (sqlite3.IntegrityError, sqlite3.DataError) as exc:
        raise RowsRefused(str(exc)) from exc
    return cursor.rowcount


copy_file = no_copy_file
stored_hashes = fetched_hashes


def delete_gone(conn: sa.Connection, table: sa.Table, file_id: int, gone: sa.Table) -> int:
    """Identical rows differ only by their row id (under whichever of its names no column took)."""
    rowid = next(n for n in ("rowid", "_rowid_", "oid") if n not in table.c)
    name = conn.dialect.identifier_preparer.format_table(table)
    ids = copies_to_delete(conn, table, gone, rowid, "?")
    return conn.exec_driver_sql(f"DELETE FROM {name} WHERE {rowid} IN ({ids})", (file_id,)).rowcount


def widen_column(operations: Operations, table: str, column: str,
                 before: sa.types.TypeEngine, after: sa.types.TypeEngine) -> bool:
    """No ALTER COLUMN … TYPE: alembic copies the table into one with the wider column, each value as it is. Left
    INTEGER, the column's affinity would turn a later file's "007" into 7; and a CAST (what batch mode's
    ``alter_column`` adds) would turn the date '2020-01-31' into 2020."""
    with operations.batch_alter_table(table, recreate="always", reflect_args=[sa.Column(column, after)]):
        pass
    return True


def database_file(url: sa.URL) -> str | None:
    """The database's file; None for an in-memory database."""
    return None if url.database in (None, "", ":memory:") else url.database


def translate_error(exc: BaseException) -> DatabaseError:
    orig = driver_error(exc)
    reason, code = first_line(orig), getattr(orig, "sqlite_errorname", "") or ""
    if code.startswith("SQLITE_FULL") or "database or disk is full" in reason:
        return DatabaseFull(reason)
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in reason:
        return TransientDatabaseError(reason)
    return TerminalDatabaseError(reason)


@contextmanager
def ledger_lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction begun with ``BEGIN IMMEDIATE``: it holds the database's write lock from its first statement."""
    with engine.connect().execution_options(**{_IMMEDIATE: True}) as conn, conn.begin():
        yield conn


def lock_path(database: str, table: str) -> str:
    """``<database>.<hash of the table>.lock``, beside the database whatever characters the table name holds."""
    return f"{database}.{hashlib.sha256(table.encode()).hexdigest()[:16]}.lock"


@contextmanager
def table_lock(engine: sa.Engine, table: str, timeout: float) -> Iterator[None]:
    """An exclusive ``flock`` on :func:`lock_path` beside the database file."""
    database = database_file(engine.url)
    if database is None:
        yield
        return
    path = lock_path(database, table)
    try:
        lock_file = open(path, "a+")  # noqa: SIM115 - closed below, after the lock is released
    except OSError as exc:
        raise ConfigError(f"cannot create the lock file {path}: {exc.strerror or exc}; the folder of an SQLite "
                          "database must be writable (SQLite writes its journal there too)") from None
    with lock_file:
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - started >= timeout:
                    raise TableLocked(table, time.monotonic() - started) from None
                time.sleep(min(0.5, max(timeout, 0.05)))
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
