"""A changed file applied as a row difference: which of its rows the table already holds, which are new, which gone.

**A row's identity** is a 64-bit hash of its values as they load (:func:`row_hashes`): each field after decoding
and null handling, in the file's column order. Quoting, line endings and the file's encoding therefore do not
change it, and an empty field is the same as a null marker (both load as NULL). Every row loaded through the
batch path carries its hash in ``_row_hash``.

**The layout** (:func:`row_layout`): a hash is of the text, and text becomes a value through its column's type,
so the same text loads to the same value only under the same column names and types. Each file's ledger row
records the layout its rows were hashed under; a file whose layout changed (a new column, a widened type) or
whose rows carry no hashes (loaded by the raw-file fast path, or by a version before hashes) is replaced whole,
which lays down the hashes its next change is diffed against.

**Matching** (:class:`StoredRows`): the file's stored hashes are read once and sorted (8 bytes a row, plus a
1-byte "matched" flag: ~60 MB for a 6.5 M-row year file), then each batch of the new file is matched as it
streams. A row whose hash has an unmatched copy in the table is unchanged and not written; every other row is
inserted; the copies left unmatched at the end are deleted. Rows are a multiset: two identical rows stay two, and
a file that drops one of them deletes one.

A collision (two different rows with one hash) would keep an old row in place of a new one. With a 64-bit hash
the chance is about (changed rows × rows of the file) / 2⁶⁴: ~4·10⁻⁸ for a 6.5 M-row file with 1 % changed.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import xxhash

from .types import Applied, ColumnPlan, FilePlan, LoadPlan

LAYOUT_VERSION = "1"
"""Bumped when :func:`row_hashes` changes: every file is then replaced whole once, never diffed wrongly."""

_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
"""A row's canonical text: every string quoted (quotes doubled), a null an empty unquoted field, fields separated
by commas, the row ended by a newline; one row's text never depends on another's."""

_SAME_VALUES = {"bigint": "integer"}
"""Types that load every text to the same value: widening between them keeps a file's hashes valid."""


