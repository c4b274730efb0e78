"""What the command line writes: text for people, or JSON for machines (``--log-format json``).

Both formats write the same things to the same streams: per-file progress and errors on stderr; summaries, notes,
plans and status on stdout. In JSON each line is one object shaped like a JSON log record (``@timestamp``,
``log.level``, ``log.logger``, ``message``: the line text mode would print) plus the data as fields, and
``event.action`` saying what the line is (``load.file``, ``load.summary``, ``note``, ``plan.file``, ...).

``current()`` is the output the ``main`` group chose; a command defined elsewhere (``flows/cli.py``) writes through
it, e.g. ``print_summary(summary)``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from .discovery import Discovery
from .logs import LOG_FORMATS, LogFormat, SecretMaskingFilter, json_formatter, result_fields
from .planning import FileScan
from .rejects import rejects_table_name
from .summary import RunSummary
from .text import plural, printable
from .types import Failure, LoadResult

if TYPE_CHECKING:
    from .engine import Plan

LOGGER_NAME = "data_processor.cli"
"""``log.logger`` of every JSON line the command line writes."""

FORMAT_ENV = "DATA_PROCESSOR_LOG_FORMAT"
"""Environment variable for ``--log-format``."""


def summary_fields(summary: RunSummary) -> dict[str, Any]:
    """The run in numbers; ``failed`` lists every failed file, including matches that could not be read at all."""
    failures = [r.error or Failure(r.key, "failed") for r in summary.failed]
    failures += [Failure(p.key, p.reason) for p in summary.problems if p.fatal]
    failed = [{"file": f.file, "error": str(f), "line": f.line, "reason": f.reason} for f in failures]
    fields: dict[str, Any] = {
        "table": summary.table,
        "files_loaded": summary.count("loaded"),
        "files_skipped": summary.count("skipped"),
        "files_failed": len(failed),
        "rows_loaded": summary.rows_loaded,
        "rows_rejected": summary.rows_rejected,
        "rows_inserted": summary.rows_inserted,
        "rows_deleted": summary.rows_deleted,
        "rows_unchanged": summary.rows_unchanged,
        "files_diffed": summary.diffed,
        "seconds": round(summary.seconds, 3),
        "mb_per_s": round(_rate(summary), 2),
        "failed": failed,
        "exit_code": summary.exit_code,
    }
    if summary.rows_rejected:
        fields["rejects_table"] = rejects_table_name(summary.table)
    return fields


def _rate(summary: RunSummary) -> float:
    mb = summary.bytes_loaded / 1e6
    return mb / summary.seconds if summary.seconds else 0.0


def result_line(r: LoadResult) -> str:
    """One file's outcome as the line text mode prints (names escaped: one line, nothing the terminal obeys)."""
    if r.status == "failed":
        return printable(f"FAILED  {r.error}")
    if r.status == "skipped":
        return printable(f"skipped {r.key} (unchanged since its last load)")
    rejected = f", {r.rows_rejected:,} rejected" if r.rows_rejected else ""
    return printable(f"loaded  {r.key}: {plural(r.rows_loaded, 'row')}{rejected}{applied_text(r)} in "
                     f"{r.seconds:.1f} s")


def applied_text(r: LoadResult) -> str:
    """How a changed file's rows went in, for its line: `` (diff: 12 inserted, 3 deleted, 9,800 unchanged)``."""
    if r.applied == "diff":
        return f" (diff: {r.rows_inserted:,} inserted, {r.rows_deleted:,} deleted, {r.rows_unchanged:,} unchanged)"
    if r.applied == "replace":
        return f" (replaced whole: {r.rows_deleted:,} old rows deleted)"
    return ""


def changes_text(summary: RunSummary) -> str:
    """The run's row changes, when a file was diffed or replaced: ``; 12 inserted, 3 deleted, 9,800 unchanged``."""
    if not any(r.applied in ("diff", "replace") for r in summary.results):
        return ""
    return (f"; {summary.rows_inserted:,} inserted, {summary.rows_deleted:,} deleted, "
            f"{summary.rows_unchanged:,} unchanged")


def summary_line(summary: RunSummary) -> str:
    failed = len(summary.failed) + sum(p.fatal for p in summary.problems)
    return printable(
        f"{summary.table}: {plural(summary.count('loaded'), 'file')} loaded, {summary.count('skipped'):,} skipped "
        f"(unchanged), {failed:,} failed; {plural(summary.rows_loaded, 'row')} loaded, "
        f"{summary.rows_rejected:,} rejected{changes_text(summary)}; {summary.seconds:.1f} s, "
        f"{_rate(summary):.1f} MB/s"
    )


