"""The engine's public API, in stages: ``plan`` → ``apply`` → ``load``; ``run`` does all three under the lock.

* :func:`plan` only reads: it lists the files, has a fan-out scan the new and changed ones where they are (worker
  processes here, pods in Kubernetes: this process opens no data file itself) and merges their statistics into
  one schema. It writes nothing: ``data-processor plan`` is this stage alone.
* :func:`apply` readies the database, once, before any file loads: it creates or widens the table, forgets a ledger
  whose table was dropped, and with ``prune`` deletes the rows of files no longer matched.
* :func:`load` loads every pending file through a fan-out. A file whose values outgrow a planned type rolls itself
  back ("misfit"); the run then widens the table once and loads those files again.

The CLI and the Prefect flows both call these and nothing below them; the engine knows nothing of Prefect.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from . import ddl, infer, ledger, rejects
from .db import check_connection, database_errors
from .diff import applied_as, row_layout
from .discovery import Discovery, Problem
from .errors import NoFilesMatched, TableLocked
from .fanout import FanOut, InProcess, LocalProcesses
from .jobs import ScanJob
from .target import Target, engine_for
from .ledger import Entry
from .loader import remove_file
from .planning import FileScan, build_plan, check_table_name, check_width, listed_unchanged, read_schema_file, scan_file
from .sources import discover_source, display
from .summary import Progress, RunSummary, quiet
from .text import plural
from .types import ColumnPlan, FilePlan, LoadPlan, LoadResult

if TYPE_CHECKING:  # load workers import this package; pydantic would cost each ~0.3 s and ~9 MB (measured)
    from .settings import Settings


log = logging.getLogger(__name__)


@dataclass
class Plan:
    """Everything decided before the first row is written; :func:`apply` and :func:`load` act on it."""

    settings: Settings
    discovery: Discovery
    load_plan: LoadPlan
    scans: list[FileScan]
    failures: list[LoadResult]
    """Files that could not even be scanned (unreadable, not CSV): they count as failed."""
    existing: dict[str, ColumnPlan] | None
    """The table's columns before this run, or None when it does not exist yet."""
    known: dict[str, Entry]
    """What the ledger held for the table before this run, by file key."""
    table_reset: bool = False
    """The table was dropped or emptied although the ledger lists loaded files: they all load again."""
    gone: list[str] = field(default_factory=list)
    """Files loaded earlier that the glob no longer matches."""
    started: float = field(default_factory=time.monotonic)
    changes: list[str] = field(default_factory=list)
    """What :func:`apply` (and a widening during :func:`load`) changed in the table."""
    pruned: dict[str, int] | None = None
    """Rows deleted per file no longer matched, once :func:`apply` pruned them."""

    @property
    def target(self) -> Target:
        """Where the run writes: the database, the table, the run."""
        return Target.of(self.settings)

    @property
    def pending(self) -> list[FilePlan]:
        """The new and changed files, biggest first (so no worker is left with a big file at the end)."""
        files = [s.plan for s in self.scans if s.plan.state != "unchanged"]
        return sorted(files, key=lambda f: -f.source.size)

    @property
    def unchanged(self) -> list[FilePlan]:
        return [s.plan for s in self.scans if s.plan.state == "unchanged"]

    def applied_as(self, file: FilePlan) -> str:
        """How a pending file's rows will go in: ``new``, ``diff`` (only the rows that differ are written) or
        ``replace`` and why; empty for a file not loaded. The load decides again against the ledger row it locks,
        so a column widened during the run makes a planned diff a replace."""
        if file.state == "unchanged":
            return ""
        entry = self.known.get(file.source.key)
        held = entry is not None and file.state != "new"
        how, why = applied_as((entry.rows_loaded or 0) if held else 0, entry.row_layout if held else None,
                              row_layout(self.load_plan, file))
        return f"{how} ({why})" if why else how

    @property
    def problems(self) -> list[Problem]:
        """What discovery found wrong, then notes on the ledger: a reset table, files no longer matched."""
        notes = list(self.discovery.problems)
        table = self.settings.table
        if self.table_reset:
            notes.append(Problem(table, f"the table is {'missing' if self.existing is None else 'empty'} but the "
                                 "ledger lists loaded files: loading them again", False))
        held = [key for key in self.gone if self.known[key].sha256]  # a load of it committed: rows are there
        if held and not self.settings.prune:
            notes.append(Problem(table, f"{plural(len(held), 'file')} loaded earlier "
                                 f"{'is' if len(held) == 1 else 'are'} not matched now (deleted, moved, or "
                                 f"outside --glob), e.g. {held[0]}: their rows stay in the table; --prune "
                                 "deletes them", False))
        elif held:
            for key in held:
                done = self.pruned is not None and key in self.pruned
                notes.append(Problem(key, f"no longer matched: pruned, its {plural(self.pruned[key], 'row')} deleted"
                                     if done else "no longer matched: --prune would delete its rows", False))
        for scan in self.scans:
            if scan.short and scan.plan.state != "unchanged":
                rows = f"{plural(scan.short, 'row has', 'rows have')} fewer fields than the header"
                notes.append(Problem(scan.plan.source.key, f"{rows}: loaded, the missing fields NULL (--null-padding)"
                                     if self.settings.null_padding else f"{rows}: rejected; --null-padding would "
                                     "load them, the missing fields NULL", False))
        for key in self.gone:
            if key not in held:
                forgotten = self.pruned is not None and key in self.pruned
                notes.append(Problem(key, "failed earlier, never loaded, and no longer matched: nothing of it is in "
                                     f"the table{'; forgotten' if forgotten else ''}", False))
        return notes


