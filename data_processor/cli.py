"""``data-processor``: load a folder of CSV files into one SQL table, exactly once.

Expected errors print one line (file, line, reason) and exit 2 (usage, configuration, database) or 1 (a file
failed); tracebacks are for bugs only.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import ledger
from .db import check_connection, make_engine, masked
from .errors import DataProcessorError
from .rejects import rejects_table_name
from .run import LoadOptions, Prepared, RunSummary, load, prepare
from .types import LoadPlan, LoadResult

DEFAULT_DEST = "sqlite:///data_processor.db"
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def source_options(function: Callable) -> Callable:
    """The options shared by ``load`` and ``plan``; each falls back to the original script's environment variable."""
    options = [
        click.option("--src", envvar="SRC_DATA_FOLDER", default=".", show_default=True, show_envvar=True,
                     type=click.Path(file_okay=False), help="Folder to search for files."),
        click.option("--glob", "pattern", envvar="SRC_FILE_NAME", default="**/*.csv", show_default=True,
                     show_envvar=True, help="Which files, relative to --src. ** spans folders; "
                     "{a,b} alternatives; .csv.gz files are decompressed."),
        click.option("--dest", envvar="DEST_SQL", default=DEFAULT_DEST, show_default=True, show_envvar=True,
                     help="SQLAlchemy URL: postgresql://user@host/db, mysql://user@host/db or sqlite:///file.db."),
        click.option("--table", envvar="DEST_TABLE", show_envvar=True, help="Target table (created if missing)."),
        click.option("--workers", type=click.IntRange(min=0), default=0,
                     help="Files loaded at once; 0 = one per CPU. SQLite always loads one at a time."),
        click.option("--schema", "schema_file", type=click.Path(dir_okay=False, exists=True),
                     help="YAML/JSON file 'columns: {HEADER: type}' overriding inferred types "
                     "(integer, bigint, decimal(p,s), double, date, timestamp, text)."),
        click.option("--max-bad-rows", type=click.IntRange(min=0), default=1000, show_default=True,
                     help="A file with more bad rows than this fails whole; nothing of it is loaded."),
        click.option("--null-values", "null_values", multiple=True, metavar="TEXT",
                     help="A value that means NULL (repeatable), e.g. --null-values 'NO DATA!'. "
                     "By default only an empty field is NULL: None, N/A and NA are data."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _options(src, pattern, dest, table, workers, schema_file, max_bad_rows, null_values, **extra) -> LoadOptions:
    return LoadOptions(src=src, glob=pattern, dest=dest, table=table or "", workers=workers,
                       schema_file=schema_file, max_bad_rows=max_bad_rows, null_values=tuple(null_values), **extra)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="data-processor")
def main() -> None:
    """Load every CSV file a glob matches into one SQL table: fast, exactly once, nothing lost.

    \b
    Typical quarterly run:
      data-processor plan --src /data/epc --glob '**/certificates.csv' \\
          --dest postgresql://loader@db/epc --table certificates
      data-processor load  (same options)
      data-processor status --dest postgresql://loader@db/epc --table certificates

    Every run skips files already loaded unchanged, replaces the rows of changed files, and puts each bad row in
    <table>_rejects with its file, line, raw text and reason.
    """


@main.command("load")
@source_options
@click.option("--lock-timeout", type=float, default=60, show_default=True,
              help="Seconds to wait for another run on the same table to finish.")
def load_command(lock_timeout: float, **kwargs) -> None:
    """Load new and changed files; skip unchanged ones.

    Exit status: 0 every file loaded (some rows may be in the rejects table), 1 a file failed,
    2 usage, configuration or database error, or no file matched.
    """
    options = _options(**kwargs, lock_timeout=lock_timeout)
    with _reporter() as report:
        summary = load(options, report)
    _print_summary(summary)
    sys.exit(summary.exit_code)


@main.command("plan")
@source_options
def plan_command(**kwargs) -> None:
    """Dry run: which files are new, changed or unchanged, and the schema a load would use. Writes nothing."""
    options = _options(**kwargs)
    prepared = prepare(options)
    _print_plan(prepared, options)
    sys.exit(1 if prepared.failures else 0)


@main.command("status")
@click.option("--dest", envvar="DEST_SQL", default=DEFAULT_DEST, show_default=True, show_envvar=True,
              help="SQLAlchemy URL of the database.")
@click.option("--table", envvar="DEST_TABLE", show_envvar=True, help="Only this table (default: every table).")
def status_command(dest: str, table: str | None) -> None:
    """What the ledger says: every file loaded into the table, its rows and its last error."""
    engine, writer = make_engine(dest)
    check_connection(engine, writer)
    rows = ledger.status_rows(engine, table)
    if not rows:
        out.print(f"nothing loaded yet into {table or 'any table'} at {masked(dest)}")
        return
    view = Table("table", "file", "status", "rows loaded", "rejected", "loaded at (UTC)", "error", box=None)
    for row in rows:
        view.add_row(row.table_name, row.file_key, row.status, _num(row.rows_loaded), _num(row.rows_rejected),
                     f"{row.loaded_at:%Y-%m-%d %H:%M:%S}" if row.loaded_at else "", row.error or "")
    out.print(view)


def _num(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


class _reporter:
    """Progress while a run goes: a bar on a terminal, one line per file otherwise."""

    def __enter__(self) -> Callable[[str, object], None]:
        self.bar = None
        self.rows = 0
        if err.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rows]} rows"), TimeElapsedColumn(), console=err)
            self.bar.start()
            self.task = None
        return self

    def __call__(self, event: str, payload: object) -> None:
        if event == "planned" and self.bar is not None:
            files = len(payload.files) if isinstance(payload, LoadPlan) else 0
            self.task = self.bar.add_task("loading", total=files or None, rows="0")
        elif event == "loaded" and isinstance(payload, LoadResult):
            self.rows += payload.rows_loaded
            if self.bar is not None and self.task is not None:
                self.bar.update(self.task, advance=1, rows=f"{self.rows:,}")
            if payload.status == "failed" or self.bar is None:
                line = _result_line(payload)
                (self.bar.console if self.bar else err).print(line, markup=False)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _result_line(r: LoadResult) -> str:
    if r.status == "failed":
        return f"FAILED  {r.error}"
    if r.status == "skipped":
        return f"skipped {r.key} (unchanged since its last load)"
    rejected = f", {r.rows_rejected:,} rejected" if r.rows_rejected else ""
    return f"loaded  {r.key}: {r.rows_loaded:,} rows{rejected} in {r.seconds:.1f} s"


