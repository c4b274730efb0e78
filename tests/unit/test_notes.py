"""notes: what a plan says beyond each file's outcome, built from its facts alone (no database, no engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from data_processor.notes import plan_notes
from data_processor.planning import FileScan
from data_processor.types import CsvDialect, FilePlan, SourceFile


@dataclass
class Facts:
    """A plan's facts as the notes read them (``notes.PlanFacts``)."""

    prune: bool = False
    null_padding: bool = False
    scans: list[FileScan] = field(default_factory=list)
    existing: dict | None = None
    table_reset: bool = False
    gone: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    pruned: dict[str, int] | None = None

    @property
    def settings(self) -> SimpleNamespace:
        return SimpleNamespace(table="certificates", prune=self.prune, null_padding=self.null_padding)

    @property
    def held_gone(self) -> list[str]:
        return [key for key in self.gone if key in self.held]


def scan(key: str, short: int, state: str = "new") -> FileScan:
    source = SourceFile(Path(key), key, 10)
    return FileScan(FilePlan(source, CsvDialect(), "0" * 64, ("a",), ("a",), state), rows=3, short=short)


def notes(facts: Facts) -> list[tuple[str, str]]:
    found = plan_notes(facts)
    assert not any(p.fatal for p in found)  # a note never fails a run
    return [(p.key, p.reason) for p in found]


def test_a_plan_with_nothing_to_say_says_nothing():
    assert notes(Facts(scans=[scan("a.csv", 0)])) == []


def test_a_reset_table_is_said_once_naming_what_happened_to_it():
    assert notes(Facts(table_reset=True)) == [
        ("certificates", "the table is missing but the ledger lists loaded files: loading them again")]
    assert "the table is empty" in notes(Facts(table_reset=True, existing={}))[0][1]


def test_files_gone_are_said_together_until_prune_then_one_by_one():
    gone = Facts(gone=["a.csv", "b.csv", "never.csv"], held=["a.csv", "b.csv"])
    assert notes(gone) == [
        ("certificates", "2 files loaded earlier are not matched now (deleted, moved, or outside --glob), e.g. "
                         "a.csv: their rows stay in the table; --prune deletes them"),
        ("never.csv", "failed earlier, never loaded, and no longer matched: nothing of it is in the table")]
    gone.prune = True
    assert notes(gone)[:2] == [("a.csv", "no longer matched: --prune would delete its rows"),
                               ("b.csv", "no longer matched: --prune would delete its rows")]
    gone.pruned = {"a.csv": 1, "b.csv": 2, "never.csv": 0}
    assert notes(gone) == [("a.csv", "no longer matched: pruned, its 1 row deleted"),
                           ("b.csv", "no longer matched: pruned, its 2 rows deleted"),
                           ("never.csv", "failed earlier, never loaded, and no longer matched: nothing of it is in "
                                         "the table; forgotten")]


def test_short_rows_are_said_with_what_null_padding_does_and_only_for_files_to_load():
    facts = Facts(scans=[scan("a.csv", 2), scan("b.csv", 1, "unchanged")])
    assert notes(facts) == [("a.csv", "2 rows have fewer fields than the header: rejected; --null-padding would "
                                      "load them, the missing fields NULL")]
    facts.null_padding = True
    assert notes(facts) == [("a.csv", "2 rows have fewer fields than the header: loaded, the missing fields NULL "
                                      "(--null-padding)")]
