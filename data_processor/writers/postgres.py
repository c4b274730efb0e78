"""PostgreSQL: ``COPY … FROM STDIN (FORMAT csv)`` from an in-memory buffer, advisory lock per table."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pyarrow as pa
import sqlalchemy as sa

from ..errors import TableLocked
from . import Capabilities, RowsRefused, csv_bytes, quoted_columns

CAPABILITIES = Capabilities(
    name="postgresql",
    max_identifier_bytes=63,
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

_TRANSIENT_CLASSES = ("08", "40", "53", "57")  # connection, rollback/deadlock, resources, operator intervention


def configure_engine(engine: sa.Engine) -> None:
    """Nothing to set: psycopg2 streams COPY as it is."""


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


def is_transient(exc: BaseException) -> bool:
    code = getattr(getattr(exc, "orig", exc), "pgcode", None)
    if code:
        return code.startswith(_TRANSIENT_CLASSES)
    return isinstance(getattr(exc, "orig", exc), psycopg2.OperationalError)


@contextmanager
def table_lock(engine: sa.Engine, table: str, timeout: float) -> Iterator[None]:
    """A session advisory lock, held on its own connection for the whole run."""
    key = int.from_bytes(hashlib.sha256(f"data_processor:{table}".encode()).digest()[:8], "big", signed=True)
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
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
