"""The vocabulary passed between stages: closed sets as Literals, records as frozen dataclasses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

LogicalType = Literal["integer", "bigint", "decimal", "double", "date", "timestamp", "text"]
LOGICAL_TYPES: frozenset[str] = frozenset(get_args(LogicalType))

FileState = Literal["new", "changed", "unchanged"]
"""What the ledger says about a file before a run."""

LoadStatus = Literal["loaded", "skipped", "failed", "misfit"]
"""How one file ended in a run. ``misfit``: rolled back because a value does not fit a planned column type; the
engine widens the table and loads the file again, so a run's summary never shows it."""

FILE_ID_COLUMN = "_file_id"
"""Lineage column on every loaded row: the ledger id of the file it came from."""

ROW_HASH_COLUMN = "_row_hash"
"""A hash of the row's values as loaded (``diff.row_hashes``): what a changed file's rows are matched by. NULL on
rows loaded by the raw-file fast path, which never parses them."""

Applied = Literal["", "new", "diff", "replace"]
"""How a loaded file's rows went in: ``new`` (the table held none of them), ``diff`` (only the rows that differ
were deleted and inserted), ``replace`` (every old row deleted, every row inserted)."""


@dataclass(frozen=True)
class SourceFile:
    """A file the glob matched. ``key`` (path relative to the source folder, the prefix or the archive) identifies
    it across runs and machines; ``sources.open_source`` opens it."""

    path: Path | None
    """The local file (or the local zip archive holding ``member``); None for an object in a store."""
    key: str
    size: int
    url: str | None = None
    """The object (``s3://…``, ``https://…``), or the remote zip archive holding ``member``."""
    member: str | None = None
    """The member's name when the file is inside a zip archive."""
    etag: str | None = None
    """Listing metadata that changes with the content: the object's ETag or mtime, the member's CRC-32."""


@dataclass(frozen=True)
class CsvDialect:
    """How to read a file: found by sniffing, recorded in the ledger."""

    encoding: str = "utf-8"
    delimiter: str = ","
    compression: str | None = None
    block_size: int | None = None
    """Bytes per read block when a row is longer than the default 1 MB (found by the scan, used by the load)."""


@dataclass(frozen=True)
class ColumnPlan:
    """One table column: where it comes from and what it holds."""

    name: str
    source: str
    type: LogicalType
    precision: int | None = None
    scale: int | None = None

    def describe(self) -> str:
        if self.type == "decimal" and self.precision:
            return f"decimal({self.precision},{self.scale or 0})"
        return self.type


@dataclass(frozen=True)
class FilePlan:
    """What the planning scan learned about one file."""

    source: SourceFile
    dialect: CsvDialect
    sha256: str
    header: tuple[str, ...]
    columns: tuple[str, ...]
    """Table column for each header position (same length as header)."""
    state: FileState = "new"
    has_nul: bool = False
    rows: int = 0
    """Well-formed data rows the planning scan counted."""
    clean: bool = False
    """The scan found no ragged row, no undecodable byte and no NUL: the file's own bytes may go to the database."""
    valid_utf8: bool = False
    """Every byte reads as valid UTF-8 (the fingerprint proved it, or the file is recoded to UTF-8): no batch needs
    its bytes checked."""
    verify: bool = False
    """Not scanned for statistics (the table already had every column of it): the load checks each value against
    its column's type as the bytes go to the database, and ends "misfit" when one does not fit."""


@dataclass(frozen=True)
class LoadPlan:
    """Everything a worker needs to load any file: decided once, before any load."""

    table: str
    columns: tuple[ColumnPlan, ...]
    files: tuple[FilePlan, ...]
    null_values: tuple[str, ...] = ()
    max_bad_rows: int = 1000
    unverified: frozenset[str] = frozenset()
    """Columns whose type was not inferred from every value (a schema file set it): checked row by row at load."""
    hash_first_load: bool = False
    """A new file's rows are hashed too (never copied raw), so its first change can be applied as a difference."""
    null_padding: bool = False
    """A row with fewer fields than the header loads, its missing fields null, instead of being rejected."""

    def column(self, name: str) -> ColumnPlan:
        return next(c for c in self.columns if c.name == name)

    def for_file(self, file: FilePlan) -> LoadPlan:
        """The plan cut down to one file: what a per-file worker (a Kubernetes pod) needs."""
        return replace(self, files=(file,))

    def to_json(self) -> dict:
        """Plain JSON (a flow parameter); :meth:`from_json` gives back an equal plan."""
        from .records import to_data

        return to_data(self)

    @staticmethod
    def from_json(data: dict) -> LoadPlan:
        from .records import from_data

        return from_data(LoadPlan, data)


@dataclass(frozen=True)
class Reject:
    """A row that did not load, and why. ``line`` is the physical line the row starts on (header = line 1)."""

    line: int | None
    raw: str
    reason: str


@dataclass(frozen=True)
class Failure:
    """Why a file failed, kept in parts (the file, the line when one row is to blame, the reason) so each reader
    takes what it needs; ``str()`` is its one sentence, led by the file's name. ``kind``: the error's class
    (``TooManyRejects``, ``DatabaseFull``, ``WorkerDied``…), for logs and dashboards."""

    file: str
    reason: str
    line: int | None = None
    kind: str = ""

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"

    @classmethod
    def parse(cls, file: str, sentence: str, kind: str = "") -> Failure:
        """A sentence read back (from the ledger, or a Prefect state's message) as a failure of ``file``: taken
        apart where it is led by the file's name, whole as the reason where it is not."""
        led = re.fullmatch(rf"{re.escape(file)}(?:, line (\d+))?: (.*)", sentence, re.DOTALL)
        if led is None:
            return cls(file, sentence, None, kind)
        return cls(file, led[2], int(led[1]) if led[1] else None, kind)


@dataclass(frozen=True)
class LoadResult:
    """How one file ended. rows_read == rows_loaded + rows_rejected for every loaded file."""

    key: str
    status: LoadStatus
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    bytes: int = 0
    seconds: float = 0.0
    error: Failure | None = None
    rejects_sample: tuple[Reject, ...] = field(default=())
    widen: tuple[ColumnPlan, ...] = ()
    """For a misfit: the planned columns the file needs wider, as they must become."""
    applied: Applied = ""
    rows_inserted: int = 0
    rows_deleted: int = 0
    rows_unchanged: int = 0
    """rows_loaded == rows_unchanged + rows_inserted: the file's rows the table now holds."""

