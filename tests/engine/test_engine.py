"""The staged engine API: plan (reads only) → apply (DDL once) → load (through any fan-out), against real databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from conftest import write
from data_processor import InProcess, Settings, apply, load, locked, plan, run
from data_processor.engine import widened
from data_processor.types import ColumnPlan, LoadPlan, LoadResult


def settings(db, src, **kwargs) -> Settings:
    return Settings(src=str(src), glob="*.csv", dest=db.url, table=db.table, run_id="r1", **kwargs)


class CountingFanOut(InProcess):
    """In this process, counting what it was asked to do: the engine's work must go through the fan-out."""

    def __init__(self) -> None:
        self.scanned: list[str] = []
        self.loaded: list[str] = []

    def scan(self, jobs, target):
        self.scanned += [job.source.key for job in jobs]
        return super().scan(jobs, target)

    def load(self, plan, files, target):
        self.loaded += [f.source.key for f in files]
        return super().load(plan, files, target)


def test_plan_writes_nothing(db, src):
    write(src / "a.csv", "id,code\n1,007\n2,010\n")
    the_plan = plan(settings(db, src))
    assert [(c.name, c.type) for c in the_plan.load_plan.columns] == [("id", "integer"), ("code", "text")]
    assert [f.state for f in the_plan.pending] == ["new"]
    names = sa.inspect(db.engine).get_table_names()
    assert db.table not in names and f"{db.table}_rejects" not in names


def test_the_stages_load_through_the_fan_out_they_are_given(db, src):
    write(src / "a.csv", "id,v\n1,x\n2,y\n")
    write(src / "b.csv", "id,v\n3,z\n")
    fan_out = CountingFanOut()
    with locked(settings(db, src)):
        the_plan = apply(plan(settings(db, src), fan_out))
        assert the_plan.changes == (f"created table {db.table} with 2 columns",)
        summary = load(the_plan, fan_out)
    assert sorted(fan_out.scanned) == sorted(fan_out.loaded) == ["a.csv", "b.csv"]
    assert (summary.count("loaded"), summary.rows_loaded, db.count()) == (2, 3, 3)
    again = CountingFanOut()
    the_plan = apply(plan(settings(db, src), again))
    assert the_plan.changes == () and load(the_plan, again).count("skipped") == 2
    assert again.loaded == [] and db.count() == 3


def test_a_file_no_longer_matched_is_noted_by_plan_and_pruned_by_apply(db, src):
    write(src / "a.csv", "id\n1\n")
    write(src / "b.csv", "id\n2\n")
    assert run(settings(db, src)).rows_loaded == 2
    (src / "b.csv").unlink()
    dry = plan(settings(db, src, prune=True))
    assert [(p.key, p.reason) for p in dry.problems] == [("b.csv", "no longer matched: --prune would delete its rows")]
    assert db.count() == 2
    with locked(settings(db, src, prune=True)):
        the_plan = plan(settings(db, src, prune=True))
        applied = apply(the_plan)
    assert [(p.key, p.reason) for p in applied.problems] == [("b.csv", "no longer matched: pruned, its 1 row deleted")]
    assert (the_plan.applied, the_plan.pruned, applied.pruned) == (False, None, {"b.csv": 1})  # a new plan, not this
    with pytest.raises(ValueError, match="takes the plan apply"):
        load(the_plan)
    assert db.count() == 1


def test_a_file_that_only_ever_failed_and_is_gone_is_not_called_loaded_earlier(db, src):
    write(src / "a.csv", "id\n1\n")
    write(src / "bad.csv", "id\n1\n2,3\n")
    assert run(settings(db, src, max_bad_rows=0)).count("failed") == 1
    (src / "bad.csv").unlink()
    notes = [(p.key, p.reason) for p in plan(settings(db, src)).problems]
    assert notes == [("bad.csv", "failed earlier, never loaded, and no longer matched: nothing of it is in the table")]
    with locked(settings(db, src, prune=True)):
        the_plan = apply(plan(settings(db, src, prune=True)))
    assert [p.reason for p in the_plan.problems] == [
        "failed earlier, never loaded, and no longer matched: nothing of it is in the table; forgotten"]
    assert plan(settings(db, src)).problems == []  # the ledger no longer knows it


def test_widened_merges_what_every_misfit_file_needs():
    columns = (ColumnPlan("id", "ID", "integer"), ColumnPlan("v", "V", "integer"), ColumnPlan("d", "D", "date"))
    load_plan = LoadPlan("t", columns, ())
    misfits = [LoadResult("a.csv", "misfit", widen=(ColumnPlan("v", "V", "bigint"),)),
               LoadResult("b.csv", "misfit", widen=(ColumnPlan("v", "V", "decimal", 12, 2),
                                                    ColumnPlan("d", "D", "timestamp")))]
    wider = widened(load_plan, misfits)
    assert [c.describe() for c in wider.columns] == ["integer", "decimal(21,2)", "timestamp"]  # bigint holds 19 digits


def test_a_file_the_table_seems_to_fit_is_widened_for_and_loaded_in_the_same_run(db, src):
    """The table has every column of b.csv, so b.csv is not scanned in full: its late '007' is found while it loads,
    the file is rolled back, the column widened once, and b.csv loaded again, the code kept as it is."""
    write(src / "a.csv", "id,v\n1,2\n")
    assert run(settings(db, src)).rows_loaded == 1
    write(src / "b.csv", "id,v\n" + "".join(f"{i},{i}\n" for i in range(2, 5000)) + "5000,007\n")
    the_plan = plan(settings(db, src))
    assert [f.verify for f in the_plan.pending] == [True]
    summary = run(settings(db, src))
    assert (summary.exit_code, summary.count("loaded"), summary.count("skipped")) == (0, 1, 1), summary.failed
    assert summary.changes == ["widened column v: integer → text"]
    assert db.rows(f"SELECT v FROM {db.q(db.table)} WHERE id = 5000") == [("007",)]
    assert db.count() == 5000 and db.scalar(f"SELECT COUNT(*) FROM {db.q(db.table + '_rejects')}") == 0
