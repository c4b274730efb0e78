"""SQLite: batched ``executemany`` inside the file's one transaction; a lock file keeps two runs apart.

pysqlite's own transaction handling hides SAVEPOINT from SQLAlchemy, so ``configure_engine`` applies
SQLAlchemy's documented recipe (driver autocommit off, ``BEGIN`` emitted by SQLAlchemy). SQLite has one writer
at a time, so files load one after another.
"""

from __future__ import annotations

import fcntl
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import sqlalchemy as sa

from ..errors import TableLocked
from . import Capabilities, RowsRefused, quoted_columns

CAPABILITIES = Capabilities(
    max_columns=2000,
    name="sqlite",
    max_identifier_bytes=None,
    parallel_writers=1,
    type_names={
        "integer": sa.Integer(),
        "bigint": sa.BigInteger(),
        "decimal": sa.Numeric(),
        "double": sa.Double(),
        "date": sa.Date(),
        "timestamp": sa.DateTime(),
        "text": sa.Text(),
    },
)


def configure_engine(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout = 60000")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN")


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


def is_transient(exc: BaseException) -> bool:
    return "database is locked" in str(getattr(exc, "orig", exc))


@contextmanager
def table_lock(engine: sa.Engine, table: str, timeout: float) -> Iterator[None]:
    """An exclusive ``flock`` on ``<database>.<table>.lock`` beside the database file."""
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.{table}.lock", "a+") as lock_file:
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
