"""Stream a CSV file as Arrow record batches of raw bytes, in bounded memory.

Columns come out as ``binary`` named ``f0 … fN`` (position in the header), so nothing is inferred while reading
and bytes that are not valid UTF-8 reach validation instead of failing the whole file. Only an empty field, quoted
or not, and the configured null values become null. Rows with the wrong number of fields are handed to
``on_ragged`` in file order and skipped.

``locate_rows`` is the slow path, used only for files that have rejects: it re-reads the file with the ``csv``
module to find the physical line each rejected row starts on and its raw text.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from .fingerprint import open_raw
from .sniff import parse_header, sniff_delimiter
from .types import CsvDialect

BLOCK_SIZE = 512 << 10
"""Bytes read and parsed at a time. Arrow's streaming reader reads up to 32 blocks ahead of its consumer, so memory
per worker grows with this, whatever the file size (peak scanning a 1 GB file: 8 MB blocks 552 MB, 1 MB blocks
193 MB, 512 KB blocks 168 MB, at the same speed). A row longer than a block is read with bigger ones (plan.py)."""

BATCH_BYTES = 8 << 20
"""Blocks are joined into batches of about this size, so per-batch work (92 columns × a few kernels) stays cheap."""

_SAMPLE = 64 << 10
csv.field_size_limit(sys.maxsize)  # one long description must not fail a whole file


def open_text_bytes(path: Path, dialect: CsvDialect):
    """The file as UTF-8 bytes: decompressed, and recoded when it is not UTF-8 already."""
    raw = open_raw(path, dialect.compression)
    if dialect.encoding in ("utf-8", "utf-8-sig"):
        return raw
    errors = "cp1252-latin1" if dialect.encoding == "cp1252" else "replace"
    return codecs.EncodedFile(raw, "utf-8", dialect.encoding, errors=errors)


def read_header(path: Path, encoding: str, compression: str | None) -> tuple[str, list[str]]:
    """Sniff the delimiter and parse the header from the first 64 KB."""
    dialect = CsvDialect(encoding=encoding, compression=compression)
    with open_text_bytes(path, dialect) as f:
        sample = f.read(_SAMPLE).decode("utf-8", errors="replace")
    delimiter = sniff_delimiter(sample)
    return delimiter, parse_header(sample, delimiter)


def iter_batches(
    path: Path,
    dialect: CsvDialect,
    width: int,
    null_values: tuple[str, ...] = (),
    on_ragged: Callable[[str, int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Data rows (header skipped) as batches of ``width`` binary columns; blank lines are not rows."""
    names = [f"f{i}" for i in range(width)]

    def ragged(row: pa_csv.InvalidRow) -> str:
        if on_ragged is not None:
            on_ragged(row.text, row.actual_columns)
        return "skip"

    reader = pa_csv.open_csv(
        open_text_bytes(path, dialect),
        read_options=pa_csv.ReadOptions(
            column_names=names, skip_rows=1, block_size=dialect.block_size or BLOCK_SIZE, use_threads=False
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter=dialect.delimiter, newlines_in_values=True, invalid_row_handler=ragged
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={n: pa.binary() for n in names},
            null_values=["", *null_values],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    with reader:
        pending: list[pa.RecordBatch] = []
        size = 0
        for batch in reader:
            pending.append(batch)
            size += batch.nbytes
            if size >= BATCH_BYTES:
                yield _joined(pending)
                pending, size = [], 0
        if pending:
            yield _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def unclosed_quote_line(path: Path, dialect: CsvDialect) -> int | None:
    """The line on which a quoted field opens and never closes (it would swallow every later line), if any.

    Only called for files with an odd number of quotes; Python's strict csv reader tells an unclosed quote
    ("unexpected end of data") from a harmless inch mark inside an unquoted field.
    """
    with open_text_bytes(path, dialect) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text, delimiter=dialect.delimiter, strict=True)
        start = 1
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error as exc:
            return start if "unexpected end of data" in str(exc) else None
    return None


def locate_rows(
    path: Path, dialect: CsvDialect, width: int, good_indices: set[int], ragged_indices: set[int]
) -> tuple[dict[int, tuple[int, str]], dict[int, tuple[int, str]]]:
    """Physical start line and raw text of chosen rows.

    Rows are numbered the way ``iter_batches`` delivers them: the n-th well-formed row (``good_indices``) and the
    n-th ragged row (``ragged_indices``), both from 0. Blank lines are skipped, as pyarrow skips them.
    """
    good: dict[int, tuple[int, str]] = {}
    bad: dict[int, tuple[int, str]] = {}
    lines: list[str] = []

    def tracked(text: io.TextIOBase) -> Iterator[str]:
        for line in text:
            lines.append(line)
            yield line

    if not good_indices and not ragged_indices:
        return good, bad
    last_good, last_bad = max(good_indices, default=-1), max(ragged_indices, default=-1)
    with open_text_bytes(path, dialect) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(tracked(text), delimiter=dialect.delimiter)
        next(reader, None)
        lines.clear()
        n_good = n_bad = 0
        start = reader.line_num + 1
        for row in reader:
            raw_text = "".join(lines).rstrip("\r\n")
            lines.clear()
            if row:
                if len(row) == width:
                    if n_good in good_indices:
                        good[n_good] = (start, raw_text)
                    n_good += 1
                else:
                    if n_bad in ragged_indices:
                        bad[n_bad] = (start, raw_text)
                    n_bad += 1
            if n_good > last_good and n_bad > last_bad:
                break
            start = reader.line_num + 1
    return good, bad


def decode_utf8(column: pa.Array) -> tuple[pa.Array, list[int]]:
    """A binary column as strings, and the positions whose bytes are not UTF-8 (they become null here).

    The check itself is Arrow's vectorised cast; only a batch that fails it is walked in Python to find the rows.
    """
    try:
        return column.cast(pa.string()), []
    except pa.ArrowInvalid:
        bad = []
        for position, value in enumerate(column.to_pylist()):
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    bad.append(position)
        flags = [False] * len(column)
        for position in bad:
            flags[position] = True
        cleaned = pc.if_else(pa.array(flags), pa.scalar(None, pa.binary()), column)
        return cleaned.cast(pa.string()), bad
