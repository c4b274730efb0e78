"""Plan one schema for all files before any load.

``scan_file`` (I/O, run in parallel) fingerprints a file, compares it with the ledger and, if it is new or changed,
reads it whole to gather per-column statistics. ``build_plan`` (pure) merges the statistics of every scanned file,
the columns of an existing table and an explicit schema file into one :class:`LoadPlan`. Because the scan reads
every value, a value late in a file cannot surprise the load: the plan already fits it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import yaml

from . import infer
from .errors import ConfigError, InputError
from .fingerprint import fingerprint
from .ledger import Entry
from .naming import column_names
from .read import as_text, is_padded, iter_batches, prefetched, read_header, unclosed_quote_line
from .sources import READ_ERRORS, read_failure, replaced_while_read
from .testing import pause_point
from .writers import Capabilities
from .types import LOGICAL_TYPES, ColumnPlan, CsvDialect, FilePlan, LoadPlan, SourceFile

CHANGED_WHILE_SCANNED = ("changed while it was read for the plan (the object was replaced); nothing of it was "
                         "loaded: the next run plans it again")
NAME_BYTES = 63
"""Column names are cut to PostgreSQL's limit on every database, so a folder maps to the same columns anywhere."""
LINEAGE_WIDTH = 2
"""The columns the tool adds to every table: ``_file_id`` and ``_row_hash``."""

LONG_ROW_BLOCK_SIZES = (16 << 20, 256 << 20)
"""Read block sizes tried, in turn, for a file with a row longer than the normal 1 MB block (memory grows with
them, for that file only); a row longer than the last fails the file."""


@dataclass(frozen=True)
class FileScan:
    plan: FilePlan
    rows: int = 0
    ragged: int = 0
    stats: dict[str, infer.ColumnStats] = field(default_factory=dict)
    short: int = 0
    """Rows with fewer fields than the header: padded with nulls (``null_padding``), else among the ragged."""


def scan_file(source: SourceFile, null_values: tuple[str, ...], entry: Entry | None,
              table_columns: Collection[str] | None = None, max_columns: int | None = None,
              null_padding: bool = False) -> FileScan:
    """Fingerprint ``source``; unless the ledger says it is loaded unchanged, gather its column statistics.

    When ``table_columns`` (the existing table's) already holds every column of the file, its statistics are not
    gathered here: the plan marks it ``verify`` and the load checks its values in its own pass over the bytes.
    """
    if listed_unchanged(source, entry):
        return FileScan(FilePlan(source, CsvDialect(), entry.sha256 or "", (), (), "unchanged"))
    try:
        found = fingerprint(source)
    except READ_ERRORS as exc:
        raise read_failure(source.key, exc, InputError(source.key, CHANGED_WHILE_SCANNED)) from None
    source = replace(source, size=found.size)
    dialect = CsvDialect(encoding=found.encoding, compression=found.compression)
    unchanged = entry is not None and entry.status == "loaded" and (entry.size, entry.sha256) == (
        found.size, found.sha256)
    state = "unchanged" if unchanged else "changed" if entry is not None and entry.sha256 else "new"
    if unchanged:
        return FileScan(FilePlan(source, dialect, found.sha256, (), (), "unchanged", found.has_nul))
    try:
        delimiter, header = read_header(source, dialect)
    except (OSError, EOFError) as exc:
        raise InputError(source.key, f"cannot read: {exc}") from None
    except (ValueError, pa.ArrowInvalid) as exc:
        raise InputError(source.key, f"cannot read the header: {exc}", line=1) from None
    if not header or not any(header):
        raise InputError(source.key, "no header row (the file is empty, or its first line has no column names)",
                         line=1)
    dialect = replace(dialect, delimiter=delimiter)
    if found.odd_quotes and (line := unclosed_quote_line(source, dialect)):
        raise InputError(source.key, "a quoted field opens on this line and is never closed, so it would swallow "
                         "every later line; close the quote or remove the stray one", line=line)
    names = column_names(header, NAME_BYTES)
    file_plan = FilePlan(source, dialect, found.sha256, tuple(header), tuple(names), state, found.has_nul,
                         valid_utf8=not found.undecodable)
    if table_columns is not None and set(names) <= set(table_columns):
        return FileScan(replace(file_plan, verify=True))
    if max_columns is not None and len(names) + LINEAGE_WIDTH > max_columns:  # 140 µs a column, for nothing
        return FileScan(file_plan)
    for block_size in (None, *LONG_ROW_BLOCK_SIZES):
        dialect = replace(dialect, block_size=block_size)
        try:
            rows, ragged, repeated, short, stats = _gather(source, dialect, len(names), null_values,
                                                           file_plan.valid_utf8, null_padding)
            break
        except Exception as exc:  # pyarrow reports parse failures as ArrowInvalid with the byte position
            if "straddling object" in str(exc) and block_size != LONG_ROW_BLOCK_SIZES[-1]:
                continue  # a row longer than a block: read again with bigger blocks
            if replaced_while_read(exc):  # not a CSV problem: the object is another one now
                raise InputError(source.key, CHANGED_WHILE_SCANNED) from None
            raise InputError(source.key, f"cannot parse as CSV: {exc}") from None
    clean = not (ragged or repeated or short or found.undecodable or found.has_nul)
    return FileScan(replace(file_plan, dialect=dialect, rows=rows, clean=clean), rows, ragged + repeated,
                    dict(zip(names, stats)), short)


