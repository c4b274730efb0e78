"""``data-processor``: load a folder of CSV files into one SQL table, exactly once.

Expected errors print one line (file, line, reason) and exit 2 (usage, configuration, database) or 1 (a file
failed); tracebacks are for bugs only. ``--log-format json`` makes every line on stdout and stderr one JSON object
(see ``output.py``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from . import ledger, logs, output
from .db import DEFAULT_DEST, check_connection, make_engine, masked, parse_url
from .errors import ConfigError, DataProcessorError
from .fetch.cli import fetch_group
from . import engine
from .fanout import slim_process
from .settings import Settings
from .writers import writer_for



def source_options(function: Callable) -> Callable:
    """The options shared by ``load`` and ``plan``; each falls back to the original script's environment variable."""
    options = [
        click.option("--src", envvar="SRC_DATA_FOLDER", default=".", show_default=True, show_envvar=True,
                     help="Where the files are: a folder, s3://bucket/prefix (or gs://, az://), https://…/file, "
                     "or a zip archive, local or remote, read as if it were the folder (members never extracted)."),
        click.option("--glob", "pattern", envvar="SRC_FILE_NAME", default="**/*.csv", show_default=True,
                     show_envvar=True, help="Which files, relative to --src (the prefix, or inside the zip). ** spans folders; "
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
        click.option("--prune", is_flag=True,
                     help="Delete the rows of files loaded earlier that the glob no longer matches (deleted, "
                     "moved, merged into another authority's file). Without it they stay, with a note."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _options(src, pattern, dest, table, workers, schema_file, max_bad_rows, null_values, prune,
             **extra) -> Settings:
    return Settings(src=src, glob=pattern, dest=dest, table=table or "", workers=workers, schema_file=schema_file,
                       max_bad_rows=max_bad_rows, null_values=tuple(null_values), prune=prune, **extra)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="data-processor")
@click.option("--log-format", type=click.Choice(logs.LOG_FORMATS), envvar=output.FORMAT_ENV, default="text",
              show_default=True, show_envvar=True,
              help="text for people; json: every line on stdout and stderr is one JSON object with ECS field names "
              "(@timestamp, log.level, log.logger, message) and the data as fields; no progress bar.")
def main(log_format: logs.LogFormat) -> None:
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
    logs.configure(log_format)
    output.use(log_format)


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
    with output.current().progress() as report:
        summary = engine.run(options, report)
    output.print_summary(summary)
    sys.exit(summary.exit_code)


@main.command("plan")
@source_options
def plan_command(**kwargs) -> None:
    """Dry run: which files are new, changed or unchanged, and the schema a load would use. Writes nothing."""
    options = _options(**kwargs)
    with output.current().progress() as report:
        the_plan = engine.dry_run(options, report)
    output.current().plan(the_plan)
    sys.exit(1 if the_plan.failures else 0)


@main.command("status")
@click.option("--dest", envvar="DEST_SQL", default=DEFAULT_DEST, show_default=True, show_envvar=True,
              help="SQLAlchemy URL of the database.")
@click.option("--table", envvar="DEST_TABLE", show_envvar=True, help="Only this table (default: every table).")
def status_command(dest: str, table: str | None) -> None:
    """What the ledger says: every file loaded into the table, its rows and its last error."""
    _require_sqlite_file(dest)
    engine, writer = make_engine(dest)
    check_connection(engine, writer)
    rows = ledger.status_rows(engine, table)
    output.current().status(rows, table, masked(dest))


def _require_sqlite_file(dest: str) -> None:
    """A read must not create: SQLite makes an empty database at any path it is given, so a mistyped --dest would
    report "nothing loaded" and leave a stray file behind."""
    url = parse_url(dest)
    path = writer_for(url.get_backend_name()).database_file(url)
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"no SQLite database at {path!r}: check --dest (status never creates one)")


def _add_flow_commands() -> None:
    """``flow`` and ``setup-alerts`` belong to the Prefect shell (``flows/``); they appear when it is installed."""
    if importlib.util.find_spec("prefect") is None or importlib.util.find_spec("flows") is None:
        return
    from flows.cli import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


main.add_command(fetch_group)
_add_flow_commands()


def global_options_first(args: Sequence[str]) -> list[str]:
    """``--log-format`` moved before the command, so it works anywhere on the line, as ``--help`` does."""
    hoisted, rest = [], []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        if arg == "--log-format" and index + 1 < len(args):
            hoisted += args[index:index + 2]
            index += 2
            continue
        (hoisted if arg.startswith("--log-format=") else rest).append(arg)
        index += 1
    return hoisted + rest


def run() -> None:
    """Entry point: expected errors as one line and an exit code, never a traceback (in JSON, not even for bugs)."""
    args = global_options_first(sys.argv[1:])
    output.use(output.requested_format(args))  # until ``main`` reads its option: for its own usage errors
    slim_process()
    try:
        main(args=args, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        output.current().usage_error(exc)
        sys.exit(2)
    except click.exceptions.Abort:
        output.current().error("aborted", 130)
        sys.exit(130)
    except DataProcessorError as exc:
        output.current().error(f"error: {exc}", exc.exit_code)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        fetching = "fetch" in sys.argv[1:]
        output.current().error(
            "interrupted: the partial download is kept and the next fetch resumes it" if fetching else
            "interrupted: files not yet committed were rolled back and will load on the next run", 130
        )
        sys.exit(130)
    except Exception as exc:
        if output.current().format != "json":
            raise
        output.current().crash(exc)
        sys.exit(1)


if __name__ == "__main__":
    run()