def row_layout(plan: LoadPlan, file: FilePlan) -> str:
    """What the file's hashes depend on besides its text: its columns, in order, with their types."""
    types = {c.name: c for c in plan.columns}
    parts = [LAYOUT_VERSION, *(f"{name}:{_value_type(types[name])}" for name in file.columns)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def applied_as(rows_held: int, held_layout: str | None, layout: str) -> tuple[Applied, str]:
    """How a file goes in, and why, from what the table holds of it (``rows_held`` rows hashed under
    ``held_layout``) and the layout it loads under now. The plan says it; the load decides it."""
    if not rows_held:
        return "new", ""
    if held_layout is None:
        return "replace", "its rows carry no row hashes yet; later changes are diffed"
    if held_layout != layout:
        return "replace", "its columns or their types changed"
    return "diff", ""


def _value_type(column: ColumnPlan) -> str:
    return _SAME_VALUES.get(column.type, column.describe())


def row_hashes(batch: pa.RecordBatch) -> np.ndarray:
    """One signed 64-bit hash per row of ``batch`` (string columns, as they load), in row order: xxh3 of the row's
    canonical CSV text (Arrow's writer, about 0.6 GB/s here; the hashing itself about 0.3 µs a row), a slice of
    rows at a time so the text never costs more than a few hundred kilobytes."""
    hashes = np.empty(batch.num_rows, np.uint64)
    for at in range(0, batch.num_rows, _ROWS_AT_ONCE):
        rows = batch.slice(at, _ROWS_AT_ONCE)
        hashes[at:at + rows.num_rows] = _hashes_of(rows)
    return hashes.view(np.int64)


def _hashes_of(rows: pa.RecordBatch) -> np.ndarray:
    out = io.BytesIO()
    pa_csv.write_csv(rows, out, _CSV)
    text = out.getbuffer()
    data = np.frombuffer(text, np.uint8)
    ends = np.flatnonzero(data == _NEWLINE)
    if len(ends) != rows.num_rows:  # a value holds a newline: only those outside quotes end a row
        outside = (np.cumsum(data == _QUOTE, dtype=np.uint8) & 1) == 0  # parity survives the uint8 wrap
        ends = np.flatnonzero((data == _NEWLINE) & outside)
    starts = np.r_[0, ends[:-1] + 1]
    digest = xxhash.xxh3_64_intdigest
    return np.fromiter((digest(text[start:end]) for start, end in zip(starts.tolist(), ends.tolist())), np.uint64,
                       count=rows.num_rows)


_ROWS_AT_ONCE = 4096
"""Rows written as text and hashed at a time: a few hundred kilobytes of EPC rows."""


_NEWLINE, _QUOTE = ord("\n"), ord('"')


class StoredRows:
    """The multiset of a file's row hashes in the table, used up as the new file's rows are matched against it.

    Memory: the sorted hashes (8 bytes a row) and one flag a row, whether its copy is matched (a row whose hash is
    unique, nearly all of them); identical rows keep their matched count in a dict, by the run's first position.
    """

    def __init__(self, hashes: np.ndarray) -> None:
        hashes.sort()
        self._hashes = hashes
        self._matched = np.zeros(len(hashes), bool)
        self._matched_of_run: dict[int, int] = {}
        self.unchanged = 0

    def match(self, hashes: np.ndarray) -> np.ndarray:
        """True for each row the table already holds (an unmatched copy of its hash is there); marks it matched."""
        unchanged = np.zeros(len(hashes), bool)
        if not len(hashes) or not len(self._hashes):
            return unchanged
        first = np.searchsorted(self._hashes, hashes, "left")
        copies = np.searchsorted(self._hashes, hashes, "right") - first
        alone = np.flatnonzero(copies == 1)
        free = ~self._matched[first[alone]] & (_rank_among_equals(hashes)[alone] == 0)
        unchanged[alone[free]] = True
        self._matched[first[alone[free]]] = True
        for row in np.flatnonzero(copies > 1).tolist():  # identical rows in the table: rare, one at a time
            run = int(first[row])
            if self._matched_of_run.get(run, 0) < copies[row]:
                self._matched_of_run[run] = self._matched_of_run.get(run, 0) + 1
                unchanged[row] = True
        self.unchanged += int(unchanged.sum())
        return unchanged

    def gone(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the new file no longer has: each hash once, how many of its copies to delete, and whether that is
        every copy (a duplicated row the file keeps fewer of is not)."""
        hashes = self._hashes
        same_as_next = np.r_[hashes[1:] == hashes[:-1], False]
        in_run = same_as_next | np.r_[False, same_as_next[:-1]]
        alone = hashes[~in_run & ~self._matched]
        found, copies, every = [alone], [np.ones(len(alone), np.int64)], [np.ones(len(alone), bool)]
        run_starts = np.flatnonzero(in_run & ~np.r_[False, same_as_next[:-1]])
        run_ends = np.searchsorted(hashes, hashes[run_starts], "right")
        for start, end in zip(run_starts.tolist(), run_ends.tolist()):  # identical rows: rare
            matched = self._matched_of_run.get(start, 0)
            if matched < end - start:
                found.append(hashes[start:start + 1])
                copies.append(np.array([end - start - matched], np.int64))
                every.append(np.array([matched == 0]))
        return np.concatenate(found), np.concatenate(copies), np.concatenate(every)

    @property
    def deleted(self) -> int:
        return len(self._hashes) - self.unchanged


def _rank_among_equals(hashes: np.ndarray) -> np.ndarray:
    """For each row, how many rows before it in the batch have the same hash (0 for the first)."""
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    positions = np.arange(len(hashes))
    ranks = np.empty(len(hashes), np.int64)
    ranks[order] = positions - np.maximum.accumulate(np.where(starts, positions, 0))
    return ranks
