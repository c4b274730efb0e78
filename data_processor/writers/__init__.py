"""One module per database, all with the same small surface; the only place that knows dialects apart.

Each writer module provides:

- ``CAPABILITIES``: a :class:`Capabilities` (type names, identifier limit, how many files may load at once);
- ``configure_engine(engine)``: driver settings the bulk path needs;
- ``bulk_write(conn, table, columns, batch) -> int``: the database's bulk path inside the caller's transaction;
  it raises :class:`RowsRefused` when the database refuses the data (then the caller bisects the batch);
- ``table_lock(engine, table, timeout)``: a context manager that keeps two runs off one table (see below);
- ``DRIVER_ERRORS`` and ``translate_error(exc) -> DatabaseError``: which exceptions the driver raises (wrapped by
  SQLAlchemy or raw from a cursor) and what each means to us: transient (retry), full, or terminal;
- ``ledger_lock(engine)``: a connection holding a database-wide lock, so concurrent first runs create the ledger
  tables one after the other (``pg_advisory_xact_lock`` / ``GET_LOCK`` / ``BEGIN IMMEDIATE``);
- optionally ``copy_file(conn, table, file, file_id, stream) -> int``: the file's own bytes straight to the database, for
  files the planning scan found clean (no per-row work in Python at all).

**Why a table lock is not enough on its own.** PostgreSQL's advisory lock and MariaDB's ``GET_LOCK`` belong to
a session: when the server restarts (or the lock's connection drops) the lock is gone, silently, and a second run
may take the table while the first is still loading. Re-checking the lock's session before each commit cannot
close that window (the session can die right after the check), and a transaction-level advisory lock per file
would either block the run's own parallel files (exclusive) or not keep another run out (shared). So the run
lock is paired with a *holder row* (``ledger.runs``): the run that takes the lock writes its run id there, and
every file's transaction reads that row ``FOR SHARE`` before writing and fails with :class:`TableLockLost` if
another run's id is there. Parallel files of one run share the row; a run that takes over after a restart waits
on the row until the old run's in-flight files commit or roll back, and the old run's next files stop. The
same holds on every database, SQLite included (its lock file survives restarts anyway).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from types import ModuleType

import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa

from ..errors import ConfigError
from ..types import ColumnPlan, LogicalType


class RowsRefused(Exception):
    """The database refused (some of) a batch's values; ``reason`` is its own words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Capabilities:
    name: str
    type_names: dict[LogicalType, sa.types.TypeEngine] = field(repr=False)
    max_identifier_bytes: int | None = 63
    parallel_writers: int | None = None
    """How many files may load at once (None: as many as --workers); SQLite has one writer."""
    max_columns: int | None = None
    """Columns a table may have (PostgreSQL 1,600; InnoDB 1,017; SQLite 2,000 by default)."""
    file_id_default: str | None = None
    """SQL default of ``_file_id`` that lets the database stamp rows itself (the raw-file fast path needs it)."""

    def sql_type(self, column: ColumnPlan) -> sa.types.TypeEngine:
        if column.type == "decimal" and column.precision:
            return sa.Numeric(column.precision, column.scale or 0)
        return self.type_names[column.type]


def driver_error(exc: BaseException) -> BaseException:
    """The driver's own exception, whether SQLAlchemy wrapped it or a raw cursor raised it."""
    return exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc


def first_line(exc: BaseException) -> str:
    """The first line of a driver's message (never the password: drivers do not echo it)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connection_invalidated(exc: BaseException) -> bool:
    """SQLAlchemy saw the connection die (its dialect knows each driver's "connection lost" errors)."""
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)


def csv_bytes(batch: pa.RecordBatch, null_string: str = "", delimiter: str = ",") -> bytes:
    """A batch as CSV without header: every string quoted, nulls bare (so null and empty differ)."""
    out = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=False, null_string=null_string, delimiter=delimiter)
    pa_csv.write_csv(batch, out, options)
    return out.getvalue()


def quoted_columns(conn: sa.Connection, columns: list[str]) -> str:
    preparer = conn.dialect.identifier_preparer
    return ", ".join(preparer.quote(c) for c in columns)


def writer_for(dialect_name: str) -> ModuleType:
    """The writer module for an SQLAlchemy dialect name."""
    from . import mysql, postgres, sqlite

    writers = {"postgresql": postgres, "mysql": mysql, "mariadb": mysql, "sqlite": sqlite}
    try:
        return writers[dialect_name]
    except KeyError:
        raise ConfigError(
            f"no bulk writer for database {dialect_name!r}; supported: postgresql, mysql/mariadb, sqlite"
        ) from None