def problem_line(key: str, reason: str, fatal: bool) -> str:
    return printable(f"{'FAILED' if fatal else 'note'}    {key}: {reason}")


def size_text(size: float) -> str:
    """``512 B``, ``20.1 MB``, ``1.5 GB`` (decimal units, as ``ls -h --si`` and the MB/s figures)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


@dataclass
class ScanTally:
    """How far the planning scan is: files and bytes scanned of those discovered.

    The scan reads every new or changed file whole before anything loads (a 100 GB drop takes minutes), so each
    output shows it: ``milestone`` says when another tenth of the bytes is done, for outputs that print lines.
    """

    files_total: int = 0
    bytes_total: int = 0
    files: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    _sizes: dict[str, int] = field(default_factory=dict)
    _tenths: int = 0

    @classmethod
    def of(cls, discovery: Discovery) -> ScanTally:
        sizes = {f.key: f.size for f in discovery.files}
        return cls(files_total=len(sizes), bytes_total=sum(sizes.values()), _sizes=sizes)

    def add(self, outcome: FileScan | LoadResult) -> str:
        """Count one scanned (or unreadable) file; returns its key."""
        key = outcome.key if isinstance(outcome, LoadResult) else outcome.plan.source.key
        self.files += 1
        self.bytes += self._sizes.get(key, 0)
        return key

    def milestone(self) -> bool:
        """True once per tenth of the scan done (by bytes, or files when they are all empty), and at the end."""
        done = self.bytes / self.bytes_total if self.bytes_total else self.files / max(self.files_total, 1)
        tenths = 10 if self.files >= self.files_total else min(int(done * 10), 9)
        if tenths <= self._tenths:
            return False
        self._tenths = tenths
        return True

    def start_line(self) -> str:
        return f"scanning {plural(self.files_total, 'file')} ({size_text(self.bytes_total)}) to plan the load"

    def line(self) -> str:
        return (f"scanned {self.files:,} of {plural(self.files_total, 'file')} "
                f"({size_text(self.bytes)} of {size_text(self.bytes_total)})")

    def fields(self) -> dict[str, int]:
        return {"files_scanned": self.files, "files_total": self.files_total, "bytes_scanned": self.bytes,
                "bytes_total": self.bytes_total}


def _num(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


class TextOutput:
    """Tables and sentences; a progress bar when stderr is a terminal."""

    format: LogFormat = "text"

    def __init__(self) -> None:
        # Piped or redirected (make run, cron, CI logs): wide lines rather than tables squeezed into 80 columns.
        self.out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def progress(self) -> _TextProgress:
        """``with output.progress() as report: load(options, report)``."""
        return _TextProgress(self)

    def result(self, r: LoadResult, console: Console | None = None) -> None:
        (console or self.err).print(result_line(r), markup=False)

    def summary(self, summary: RunSummary) -> None:
        out = self.out
        for change in summary.changes:
            out.print(printable(f"schema: {change}"), markup=False)
        for problem in summary.problems:
            out.print(problem_line(problem.key, problem.reason, problem.fatal), markup=False)
        out.print(summary_line(summary), markup=False)
        if summary.rows_rejected:
            out.print(printable(f"rejected rows: SELECT file_key, line, raw_text, reason FROM "
                                f"{rejects_table_name(summary.table)} ORDER BY file_key, line"), markup=False)
        for failed in summary.failed:
            out.print(printable(f"FAILED  {failed.error}"), markup=False)

    def plan(self, the_plan: Plan) -> None:
        table = the_plan.settings.table
        out = self.out
        files = Table(Column("file", overflow="fold"), "state", "encoding", "delimiter",
                      Column("size", justify="right"), Column("applied as", overflow="fold"), box=None)
        for scan in the_plan.scans:
            p = scan.plan
            files.add_row(_cell(p.source.key), p.state, p.dialect.encoding, repr(p.dialect.delimiter),
                          f"{p.source.size:,}", the_plan.applied_as(p))
        for failure in the_plan.failures:
            files.add_row(_cell(failure.key), "[red]unreadable[/]", "", "",
                          _cell(failure.error.reason if failure.error else ""))
        out.print(files)
        for problem in the_plan.problems:
            out.print(problem_line(problem.key, problem.reason, False), markup=False)
        if not the_plan.load_plan.columns:
            out.print(printable(f"nothing to load: every file is loaded and unchanged in {table}"), markup=False)
            return
        verb = "existing table" if the_plan.existing is not None else "new table"
        schema = Table("header", "column", "type", box=None, title=_cell(f"{verb} {table}"), title_justify="left")
        for column in the_plan.load_plan.columns:
            schema.add_row(_cell(column.source), _cell(column.name), column.describe())
        out.print(schema)

    def status(self, rows: Sequence, table: str | None, where: str) -> None:
        """The ledger's rows (``ledger.status_rows``); ``where`` is the database, password hidden."""
        if not rows:
            self.out.print(printable(f"nothing loaded yet into {table or 'any table'} at {where}"), markup=False)
            return
        view = Table("table", Column("file", overflow="fold"), "status", Column("rows loaded", justify="right"),
                     Column("rejected", justify="right"), Column("last load", no_wrap=True),
                     Column("loaded at (UTC)", no_wrap=True), Column("error", overflow="fold"), box=None)
        for row in rows:
            view.add_row(_cell(row.table_name), _cell(row.file_key), row.status, _num(row.rows_loaded),
                         _num(row.rows_rejected), _last_load(row),
                         f"{row.loaded_at:%Y-%m-%d %H:%M:%S}" if row.loaded_at else "", _cell(row.error or ""))
        if total := status_total(rows):
            view.add_row("", "total", "", _num(total["rows_loaded"]), _num(total["rows_rejected"]),
                         _counts(total["rows_inserted"], total["rows_deleted"], total["rows_unchanged"]), "", "")
        self.out.print(view)

    def note(self, message: str, action: str = "note", **fields: Any) -> None:
        """A sentence on stdout; ``action`` and ``fields`` only matter in JSON."""
        self.out.print(printable(message), markup=False)

    def error(self, message: str, exit_code: int, **fields: Any) -> None:
        """The one line of a command that ends with ``exit_code``, on stderr."""
        self.err.print(printable(message), markup=False)

    def usage_error(self, exc: click.ClickException) -> None:
        exc.show()


