"""What a run says about its failed files, decided without a server: every failed file named once, in front of its
reason, wherever the sentence is built (the engine, a child's state message, the parent's failure message)."""

from __future__ import annotations

from data_processor.discovery import Problem
from data_processor.summary import RunSummary
from data_processor.types import ColumnPlan, Failure, LoadResult, Reject
from flows.fanout import reason
from flows.report import failure_message, summary_from_payload, summary_payload


def test_a_childs_state_message_loses_prefects_wrapping_and_names_its_file():
    assert reason("Flow run encountered an exception: FileLoadFailed: a.csv, line 2: bad", "a.csv") == \
        Failure("a.csv", "bad", 2)
    assert str(reason("no heartbeat for 120 s; tried 3 times", "b.csv")) == \
        "b.csv: no heartbeat for 120 s; tried 3 times"
    assert str(reason(None, "c.csv")) == "c.csv: no reason given"


def summary(*results: LoadResult) -> RunSummary:
    return RunSummary("certificates", list(results), [Problem("old.csv", "no longer matched", False)],
                      ["added column x (text)"], 2.5, {"gone.csv": 3})


def test_the_failure_message_names_each_failed_file_once_and_stops_after_twenty():
    failed = [LoadResult(f"f{i:02d}.csv", "failed", error=Failure(f"f{i:02d}.csv", "bad", 2) if i % 2 else
                         Failure(f"f{i:02d}.csv", "lost")) for i in range(25)]
    message = failure_message(summary(LoadResult("ok.csv", "loaded", 1, 1), *failed))
    assert message.startswith("25 of 26 files failed to load into certificates: f00.csv: lost; f01.csv, line 2: bad;")
    assert message.count("f00.csv") == 1 and "f19.csv" in message and "f20.csv" not in message
    assert message.endswith("; …")


def test_the_summary_payload_comes_back_as_the_summary():
    run = summary(LoadResult("a.csv", "loaded", 3, 2, 1, 100, 0.5, rejects_sample=(Reject(3, "x", "bad"),),
                             applied="diff", rows_inserted=1, rows_unchanged=1),
                  LoadResult("b.csv", "failed", error=Failure("b.csv", "lost", 4, "InputError"),
                             widen=(ColumnPlan("x", "X", "text"),)))
    back = summary_from_payload(summary_payload(run))
    assert back.results == run.results and back.problems == run.problems and back.pruned == run.pruned
    assert (back.table, back.changes) == (run.table, run.changes)


def test_a_failed_tasks_exception_keeps_the_failure_through_pickling():
    """The local fan-out reads the parts back from the task's exception; Prefect may pickle it on the way."""
    import pickle

    from flows.tasks import FileLoadFailed

    raised = FileLoadFailed(Failure("a.csv", "bad quote", 3, "InputError"))
    back = pickle.loads(pickle.dumps(raised))
    assert (back.failure, str(back)) == (raised.failure, "a.csv, line 3: bad quote")
