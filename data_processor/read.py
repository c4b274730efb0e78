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
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from .fingerprint import Witness, open_raw
from .sniff import complete_records, sniff_delimiter
from .types import CsvDialect

BLOCK_SIZE = 512 << 10
"""Bytes read and parsed at a time. Arrow's streaming reader reads up to 32 blocks ahead of its consumer, so memory
per worker grows with this, whatever the file size (peak scanning a 1 GB file: 8 MB blocks 552 MB, 1 MB blocks
193 MB, 512 KB blocks 168 MB, at the same speed). A row longer than a block is read with bigger ones (planning.py)."""

BATCH_BYTES = 8 << 20
"""Blocks are joined into batches of about this size, so per-batch work (92 columns × a few kernels) stays cheap."""

WRITE_BATCH_BYTES = 2 << 20
"""The batch size of a load that writes each batch while it parses the next: smaller, so a file of a few batches
still overlaps most of its parsing with the server's work (200 MB, 1 worker: 6.3 s with 8 MB, 5.3-5.6 s with 1-2 MB),
and the two batches alive at once cost less memory."""

SAMPLE_BYTES = 64 << 10
SAMPLE_RECORDS = 20
"""The delimiter is sniffed from at least this many whole records (or the whole file when it is shorter)."""
MAX_HEADER_BYTES = 64 << 20
csv.field_size_limit(sys.maxsize)  # one long description must not fail a whole file
T = TypeVar("T")


def open_text_bytes(path: Path, dialect: CsvDialect, witness: Witness | None = None):
    """The file as UTF-8 bytes: decompressed, and recoded when it is not UTF-8 already."""
    raw = open_raw(path, dialect.compression, witness)
    if dialect.encoding in ("utf-8", "utf-8-sig"):
        return raw
    errors = "cp1252-latin1" if dialect.encoding == "cp1252" else "replace"
    return _Recoded(codecs.EncodedFile(raw, "utf-8", dialect.encoding, errors=errors))


class _Recoded(io.BufferedIOBase):
    """A recoding stream that recodes whichever way it is read: codecs' ``StreamRecoder`` hands ``read1`` (what
    ``io.TextIOWrapper`` calls) straight to the stream beneath it, which then gives the original bytes."""

    def __init__(self, recoder: codecs.StreamRecoder) -> None:
        super().__init__()
        self._recoder = recoder

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._recoder.read(-1 if size is None else size)

    read1 = read

    def close(self) -> None:
        if not self.closed:
            self._recoder.close()
        super().close()


def read_header(path: Path, dialect: CsvDialect) -> tuple[str, list[str]]:
    """The file's delimiter and header cells (trimmed, byte-order mark removed).

    The delimiter is sniffed from whole records (the sample grows until it holds a few, so a 1,500-column header is
    never cut); the header is then parsed by Arrow with that delimiter, the same parser and dialect that reads the
    data, so the two can never disagree on where the header ends.
    """
    data, complete = _sample_records(path, dialect)
    sample = data.decode("utf-8", errors="replace").removeprefix("\ufeff")  # not a record of its own
    delimiter = sniff_delimiter(sample, complete)
    width = len(next((r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if r), []))
    if not width:
        return delimiter, []
    if complete and not data.endswith((b"\n", b"\r")):
        data += b"\n"  # Arrow cannot find the columns of a last line that has no line end (a header-only file)
    opener = (lambda: io.BytesIO(data)) if complete else (lambda: open_text_bytes(path, dialect))
    cells = _arrow_header(opener, replace(dialect, delimiter=delimiter), width)
    return delimiter, [cell.lstrip("\ufeff").strip() for cell in cells]


def _sample_records(path: Path, dialect: CsvDialect) -> tuple[bytes, bool]:
    """The start of the file (as UTF-8) holding at least ``SAMPLE_RECORDS`` whole records, or the whole file;
    and whether it is the whole file."""
    size = SAMPLE_BYTES
    while True:
        with open_text_bytes(path, dialect) as f:
            data = f.read(size)
            complete = not f.read(1)
        if complete or complete_records(data.decode("utf-8", errors="replace")) >= SAMPLE_RECORDS:
            return data, complete
        if size >= MAX_HEADER_BYTES:
            if complete_records(data.decode("utf-8", errors="replace")) >= 1:
                return data, False
            raise ValueError(f"the header row is longer than {MAX_HEADER_BYTES >> 20} MB, or a quote in it never "
                             "closes")
        size *= 4