def listed_unchanged(source: SourceFile, entry: Entry | None) -> bool:
    """The listing says the loaded content is still there (same size and ETag or zip CRC-32): no need to read it.

    Only for objects and zip members (local files have no such tag); a load still records the sha256 it read.
    """
    return (entry is not None and entry.status == "loaded" and source.etag is not None
            and (entry.size, entry.etag) == (source.size, source.etag))


def _gather(path: SourceFile, dialect: CsvDialect, width: int, null_values: tuple[str, ...],
            valid_utf8: bool, null_padding: bool = False) -> tuple:
    """Rows, ragged rows, copies of the header, short rows and each column's statistics, in one pass. A column found
    to be text is not looked at again; bytes the fingerprint proved valid UTF-8 are not checked again. Short rows
    are among the ragged unless ``null_padding``: then they are rows, padded, and their values count."""
    stats = [infer.ColumnStats()] * width
    rows = ragged = repeated = short = 0

    def count_ragged(_text: str, fields: int) -> None:
        nonlocal ragged, short
        ragged += 1
        short += fields < width

    def count_repeated() -> None:
        nonlocal repeated
        repeated += 1

    for number, batch in enumerate(prefetched(iter_batches(path, dialect, width, null_values, count_ragged,
                                                           count_repeated, pad_short=null_padding))):
        if number == 1:
            pause_point("scan-gathering")
        rows += batch.num_rows
        short += batch.num_rows if is_padded(batch) else 0
        for i, column in enumerate(batch.columns):
            if infer.undecided(stats[i]):
                stats[i] = infer.observe(as_text(column, valid_utf8), stats[i])
    return rows, ragged, repeated, short, stats


