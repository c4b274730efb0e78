"""summary: a run's totals and its exit code, from its files' outcomes and what discovery found."""

from __future__ import annotations

from data_processor.discovery import Problem
from data_processor.summary import RunSummary
from data_processor.types import Failure, LoadResult


def run(*results: LoadResult, problems: tuple[Problem, ...] = ()) -> RunSummary:
    return RunSummary("t", list(results), list(problems), [], 1.0)


def test_totals_count_each_file_once_and_bytes_only_of_loaded_files():
    summary = run(LoadResult("a", "loaded", 3, 2, 1, bytes=10, applied="diff", rows_inserted=1, rows_deleted=4,
                             rows_unchanged=1),
                  LoadResult("b", "skipped", bytes=20), LoadResult("c", "loaded", 5, 5, bytes=30))
    assert (summary.count("loaded"), summary.count("skipped")) == (2, 1)
    assert (summary.rows_loaded, summary.rows_rejected) == (7, 1)
    assert (summary.rows_inserted, summary.rows_deleted, summary.rows_unchanged, summary.diffed) == (1, 4, 1, 1)
    assert summary.bytes_loaded == 40 and summary.exit_code == 0


def test_a_failed_file_or_a_fatal_problem_fails_the_run_and_a_note_does_not():
    assert run(problems=(Problem("x.fifo", "not a regular file", False),)).exit_code == 0
    assert run(problems=(Problem("a.csv", "unreadable", True),)).exit_code == 1
    failed = run(LoadResult("a", "loaded", 1, 1), LoadResult("b", "failed", error=Failure("b", "bad")))
    assert [r.key for r in failed.failed] == ["b"] and failed.exit_code == 1
