"""One module per database, each satisfying the :class:`Writer` Protocol; the only place that knows dialects apart.

What a database can do is data (:class:`Capabilities`), never a probe of the module: the code outside ``writers/``
asks ``writer.CAPABILITIES.copy_file``, not ``hasattr``, and never compares dialect names.

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
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa

from ..errors import ConfigError, DatabaseError
from ..types import FILE_ID_COLUMN, ROW_HASH_COLUMN, ColumnPlan, FilePlan, LogicalType

if TYPE_CHECKING:
    from alembic.operations import Operations


class RowsRefused(Exception):
    """The database refused (some of) a batch's values; ``reason`` is its own words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


STANDARD_TYPES: dict[LogicalType, sa.types.TypeEngine] = {
    "integer": sa.Integer(),
    "bigint": sa.BigInteger(),
    "decimal": sa.Numeric(),
    "double": sa.Double(),
    "date": sa.Date(),
    "timestamp": sa.DateTime(),
    "text": sa.Text(),
}
"""SQLAlchemy's generic type for each logical type: what a database takes unless its writer says otherwise."""


@dataclass(frozen=True)
class Capabilities:
    name: str
    type_names: dict[LogicalType, sa.types.TypeEngine] = field(default_factory=lambda: dict(STANDARD_TYPES),
                                                              repr=False)
    max_identifier_bytes: int | None = 63
    parallel_writers: int | None = None
    """How many files may load at once (None: as many as --workers); SQLite has one writer."""
    max_columns: int | None = None
    """Columns a table may have (PostgreSQL 1,600; InnoDB 1,017; SQLite 2,000 by default)."""
    file_id_default: str | None = None
    """SQL default of ``_file_id`` that lets the database stamp rows itself (the raw-file fast path needs it)."""
    copy_file: bool = False
    """Whether :meth:`Writer.copy_file` can send a file's own bytes (PostgreSQL's ``COPY``); else batches only."""
    overlapped_writes: bool = True
    """Whether a batch may be written on another thread while the next is parsed: the driver waits on the server
    without holding the GIL (not SQLite's ``executemany``, which is Python work bound to its thread)."""

    def sql_type(self, column: ColumnPlan) -> sa.types.TypeEngine:
        if column.type == "decimal" and column.precision:
            return sa.Numeric(column.precision, column.scale or 0)
        return self.type_names[column.type]


ROW_ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""A surrogate key's type: BIGINT, but INTEGER on SQLite, whose autoincrement works only on ``INTEGER PRIMARY KEY``."""


@runtime_checkable
class Writer(Protocol):
    """What every writer module provides (a module satisfies a Protocol with its functions; tests check each)."""

    CAPABILITIES: Capabilities
    """Type names, identifier and column limits, how many files may load at once, whether ``copy_file`` works."""
    DRIVER_ERRORS: tuple[type[BaseException], ...]
    """What the driver raises, wrapped by SQLAlchemy or raw from a cursor; ``translate_error`` reads them."""

    def engine_options(self) -> dict:
        """Keyword arguments for ``sa.create_engine`` (driver options, isolation level)."""

    def configure_engine(self, engine: sa.Engine) -> None:
        """Driver settings the bulk path needs, set on every new connection."""

    def bulk_write(self, conn: sa.Connection, table: sa.Table, columns: list[str], batch: pa.RecordBatch) -> int:
        """The database's bulk path for one batch inside the caller's transaction; rows written. Raises
        :class:`RowsRefused` when the database refuses the data (the caller then bisects the batch)."""

    def copy_file(self, conn: sa.Connection, table: sa.Table, file: FilePlan, file_id: int, stream: BinaryIO) -> int:
        """The file's own bytes straight to the database, for files the planning scan found clean (no per-row work
        in Python); rows copied. Only called when ``CAPABILITIES.copy_file`` is true."""

    def stored_hashes(self, conn: sa.Connection, table: sa.Table, file_id: int, expected: int) -> np.ndarray | None:
        """The ``_row_hash`` of the file's rows (``expected`` of them, the ledger says), in any order, read in the
        caller's transaction; None, or fewer than expected, when a row has none (loaded unhashed)."""

    def delete_gone(self, conn: sa.Connection, table: sa.Table, file_id: int, gone: sa.Table) -> int:
        """Delete the file's rows that ``gone`` (:func:`gone_table`) lists: ``copies`` rows of each ``row_hash``,
        whichever of identical rows they are, in one pass over the file's rows; rows deleted."""

    def translate_error(self, exc: BaseException) -> DatabaseError:
        """What a driver error means to us: transient (retry), full, or terminal."""

    def ledger_lock(self, engine: sa.Engine) -> AbstractContextManager[sa.Connection]:
        """A connection holding a database-wide lock, so concurrent first runs create the ledger tables one after
        the other (``pg_advisory_xact_lock`` / ``GET_LOCK`` / ``BEGIN IMMEDIATE``)."""

    def table_lock(self, engine: sa.Engine, table: str, timeout: float) -> AbstractContextManager[None]:
        """Keeps two runs off one table for the whole run (see the package docstring for why it is not enough)."""

    def widen_column(self, operations: Operations, table: str, column: str,
                     before: sa.types.TypeEngine, after: sa.types.TypeEngine) -> bool:
        """Change an existing column's type to the wider ``after``; False when the database cannot (SQLite)."""

    def database_file(self, url: sa.URL) -> str | None:
        """The local file the database lives in (SQLite), or None for a server."""