def _print_summary(summary: RunSummary) -> None:
    for change in summary.changes:
        out.print(f"schema: {change}", markup=False)
    for problem in summary.problems:
        out.print(f"{'FAILED' if problem.fatal else 'note'}    {problem.key}: {problem.reason}", markup=False)
    mb = summary.bytes_loaded / 1e6
    rate = mb / summary.seconds if summary.seconds else 0.0
    out.print(
        f"{summary.table}: {summary.count('loaded')} files loaded, {summary.count('skipped')} skipped (unchanged), "
        f"{len(summary.failed) + sum(p.fatal for p in summary.problems)} failed; "
        f"{summary.rows_loaded:,} rows loaded, {summary.rows_rejected:,} rejected; "
        f"{summary.seconds:.1f} s, {rate:.1f} MB/s",
        markup=False,
    )
    if summary.rows_rejected:
        out.print(f"rejected rows are in table {rejects_table_name(summary.table)} (file, line, raw text, reason)")
    for failed in summary.failed:
        out.print(f"FAILED  {failed.error}", markup=False)


def _print_plan(prepared: Prepared, options: LoadOptions) -> None:
    files = Table("file", "state", "encoding", "delimiter", "size", box=None)
    for scan in prepared.scans:
        p = scan.plan
        files.add_row(p.source.key, p.state, p.dialect.encoding, repr(p.dialect.delimiter), f"{p.source.size:,}")
    for failure in prepared.failures:
        files.add_row(failure.key, "[red]unreadable[/]", "", "", failure.error or "")
    out.print(files)
    for problem in prepared.discovery.problems:
        out.print(f"note    {problem.key}: {problem.reason}", markup=False)
    if not prepared.plan.columns:
        out.print(f"nothing to load: every file is loaded and unchanged in {options.table}")
        return
    verb = "existing table" if prepared.existing else "new table"
    schema = Table("header", "column", "type", box=None, title=f"{verb} {options.table}", title_justify="left")
    for column in prepared.plan.columns:
        schema.add_row(column.source, column.name, column.describe())
    out.print(schema)


def _add_flow_commands() -> None:
    """``flow`` and ``setup-alerts`` belong to the Prefect shell (``flows/``); they appear when it is installed."""
    if importlib.util.find_spec("prefect") is None or importlib.util.find_spec("flows") is None:
        return
    from flows.cli import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_add_flow_commands()


def run() -> None:
    """Entry point: expected errors as one line and an exit code, never a traceback."""
    try:
        main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except DataProcessorError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted: files not yet committed were rolled back and will load on the next run")
        sys.exit(130)


if __name__ == "__main__":
    run()
