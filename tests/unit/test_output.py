"""output: the lines people read (counts, plurals, escaped names) and the JSON objects machines read."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from data_processor import output
from data_processor.discovery import Discovery, Problem
from data_processor.output import (JsonOutput, ScanTally, TextOutput, problem_line, requested_format, result_line,
                                   size_text, summary_fields, summary_line)
from data_processor.planning import FileScan
from data_processor import Plan, RunSummary, Settings
from data_processor.types import ColumnPlan, CsvDialect, Failure, FilePlan, LoadPlan, LoadResult, SourceFile


def loaded(key: str, rows: int, rejected: int = 0, size: int = 0, seconds: float = 0.0) -> LoadResult:
    return LoadResult(key, "loaded", rows + rejected, rows, rejected, size, seconds)


def summary(*results: LoadResult, problems=(), changes=(), seconds: float = 2.0, table: str = "t") -> RunSummary:
    return RunSummary(table, list(results), list(problems), list(changes), seconds)


@pytest.mark.parametrize(
    ("run", "line"),
    [
        (summary(), "t: 0 files loaded, 0 skipped (unchanged), 0 failed; 0 rows loaded, 0 rejected; 2.0 s, 0.0 MB/s"),
        (summary(loaded("a", 1, size=3_000_000)),
         "t: 1 file loaded, 0 skipped (unchanged), 0 failed; 1 row loaded, 0 rejected; 2.0 s, 1.5 MB/s"),
        (summary(loaded("a", 1_000, 1), loaded("b", 234_567, 1_499), LoadResult("c", "skipped")),
         "t: 2 files loaded, 1 skipped (unchanged), 0 failed; 235,567 rows loaded, 1,500 rejected; 2.0 s, 0.0 MB/s"),
        (summary(LoadResult("a", "failed", error=Failure("a", "bad")), problems=[Problem("b", "unreadable", True),
                                                                       Problem("c", "a note", False)]),
         "t: 0 files loaded, 0 skipped (unchanged), 2 failed; 0 rows loaded, 0 rejected; 2.0 s, 0.0 MB/s"),
        (summary(loaded("a", 5, size=10), seconds=0.0),  # too quick to time: no division by zero
         "t: 1 file loaded, 0 skipped (unchanged), 0 failed; 5 rows loaded, 0 rejected; 0.0 s, 0.0 MB/s"),
        (summary(table="bad\x1b[2J"),
         "bad\\x1b[2J: 0 files loaded, 0 skipped (unchanged), 0 failed; 0 rows loaded, 0 rejected; 2.0 s, 0.0 MB/s"),
    ],
)
def test_summary_line(run, line):
    assert summary_line(run) == line


@pytest.mark.parametrize(
    ("result", "line"),
    [
        (loaded("a.csv", 1, seconds=0.04), "loaded  a.csv: 1 row in 0.0 s"),
        (loaded("a.csv", 1_234_567, 1, seconds=12.35), "loaded  a.csv: 1,234,567 rows, 1 rejected in 12.3 s"),
        (loaded("a.csv", 0), "loaded  a.csv: 0 rows in 0.0 s"),
        (LoadResult("a.csv", "skipped"), "skipped a.csv (unchanged since its last load)"),
        (LoadResult("a.csv", "failed", error=Failure("a.csv", "no header", 3)), "FAILED  a.csv, line 3: no header"),
        (loaded("new\nline.csv", 1), "loaded  new\\nline.csv: 1 row in 0.0 s"),  # cannot forge a line
        (loaded("\x1b]0;pwned\x07.csv", 1), "loaded  \\x1b]0;pwned\\x07.csv: 1 row in 0.0 s"),
        (loaded("tab\there\u2028.csv", 1), "loaded  tab\\there\\u2028.csv: 1 row in 0.0 s"),
    ],
)
def test_result_line(result, line):
    assert result_line(result) == line


def test_problem_line():
    assert problem_line("a.csv", "unreadable", True) == "FAILED    a.csv: unreadable"
    assert problem_line("a\r.csv", "gone", False) == "note    a\\r.csv: gone"


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1_499, "1.5 kB"), (20_100_000, "20.1 MB"),
     (999_949_999, "999.9 MB"), (1_500_000_000, "1.5 GB"), (88_000_000_000_000, "88,000.0 GB")],
)
def test_size_text(size, text):
    assert size_text(size) == text


def test_summary_fields_list_every_failure_and_name_the_rejects_table():
    run = summary(loaded("a", 10, 2, size=4_000_000), LoadResult("b", "skipped"),
                  LoadResult("c", "failed", error=Failure("c", "bad")), problems=[Problem("d", "unreadable", True),
                                                                     Problem("e", "gone", False)])
    assert summary_fields(run) == {
        "table": "t", "files_loaded": 1, "files_skipped": 1, "files_failed": 2, "rows_loaded": 10,
        "rows_rejected": 2, "rows_inserted": 0, "rows_deleted": 0, "rows_unchanged": 0, "files_diffed": 0,
        "seconds": 2.0, "mb_per_s": 2.0,
        "failed": [{"file": "c", "error": "c: bad", "line": None, "reason": "bad"},
                   {"file": "d", "error": "d: unreadable", "line": None, "reason": "unreadable"}],
        "exit_code": 1, "rejects_table": "t_rejects",
    }
    assert "rejects_table" not in summary_fields(summary(loaded("a", 1)))
    assert summary_fields(summary(loaded("a", 1)))["exit_code"] == 0


# -- how far the planning scan is ------------------------------------------------------------------------------------


def discovery(*sizes: int) -> Discovery:
    return Discovery([SourceFile(Path(f"f{i}.csv"), f"f{i}.csv", size) for i, size in enumerate(sizes)])


def scanned(key: str) -> FileScan:
    return FileScan(FilePlan(SourceFile(Path(key), key, 0), CsvDialect(), "", (), ()))


def test_scan_tally_counts_files_and_bytes_and_says_each_tenth_once():
    tally = ScanTally.of(discovery(50_000_000, 30_000_000, 15_000_000, 5_000_000))
    assert tally.start_line() == "scanning 4 files (100.0 MB) to plan the load"
    milestones = []
    for key in ("f0.csv", "f1.csv", "f2.csv"):
        assert tally.add(scanned(key)) == key
        milestones.append(tally.milestone())
    assert milestones == [True, True, True] and not tally.milestone()  # 50 %, 80 %, 95 %: each a new tenth
    assert tally.line() == "scanned 3 of 4 files (95.0 MB of 100.0 MB)"
    tally.add(LoadResult("f3.csv", "failed", error=Failure("f3.csv", "unreadable")))  # an unreadable file: scanned
    assert tally.milestone() and tally.fields() == {"files_scanned": 4, "files_total": 4,
                                                    "bytes_scanned": 100_000_000, "bytes_total": 100_000_000}


def test_scan_tally_of_empty_files_counts_files():
    tally = ScanTally.of(discovery(0, 0))
    tally.add(scanned("f0.csv"))
    assert tally.milestone() and tally.line() == "scanned 1 of 2 files (0 B of 0 B)"
    tally.add(scanned("f1.csv"))
    assert tally.milestone() and not tally.milestone()


def test_scan_tally_of_one_file():
    assert ScanTally.of(discovery(1)).start_line() == "scanning 1 file (1 B) to plan the load"


# -- text for people -------------------------------------------------------------------------------------------------


def test_text_summary_in_order(capsys):
    run = summary(loaded("a.csv", 2, 1), LoadResult("c.csv", "failed", error=Failure("c.csv", "bad", 2)),
                  problems=[Problem("old.csv", "loaded earlier, not matched now", False)],
                  changes=["added column extra (text)"])
    TextOutput().summary(run)
    assert capsys.readouterr().out.splitlines() == [
        "schema: added column extra (text)",
        "note    old.csv: loaded earlier, not matched now",
        "t: 1 file loaded, 0 skipped (unchanged), 1 failed; 2 rows loaded, 1 rejected; 2.0 s, 0.0 MB/s",
        "rejected rows: SELECT file_key, line, raw_text, reason FROM t_rejects ORDER BY file_key, line",
        "FAILED  c.csv, line 2: bad",
    ]


def test_text_note_and_error_go_to_their_streams_never_as_markup(capsys):
    text = TextOutput()
    text.note("[red]not markup[/red] in\nname")
    text.error("Error: [bold]x[/bold]", 2)
    captured = capsys.readouterr()
    assert captured.out == "[red]not markup[/red] in\\nname\n"
    assert captured.err == "Error: [bold]x[/bold]\n"


def plan_of(load_plan: LoadPlan, scans: list, discovery: Discovery, failures: list | None = None,
            existing: dict | None = None) -> Plan:
    settings = Settings(src=".", glob="*.csv", dest="sqlite:///x.db", table=load_plan.table)
    return Plan(settings, discovery, load_plan, scans, failures or [], existing, {})


def example_prepared() -> Plan:
    source = SourceFile(Path("[red]a.csv"), "[red]a.csv", 1234)  # rich markup in a name is shown as it is
    file = FilePlan(source, CsvDialect("cp1252", ";"), "", ("Id",), ("id",), "changed")
    plan = LoadPlan("t", (ColumnPlan("id", "Id", "decimal", 5, 2),), (file,))
    return plan_of(plan, [FileScan(file)], Discovery([source], [Problem("x.fifo", "not a regular file", False)]),
                   failures=[LoadResult("b.csv", "failed", error=Failure("b.csv", "cannot read"))], existing={})


STATUS_ROWS = [
    SimpleNamespace(table_name="t", file_key="a.csv", status="loaded", rows_loaded=1234, rows_rejected=0,
                    loaded_at=dt.datetime(2026, 1, 2, 3, 4, 5), error=None, applied="diff", rows_inserted=12,
                    rows_deleted=3, rows_unchanged=1222),
    SimpleNamespace(table_name="t", file_key="b\nc.csv", status="failed", rows_loaded=None, rows_rejected=None,
                    loaded_at=None, error="boom", applied=None, rows_inserted=None, rows_deleted=None,
                    rows_unchanged=None),
]


def words(text: str) -> list[str]:
    """Lines with the tables' padding taken out."""
    return [" ".join(line.split()) for line in text.splitlines()]


