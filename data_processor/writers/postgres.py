"""PostgreSQL: ``COPY … FROM STDIN (FORMAT csv)`` from an in-memory buffer, advisory lock per table.

Driver errors reach us wrapped by SQLAlchemy or raw from a cursor (``copy_expert``); ``translate_error`` reads
their SQLSTATE: class 53100 is a full disk, classes 08/40/53/57 (connection, deadlock, resources, restart) are
worth a retry, the rest (a limit such as 1,600 columns, a name PostgreSQL refuses) are terminal.
"""

from __future__ import annotations

import hashlib
import io
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import psycopg2
import pyarrow as pa
import sqlalchemy as sa

from ..errors import DatabaseError, DatabaseFull, TableLocked, TerminalDatabaseError, TransientDatabaseError
from ..testing import paused_reader
from ..types import FilePlan
from . import (
    Capabilities, Filling, RowsRefused, connection_invalidated, copies_to_delete, csv_bytes, driver_error,
    first_line, no_database_file, quoted_columns,
)

if TYPE_CHECKING:
    from alembic.operations import Operations

log = logging.getLogger(__name__)

FILE_ID_SETTING = "data_processor.file_id"

CAPABILITIES = Capabilities(
    max_columns=1600,
    name="postgresql",
    max_identifier_bytes=63,
    file_id_default=f"current_setting('{FILE_ID_SETTING}')::bigint",
    copy_file=True,
)

_TRANSIENT_CLASSES = ("08", "40", "53", "57")  # connection, rollback/deadlock, resources, operator intervention
_DISK_FULL = "53100"
DRIVER_ERRORS = (sa.exc.DBAPIError, psycopg2.Error)


def configure_engine(engine: sa.Engine) -> None:
    """psycopg2 streams COPY as it is; only its report of a COPY cut short needs quieting."""
    _quiet_copy_reports()


def _quiet_copy_reports() -> None:
    """When the server ends a connection in the middle of a COPY, psycopg2 prints a ``SystemError … decode``
    traceback through ``sys.excepthook`` (psycopg/psycopg2#551), then raises ``OperationalError("invalid
    socket")``, which the load retries. Only that printed report is replaced, by one log line with the server's
    reason; every other uncaught error still reaches the previous hook."""
    previous = sys.excepthook
    if getattr(previous, "quiets_copy_reports", False):
        return

    def hook(kind, value, traceback) -> None:  # type: ignore[no-untyped-def]
        if kind is SystemError and isinstance(value.__cause__, psycopg2.Error):
            log.warning("the database ended a COPY: %s", first_line(value.__cause__))
            return
        previous(kind, value, traceback)

    hook.quiets_copy_reports = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def engine_options() -> dict:
    return {}


def bulk_write(conn: sa.Connection, table: sa.Table, columns: list[str], batch: pa.RecordBatch) -> int:
    name = conn.dialect.identifier_preparer.format_table(table)
    sql = f"COPY {name} ({quoted_columns(conn, columns)}) FROM STDIN WITH (FORMAT csv)"
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(sql, io.BytesIO(csv_bytes(batch)), size=1 << 20)
    except (psycopg2.DataError, psycopg2.IntegrityError) as exc:
        raise RowsRefused(str(exc).strip().splitlines()[0]) from exc
    return cursor.rowcount


def copy_file(conn: sa.Connection, table: sa.Table, file: FilePlan, file_id: int, stream: BinaryIO) -> int:
    """COPY the file's bytes (``stream``); ``_file_id`` comes from its column default, fed by a transaction-local
    setting.

    The CSV rules match the scan's: header skipped, every empty field (quoted or not) is NULL.
    """
    preparer = conn.dialect.identifier_preparer
    columns = quoted_columns(conn, list(file.columns))
    options = f"FORMAT csv, HEADER true, DELIMITER {_literal(file.dialect.delimiter)}, FORCE_NULL ({columns})"
    sql = f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN WITH ({options})"
    cursor = conn.connection.driver_connection.cursor()
    cursor.execute("SELECT set_config(%s, %s, true)", (FILE_ID_SETTING, str(file_id)))
    try:
        cursor.copy_expert(sql, paused_reader(stream, "copy-streaming"), size=1 << 20)
    except (psycopg2.DataError, psycopg2.IntegrityError) as exc:
        raise RowsRefused(str(exc).strip().splitlines()[0]) from exc
    return cursor.rowcount


