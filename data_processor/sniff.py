"""Decide a file's delimiter from its first records (pure: text in, answer out).

The sample is parsed as CSV with each candidate delimiter, quotes respected, so a delimiter inside a quoted header
cell (``"Floor; level",…``) never counts. The candidate that splits the header into more than one field and the
most data rows into the header's width wins; then the widest header; then the order of ``DELIMITERS``.
"""

from __future__ import annotations

import csv
import io

DELIMITERS = ",;\t|"
SNIFF_ROWS = 50
"""Records looked at (the header and the rows after it)."""


def sniff_delimiter(sample: str, complete: bool = True) -> str:
    """The delimiter that splits the sample's records most consistently; comma when nothing splits the header.

    ``complete`` says the sample ends at the end of the file; otherwise its last record may be cut and is ignored.
    """
    best, best_score = ",", (False, 0.0, 0, 0)
    for order, delimiter in enumerate(DELIMITERS):
        records = [r for r in _records(sample, delimiter, complete) if r]
        if not records:
            continue
        width = len(records[0])
        body = records[1:] or records
        consistency = sum(len(r) == width for r in body) / len(body)
        score = (width > 1, consistency, width, -order)
        if score > best_score:
            best, best_score = delimiter, score
    return best if best_score[0] else ","


def _records(sample: str, delimiter: str, complete: bool) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    records = []
    try:
        for record in reader:
            records.append(record)
            if len(records) > SNIFF_ROWS:
                return records[:SNIFF_ROWS]
    except csv.Error:
        pass
    return records if complete else records[:-1]


def complete_records(sample: str) -> int:
    """How many whole records a cut sample holds (quotes respected; the last, possibly cut, one not counted)."""
    return sum(1 for record in _records(sample, ",", complete=False) if record)
