"""ddl: the target and rejects tables created or evolved from the plan, on every database we support."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from data_processor import ddl, ledger
from data_processor.rejects import rejects_table_name
from data_processor.types import FILE_ID_COLUMN, ROW_HASH_COLUMN, ColumnPlan, LoadPlan
from data_processor.writers import writer_for

EVERY_TYPE = (
    ColumnPlan("i", "I", "integer"),
    ColumnPlan("b", "B", "bigint"),
    ColumnPlan("d", "D", "decimal", 10, 2),
    ColumnPlan("f", "F", "double"),
    ColumnPlan("day", "Day", "date"),
    ColumnPlan("at", "At", "timestamp"),
    ColumnPlan("t", "T", "text"),
)


def apply(db, *columns: ColumnPlan, first_file: str = "a.csv") -> list[str]:
    """Make ``db``'s table match a plan of ``columns``, as a run does: ledger first, then the DDL."""
    ledger.ensure_tables(db.engine)
    plan = LoadPlan(db.table, tuple(columns), ())
    return ddl.apply(db.target(), plan, ddl.existing_columns(db.target()), first_file)


def insert(db, **values) -> None:
    """One row through the table as the database describes it now (its types convert the Python values)."""
    table = sa.Table(db.table, sa.MetaData(), autoload_with=db.engine)
    with db.engine.begin() as conn:
        conn.execute(table.insert(), {**values, FILE_ID_COLUMN: 1})


def insert_text(db, column: str, value: str) -> None:
    """One value as the loader sends it: text, which the database converts to the column's type."""
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO {db.q(db.table)} ({db.q(column)}, {FILE_ID_COLUMN}) VALUES (:v, 1)"),
                     {"v": value})


def selected(db, *columns: str) -> list[tuple]:
    table = sa.Table(db.table, sa.MetaData(), autoload_with=db.engine)
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(*(table.c[c] for c in columns)))]


def recorded_columns(db) -> list[tuple]:
    return db.rows("SELECT column_name, source_header, logical_type, first_file FROM data_processor_columns "
                   "WHERE table_name = :t ORDER BY column_name", t=db.table)


def test_a_new_table_has_every_type_and_reads_back_as_planned(db):
    assert ddl.existing_columns(db.target()) is None
    assert apply(db, *EVERY_TYPE) == [f"created table {db.table} with 7 columns"]
    assert ddl.existing_columns(db.target()) == {c.name: ColumnPlan(c.name, c.name, c.type, c.precision,
                                                                              c.scale) for c in EVERY_TYPE}
    assert recorded_columns(db) == sorted((c.name, c.source, c.describe(), "a.csv") for c in EVERY_TYPE)
    inspector = sa.inspect(db.engine)
    file_id = next(c for c in inspector.get_columns(db.table) if c["name"] == FILE_ID_COLUMN)
    assert file_id["nullable"] is False
    assert [i["column_names"] for i in inspector.get_indexes(db.table)] == [[FILE_ID_COLUMN]]
    assert inspector.has_table(rejects_table_name(db.table))


def test_values_round_trip_exactly(db):
    apply(db, *EVERY_TYPE)
    insert(db, i=2147483647, b=123456789012, d=Decimal("-12345678.25"), f=1.5e300, day=dt.date(2020, 2, 29),
           at=dt.datetime(2020, 1, 31, 10, 0, 0, 123456), t="£ 007 ")
    assert selected(db, "i", "b", "d", "f", "day", "at", "t") == [
        (2147483647, 123456789012, Decimal("-12345678.25"), 1.5e300, dt.date(2020, 2, 29),
         dt.datetime(2020, 1, 31, 10, 0, 0, 123456), "£ 007 ")]


def test_is_empty(db):
    apply(db, ColumnPlan("v", "v", "integer"))
    assert ddl.is_empty(db.target())
    insert_text(db, "v", "1")
    assert not ddl.is_empty(db.target())


def test_a_column_in_a_later_file_is_added_and_recorded_once(db):
    apply(db, ColumnPlan("id", "ID", "integer"))
    insert_text(db, "id", "1")
    changes = apply(db, ColumnPlan("id", "ID", "integer"), ColumnPlan("extra", "Extra", "decimal", 5, 1),
                    first_file="b.csv")
    assert changes == ["added column extra (decimal(5,1))"]
    assert db.rows(f"SELECT id, extra FROM {db.q(db.table)}") == [(1, None)]
    assert recorded_columns(db) == [("extra", "Extra", "decimal(5,1)", "b.csv"), ("id", "ID", "integer", "a.csv")]
    assert apply(db, ColumnPlan("id", "ID", "integer"), ColumnPlan("extra", "Extra", "decimal", 5, 1)) == []


WIDENING = [  # (plan, a value only the new type holds)
    (ColumnPlan("v", "v", "bigint"), "123456789012"),
    (ColumnPlan("v", "v", "decimal", 20, 2), "1234567890.25"),
    (ColumnPlan("v", "v", "text"), "not a number"),
]


