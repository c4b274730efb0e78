"""What a run reports: each file's outcome and the run's totals, and the progress events on the way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .discovery import Problem
from .types import LoadResult


@dataclass
class RunSummary:
    table: str
    results: list[LoadResult]
    problems: list[Problem]
    changes: list[str]
    seconds: float
    pruned: dict[str, int] = field(default_factory=dict)
    """Rows deleted per file no longer matched (``--prune``)."""

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def rows_loaded(self) -> int:
        return sum(r.rows_loaded for r in self.results)

    @property
    def rows_rejected(self) -> int:
        return sum(r.rows_rejected for r in self.results)

    @property
    def rows_inserted(self) -> int:
        return sum(r.rows_inserted for r in self.results)

    @property
    def rows_deleted(self) -> int:
        return sum(r.rows_deleted for r in self.results)

    @property
    def rows_unchanged(self) -> int:
        return sum(r.rows_unchanged for r in self.results)

    @property
    def diffed(self) -> int:
        """Files applied as a row difference."""
        return sum(r.applied == "diff" for r in self.results)

    @property
    def bytes_loaded(self) -> int:
        return sum(r.bytes for r in self.results if r.status == "loaded")

    @property
    def failed(self) -> list[LoadResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or any(p.fatal for p in self.problems) else 0


Progress = Callable[[str, object], None]
"""``progress(event, payload)``: "discovered" with the Discovery (before the planning scan), "scanned" with a
FileScan (or the LoadResult of a file that could not be read), "planned" with the LoadPlan, "loaded" with a
LoadResult."""


def quiet(_event: str, _payload: object) -> None:
    """The progress callback that reports nothing."""