def discover(settings: Settings) -> Discovery:
    """The files ``settings.glob`` matches under ``settings.src``: names, sizes and listing metadata only."""
    found = discover_source(settings.src, settings.glob)
    if not found.files and not any(p.fatal for p in found.problems):
        raise NoFilesMatched(display(settings.src), settings.glob)
    return found


def plan(settings: Settings, fan_out: FanOut | None = None, progress: Progress = quiet,
         discovery: Discovery | None = None) -> Plan:
    """Discover the files, scan the new and changed ones through ``fan_out`` and plan one schema. Writes nothing."""
    found = discovery or discover(settings)
    engine, writer = engine_for(settings.dest_url)
    check_table_name(settings.table, writer.CAPABILITIES)
    check_connection(engine, writer)
    with database_errors(engine):
        known = ledger.entries(engine, settings.table)
        existing = ddl.existing_columns(engine, settings.table)
        holds_rows = any(e.status == "loaded" and (e.rows_loaded is None or e.rows_loaded > 0) for e in known.values())
        table_reset = holds_rows and (existing is None or ddl.is_empty(engine, settings.table))
    if table_reset:
        known = {}
    present = {f.key for f in found.files} | {p.key for p in found.problems}  # unreadable is not gone
    overrides = read_schema_file(settings.schema_file) if settings.schema_file else None
    progress("discovered", found)
    scans, failures = [], []
    jobs = []
    table_columns = tuple(existing) if existing is not None and not overrides else None
    for source in sorted(found.files, key=lambda f: -f.size):
        entry = known.get(source.key)
        if listed_unchanged(source, entry):  # the listing proves it: no need to send anyone to read it
            scans.append(scan_file(source, settings.null_values, entry))
            progress("scanned", scans[-1])
        else:
            jobs.append(ScanJob(settings.table, source, settings.null_values, entry, table_columns,
                                writer.CAPABILITIES.max_columns, settings.null_padding))
    for outcome in (fan_out or InProcess()).scan(jobs):
        (scans if isinstance(outcome, FileScan) else failures).append(outcome)
        progress("scanned", outcome)
    scans.sort(key=lambda s: s.plan.source.key)
    to_load = [s for s in scans if s.plan.state != "unchanged"]
    load_plan = build_plan(settings.table, scans if to_load else [], existing, overrides, settings.null_values,
                           settings.max_bad_rows, settings.hash_first_load, settings.null_padding)
    check_width(load_plan, writer.CAPABILITIES)
    progress("planned", load_plan)
    return Plan(settings, found, load_plan, scans, failures, existing, known, table_reset,
                sorted(set(known) - present))


def apply(the_plan: Plan) -> list[str]:
    """Ready the database for ``the_plan``: forget a dropped table's ledger, prune (if asked), create or widen the
    table. Returns the schema changes made (also kept in ``the_plan.changes``)."""
    settings = the_plan.settings
    engine, writer = engine_for(settings.dest_url)
    with database_errors(engine):
        if the_plan.table_reset:
            ledger.forget(engine, settings.table)
            rejects.clear(engine, settings.table)
        if settings.prune and the_plan.gone:
            the_plan.pruned = {key: remove_file(engine, settings.table, the_plan.known[key].id)
                               for key in the_plan.gone}
        pending = sorted(f.source.key for f in the_plan.pending)
        if pending:
            ledger.ensure_tables(engine)
            the_plan.changes += ddl.apply(engine, the_plan.load_plan, writer, the_plan.existing, pending[0])
    return the_plan.changes