def test_integer_widens_to_bigint_then_decimal_then_text_keeping_every_value(db):
    apply(db, ColumnPlan("v", "v", "integer"))
    insert_text(db, "v", "7")
    before = "integer"
    for column, value in WIDENING:
        assert apply(db, column) == [f"widened column v: {before} \u2192 {column.describe()}"]
        assert ddl.existing_columns(db.target())["v"].describe() == column.describe()
        insert_text(db, "v", value)
        before = column.describe()
    assert db.rows("SELECT logical_type FROM data_processor_columns WHERE table_name = :t", t=db.table) == [("text",)]
    expected = {
        "sqlite": ["7", "123456789012", "1234567890.25", "not a number"],  # SQLite converts as each value is
        "postgres": ["7.00", "123456789012.00", "1234567890.25", "not a number"],  # each widening converted them
        "mariadb": ["7.00", "123456789012.00", "1234567890.25", "not a number"],
    }[db.name]
    assert sorted(db.rows(f"SELECT v FROM {db.q(db.table)}")) == sorted((v,) for v in expected)


def test_a_column_widened_to_text_keeps_later_codes_as_they_are(db):
    """SQLite too: left INTEGER, the column's affinity would store "007" as 7 and "1e3" as 1000."""
    apply(db, ColumnPlan("code", "code", "integer"), ColumnPlan("n", "n", "integer"))
    insert_text(db, "code", "1")
    assert apply(db, ColumnPlan("code", "code", "text"), ColumnPlan("n", "n", "integer")) == [
        "widened column code: integer \u2192 text"]
    for value in ("007", "1e3", " 5 "):
        insert_text(db, "code", value)
    assert sorted(r[0] for r in db.rows(f"SELECT code FROM {db.q(db.table)}")) == [" 5 ", "007", "1", "1e3"]
    assert [i["column_names"] for i in sa.inspect(db.engine).get_indexes(db.table)] == [[FILE_ID_COLUMN]]


def test_date_widens_to_timestamp(db):
    apply(db, ColumnPlan("at", "at", "date"))
    insert_text(db, "at", "2020-01-31")
    assert apply(db, ColumnPlan("at", "at", "timestamp")) == ["widened column at: date \u2192 timestamp"]
    insert_text(db, "at", "2020-02-01 10:30:00")
    assert sorted(r[0] for r in selected(db, "at")) == [dt.datetime(2020, 1, 31), dt.datetime(2020, 2, 1, 10, 30)]


def test_a_decimal_widens_its_precision_and_scale(db):
    apply(db, ColumnPlan("d", "d", "decimal", 4, 2))
    insert_text(db, "d", "12.25")
    assert apply(db, ColumnPlan("d", "d", "decimal", 8, 3)) == ["widened column d: decimal(4,2) \u2192 decimal(8,3)"]
    insert_text(db, "d", "12345.125")
    assert sorted(r[0] for r in selected(db, "d")) == [Decimal("12.250"), Decimal("12345.125")]


@pytest.mark.parametrize("name", ["select", "Order Date", "x" * 63])
def test_names_the_database_reserves_or_folds_are_quoted(db, name):
    assert apply(db, ColumnPlan(name, name, "text")) == [f"created table {db.table} with 1 column"]
    insert_text(db, name, "ok")
    assert db.rows(f"SELECT {db.q(name)} FROM {db.q(db.table)}") == [("ok",)]
    assert list(ddl.existing_columns(db.target())) == [name]


def test_target_table_describes_the_plan_with_the_lineage_column():
    plan = LoadPlan("t", EVERY_TYPE, ())
    table = ddl.target_table(plan, writer_for("postgresql"))
    assert [c.name for c in table.columns] == [*(c.name for c in EVERY_TYPE), FILE_ID_COLUMN, ROW_HASH_COLUMN]
    assert repr(table.c.d.type) == "Numeric(precision=10, scale=2)"
    lineage = table.c[FILE_ID_COLUMN]
    assert (lineage.nullable, lineage.index, str(lineage.server_default.arg)) == (
        False, True, "current_setting('data_processor.file_id')::bigint")
    assert (table.c[ROW_HASH_COLUMN].nullable, table.c[ROW_HASH_COLUMN].index) == (True, None)
    assert ddl.target_table(plan, writer_for("sqlite")).c[FILE_ID_COLUMN].server_default is None


def test_a_header_holding_a_nul_byte_is_recorded_not_a_crash(db):
    """PostgreSQL text cannot hold NUL (psycopg2 raises a plain ValueError): the header is recorded as ``\\x00``."""
    assert apply(db, ColumnPlan("a", "a\x00", "text")) == [f"created table {db.table} with 1 column"]
    assert recorded_columns(db) == [("a", "a\\x00", "text", "a.csv")]