def no_copy_file(conn: sa.Connection, table: sa.Table, file: FilePlan, file_id: int, stream: BinaryIO) -> int:
    """``copy_file`` of a writer whose ``CAPABILITIES.copy_file`` is false: never called, loudly wrong if it is."""
    raise NotImplementedError(f"{conn.dialect.name} loads in batches only (CAPABILITIES.copy_file is false)")


def fetched_hashes(conn: sa.Connection, table: sa.Table, file_id: int, expected: int) -> np.ndarray | None:
    """``stored_hashes`` through the driver's cursor, 100,000 rows at a time (about 1 µs a row)."""
    query = sa.select(table.c[ROW_HASH_COLUMN]).where(table.c[FILE_ID_COLUMN] == file_id)
    hashes = Filling(expected)
    for part in conn.execute(query, execution_options={"yield_per": 100_000}).scalars().partitions():
        if None in part:
            return None
        hashes.add(np.array(part, np.int64))
    return hashes.array()


def gone_table(name: str = "data_processor_gone") -> sa.Table:
    """A temporary table of the rows a row difference deletes: each hash once, the copies to delete, and whether
    that is every copy (PostgreSQL drops it at commit; the others when the load is done with it)."""
    return sa.Table(
        name, sa.MetaData(),
        sa.Column("row_hash", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("copies", sa.BigInteger, nullable=False),
        sa.Column("every", sa.SmallInteger, nullable=False),
        prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
    )


def copies_to_delete(conn: sa.Connection, table: sa.Table, gone: sa.Table, row_id: str, file_id: str) -> str:
    """SQL selecting the ``row_id`` (a database's own row address) of each of the file's rows ``gone`` lists, as
    many copies as it says, in one pass over the file's rows (``file_id``: the driver's bound parameter)."""
    name, listed = (conn.dialect.identifier_preparer.format_table(t) for t in (table, gone))
    return (f"SELECT s.id FROM (SELECT {row_id} AS id, _row_hash, row_number() OVER (PARTITION BY _row_hash) AS k "
            f"FROM {name} WHERE _file_id = {file_id} AND _row_hash IN (SELECT row_hash FROM {listed})) s "
            f"JOIN {listed} g ON g.row_hash = s._row_hash WHERE s.k <= g.copies")


class Filling:
    """An int64 array filled piece by piece into room made for the rows expected (no second copy of them all)."""

    def __init__(self, expected: int) -> None:
        self._array = np.empty(max(expected, 0), np.int64)
        self._size = 0

    def add(self, piece: np.ndarray) -> None:
        if self._size + len(piece) > len(self._array):  # more rows than the ledger said: make room
            self._array = np.concatenate([self._array[:self._size], np.empty(self._size + 2 * len(piece), np.int64)])
        self._array[self._size:self._size + len(piece)] = piece
        self._size += len(piece)

    def array(self) -> np.ndarray:
        return self._array[:self._size]


def no_database_file(url: sa.URL) -> str | None:
    """``database_file`` of a database served over a connection: there is no local file."""
    return None


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


def writer_for(dialect_name: str) -> Writer:
    """The writer module for an SQLAlchemy dialect name."""
    from . import mysql, postgres, sqlite

    writers = {"postgresql": postgres, "mysql": mysql, "mariadb": mysql, "sqlite": sqlite}
    try:
        return writers[dialect_name]
    except KeyError:
        raise ConfigError(
            f"no bulk writer for database {dialect_name!r}; supported: postgresql, mysql/mariadb, sqlite"
        ) from None