def load(the_plan: Plan, fan_out: FanOut | None = None, progress: Progress = quiet) -> RunSummary:
    """Load every pending file of an applied plan; unchanged files are skipped. A bad file is reported, not raised.

    Files that come back "misfit" (a value outgrew its planned type; nothing of them was committed) are loaded
    again after one widening of the table; a file that misfits twice (it changed meanwhile) fails.
    """
    settings, fan_out = the_plan.settings, fan_out or InProcess()
    results = list(the_plan.failures)
    results += [LoadResult(f.source.key, "skipped", bytes=f.source.size) for f in the_plan.unchanged]
    for result in results:
        progress("loaded", result)
    misfits = []
    for result in fan_out.load(the_plan.load_plan, the_plan.pending, the_plan.target):
        if result.status == "misfit":
            misfits.append(result)
            continue
        results.append(result)
        progress("loaded", result)
    if misfits:
        results += _widen_and_reload(the_plan, misfits, fan_out, progress)
    results.sort(key=lambda r: r.key)
    return RunSummary(settings.table, results, the_plan.problems, the_plan.changes,
                      time.monotonic() - the_plan.started, dict(the_plan.pruned or {}))


def _widen_and_reload(the_plan: Plan, misfits: list[LoadResult], fan_out: FanOut,
                      progress: Progress) -> list[LoadResult]:
    """Widen the table once for every misfit, then load those files again."""
    settings = the_plan.settings
    engine, writer = engine_for(settings.dest_url)
    wider = widened(the_plan.load_plan, misfits)
    with database_errors(engine):
        current = ddl.existing_columns(engine, settings.table)
        the_plan.changes += ddl.apply(engine, wider, writer, current, min(r.key for r in misfits))
    the_plan.load_plan = wider
    again = [f for f in the_plan.pending if f.source.key in {r.key for r in misfits}]
    results = []
    for result in fan_out.load(wider, again, the_plan.target):
        if result.status == "misfit":
            result = LoadResult(result.key, "failed", bytes=result.bytes, error=f"{result.key}: its values "
                                "outgrew the table's types again after widening (did it change during the run?)")
        results.append(result)
        progress("loaded", result)
    return results


def widened(load_plan: LoadPlan, misfits: list[LoadResult]) -> LoadPlan:
    """The plan with each column as wide as every misfit file says it must be."""
    columns = {c.name: c for c in load_plan.columns}
    for result in misfits:
        for column in result.widen:
            columns[column.name] = infer.widen(columns[column.name], column) if column.name in columns else column
    return replace(load_plan, columns=tuple(columns.values()))


@contextmanager
def locked(settings: Settings) -> Iterator[None]:
    """Hold the table's run lock (one run per table at a time).

    A second run waits up to ``settings.lock_timeout`` seconds, then fails with :class:`TableLocked`. The run is
    recorded as the table's holder, so its files notice if the lock dies with its connection and another run
    takes the table (:class:`TableLockLost`); releasing a lock whose connection died is not an error.
    """
    engine, writer = engine_for(settings.dest_url)
    check_table_name(settings.table, writer.CAPABILITIES)
    check_connection(engine, writer)
    ledger.ensure_tables(engine)
    with database_errors(engine), ExitStack() as held:
        try:
            held.enter_context(writer.table_lock(engine, settings.table, 0))
        except TableLocked:  # say so at once: an unattended wait of minutes must not look like a hang
            log.warning("another data-processor run is loading table %s: waiting up to %s for it to finish",
                        settings.table, plural(round(settings.lock_timeout), "second"))
            held.enter_context(writer.table_lock(engine, settings.table, settings.lock_timeout))
        ledger.take_over(engine, settings.table, settings.run_id)
        yield


def with_run_id(settings: Settings) -> Settings:
    """``settings`` with a fresh run id, unless it has one (a Prefect run passes its own)."""
    return settings if settings.run_id else settings.model_copy(update={"run_id": uuid.uuid4().hex[:16]})


def parallel_writers(dest: str, wanted: int) -> int:
    """How many files may load into ``dest`` at once: SQLite takes one writer at a time."""
    _, writer = engine_for(dest)
    return max(1, min(wanted, writer.CAPABILITIES.parallel_writers or wanted))


def run(settings: Settings, progress: Progress = quiet) -> RunSummary:
    """Plan, apply and load under the table's lock, on local worker processes: the CLI's ``load``."""
    settings = with_run_id(settings)
    found = discover(settings)
    engine, _ = engine_for(settings.dest_url)
    with LocalProcesses(settings.worker_count, found.files) as fan_out, locked(settings), \
            database_errors(engine):
        the_plan = plan(settings, fan_out, progress, found)
        apply(the_plan)
        return load(the_plan, fan_out, progress)


def dry_run(settings: Settings, progress: Progress = quiet) -> Plan:
    """:func:`plan` on local worker processes, without the lock: the CLI's ``plan``."""
    found = discover(settings)
    with LocalProcesses(settings.worker_count, found.files) as fan_out:
        return plan(settings, fan_out, progress, found)