def _arrow_header(opener: Callable[[], BinaryIO], dialect: CsvDialect, width: int) -> list[str]:
    """The first record as Arrow parses it (empty lines skipped, quoted newlines kept)."""
    types = {f"f{i}": pa.binary() for i in range(width + 1)}
    block = max(BLOCK_SIZE, dialect.block_size or 0)
    while True:
        try:
            reader = pa_csv.open_csv(
                opener(),
                read_options=pa_csv.ReadOptions(autogenerate_column_names=True, block_size=block, use_threads=False),
                parse_options=_parse_options(dialect, lambda _row: "skip"),  # rows after it do not matter here
                convert_options=pa_csv.ConvertOptions(column_types=types, strings_can_be_null=False),
            )
            break
        except pa.ArrowInvalid as exc:
            too_small = "straddling" in str(exc) or "Empty CSV file or block" in str(exc)  # Arrow says either
            if not too_small or block >= MAX_HEADER_BYTES:
                raise
            block *= 4  # a header longer than a block
    with reader:
        first = reader.read_next_batch()
    if any(t != pa.binary() for t in first.schema.types):
        raise ValueError("the header row parses differently from one line to the next (mixed quoting?)")
    return [first.column(i)[0].as_py().decode("utf-8", errors="replace") for i in range(first.num_columns)]


def _parse_options(dialect: CsvDialect, on_ragged: Callable | None = None) -> pa_csv.ParseOptions:
    return pa_csv.ParseOptions(delimiter=dialect.delimiter, newlines_in_values=True, invalid_row_handler=on_ragged)


