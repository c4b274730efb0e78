"""MariaDB / MySQL: ``LOAD DATA LOCAL INFILE`` from a temporary file per batch, ``GET_LOCK`` per table.

``LOAD DATA LOCAL`` never fails on a bad value: it stores a coerced value (``'x'`` → ``0``) and raises a
warning. So every batch checks ``@@warning_count`` and counts the rows; any warning means the batch is refused
(the caller rolls back to its savepoint and bisects), so nothing is ever silently coerced.

``translate_error`` reads the server's error number: a full disk or table (1021, 1114, errno 28), a lost
connection, deadlock or lock wait (retried), or anything else (terminal).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa
import pymysql
import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_types

from ..errors import DatabaseError, DatabaseFull, TableLocked, TerminalDatabaseError, TransientDatabaseError
from . import (
    STANDARD_TYPES, Capabilities, RowsRefused, connection_invalidated, csv_bytes, driver_error, fetched_hashes,
    first_line, no_copy_file, no_database_file, quoted_columns,
)

if TYPE_CHECKING:
    from alembic.operations import Operations

log = logging.getLogger(__name__)

CAPABILITIES = Capabilities(
    max_columns=1017,
    name="mysql",
    max_identifier_bytes=64,
    type_names={**STANDARD_TYPES, "timestamp": mysql_types.DATETIME(fsp=6), "text": mysql_types.LONGTEXT()},
)

_TRANSIENT_CODES = {1205, 1213, 2003, 2006, 2013, 1040, 1927}  # lock wait, deadlock, gone away, lost, too many
_FULL_CODES = {1021, 1114}  # disk full, table full
DRIVER_ERRORS = (sa.exc.DBAPIError, pymysql.err.Error)


def configure_engine(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _strict(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")


def engine_options() -> dict:
    """READ COMMITTED: under REPEATABLE READ, parallel files' DELETE-by-file-id gap locks deadlock their inserts."""
    return {"connect_args": {"local_infile": True, "charset": "utf8mb4"}, "isolation_level": "READ COMMITTED"}


def bulk_write(conn: sa.Connection, table: sa.Table, columns: list[str], batch: pa.RecordBatch) -> int:
    name = conn.dialect.identifier_preparer.format_table(table)
    sql = (
        f"LOAD DATA LOCAL INFILE %s INTO TABLE {name} CHARACTER SET utf8mb4 "
        "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n' "
        f"({quoted_columns(conn, columns)})"
    )
    fd, path = tempfile.mkstemp(prefix="data-processor-", suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(csv_bytes(batch, null_string="NULL"))
        cursor = conn.connection.driver_connection.cursor()
        try:
            loaded = cursor.execute(sql, (path,))
        except (pymysql.err.DataError, pymysql.err.IntegrityError) as exc:
            raise RowsRefused(exc.args[-1] if exc.args else str(exc)) from exc
        cursor.execute("SHOW WARNINGS LIMIT 1")
        warning = cursor.fetchone()
        if warning:
            raise RowsRefused(str(warning[2]))
        if loaded != batch.num_rows:
            raise RowsRefused(f"the server took {loaded} of {batch.num_rows} rows")
        return loaded
    finally:
        os.unlink(path)


copy_file = no_copy_file
stored_hashes = fetched_hashes
database_file = no_database_file


def delete_gone(conn: sa.Connection, table: sa.Table, file_id: int, gone: sa.Table) -> int:
    """Rows none of whose copies stay: one joined ``DELETE`` over the file's rows. Identical rows the file keeps
    some of (rare): ``DELETE … LIMIT`` each, as InnoDB shows no row id."""
    name, listed = (conn.dialect.identifier_preparer.format_table(t) for t in (table, gone))
    deleted = conn.exec_driver_sql(f"DELETE t FROM {name} t JOIN {listed} g ON t._row_hash = g.row_hash "
                                   "WHERE t._file_id = %s AND g.every = 1", (file_id,)).rowcount
    some = conn.exec_driver_sql(f"SELECT row_hash, copies FROM {listed} WHERE every = 0").all()
    for row_hash, copies in some:
        deleted += conn.exec_driver_sql(f"DELETE FROM {name} WHERE _file_id = %s AND _row_hash = %s LIMIT %s",
                                        (file_id, row_hash, copies)).rowcount
    return deleted


def widen_column(operations: Operations, table: str, column: str,
                 before: sa.types.TypeEngine, after: sa.types.TypeEngine) -> bool:
    """``ALTER TABLE … MODIFY``; strict mode makes a value that does not convert an error, never a silent zero."""
    operations.alter_column(table, column, type_=after, existing_type=before, existing_nullable=True)
    return True


def translate_error(exc: BaseException) -> DatabaseError:
    orig = driver_error(exc)
    args = getattr(orig, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    reason = str(args[1]) if len(args) > 1 else first_line(orig)
    reason = reason.strip().splitlines()[0] if reason.strip() else type(orig).__name__
    if code in _FULL_CODES or "errno: 28" in reason or "No space left" in reason:
        return DatabaseFull(reason)
    if code in _TRANSIENT_CODES or isinstance(orig, pymysql.err.InterfaceError) or connection_invalidated(exc):
        return TransientDatabaseError(reason)
    return TerminalDatabaseError(reason)


def _lock_name(text: str) -> str:
    return "data_processor:" + hashlib.sha256(text.encode()).hexdigest()[:40]  # GET_LOCK names: 64 characters


@contextmanager
def _get_lock(conn: sa.Connection, name: str, timeout: float) -> Iterator[bool]:
    """``GET_LOCK`` for as long as the block runs; yields whether it was granted. Releasing on a connection that
    died is not an error: the lock died with it."""
    got = conn.execute(sa.text("SELECT GET_LOCK(:n, :t)"), {"n": name, "t": max(int(timeout), 0)}).scalar() == 1
    try:
        yield got
    finally:
        if got:
            try:
                conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": name})
            except DRIVER_ERRORS as exc:
                log.warning("a lock was already gone with its connection: %s", first_line(driver_error(exc)))


@contextmanager
def ledger_lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection holding a server-wide named lock (MariaDB's DDL commits at once: a transaction cannot hold it)."""
    with engine.connect() as conn, _get_lock(conn, _lock_name("ledger tables\n"), 600) as got:
        if not got:
            raise TransientDatabaseError("timed out waiting for another run creating the ledger tables")
        yield conn
        conn.commit()


@contextmanager
def table_lock(engine: sa.Engine, table: str, timeout: float) -> Iterator[None]:
    """``GET_LOCK`` on its own connection for the whole run (names are hashed to fit 64 characters)."""
    with engine.connect() as conn:
        started = time.monotonic()
        with _get_lock(conn, _lock_name(table), timeout) as got:
            if not got:
                raise TableLocked(table, time.monotonic() - started)
            yield