def build_plan(
    table: str,
    scans: list[FileScan],
    existing: dict[str, ColumnPlan] | None = None,
    overrides: dict[str, ColumnPlan] | None = None,
    null_values: tuple[str, ...] = (),
    max_bad_rows: int = 1000,
    hash_first_load: bool = False,
    null_padding: bool = False,
) -> LoadPlan:
    """One schema for every file: inferred, widened against an existing table, overridden by a schema file.

    A column of the existing table keeps its type unless a scanned file has values it cannot hold: files to be
    verified at load (no statistics) and columns empty in every scanned file change nothing.
    """
    merged: dict[str, infer.ColumnStats] = {}
    sources: dict[str, str] = {}
    for scan in scans:
        for header, name in zip(scan.plan.header, scan.plan.columns):
            sources.setdefault(name, header)
            merged[name] = infer.merge(merged.get(name, infer.ColumnStats()), scan.stats.get(name, infer.ColumnStats()))
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(merged) - set(existing or {}))
    if unknown:
        raise ConfigError(f"the schema file names columns no file has: {', '.join(unknown)}")
    columns = []
    for name, stats in merged.items():
        kind, precision, scale = infer.decide(stats)
        column = ColumnPlan(name, sources[name], kind, precision, scale)
        if name in overrides:
            column = replace(overrides[name], name=name, source=sources[name])
        elif existing and name in existing:
            wider = infer.widen(existing[name], column) if stats.values else existing[name]
            column = replace(wider, name=name, source=sources[name])
        columns.append(column)
    unverified = frozenset(name for name in overrides if name in merged)
    return LoadPlan(table, tuple(columns), tuple(s.plan for s in scans), tuple(null_values), max_bad_rows, unverified,
                    hash_first_load, null_padding)


def check_table_name(table: str, capabilities: Capabilities) -> None:
    """A table name the database keeps as it is (PostgreSQL would silently cut a long one, and the ledger, the
    rejects table and the lock would then name a different table from the one loaded)."""
    limit = capabilities.max_identifier_bytes
    if limit is not None and len(table.encode()) > limit:
        raise ConfigError(f"table name {table[:40]!r}… is {len(table.encode())} bytes; {capabilities.name} allows "
                          f"{limit}: choose a shorter --table")
    if any(ord(c) < 32 or c == "\x7f" for c in table):
        raise ConfigError(f"table name {table!r} holds a control character: choose another --table")


def check_width(plan: LoadPlan, capabilities: Capabilities) -> None:
    """Fail before any DDL when the table would have more columns than the database allows."""
    limit = capabilities.max_columns
    width = len(plan.columns) + LINEAGE_WIDTH
    if limit is not None and width > limit:
        widest = max(plan.files, key=lambda f: len(f.columns), default=None)
        where = f" ({widest.source.key} alone has {len(widest.columns):,})" if widest else ""
        raise ConfigError(f"table {plan.table} would need {width:,} columns{where}; {capabilities.name} allows "
                          f"{limit:,} per table: load fewer columns (e.g. cut the file) or use another database")


_DECIMAL = re.compile(r"^decimal\((\d+)\s*,\s*(\d+)\)$")


def read_schema_file(path: str | Path) -> dict[str, ColumnPlan]:
    """``{column: type}`` from a YAML or JSON file: ``columns: {UPRN: bigint, TOTAL_FLOOR_AREA: decimal(10,2)}``.

    Keys may be the original headers or column names; types are the logical types
    (integer, bigint, decimal, decimal(p,s), double, date, timestamp, text).
    """
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text()) if path.suffix != ".json" else json.loads(path.read_text())
    except (OSError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"schema file {str(path)!r}: {exc}") from None
    mapping = document.get("columns") if isinstance(document, dict) else None
    if not isinstance(mapping, dict):
        raise ConfigError(f"schema file {str(path)!r}: expected a mapping 'columns: {{name: type}}'")
    columns: dict[str, ColumnPlan] = {}
    for header, type_name in mapping.items():
        name = column_names([str(header)], NAME_BYTES)[0]
        text = str(type_name).strip().lower().replace(" ", "")
        match = _DECIMAL.match(text)
        if match:
            columns[name] = ColumnPlan(name, str(header), "decimal", int(match[1]), int(match[2]))
        elif text in LOGICAL_TYPES:
            columns[name] = ColumnPlan(name, str(header), text)  # type: ignore[arg-type]
        else:
            allowed = ", ".join(sorted(LOGICAL_TYPES))
            raise ConfigError(f"schema file {str(path)!r}: column {header!r} has unknown type {type_name!r} ({allowed}, decimal(p,s))")
    return columns