def iter_batches(
    path: Path,
    dialect: CsvDialect,
    width: int,
    null_values: tuple[str, ...] = (),
    on_ragged: Callable[[str, int], None] | None = None,
    on_repeated_header: Callable[[], None] | None = None,
    witness: Witness | None = None,
    include: Sequence[int] | None = None,
    tap: Callable[[bytes], None] | None = None,
    batch_bytes: int = BATCH_BYTES,
    pad_short: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Data rows as batches of ``width`` binary columns (or only the ``include`` positions); blank lines are not rows.

    The header is the first record Arrow itself parses (so a quoted newline in it can never turn its second line
    into data). A later row equal to the header (two files concatenated) is not data: it is handed to
    ``on_repeated_header`` in file order and skipped, as a ragged row is handed to ``on_ragged``; with ``include``,
    a row equal to the header in those columns counts as one. ``tap`` is handed every block of the file's bytes
    (decompressed, as UTF-8) as the reader takes it, so another consumer can read the same pass. ``pad_short``: a
    row with fewer fields than ``width`` is not ragged but padded with nulls; such rows come in batches of their own
    (:func:`is_padded`), numbered apart from the others.
    """
    names = [f"f{i}" for i in range(width)]
    kept = names if include is None else [names[i] for i in include]
    stream = open_text_bytes(path, dialect, witness)
    short: list[list[str | None]] = []

    def ragged(row: pa_csv.InvalidRow) -> str:
        if pad_short and row.actual_columns < width:
            short.append(_padded(row.text, dialect.delimiter, width))
        elif on_ragged is not None:
            on_ragged(row.text, row.actual_columns)
        return "skip"

    def padded_rows() -> Iterator[pa.RecordBatch]:
        if short:
            yield padded_batch(short, [names.index(n) for n in kept], kept, ("", *null_values))
            short.clear()

    reader = pa_csv.open_csv(
        stream if tap is None else _Tapped(stream, tap),
        read_options=pa_csv.ReadOptions(
            column_names=names, block_size=dialect.block_size or BLOCK_SIZE, use_threads=False
        ),
        parse_options=_parse_options(dialect, ragged),
        convert_options=pa_csv.ConvertOptions(
            column_types={n: pa.binary() for n in kept},
            include_columns=kept,
            null_values=["", *null_values],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    header: list[pa.Scalar] | None = None
    with reader:
        pending: list[pa.RecordBatch] = []
        size = 0
        for batch in reader:
            if header is None:
                if not batch.num_rows:
                    continue
                header = [column[0] for column in batch.columns]
                if header and header[0].is_valid and header[0].as_py().startswith(codecs.BOM_UTF8):
                    header[0] = pa.scalar(header[0].as_py()[len(codecs.BOM_UTF8):], pa.binary())
                batch = batch.slice(1)
            batch = _without_repeated_header(batch, header, on_repeated_header)
            pending.append(batch)
            size += batch.nbytes
            if size >= batch_bytes:
                yield _joined(pending)
                pending, size = [], 0
                yield from padded_rows()
        if pending:
            yield _joined(pending)
        yield from padded_rows()


class _Tapped(io.RawIOBase):
    """A read-only stream that hands a copy of every block it reads to ``tap``."""

    def __init__(self, stream: BinaryIO, tap: Callable[[bytes], None]) -> None:
        self._stream, self._tap = stream, tap

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        block = self._stream.read(size)
        if block:
            self._tap(block)
        return block

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        block = self.read(len(buffer))
        buffer[: len(block)] = block
        return len(block)

    def close(self) -> None:
        self._stream.close()
        super().close()


def _without_repeated_header(
    batch: pa.RecordBatch, header: list[pa.Scalar], found: Callable[[], None] | None
) -> pa.RecordBatch:
    """``batch`` less the rows equal, field for field, to the header; one column is usually enough to tell."""
    mask = None
    for i, (cell, column) in enumerate(zip(header, batch.columns)):
        same = pc.is_null(column) if not cell.is_valid else pc.fill_null(pc.equal(column, cell), False)
        if i == 0 and cell.is_valid:  # a copy that kept its byte-order mark (cat of two Excel exports)
            with_bom = pa.scalar(codecs.BOM_UTF8 + cell.as_py(), pa.binary())
            same = pc.or_(same, pc.fill_null(pc.equal(column, with_bom), False))
        mask = same if mask is None else pc.and_(mask, same)
        if not pc.any(mask).as_py():
            return batch
    if mask is None:
        return batch
    if found is not None:
        for _ in range(pc.sum(mask).as_py()):
            found()
    return batch.filter(pc.invert(mask))


def prefetched(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """``items`` produced in another thread, up to ``depth`` ahead: parsing the next batch (Arrow, no GIL) overlaps
    the caller's work on this one, so one file's scan uses a second core when there is one."""
    handoff: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        handoff.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put((done, None))
        except BaseException as exc:  # handed to the caller, raised where it would have been
            handoff.put((done, exc))

    producer = threading.Thread(target=produce, name="prefetch", daemon=True)
    producer.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while producer.is_alive():  # let a producer blocked on a full queue see the stop
            try:
                handoff.get_nowait()
            except queue.Empty:
                producer.join(0.05)


PADDED = b"data_processor.padded"
"""Schema metadata key of a batch of short rows padded with nulls (``pad_short``): its rows are numbered apart."""


def is_padded(batch: pa.RecordBatch) -> bool:
    """Whether ``batch`` holds short rows padded with nulls, not rows in the order of the file."""
    return bool(batch.schema.metadata and PADDED in batch.schema.metadata)


def _padded(text: str, delimiter: str, width: int) -> list[str | None]:
    fields = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    return [*fields, *[None] * (width - len(fields))]


def padded_batch(rows: list[list[str | None]], positions: list[int], names: list[str],
                 nulls: tuple[str, ...]) -> pa.RecordBatch:
    """Short rows, each padded with nulls to the header's width, as a batch like Arrow's (binary columns; an empty
    field or a null marker is null, as Arrow reads them); marked :func:`is_padded`."""
    columns = [pa.array([None if row[i] is None or row[i] in nulls else row[i].encode() for row in rows], pa.binary())
               for i in positions]
    return pa.RecordBatch.from_arrays(columns, names=names).replace_schema_metadata({PADDED: b"1"})


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
    path: Path, dialect: CsvDialect, width: int, good_indices: set[int], ragged_indices: set[int],
    repeated_indices: set[int] = frozenset(), witness: Witness | None = None, padded_indices: set[int] = frozenset(),
    pad_short: bool = False,
) -> tuple[dict[int, tuple[int, str]], ...]:
    """Physical start line and raw text of chosen rows: four dicts, for good, ragged, repeated and padded rows.

    Rows are numbered the way ``iter_batches`` delivers them: the n-th well-formed row (``good_indices``), the n-th
    ragged row (``ragged_indices``), the n-th copy of the header (``repeated_indices``) and, with ``pad_short``, the
    n-th short row padded with nulls (``padded_indices``), each from 0. Blank lines are skipped, as Arrow skips them.
    """
    found: tuple[dict[int, tuple[int, str]], ...] = ({}, {}, {}, {})
    wanted = (good_indices, ragged_indices, repeated_indices, padded_indices)
    lines: list[str] = []

    def tracked(text: io.TextIOBase) -> Iterator[str]:
        for line in text:
            lines.append(line)
            yield line

    if not any(wanted):
        return found
    last = [max(indices, default=-1) for indices in wanted]
    with open_text_bytes(path, dialect, witness) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(tracked(text), delimiter=dialect.delimiter)
        bare = lambda row: [row[0].lstrip("\ufeff"), *row[1:]] if row else row  # noqa: E731
        header = next((bare(row) for row in reader if bare(row) not in ([], [""])), None)  # as Arrow: mark, blanks
        lines.clear()
        seen = [0, 0, 0, 0]
        start = reader.line_num + 1
        for row in reader:
            raw_text = "".join(lines).rstrip("\r\n")
            lines.clear()
            if row:
                kind = (3 if pad_short and len(row) < width else 1 if len(row) != width
                        else 2 if bare(row) == header else 0)
                if seen[kind] in wanted[kind]:
                    found[kind][seen[kind]] = (start, raw_text)
                seen[kind] += 1
            if all(seen[k] > last[k] for k in range(4)):
                break
            start = reader.line_num + 1
    return found


def as_text(column: pa.Array, valid_utf8: bool) -> pa.Array:
    """A binary column as strings: a free view when its bytes are known valid UTF-8, else undecodable ones null."""
    return column.view(pa.string()) if valid_utf8 else decode_utf8(column)[0]


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