def _last_load(row: Any) -> str:
    """How a ledger row's last load went in: ``new``, ``replace -5,000``, ``diff +12 -3 =9,800``."""
    if row.applied == "diff":
        return f"diff {_counts(row.rows_inserted, row.rows_deleted, row.rows_unchanged)}"
    if row.applied == "replace":
        return f"replace -{row.rows_deleted or 0:,}"
    return row.applied or ""


def _counts(inserted: int | None, deleted: int | None, unchanged: int | None) -> str:
    return f"+{inserted or 0:,} -{deleted or 0:,} ={unchanged or 0:,}"


def status_total(rows: Sequence) -> dict[str, int]:
    """The ledger rows' counts added up, when there are several and their last loads say how they went in."""
    if len(rows) < 2 or not any(row.applied for row in rows):
        return {}
    names = ("rows_loaded", "rows_rejected", "rows_inserted", "rows_deleted", "rows_unchanged")
    return {name: sum(getattr(row, name) or 0 for row in rows) for name in names}


def _cell(text: str) -> Text:
    """A table cell shown as it is: escaped, and never read as rich markup (a file may be named ``[red]x.csv``)."""
    return Text(printable(text))


class _TextProgress:
    """Progress while a run goes. On a terminal: a bar for the planning scan (files, bytes) and one for the load
    (files, rows). Otherwise: one line per file loaded, and a line per tenth of a scan that takes a while."""

    QUIET_SCAN_SECONDS = 5.0
    """Without a terminal, a scan shorter than this prints nothing (cron mail of a small run stays short)."""

    def __init__(self, output: TextOutput) -> None:
        self.output = output

    def __enter__(self) -> _TextProgress:
        self.bar = None
        self.rows = self.files_done = 0
        self.scan = ScanTally()
        self.scan_task = self.load_task = None
        if self.output.err.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
                                TimeElapsedColumn(), console=self.output.err)
            self.bar.start()
        return self

    def __call__(self, event: str, payload: object) -> None:
        if event == "discovered" and isinstance(payload, Discovery):
            self.scan = ScanTally.of(payload)
            if self.bar is not None:
                self.scan_task = self.bar.add_task("scanning", total=self.scan.bytes_total or None,
                                                   detail=self.scan.line())
        elif event == "scanned" and isinstance(payload, (FileScan, LoadResult)):
            self.scan.add(payload)
            if self.bar is not None and self.scan_task is not None:
                self.bar.update(self.scan_task, completed=self.scan.bytes, detail=self.scan.line())
            elif (self.bar is None and self.scan.milestone()
                  and time.monotonic() - self.scan.started >= self.QUIET_SCAN_SECONDS):
                self.output.err.print(self.scan.line(), markup=False)
        elif event == "loaded" and isinstance(payload, LoadResult):
            self.rows += payload.rows_loaded
            self.files_done += 1
            if self.bar is not None:
                if self.load_task is None:  # added at the first file, so a dry run (plan) shows the scan only
                    self.load_task = self.bar.add_task("loading", total=self.scan.files_total or None, detail="")
                self.bar.update(self.load_task, advance=1, detail=f"{self.files_done:,} of "
                                f"{plural(self.scan.files_total, 'file')} done, {plural(self.rows, 'row')} loaded")
            if payload.status == "failed" or self.bar is None:
                self.output.result(payload, self.bar.console if self.bar else None)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


