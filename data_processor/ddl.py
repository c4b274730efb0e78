"""Create or evolve the target and rejects tables, once, before any file loads.

A new table is created from the plan. An existing table keeps its columns; planned columns it lacks are added
(``ALTER TABLE … ADD COLUMN``) and columns whose values no longer fit are widened (integer → bigint → decimal → text,
date → timestamp). SQLite cannot change a column's type: the table is copied into one with the wider columns (its
type affinity would otherwise change values, ``007`` into 7). Every column and every change is recorded in
``data_processor_columns``. Alembic's operations emit the dialect-correct DDL.
"""

from __future__ import annotations

import sqlalchemy as sa

from . import ledger
from .db import raises_database_errors
from .errors import DatabaseError
from .rejects import rejects_table, storable
from .text import plural
from .target import Target
from .types import FILE_ID_COLUMN, ROW_HASH_COLUMN, ColumnPlan, LoadPlan
from .writers import Writer

LINEAGE_COLUMNS = frozenset({FILE_ID_COLUMN, ROW_HASH_COLUMN})
"""Columns the tool adds to every table; no file's header maps to them."""


def target_table(plan: LoadPlan, writer: Writer, metadata: sa.MetaData | None = None) -> sa.Table:
    """The SQLAlchemy table the plan describes, with the lineage columns: ``_file_id`` (indexed: replacing or
    diffing a file reads and deletes by it) and ``_row_hash`` (not indexed: a file's rows are read by ``_file_id``,
    and an index on random hashes would cost every load a random B-tree insert per row, 3× the wall of a load of
    short rows, measured, and a row difference a full page of WAL per index page it touches)."""
    default = writer.CAPABILITIES.file_id_default
    return sa.Table(
        plan.table,
        metadata or sa.MetaData(),
        *(sa.Column(c.name, writer.CAPABILITIES.sql_type(c)) for c in plan.columns),
        sa.Column(FILE_ID_COLUMN, sa.BigInteger, nullable=False, index=True,
                  server_default=sa.text(default) if default else None),
        sa.Column(ROW_HASH_COLUMN, sa.BigInteger, nullable=True),
    )


def _add_row_hashes(conn: sa.Connection, operations, table: str) -> list[str]:  # noqa: ANN001 - alembic Operations
    """A table created before row differences gets ``_row_hash`` (no rewrite on any of the three databases); its
    files' next changes replace them whole, laying the hashes down."""
    if ROW_HASH_COLUMN in {c["name"] for c in sa.inspect(conn).get_columns(table)}:
        return []
    operations.add_column(table, sa.Column(ROW_HASH_COLUMN, sa.BigInteger, nullable=True))
    return [f"added column {ROW_HASH_COLUMN} (row differences: each file's next change is replaced whole, later "
            "ones diffed)"]


@raises_database_errors
def existing_columns(target: Target) -> dict[str, ColumnPlan] | None:
    """The columns of the target's table as logical types, or None when there is no such table."""
    inspector = sa.inspect(target.engine)
    if not inspector.has_table(target.table):
        return None
    found = {}
    for column in inspector.get_columns(target.table):
        if column["name"] not in LINEAGE_COLUMNS:
            found[column["name"]] = _logical(column["name"], column["type"])
    return found


@raises_database_errors
def is_empty(target: Target) -> bool:
    """True when the target's table has no row (one index or heap probe, not a count)."""
    with target.engine.connect() as conn:
        return conn.execute(sa.select(sa.literal(1)).select_from(sa.table(target.table)).limit(1)).first() is None


def _logical(name: str, sql_type: sa.types.TypeEngine) -> ColumnPlan:
    if isinstance(sql_type, sa.BigInteger):
        return ColumnPlan(name, name, "bigint")
    if isinstance(sql_type, sa.Integer):
        return ColumnPlan(name, name, "integer")
    if isinstance(sql_type, sa.Float):
        return ColumnPlan(name, name, "double")
    if isinstance(sql_type, sa.Numeric):
        return ColumnPlan(name, name, "decimal", sql_type.precision, sql_type.scale)
    if isinstance(sql_type, sa.DateTime):
        return ColumnPlan(name, name, "timestamp")
    if isinstance(sql_type, sa.Date):
        return ColumnPlan(name, name, "date")
    return ColumnPlan(name, name, "text")


def apply(target: Target, plan: LoadPlan, existing: dict[str, ColumnPlan] | None, first_file: str) -> list[str]:
    """Make the database match the plan; returns one line per change, for the summary. A change the database
    refuses (PostgreSQL's 1,600-column limit, a name it rejects) is one :class:`DatabaseError` naming the table."""
    try:
        return _apply(target, plan, existing, first_file)
    except DatabaseError as exc:
        raise type(exc)(f"cannot create or change table {plan.table!r}: {exc.reason}", exc.database) from None


@raises_database_errors
def _apply(target: Target, plan: LoadPlan, existing: dict[str, ColumnPlan] | None, first_file: str) -> list[str]:
    metadata = sa.MetaData()
    writer = target.writer
    table = target_table(plan, writer, metadata)
    changes: list[str] = []
    with target.engine.begin() as conn:
        if existing is None:
            table.create(conn)
            changes.append(f"created table {plan.table} with {plural(len(plan.columns), 'column')}")
        else:
            from alembic.migration import MigrationContext  # here, not at the top: load workers never need it
            from alembic.operations import Operations

            operations = Operations(MigrationContext.configure(conn))
            changes += _add_row_hashes(conn, operations, plan.table)
            for column in plan.columns:
                before = existing.get(column.name)
                if before is None:
                    operations.add_column(plan.table, sa.Column(column.name, writer.CAPABILITIES.sql_type(column)))
                    changes.append(f"added column {column.name} ({column.describe()})")
                elif before.describe() != column.describe() and writer.widen_column(
                    operations, plan.table, column.name,
                    writer.CAPABILITIES.sql_type(before), writer.CAPABILITIES.sql_type(column),
                ):
                    changes.append(f"widened column {column.name}: {before.describe()} → {column.describe()}")
        rejects_table(metadata, plan.table).create(conn, checkfirst=True)
        _record_columns(conn, plan, first_file)
    return changes


def _record_columns(conn: sa.Connection, plan: LoadPlan, first_file: str) -> None:
    known = {
        row.column_name: row.logical_type
        for row in conn.execute(
            sa.select(ledger.columns.c.column_name, ledger.columns.c.logical_type).where(
                ledger.columns.c.table_name == plan.table
            )
        )
    }
    for column in plan.columns:
        if column.name not in known:
            conn.execute(
                sa.insert(ledger.columns).values(
                    table_name=plan.table, column_name=column.name, source_header=storable(column.source),
                    logical_type=column.describe(), first_file=first_file, added_at=ledger.now(),
                )
            )
        elif known[column.name] != column.describe():
            conn.execute(
                sa.update(ledger.columns)
                .where((ledger.columns.c.table_name == plan.table) & (ledger.columns.c.column_name == column.name))
                .values(logical_type=column.describe())
            )
