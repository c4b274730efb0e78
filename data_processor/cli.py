"""``data-processor``: load a folder of CSV files into one SQL table, exactly once.

Expected errors print one line (file, line, reason) and exit 2 (usage, configuration, database) or 1 (a file
failed); tracebacks are for bugs only. ``--log-format json`` makes every line on stdout and stderr one JSON object
(see ``output.py``). The options of ``load`` and ``plan`` are generated from ``settings.Settings``; other packages
add commands through the ``data_processor.commands`` entry points (the Prefect shell adds ``flow``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import click
from pydantic import SecretStr

from . import interrupts, ledger, logs, output
from .db import check_connection, make_engine, masked, parse_url
from .errors import ConfigError, DataProcessorError
from .fetch.cli import fetch_group
from . import engine
from .fanout import slim_process
from .settings import Destination, Settings, env_name, option_name, text_list
from .writers import writer_for

PLUGINS = "data_processor.commands"
"""Entry point group of commands other packages add (the Prefect shell's ``flow`` and ``setup-alerts``)."""

_CLICK_TYPES = {"schema_file": click.Path(dir_okay=False, exists=True)}
"""What a field's type alone does not say: the schema file must exist before anything starts."""


class _TextList(click.ParamType):
    """A repeatable option whose environment variable holds one value or a JSON list, as ``Settings`` reads it."""

    name = "text"

    def split_envvar_value(self, rv: str) -> list[str]:
        try:
            return list(text_list(rv))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None


def settings_options(*fields: str) -> Callable[[Callable], Callable]:
    """Click options generated from fields of :class:`Settings`: the flag, default, help (the field's description)
    and environment variable all come from the field, so the command line cannot drift from the flows."""

    def decorate(function: Callable) -> Callable:
        for field in reversed(fields):
            function = _option(field)(function)
        return function

    return decorate


def _option(field: str) -> Callable:
    info = Settings.model_fields[field]
    default = None if info.is_required() else info.get_default()
    kwargs: dict = {"envvar": env_name(field), "show_envvar": True, "help": info.description}
    if info.annotation is bool:
        kwargs.update(is_flag=True)
    elif isinstance(default, tuple):
        kwargs.update(multiple=True, type=_TextList(), metavar="TEXT",
                      help=f"{info.description} Repeatable; its variable holds one value or a JSON list.")
    else:
        kwargs.update(type=_click_type(field), show_default=default is not None,
                      default=default.get_secret_value() if isinstance(default, SecretStr) else default)
    return click.option(option_name(field), field, **kwargs)


def _click_type(field: str) -> click.ParamType:
    if field in _CLICK_TYPES:
        return _CLICK_TYPES[field]
    info = Settings.model_fields[field]
    low = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
    if info.annotation is int:
        return click.IntRange(min=low)
    if info.annotation is float:
        return click.FloatRange(min=low)
    return click.STRING


SOURCE_FIELDS = ("src", "glob", "dest", "table", "workers", "schema_file", "max_bad_rows", "null_values",
                 "null_padding", "prune", "hash_first_load")
"""The settings ``load`` and ``plan`` (and the ``flow`` command) take as options; ``load`` adds ``lock_timeout``."""

source_options = settings_options(*SOURCE_FIELDS)


class _Commands(click.Group):
    """The engine's commands and those of the entry point group :data:`PLUGINS`.

    A plugin is imported only when its command runs or ``--help`` lists it, so one that is slow or broken costs
    ``load`` nothing; a broken one stays listed, saying why, and running it is a one-line error.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *(entry.name for entry in entry_points(group=PLUGINS))})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            for entry in entry_points(group=PLUGINS, name=name):
                self.add_command(_plugin_command(entry), name)
        return self.commands.get(name)


def _plugin_command(entry: EntryPoint) -> click.Command:
    try:
        command = entry.load()
        if not isinstance(command, click.Command):
            raise TypeError(f"{type(command).__name__} is not a click command")
        return command
    except Exception as exc:  # noqa: BLE001 - whatever a third party's import raises
        reason = f"unavailable: {entry.value} failed to load: {type(exc).__name__}: {exc}".splitlines()[0]

        def unavailable() -> None:
            raise ConfigError(f"command {entry.name!r} is {reason}")

        return click.Command(entry.name, callback=unavailable, help=reason, short_help=reason,
                             context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
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

    Every run skips files already loaded unchanged, applies a changed file as a row difference (only the rows it
    no longer has are deleted, only its new rows inserted; `plan` says which files, `status` what each last load
    changed), and puts each bad row in <table>_rejects with its file, line, raw text and reason.
    """
    logs.configure(log_format)
    output.use(log_format)


@main.command("load")
@source_options
@settings_options("lock_timeout")
def load_command(**kwargs) -> None:
    """Load new and changed files (a changed one as a row difference); skip unchanged ones.

    Exit status: 0 every file loaded (some rows may be in the rejects table), 1 a file failed,
    2 usage, configuration or database error, or no file matched.
    """
    options = Settings(**kwargs)
    with output.current().progress() as report:
        summary = engine.run(options, report)
    output.print_summary(summary)
    sys.exit(summary.exit_code)


@main.command("plan")
@source_options
def plan_command(**kwargs) -> None:
    """Dry run: which files are new, changed or unchanged, how each would go in (new, diff, or replaced whole and
    why), and the schema a load would use. Writes nothing."""
    options = Settings(**kwargs)
    with output.current().progress() as report:
        the_plan = engine.dry_run(options, report)
    output.current().plan(the_plan)
    sys.exit(1 if the_plan.failures else 0)


@main.command("status")
@settings_options("dest")
@click.option("--table", envvar=env_name("table"), show_envvar=True, help="Only this table (default: every table).")
def status_command(dest: str, table: str | None) -> None:
    """What the ledger says: every file loaded into the table, its rows and its last error."""
    url = Destination(dest=dest).dest_url
    _require_sqlite_file(url)
    database, writer = make_engine(url)
    check_connection(database, writer)
    rows = ledger.status_rows(database, table)
    output.current().status(rows, table, masked(url))


def _require_sqlite_file(dest: str) -> None:
    """A read must not create: SQLite makes an empty database at any path it is given, so a mistyped --dest would
    report "nothing loaded" and leave a stray file behind."""
    url = parse_url(dest)
    path = writer_for(url.get_backend_name()).database_file(url)
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"no SQLite database at {path!r}: check --dest (status never creates one)")


main.add_command(fetch_group)


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
        with interrupts.latched():
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