class JsonOutput:
    """One JSON object per line, secrets masked; no progress bar. Streams default to the current stdout/stderr."""

    format: LogFormat = "json"

    def __init__(self, out: IO[str] | None = None, err: IO[str] | None = None) -> None:
        self._out, self._err = out, err
        self._formatter = json_formatter()
        self._secrets = SecretMaskingFilter()

    def emit(self, stream: IO[str], level: int, action: str, message: str, exc_info: Any = None,
             **fields: Any) -> None:
        """Write one line to ``stream``: ``message`` and ``fields`` as a record of ``data_processor.cli``."""
        record = logging.LogRecord(LOGGER_NAME, level, __file__, 0, message, None, exc_info)
        record.__dict__.update({"event.action": action, **fields})
        self._secrets.filter(record)
        stream.write(self._formatter.format(record) + "\n")
        stream.flush()

    @property
    def out(self) -> IO[str]:
        return self._out or sys.stdout

    @property
    def err(self) -> IO[str]:
        return self._err or sys.stderr

    def progress(self) -> _JsonProgress:
        return _JsonProgress(self)

    def result(self, r: LoadResult) -> None:
        level = logging.ERROR if r.status == "failed" else logging.INFO
        self.emit(self.err, level, "load.file", result_line(r), **result_fields(r))

    def summary(self, summary: RunSummary) -> None:
        for change in summary.changes:
            self.emit(self.out, logging.INFO, "schema.change", f"schema: {change}", table=summary.table,
                      change=change)
        for problem in summary.problems:
            self._problem(problem.key, problem.reason, problem.fatal)
        level = logging.ERROR if summary.exit_code else logging.INFO
        self.emit(self.out, level, "load.summary", summary_line(summary), **summary_fields(summary))

    def _problem(self, key: str, reason: str, fatal: bool) -> None:
        self.emit(self.out, logging.ERROR if fatal else logging.WARNING, "note", problem_line(key, reason, fatal),
                  file=key, reason=reason, fatal=fatal)

    def plan(self, the_plan: Plan) -> None:
        table = the_plan.settings.table
        for scan in the_plan.scans:
            p = scan.plan
            applied = the_plan.applied_as(p)
            self.emit(self.out, logging.INFO, "plan.file",
                      f"{p.source.key}: {p.state}, {p.dialect.encoding}, delimiter {p.dialect.delimiter!r}, "
                      f"{plural(p.source.size, 'byte')}{', ' + applied if applied else ''}",
                      file=p.source.key, state=p.state, encoding=p.dialect.encoding, delimiter=p.dialect.delimiter,
                      bytes=p.source.size, applied=applied or None)
        for failure in the_plan.failures:
            reason = failure.error.reason if failure.error else ""
            self.emit(self.out, logging.ERROR, "plan.file", f"{failure.key}: unreadable: {reason}",
                      file=failure.key, state="unreadable", error=str(failure.error or ""))
        for problem in the_plan.problems:
            self._problem(problem.key, problem.reason, False)
        if not the_plan.load_plan.columns:
            self.note(f"nothing to load: every file is loaded and unchanged in {table}", table=table)
            return
        table_state = "existing" if the_plan.existing is not None else "new"
        for column in the_plan.load_plan.columns:
            self.emit(self.out, logging.INFO, "plan.column",
                      f"{table_state} table {table}: {column.source} -> {column.name} {column.describe()}",
                      table=table, table_state=table_state, header=column.source, column=column.name,
                      type=column.describe())

    def status(self, rows: Sequence, table: str | None, where: str) -> None:
        if not rows:
            self.note(f"nothing loaded yet into {table or 'any table'} at {where}", table=table)
            return
        for row in rows:
            loaded_at = row.loaded_at.replace(tzinfo=dt.timezone.utc).isoformat() if row.loaded_at else None
            self.emit(self.out, logging.INFO, "status.file",
                      f"{row.table_name} {row.file_key}: {row.status}, {plural(row.rows_loaded or 0, 'row')} loaded",
                      table=row.table_name, file=row.file_key, status=row.status, rows_loaded=row.rows_loaded,
                      rows_rejected=row.rows_rejected, loaded_at=loaded_at, error=row.error, applied=row.applied,
                      rows_inserted=row.rows_inserted, rows_deleted=row.rows_deleted,
                      rows_unchanged=row.rows_unchanged)
        if total := status_total(rows):
            self.emit(self.out, logging.INFO, "status.total", f"total: {plural(total['rows_loaded'], 'row')} "
                      f"loaded; last loads {total['rows_inserted']:,} inserted, {total['rows_deleted']:,} deleted, "
                      f"{total['rows_unchanged']:,} unchanged", files=len(rows), **total)

    def note(self, message: str, action: str = "note", **fields: Any) -> None:
        self.emit(self.out, logging.INFO, action, message, **fields)

    def error(self, message: str, exit_code: int, **fields: Any) -> None:
        self.emit(self.err, logging.ERROR, "error", message, exit_code=exit_code, **fields)

    def usage_error(self, exc: click.ClickException) -> None:
        command = exc.ctx.command_path if getattr(exc, "ctx", None) else None
        self.error(f"Error: {exc.format_message()}", 2, command=command)

    def crash(self, exc: BaseException) -> None:
        """A bug (text mode lets Python print it): its traceback in ``exc_info``, with exit status 1."""
        self.emit(self.err, logging.CRITICAL, "error", f"bug: {type(exc).__name__}: {exc}",
                  exc_info=(type(exc), exc, exc.__traceback__), exit_code=1)


