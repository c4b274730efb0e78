"""What a run says about its plan beyond each file's outcome: a table found reset, files no longer matched, rows
shorter than the header. Sentences for the user, built from the plan's facts (the plan itself holds none)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from .discovery import Problem
from .text import plural

if TYPE_CHECKING:
    from .planning import FileScan
    from .settings import Settings


class PlanFacts(Protocol):
    """What the notes read of a plan (``engine.Plan`` has it all); the notes need nothing else of the engine."""

    settings: Settings
    scans: Sequence[FileScan]
    existing: Mapping | None
    table_reset: bool
    gone: Sequence[str]
    pruned: Mapping[str, int] | None

    @property
    def held_gone(self) -> list[str]: ...


def plan_notes(the_plan: PlanFacts) -> list[Problem]:
    """Notes on the ledger and the rows, in the order a reader wants them: the table, the files gone, the files
    with short rows, then files gone that never loaded. None is fatal."""
    return [*_reset(the_plan), *_held_gone(the_plan), *_short_rows(the_plan), *_never_loaded_gone(the_plan)]


def _reset(the_plan: PlanFacts) -> list[Problem]:
    if not the_plan.table_reset:
        return []
    state = "missing" if the_plan.existing is None else "empty"
    return [Problem(the_plan.settings.table, f"the table is {state} but the ledger lists loaded files: loading "
                    "them again", False)]


def _held_gone(the_plan: PlanFacts) -> list[Problem]:
    held = the_plan.held_gone
    if held and not the_plan.settings.prune:
        verb = "is" if len(held) == 1 else "are"
        return [Problem(the_plan.settings.table, f"{plural(len(held), 'file')} loaded earlier {verb} not matched now "
                        f"(deleted, moved, or outside --glob), e.g. {held[0]}: their rows stay in the table; --prune "
                        "deletes them", False)]
    pruned = the_plan.pruned
    return [Problem(key, f"no longer matched: pruned, its {plural(pruned[key], 'row')} deleted"
                    if pruned is not None and key in pruned else "no longer matched: --prune would delete its rows",
                    False) for key in held]


def _short_rows(the_plan: PlanFacts) -> list[Problem]:
    notes = []
    for scan in the_plan.scans:
        if scan.short and scan.plan.state != "unchanged":
            rows = f"{plural(scan.short, 'row has', 'rows have')} fewer fields than the header"
            notes.append(Problem(scan.plan.source.key, f"{rows}: loaded, the missing fields NULL (--null-padding)"
                                 if the_plan.settings.null_padding else f"{rows}: rejected; --null-padding would "
                                 "load them, the missing fields NULL", False))
    return notes


def _never_loaded_gone(the_plan: PlanFacts) -> list[Problem]:
    held = set(the_plan.held_gone)
    pruned = the_plan.pruned
    return [Problem(key, "failed earlier, never loaded, and no longer matched: nothing of it is in the table"
                    f"{'; forgotten' if pruned is not None and key in pruned else ''}", False)
            for key in the_plan.gone if key not in held]