def stored_hashes(conn: sa.Connection, table: sa.Table, file_id: int, expected: int) -> np.ndarray | None:
    """``COPY … TO STDOUT (FORMAT binary)``: 14 bytes a row, converted 4 MB at a time (about 0.3 µs a row, a
    quarter of a cursor's fetch). Rows without a hash are left out: the caller sees fewer than it expected."""
    name = conn.dialect.identifier_preparer.format_table(table)
    sink = _BinaryHashes(expected)
    cursor = conn.connection.driver_connection.cursor()
    cursor.copy_expert(f"COPY (SELECT _row_hash FROM {name} WHERE _file_id = {int(file_id)} AND _row_hash IS NOT "
                       "NULL) TO STDOUT (FORMAT binary)", sink)
    return sink.hashes()


class _BinaryHashes:
    """A binary COPY of one BIGINT column: 19 bytes of header, then per row a field count (2 bytes), a length (4)
    and the value (8, big-endian), then a 2-byte trailer."""

    _ROW = np.dtype([("fields", ">i2"), ("length", ">i4"), ("value", ">i8")])
    _PIECE = 4 << 20

    def __init__(self, expected: int) -> None:
        self._pending = bytearray()
        self._hashes = Filling(expected)
        self._header = True

    def write(self, data: bytes) -> None:  # psycopg2 calls this once a row
        self._pending += data
        if len(self._pending) >= self._PIECE:
            self._convert()

    def _convert(self) -> None:
        if self._header:
            del self._pending[:19]
            self._header = False
        whole = len(self._pending) // self._ROW.itemsize * self._ROW.itemsize
        self._hashes.add(np.frombuffer(self._pending, self._ROW, whole // self._ROW.itemsize)["value"])
        del self._pending[:whole]

    def hashes(self) -> np.ndarray:
        self._convert()
        if self._pending != b"\xff\xff":
            raise TerminalDatabaseError(f"unexpected end of a binary COPY ({len(self._pending)} bytes left)")
        return self._hashes.array()


def delete_gone(conn: sa.Connection, table: sa.Table, file_id: int, gone: sa.Table) -> int:
    """Identical rows differ only by their place (``ctid``): the places found, then a TID scan deletes them."""
    name = conn.dialect.identifier_preparer.format_table(table)
    places = copies_to_delete(conn, table, gone, "ctid", "%(f)s")
    return conn.exec_driver_sql(f"DELETE FROM {name} WHERE ctid = ANY(ARRAY({places}))", {"f": file_id}).rowcount


def widen_column(operations: Operations, table: str, column: str,
                 before: sa.types.TypeEngine, after: sa.types.TypeEngine) -> bool:
    """``ALTER COLUMN … TYPE … USING column::type``: the explicit cast PostgreSQL wants where it has no implicit one."""
    dialect = operations.migration_context.dialect
    using = f"{dialect.identifier_preparer.quote(column)}::{after.compile(dialect=dialect)}"
    operations.alter_column(table, column, type_=after, existing_type=before, existing_nullable=True,
                            postgresql_using=using)
    return True


database_file = no_database_file


def _literal(text: str) -> str:
    return "E'\\t'" if text == "\t" else "'" + text.replace("'", "''") + "'"


def translate_error(exc: BaseException) -> DatabaseError:
    orig = driver_error(exc)
    reason, code = first_line(orig), getattr(orig, "pgcode", None) or ""
    if code == _DISK_FULL:
        return DatabaseFull(reason)
    lost = not code and isinstance(orig, (psycopg2.OperationalError, psycopg2.InterfaceError))
    if code.startswith(_TRANSIENT_CLASSES) or lost or connection_invalidated(exc):
        return TransientDatabaseError(reason)
    return TerminalDatabaseError(reason)


def _key(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


_LEDGER_KEY = _key("data_processor ledger tables")  # no table's key: those are "data_processor:<table>"


@contextmanager
def ledger_lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction holding a database-wide advisory lock until it commits (so does the DDL inside it)."""
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LEDGER_KEY})
        yield conn


@contextmanager
def table_lock(engine: sa.Engine, table: str, timeout: float) -> Iterator[None]:
    """A session advisory lock, held on its own connection for the whole run (see the package's docstring for
    what covers a lock that dies with its session)."""
    key = _key(f"data_processor:{table}")
    with engine.connect() as conn:
        started = time.monotonic()
        while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            if time.monotonic() - started >= timeout:
                raise TableLocked(table, time.monotonic() - started)
            time.sleep(min(1.0, max(timeout, 0.05)))
        conn.commit()
        try:
            yield
        finally:
            try:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
            except DRIVER_ERRORS as exc:  # the session died (a restart): its lock died with it
                log.warning("the lock on %s was already gone with its connection: %s", table,
                            first_line(driver_error(exc)))