class _JsonProgress:
    """On stderr: ``scan.start``, then one ``scan.file`` line per file the planning scan has read (with the files
    and bytes done so far), then one ``load.file`` line per file as it ends."""

    def __init__(self, output: JsonOutput) -> None:
        self.output = output
        self.scan = ScanTally()

    def __enter__(self) -> _JsonProgress:
        return self

    def __call__(self, event: str, payload: object) -> None:
        if event == "discovered" and isinstance(payload, Discovery):
            self.scan = ScanTally.of(payload)
            self.output.emit(self.output.err, logging.INFO, "scan.start", self.scan.start_line(),
                             **self.scan.fields())
        elif event == "scanned" and isinstance(payload, (FileScan, LoadResult)):
            key = self.scan.add(payload)
            self.output.emit(self.output.err, logging.INFO, "scan.file", self.scan.line(), file=key,
                             **self.scan.fields())
        elif event == "loaded" and isinstance(payload, LoadResult):
            self.output.result(payload)

    def __exit__(self, *exc: object) -> None:
        pass


Output = TextOutput | JsonOutput
_current: list[Output] = []


def for_format(format: LogFormat) -> Output:
    if format not in LOG_FORMATS:
        raise ValueError(f"output format must be one of {', '.join(LOG_FORMATS)}, not {format!r}")
    return JsonOutput() if format == "json" else TextOutput()


def use(format: LogFormat) -> Output:
    """Make ``format`` the output of this process (the ``main`` group calls it with ``--log-format``)."""
    _current[:] = [for_format(format)]
    return _current[0]


def requested_format(args: Sequence[str]) -> LogFormat:
    """The format a command line asks for (``--log-format``, else the environment), before click has parsed it.

    Lets an error in parsing the command line itself come out in the format the user asked for; anything not
    understood here, or JSON without python-json-logger installed, gives text (``main`` then says what is wrong).
    """
    wanted = os.environ.get(FORMAT_ENV, "text")
    for index, arg in enumerate(args):
        if arg == "--log-format" and index + 1 < len(args):
            wanted = args[index + 1]
        elif arg.startswith("--log-format="):
            wanted = arg.partition("=")[2]
    if wanted == "json" and importlib.util.find_spec("pythonjsonlogger") is not None:
        return "json"
    return "text"


def current() -> Output:
    """The output ``use`` chose; text until then."""
    return _current[0] if _current else use("text")


def print_summary(summary: RunSummary) -> None:
    """A finished run's summary, in the chosen format (stdout)."""
    current().summary(summary)
