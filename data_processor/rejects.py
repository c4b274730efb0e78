"""``<table>_rejects``: every row that did not load, with its file, line, raw text and reason."""

from __future__ import annotations

import sqlalchemy as sa

from .ledger import now
from .db import raises_database_errors
from .naming import shorten
from .target import Target
from .types import FILE_ID_COLUMN, Reject
from .writers import ROW_ID_TYPE


def rejects_table_name(table: str) -> str:
    return shorten(f"{table}_rejects", 63)


def rejects_table(metadata: sa.MetaData, table: str) -> sa.Table:
    return sa.Table(
        rejects_table_name(table),
        metadata,
        sa.Column("id", ROW_ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column(FILE_ID_COLUMN, sa.BigInteger, nullable=False, index=True),
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("file_key", sa.String(512), nullable=False),
        sa.Column("line", sa.BigInteger, comment="physical line the row starts on; the header is line 1"),
        sa.Column("raw_text", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("rejected_at", sa.DateTime, nullable=False),
    )


def storable(text: str | None) -> str | None:
    """Raw text as every database can store it: a NUL byte (which PostgreSQL text cannot hold) is written ``\\x00``."""
    return text.replace("\x00", "\\x00") if text and "\x00" in text else text


def insert(conn: sa.Connection, table: sa.Table, target: str, file_id: int, key: str, rows: list[Reject]) -> None:
    at = now()
    for start in range(0, len(rows), 1000):
        conn.execute(
            sa.insert(table),
            [
                {FILE_ID_COLUMN: file_id, "table_name": target, "file_key": key, "line": r.line,
                 "raw_text": storable(r.raw), "reason": storable(r.reason), "rejected_at": at}
                for r in rows[start : start + 1000]
            ],
        )


@raises_database_errors
def clear(target: Target) -> None:
    """Delete every reject of the target's table: the table was dropped or emptied, and its loads with it."""
    name = rejects_table_name(target.table)
    if sa.inspect(target.engine).has_table(name):
        with target.engine.begin() as conn:
            conn.execute(sa.delete(sa.table(name)))
