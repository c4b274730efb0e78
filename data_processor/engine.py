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
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from . import ddl, infer, ledger, rejects
from .db import check_connection
from .diff import applied_as, row_layout
from .discovery import Discovery, Problem
from .errors import NoFilesMatched, TableLocked
from .fanout import FanOut, InProcess, LocalProcesses
from .jobs import ScanJob
from .target import Target, engine_for
from .ledger import Entry
from .loader import remove_file
from .notes import plan_notes
from .planning import FileScan, build_plan, check_table_name, check_width, listed_unchanged, read_schema_file, scan_file
from .sources import discover_source, display
from .summary import Progress, RunSummary, quiet
from .text import plural
from .types import ColumnPlan, Failure, FilePlan, LoadPlan, LoadResult

if TYPE_CHECKING:  # load workers import this package; pydantic would cost each ~0.3 s and ~9 MB (measured)
    from .settings import Settings


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """Everything decided before the first row is written. Never changed: :func:`apply` returns the plan it
    applied (with what it changed) and :func:`load` a summary."""

    settings: Settings
    discovery: Discovery
    load_plan: LoadPlan
    scans: tuple[FileScan, ...]
    failures: tuple[LoadResult, ...]
    """Files that could not even be scanned (unreadable, not CSV): they count as failed."""
    existing: Mapping[str, ColumnPlan] | None
    """The table's columns before this run, or None when it does not exist yet."""
    known: Mapping[str, Entry]
    """What the ledger held for the table before this run, by file key."""
    table_reset: bool = False
    """The table was dropped or emptied although the ledger lists loaded files: they all load again."""
    gone: tuple[str, ...] = ()
    """Files loaded earlier that the glob no longer matches."""
    started: float = field(default_factory=time.monotonic)
    applied: bool = False
    """:func:`apply` has readied the database for this plan (it returns the plan so marked)."""
    changes: tuple[str, ...] = ()
    """What :func:`apply` changed in the table."""
    pruned: Mapping[str, int] | None = None
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

    @property
    def held_gone(self) -> list[str]:
        """The files no longer matched whose rows the table holds (a load of them committed)."""
        return [key for key in self.gone if self.known[key].sha256]

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
        """What discovery found wrong, then notes on the ledger and the rows (``notes.plan_notes``)."""
        return [*self.discovery.problems, *plan_notes(self)]


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
    target = Target.of(settings)
    check_table_name(settings.table, target.capabilities)
    check_connection(target.engine, target.writer)
    known = ledger.entries(target)
    existing = ddl.existing_columns(target)
    holds_rows = any(e.status == "loaded" and (e.rows_loaded is None or e.rows_loaded > 0) for e in known.values())
    table_reset = holds_rows and (existing is None or ddl.is_empty(target))
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
                                target.capabilities.max_columns, settings.null_padding))
    for outcome in (fan_out or InProcess()).scan(jobs, target):
        (scans if isinstance(outcome, FileScan) else failures).append(outcome)
        progress("scanned", outcome)
    scans.sort(key=lambda s: s.plan.source.key)
    to_load = [s for s in scans if s.plan.state != "unchanged"]
    load_plan = build_plan(settings.table, scans if to_load else [], existing, overrides, settings.null_values,
                           settings.max_bad_rows, settings.hash_first_load, settings.null_padding)
    check_width(load_plan, target.capabilities)
    progress("planned", load_plan)
    return Plan(settings, found, load_plan, tuple(scans), tuple(failures), existing, known, table_reset,
                tuple(sorted(set(known) - present)))


def apply(the_plan: Plan) -> Plan:
    """Ready the database for ``the_plan``: forget a dropped table's ledger, prune (if asked), create or widen the
    table. Returns the plan as applied: what it changed in ``changes``, the rows it pruned in ``pruned``."""
    target = the_plan.target
    if the_plan.table_reset:
        ledger.forget(target)
        rejects.clear(target)
    pruned = None
    if the_plan.settings.prune and the_plan.gone:
        pruned = {key: remove_file(target, the_plan.known[key].id) for key in the_plan.gone}
    changes: list[str] = []
    pending = sorted(f.source.key for f in the_plan.pending)
    if pending:
        ledger.ensure_tables(target.engine)
        changes = ddl.apply(target, the_plan.load_plan, the_plan.existing, pending[0])
    return replace(the_plan, applied=True, changes=tuple(changes), pruned=pruned)


def load(the_plan: Plan, fan_out: FanOut | None = None, progress: Progress = quiet) -> RunSummary:
    """Load every pending file of the plan :func:`apply` returned; unchanged files are skipped. A bad file is
    reported, not raised.

    Files that come back "misfit" (a value outgrew its planned type; nothing of them was committed) are loaded
    again after one widening of the table; a file that misfits twice (it changed meanwhile) fails.
    """
    if not the_plan.applied:
        raise ValueError("load() takes the plan apply() returned: the database is not ready for this one")
    fan_out = fan_out or InProcess()
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
    changes = list(the_plan.changes)
    if misfits:
        reloaded, widening = _widen_and_reload(the_plan, misfits, fan_out, progress)
        results += reloaded
        changes += widening
    results.sort(key=lambda r: r.key)
    return RunSummary(the_plan.settings.table, results, the_plan.problems, changes,
                      time.monotonic() - the_plan.started, dict(the_plan.pruned or {}))


def _widen_and_reload(the_plan: Plan, misfits: list[LoadResult], fan_out: FanOut,
                      progress: Progress) -> tuple[list[LoadResult], list[str]]:
    """Widen the table once for every misfit, then load those files again: their results, and the changes made."""
    target = the_plan.target
    wider = widened(the_plan.load_plan, misfits)
    changes = ddl.apply(target, wider, ddl.existing_columns(target), min(r.key for r in misfits))
    again = [f for f in the_plan.pending if f.source.key in {r.key for r in misfits}]
    results = []
    for result in fan_out.load(wider, again, target):
        if result.status == "misfit":
            result = LoadResult(result.key, "failed", bytes=result.bytes, error=Failure(
                result.key, "its values outgrew the table's types again after widening (did it change during the "
                "run?)", kind="Misfit"))
        results.append(result)
        progress("loaded", result)
    return results, changes


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
    target = Target.of(settings)
    engine, writer = target.engine, target.writer
    check_table_name(settings.table, writer.CAPABILITIES)
    check_connection(engine, writer)
    ledger.ensure_tables(engine)
    with target.errors(), ExitStack() as held:
        try:
            held.enter_context(writer.table_lock(engine, settings.table, 0))
        except TableLocked:  # say so at once: an unattended wait of minutes must not look like a hang
            log.warning("another data-processor run is loading table %s: waiting up to %s for it to finish",
                        settings.table, plural(round(settings.lock_timeout), "second"))
            held.enter_context(writer.table_lock(engine, settings.table, settings.lock_timeout))
        ledger.take_over(target)
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
    with LocalProcesses(settings.worker_count, found.files) as fan_out, locked(settings), \
            Target.of(settings).errors():
        the_plan = apply(plan(settings, fan_out, progress, found))
        return load(the_plan, fan_out, progress)


def dry_run(settings: Settings, progress: Progress = quiet) -> Plan:
    """:func:`plan` on local worker processes, without the lock: the CLI's ``plan``."""
    found = discover(settings)
    with LocalProcesses(settings.worker_count, found.files) as fan_out:
        return plan(settings, fan_out, progress, found)
