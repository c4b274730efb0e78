"""Decide a file's delimiter and read its header from a decoded sample (pure: text in, answers out)."""

from __future__ import annotations

import csv
import io

DELIMITERS = ",;\t|"


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines most consistently; comma when in doubt.

    ``csv.Sniffer`` is tried first; when it cannot decide (one-column files, odd quoting) the character that
    occurs most in the header line wins, comma on a tie.
    """
    lines = sample.splitlines()
    header_line = lines[0] if lines else ""
    try:
        found = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITERS).delimiter
        if found in DELIMITERS and header_line.count(found) >= max(header_line.count(d) for d in DELIMITERS):
            return found
    except csv.Error:
        pass
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def parse_header(sample: str, delimiter: str) -> list[str]:
    """The first CSV row of the sample, trimmed, byte-order mark removed."""
    row = next(csv.reader(io.StringIO(sample.lstrip("\ufeff"), newline=""), delimiter=delimiter), [])
    return [cell.strip() for cell in row]
