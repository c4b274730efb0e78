"""A file whose columns the table already has is planned without a scan and verified while it loads, in one pass.

A value that does not fit its column's planned type neither loads changed nor becomes a reject: the file ends
"misfit", nothing of it loaded, with the columns it needs widened. Against SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from conftest import write
from data_processor import ddl, ledger
from data_processor import loader as load_module
from data_processor.loader import load_file
from data_processor.planning import FileScan, build_plan, scan_file
from data_processor.sources import discover_source
from data_processor.types import ColumnPlan, LoadResult

HEADER = "id,rating,area,inspected,note\n"
FIRST = HEADER + "1,72,84.50,2019-05-31,a\n2,55,60.25,2020-02-29,b\n"
RUN = "verify-test"


def _rows(start: int, count: int) -> str:
    return "".join(f"{i},{50 + i % 40},{i % 50}.5,2021-0{1 + i % 9}-1{i % 10},note {i}\n"
                   for i in range(start, start + count))


def _scan(src: Path, key: str, table_columns) -> FileScan:
    source = next(f for f in discover_source(str(src), "**/*.csv").files if f.key == key)
    return scan_file(source, (), None, table_columns)


def _load_verified(db, src: Path, key: str) -> LoadResult:
    """Plan ``key`` against the existing table (no statistics gathered) and load it, as the run would."""
    existing = ddl.existing_columns(db.target(RUN))
    scan = _scan(src, key, existing)
    assert scan.plan.verify and not scan.stats and not scan.plan.clean
    plan = build_plan(db.table, [scan], existing)
    assert {c.name: c.describe() for c in plan.columns} == {n: c.describe() for n, c in existing.items()}
    ledger.take_over(db.target(RUN))
    return load_file(db.target(RUN), plan, scan.plan)


@pytest.fixture
def one_pass(db, monkeypatch):
    """On PostgreSQL a clean file never reaches the validating path: COPY takes its bytes while they are checked."""
    if db.name == "postgres":
        def validating_path(*_args):
            raise AssertionError("the file went down the validating path")
        monkeypatch.setattr(load_module, "check_batch", validating_path)


@pytest.fixture
def table(db, src):
    """A table of integer, decimal(4,2), date and text columns, loaded from one file."""
    write(src / "first.csv", FIRST)
    assert db.load(src).exit_code == 0
    return db


def test_a_file_that_fits_loads_in_one_pass_verified(table, src, one_pass):
    write(src / "second.csv", HEADER + _rows(3, 3000))
    result = _load_verified(table, src, "second.csv")
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == ("loaded", 3000, 3000, 0)
    assert table.count() == 3002
    assert table.rows(f"SELECT rating, area, note FROM {table.q(table.table)} WHERE id = 7") == [(57, 7.5, "note 7")]
    assert table.scalar("SELECT status FROM data_processor_files WHERE file_key = 'second.csv' AND table_name = :t",
                        t=table.table) == "loaded"


@pytest.mark.parametrize("late, widened", [
    ("2999,72.5,1.5,2021-01-01,x", ColumnPlan("rating", "rating", "decimal", 11, 1)),  # room for the integers already loaded
    ("2999,007,1.5,2021-01-01,x", ColumnPlan("rating", "rating", "text")),  # PostgreSQL would store 7
    ("2999, 72,1.5,2021-01-01,x", ColumnPlan("rating", "rating", "text")),  # and this too
    ("2999,72,1.555,2021-01-01,x", ColumnPlan("area", "area", "decimal", 5, 3)),  # rounded to 1.56
    ("2999,72,1.5,31/05/2021,x", ColumnPlan("inspected", "inspected", "text")),  # read as a date by DateStyle
    ("2999,3000000000,1.5,2021-01-01 10:00:00,x",
     (ColumnPlan("rating", "rating", "bigint"), ColumnPlan("inspected", "inspected", "timestamp"))),
])
def test_a_late_value_that_does_not_fit_is_a_misfit_and_loads_nothing(table, src, one_pass, late, widened):
    write(src / "second.csv", HEADER + _rows(3, 2996) + late + "\n")
    result = _load_verified(table, src, "second.csv")
    assert result.status == "misfit" and result.rows_loaded == 0
    assert result.widen == (widened if isinstance(widened, tuple) else (widened,))
    assert table.count() == 2  # the table is untouched
    assert table.count(table.table + "_rejects") == 0
    assert table.scalar("SELECT status FROM data_processor_files WHERE file_key = 'second.csv' AND table_name = :t",
                        t=table.table) == "new"


def test_a_misfit_in_a_file_the_fast_path_cannot_take(table, src):
    """A NUL byte sends the file down the validating path: the misfit is found there too, before any write."""
    write(src / "second.csv", HEADER + _rows(3, 100) + "103,1e3,1.5,2021-01-01,x\n104,5,1.5,2021-01-01,a\x00b\n")
    result = _load_verified(table, src, "second.csv")
    assert result.status == "misfit" and result.widen == (ColumnPlan("rating", "rating", "double"),)
    assert table.count() == 2


def test_rows_only_the_validating_path_handles_still_become_rejects(table, src):
    write(src / "second.csv", HEADER + _rows(3, 10) + "13,60,1.5\n" + _rows(14, 10))
    result = _load_verified(table, src, "second.csv")
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 20, 1)
    assert table.rows(f"SELECT line, reason FROM {table.q(table.table + '_rejects')}") == [
        (12, "expected 5 fields, found 3")]


def test_a_file_with_a_column_the_table_lacks_is_scanned_in_full(table, src):
    write(src / "second.csv", "id,rating,extra\n3,4,5\n")
    scan = _scan(src, "second.csv", ddl.existing_columns(table.target()))
    assert not scan.plan.verify and scan.rows == 1 and scan.stats["extra"].integer


def test_a_column_empty_in_new_files_keeps_the_existing_type(table, src):
    write(src / "second.csv", "id,rating\n3,\n")
    existing = ddl.existing_columns(table.target())
    plan = build_plan(table.table, [_scan(src, "second.csv", None)], existing)
    assert plan.column("rating").type == "integer"


def test_a_misfit_result_travels_as_json_and_pickle():
    result = LoadResult("a.csv", "misfit", widen=(ColumnPlan("rating", "RATING", "decimal", 3, 1),))
    adapter = TypeAdapter(LoadResult)
    assert adapter.validate_python(json.loads(json.dumps(adapter.dump_python(result, mode="json")))) == result
    assert pickle.loads(pickle.dumps(result)) == result