def test_text_plan(capsys):
    TextOutput().plan(example_prepared())
    assert words(capsys.readouterr().out) == [
        "file state encoding delimiter size applied as",
        "[red]a.csv changed cp1252 ';' 1,234 new",
        "b.csv unreadable cannot read",
        "note x.fifo: not a regular file",
        "existing table t",
        "header column type",
        "Id id decimal(5,2)",
    ]


def test_text_status(capsys):
    TextOutput().status(STATUS_ROWS, "t", "sqlite:///x.db")
    TextOutput().status([], None, "postgresql://u:***@h/db")
    assert words(capsys.readouterr().out) == [
        "table file status rows loaded rejected last load loaded at (UTC) error",
        "t a.csv loaded 1,234 0 diff +12 -3 =1,222 2026-01-02 03:04:05",
        "t b\\nc.csv failed boom",
        "total 1,234 0 +12 -3 =1,222",
        "nothing loaded yet into any table at postgresql://u:***@h/db",
    ]


# -- JSON for machines -----------------------------------------------------------------------------------------------


def json_output() -> tuple[JsonOutput, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return JsonOutput(out, err), out, err


def objects(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_summary_is_one_object_per_line_with_its_data():
    jo, out, err = json_output()
    jo.summary(summary(loaded("a.csv", 1_000, 3, size=2_000_000), changes=["created table t with 2 columns"],
                       problems=[Problem("b.csv", "unreadable", True)]))
    lines = objects(out)
    assert err.getvalue() == ""
    assert [(o["event.action"], o["log.level"]) for o in lines] == [
        ("schema.change", "INFO"), ("note", "ERROR"), ("load.summary", "ERROR")]
    assert lines[0]["change"] == "created table t with 2 columns" and lines[1]["fatal"] is True
    last = lines[-1]
    assert last["message"] == ("t: 1 file loaded, 0 skipped (unchanged), 1 failed; 1,000 rows loaded, 3 rejected; "
                               "2.0 s, 1.0 MB/s")
    assert (last["files_loaded"], last["rows_loaded"], last["rows_rejected"], last["exit_code"]) == (1, 1000, 3, 1)
    assert last["log.logger"] == "data_processor.cli" and last["@timestamp"].endswith("+00:00")


def test_json_a_clean_run_is_info():
    jo, out, _ = json_output()
    jo.summary(summary(loaded("a.csv", 1)))
    [line] = objects(out)
    assert (line["log.level"], line["exit_code"], line["failed"]) == ("INFO", 0, [])


def test_json_file_results_and_errors_go_to_stderr():
    jo, out, err = json_output()
    jo.result(loaded("a.csv", 2, seconds=0.5))
    jo.result(LoadResult("b.csv", "failed", error=Failure("b.csv", "bad", kind="TooManyRejects")))
    jo.error("Error: no such table", 2, table="t")
    assert out.getvalue() == ""
    first, failed, error = objects(err)
    assert failed["error.type"] == "TooManyRejects" and "error.type" not in first
    assert (first["event.action"], first["log.level"], first["rows_loaded"], first["message"]) == (
        "load.file", "INFO", 2, "loaded  a.csv: 2 rows in 0.5 s")
    assert (failed["log.level"], failed["error.message"], failed["file.path"]) == ("ERROR", "b.csv: bad", "b.csv")
    assert (error["event.action"], error["exit_code"], error["table"], error["message"]) == (
        "error", 2, "t", "Error: no such table")


def test_json_never_carries_a_password():
    jo, out, err = json_output()
    jo.note("cannot reach postgresql://loader:hunter2@db:5432/epc", where="postgresql://loader:hunter2@db/epc")
    jo.error("failed: password=hunter2", 1)
    assert "hunter2" not in out.getvalue() + err.getvalue()
    assert objects(out)[0]["message"] == "cannot reach postgresql://loader:***@db:5432/epc"


def test_json_plan_one_object_per_file_and_column():
    prepared = example_prepared()
    jo, out, _ = json_output()
    jo.plan(prepared)
    assert [(o["event.action"], o["message"]) for o in objects(out)] == [
        ("plan.file", "[red]a.csv: changed, cp1252, delimiter ';', 1,234 bytes, new"),
        ("plan.file", "b.csv: unreadable: cannot read"),
        ("note", "note    x.fifo: not a regular file"),
        ("plan.column", "existing table t: Id -> id decimal(5,2)"),
    ]
    nothing = plan_of(LoadPlan("t", (), ()), [], Discovery([]))
    jo, out, _ = json_output()
    jo.plan(nothing)
    assert [o["message"] for o in objects(out)] == ["nothing to load: every file is loaded and unchanged in t"]


def test_json_status_one_object_per_file_with_utc_times():
    jo, out, _ = json_output()
    jo.status(STATUS_ROWS, "t", "sqlite:///x.db")
    loaded, failed, total = objects(out)
    assert (total["event.action"], total["rows_inserted"], total["rows_deleted"], total["rows_unchanged"]) == (
        "status.total", 12, 3, 1222)
    assert (loaded["message"], loaded["loaded_at"], loaded["rows_loaded"]) == (
        "t a.csv: loaded, 1,234 rows loaded", "2026-01-02T03:04:05+00:00", 1234)
    assert (loaded["applied"], loaded["rows_inserted"], loaded["rows_deleted"], loaded["rows_unchanged"]) == (
        "diff", 12, 3, 1222)
    assert (failed["file.path"], failed["status"], failed["loaded_at"], failed["error.message"]) == (
        "b\nc.csv", "failed", None, "boom")


def test_json_progress_reports_the_scan_then_each_file():
    jo, _, err = json_output()
    with jo.progress() as report:
        report("discovered", discovery(600, 400))
        report("scanned", scanned("f0.csv"))
        report("planned", None)  # not shown
        report("loaded", loaded("f0.csv", 3))
    lines = objects(err)
    assert [o["event.action"] for o in lines] == ["scan.start", "scan.file", "load.file"]
    assert lines[1]["message"] == "scanned 1 of 2 files (600 B of 1.0 kB)"
    assert (lines[1]["bytes_scanned"], lines[1]["files_total"]) == (600, 2)


# -- which output ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], None, "text"),
        (["load", "--log-format", "json"], None, "json"),
        (["load", "--log-format=json"], None, "json"),
        (["--log-format", "json", "load", "--log-format", "text"], None, "text"),  # the last one wins
        ([], "json", "json"),
        (["--log-format", "text"], "json", "text"),
        (["--log-format"], None, "text"),  # incomplete: click will say so, in text
        (["--log-format", "yaml"], None, "text"),
    ],
)
def test_requested_format(monkeypatch, args, env, expected):
    if env is None:
        monkeypatch.delenv(output.FORMAT_ENV, raising=False)
    else:
        monkeypatch.setenv(output.FORMAT_ENV, env)
    assert requested_format(args) == expected


def test_use_sets_the_current_output(monkeypatch):
    monkeypatch.setattr(output, "_current", [])
    assert isinstance(output.current(), TextOutput)
    assert isinstance(output.use("json"), JsonOutput) and isinstance(output.current(), JsonOutput)
    with pytest.raises(ValueError, match="output format must be one of text, json, not 'xml'"):
        output.for_format("xml")
