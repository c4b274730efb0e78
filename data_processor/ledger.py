"""The ledger: one row per (table, file) saying what of that file the table holds.

A file's ledger row is updated in the same transaction as its rows, so the ledger can never claim rows the
table does not hold. ``register`` only creates the row (to get the id stamped on every loaded row as
``_file_id``); it never overwrites what a previous load recorded, so a crash leaves the old truth in place.

``data_processor_handoffs`` carries what a pod hands back to the run that started it (a scan, or a file to load
again wider): the parent reads no data file and needs no shared storage. ``data_processor_beats`` counts each
such job's heartbeats, so the parent can tell a job that is working from one whose pod is gone.

``data_processor_runs`` names the run that holds each table's lock, so a run whose lock died with its connection
(a database restart) notices when another run has taken the table (see ``writers``' docstring).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from .db import database_errors, raises_database_errors
from .errors import DatabaseError, TableLockLost
from .target import Target
from .types import FilePlan, LoadResult
from .writers import ROW_ID_TYPE, writer_for

metadata = sa.MetaData()

files = sa.Table(
    "data_processor_files",
    metadata,
    sa.Column("id", ROW_ID_TYPE, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(128), nullable=False),
    sa.Column("file_key", sa.String(512), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, comment="new, loaded or failed"),
    sa.Column("size", sa.BigInteger),
    sa.Column("sha256", sa.String(64)),
    sa.Column("etag", sa.String(128), comment="listing metadata of the loaded content: object ETag, zip CRC-32"),
    sa.Column("encoding", sa.String(32)),
    sa.Column("delimiter", sa.String(4)),
    sa.Column("rows_read", sa.BigInteger),
    sa.Column("rows_loaded", sa.BigInteger),
    sa.Column("rows_rejected", sa.BigInteger),
    sa.Column("seconds", sa.Float),
    sa.Column("loaded_at", sa.DateTime),
    sa.Column("attempted_at", sa.DateTime),
    sa.Column("error", sa.Text),
    sa.Column("run_id", sa.String(64)),
    sa.Column("applied", sa.String(16), comment="how its last load went in: new, diff or replace"),
    sa.Column("rows_inserted", sa.BigInteger),
    sa.Column("rows_deleted", sa.BigInteger),
    sa.Column("rows_unchanged", sa.BigInteger),
    sa.Column("row_layout", sa.String(64), comment="the layout its rows' _row_hash were made under (diff.row_layout); "
              "NULL: its rows carry no hashes, so its next change replaces it whole"),
    sa.UniqueConstraint("table_name", "file_key", name="uq_data_processor_files_table_file"),
)

columns = sa.Table(
    "data_processor_columns",
    metadata,
    sa.Column("table_name", sa.String(128), primary_key=True),
    sa.Column("column_name", sa.String(64), primary_key=True),
    sa.Column("source_header", sa.Text, nullable=False),
    sa.Column("logical_type", sa.String(32), nullable=False),
    sa.Column("first_file", sa.String(512)),
    sa.Column("added_at", sa.DateTime, nullable=False),
)

runs = sa.Table(
    "data_processor_runs",
    metadata,
    sa.Column("table_name", sa.String(128), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False, comment="the run holding the table's lock"),
    sa.Column("locked_at", sa.DateTime, nullable=False),
)


handoffs = sa.Table(
    "data_processor_handoffs",
    metadata,
    sa.Column("table_name", sa.String(128), primary_key=True),
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("file_key", sa.String(512), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False, comment="scan (a FileScan) or result (a LoadResult)"),
    sa.Column("outcome", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False,
              comment="JSON: the file's plan and column statistics, or how its job ended"),
    sa.Column("handed_at", sa.DateTime, nullable=False),
)


beats = sa.Table(
    "data_processor_beats",
    metadata,
    sa.Column("table_name", sa.String(128), primary_key=True),
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("job", sa.String(64), primary_key=True, comment="the job's own run (a Prefect flow run id)"),
    sa.Column("beats", sa.Integer, nullable=False, comment="heartbeats so far: the watcher looks for a change"),
    sa.Column("beat_at", sa.DateTime, nullable=False),
)


@dataclass(frozen=True)
class Entry:
    id: int
    status: str
    size: int | None
    sha256: str | None
    rows_loaded: int | None = None
    etag: str | None = None
    row_layout: str | None = None


@dataclass(frozen=True)
class Claim:
    """A file's ledger row, locked for its load: what the table holds of the file before it."""

    unchanged: bool
    """The table already holds exactly this content: nothing to do."""
    rows_loaded: int
    row_layout: str | None


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@raises_database_errors
def ensure_tables(engine: sa.Engine) -> None:
    """Create the ledger tables if they are missing.

    Two first runs at once against a brand-new database would both find them missing and both create them
    (PostgreSQL then fails on ``pg_type``'s unique index, MariaDB with "already exists"), so they are created under
    a database-wide lock and looked for again inside it; a creator that takes no lock (an older version) is
    tolerated: if creating fails but the tables now exist, all is well.
    """
    if not _all_exist(engine):
        _create(engine)
    present = {c["name"] for c in sa.inspect(engine).get_columns(files.name)}
    for name in _LATER_COLUMNS:  # a ledger from an older version: add the column, once
        if name not in present:
            try:
                with engine.begin() as conn:
                    conn.execute(sa.text(f"ALTER TABLE {files.name} ADD COLUMN {name} "
                                         f"{files.c[name].type.compile(engine.dialect)}"))
            except sa.exc.DBAPIError:
                if not _has_column(engine, name):  # not another run adding it at the same moment
                    raise


_LATER_COLUMNS = ("etag", "applied", "rows_inserted", "rows_deleted", "rows_unchanged", "row_layout")
"""Ledger columns added after its first release (sources beyond a folder; row differences)."""


def _create(engine: sa.Engine) -> None:
    """The missing ledger tables, created under the database-wide lock."""
    try:
        with database_errors(engine), writer_for(engine.dialect.name).ledger_lock(engine) as conn:
            metadata.create_all(conn, checkfirst=True)
    except DatabaseError:
        if not _all_exist(engine):
            raise


def _has_column(engine: sa.Engine, name: str) -> bool:
    return any(c["name"] == name for c in sa.inspect(engine).get_columns(files.name))


def _readable(engine: sa.Engine) -> list[sa.ColumnElement]:
    """The ledger's columns, NULL for those this database's ledger does not have yet (``status`` may read a ledger
    that no run of this version has upgraded)."""
    present = {c["name"] for c in sa.inspect(engine).get_columns(files.name)}
    return [c if c.name not in _LATER_COLUMNS or c.name in present else sa.null().label(c.name) for c in files.c]


@raises_database_errors
def _all_exist(engine: sa.Engine) -> bool:
    return set(metadata.tables) <= set(sa.inspect(engine).get_table_names())


@raises_database_errors
def take_over(target: Target) -> None:
    """Just after taking the table's lock: record the target's run as its holder. Waits for the in-flight files of
    a run that lost the lock (they hold the row ``FOR SHARE``); their successors then see they lost it."""
    with target.engine.begin() as conn:
        values = {"run_id": target.run_id, "locked_at": now()}
        if not conn.execute(sa.update(runs).where(runs.c.table_name == target.table).values(**values)).rowcount:
            conn.execute(sa.insert(runs).values(table_name=target.table, **values))


def hold(conn: sa.Connection, target: Target) -> None:
    """Inside a file's transaction, before it writes: keep the table's holder row (shared with the run's other
    files) and fail with :class:`TableLockLost` if another run took the table. A load outside a run (no run id)
    checks nothing."""
    if not target.run_id:
        return
    holder = conn.execute(
        sa.select(runs.c.run_id).where(runs.c.table_name == target.table).with_for_update(read=True)
    ).scalar()
    if holder and holder != target.run_id:
        raise TableLockLost(target.table)


@raises_database_errors
def entries(target: Target) -> dict[str, Entry]:
    """What the ledger knows of every file of the target's table, by key (empty before the first run)."""
    engine = target.engine
    if not sa.inspect(engine).has_table(files.name):
        return {}
    readable = {c.name: c for c in _readable(engine)}
    query = sa.select(*(readable[name] for name in (
        "file_key", "id", "status", "size", "sha256", "rows_loaded", "etag", "row_layout"))
    ).where(files.c.table_name == target.table)
    with engine.connect() as conn:
        return {row.file_key: Entry(row.id, row.status, row.size, row.sha256, row.rows_loaded, row.etag,
                                    row.row_layout)
                for row in conn.execute(query)}


@raises_database_errors
def register(target: Target, key: str) -> int:
    """The file's ledger id, creating its row (status ``new``) if this is its first load."""
    where = (files.c.table_name == target.table) & (files.c.file_key == key)
    for _ in range(2):
        try:
            with target.engine.begin() as conn:
                found = conn.execute(sa.select(files.c.id).where(where)).scalar()
                if found is not None:
                    conn.execute(sa.update(files).where(files.c.id == found).values(attempted_at=now()))
                    return int(found)
                return int(
                    conn.execute(
                        sa.insert(files).values(table_name=target.table, file_key=key, status="new", attempted_at=now())
                    ).inserted_primary_key[0]
                )
        except sa.exc.IntegrityError:
            continue  # another worker registered the same file a moment ago: use its row
    raise AssertionError(f"cannot register {key} in the ledger")


@raises_database_errors
def forget(target: Target) -> None:
    """Drop what the ledger remembers of the target's table (the table itself was dropped or emptied)."""
    with target.engine.begin() as conn:
        conn.execute(sa.delete(files).where(files.c.table_name == target.table))
        conn.execute(sa.delete(columns).where(columns.c.table_name == target.table))


def remove(conn: sa.Connection, file_id: int) -> None:
    """Inside the transaction that deletes the file's rows: the ledger forgets the file."""
    conn.execute(sa.delete(files).where(files.c.id == file_id))


def claim(conn: sa.Connection, file_id: int, file: FilePlan) -> Claim:
    """Inside the file's transaction: lock its ledger row, so a second load of the same file (a rescheduled parent,
    a retried pod still running) waits here; says whether the table already holds exactly this content, and what
    it holds of the file (a failed load keeps the counts and layout of the rows still there)."""
    row = conn.execute(
        sa.select(files.c.status, files.c.size, files.c.sha256, files.c.rows_loaded, files.c.row_layout)
        .where(files.c.id == file_id).with_for_update()
    ).one()
    unchanged = row.status == "loaded" and row.sha256 == file.sha256 and row.size == file.source.size
    holds = row.sha256 is not None  # "new" until a load of it commits
    return Claim(unchanged, (row.rows_loaded or 0) if holds else 0, row.row_layout if holds else None)


def record_loaded(conn: sa.Connection, target: Target, file_id: int, file: FilePlan, result: LoadResult,
                  row_layout: str | None = None) -> None:
    """Inside the file's transaction: the ledger now describes exactly the rows just written (``row_layout``: the
    layout of their hashes, None when they carry none)."""
    conn.execute(
        sa.update(files)
        .where(files.c.id == file_id)
        .values(
            status="loaded",
            size=file.source.size,
            sha256=file.sha256,
            etag=file.source.etag,
            encoding=file.dialect.encoding,
            delimiter=file.dialect.delimiter,
            rows_read=result.rows_read,
            rows_loaded=result.rows_loaded,
            rows_rejected=result.rows_rejected,
            seconds=round(result.seconds, 3),
            loaded_at=now(),
            error=None,
            run_id=target.run_id,
            applied=result.applied,
            rows_inserted=result.rows_inserted,
            rows_deleted=result.rows_deleted,
            rows_unchanged=result.rows_unchanged,
            row_layout=row_layout,
        )
    )


@raises_database_errors
def record_failed(target: Target, file_id: int, error: str) -> None:
    """Mark the file failed in the target's run; the counts and hash of what the table still holds (if anything)
    stay."""
    with target.engine.begin() as conn:
        conn.execute(sa.update(files).where(files.c.id == file_id)
                     .values(status="failed", error=error, run_id=target.run_id))


@raises_database_errors
def recorded(target: Target, key: str) -> sa.Row | None:
    """The file's ledger row: how a load that ran elsewhere (another pod) ended."""
    query = sa.select(*_readable(target.engine)).where((files.c.table_name == target.table) &
                                                      (files.c.file_key == key))
    with target.engine.connect() as conn:
        return conn.execute(query).first()


@raises_database_errors
def status_rows(engine: sa.Engine, table: str | None) -> list[sa.Row]:
    if not sa.inspect(engine).has_table(files.name):
        return []
    query = sa.select(*_readable(engine)).order_by(files.c.table_name, files.c.file_key)
    if table:
        query = query.where(files.c.table_name == table)
    with engine.connect() as conn:
        return list(conn.execute(query))


def _of_run(table: sa.Table, target: Target) -> sa.ColumnElement[bool]:
    return (table.c.table_name == target.table) & (table.c.run_id == target.run_id)


@raises_database_errors
def hand_off(target: Target, key: str, kind: str, outcome: str) -> None:
    """Record (or, for a retried pod, replace) what one file's job hands back to the target's run."""
    where = _of_run(handoffs, target) & (handoffs.c.file_key == key)
    with target.engine.begin() as conn:
        conn.execute(sa.delete(handoffs).where(where))
        conn.execute(sa.insert(handoffs).values(table_name=target.table, run_id=target.run_id, file_key=key,
                                                kind=kind, outcome=outcome, handed_at=now()))


@raises_database_errors
def handed_off(target: Target, key: str) -> tuple[str, str] | None:
    """``(kind, outcome)`` of what the file's job handed back to the target's run, or None."""
    where = _of_run(handoffs, target) & (handoffs.c.file_key == key)
    with target.engine.connect() as conn:
        row = conn.execute(sa.select(handoffs.c.kind, handoffs.c.outcome).where(where)).first()
    return (row.kind, row.outcome) if row else None


@raises_database_errors
def forget_handoffs(target: Target) -> None:
    """The target's run has read what its pods handed back and heard their last heartbeats: delete both."""
    with target.engine.begin() as conn:
        conn.execute(sa.delete(handoffs).where(_of_run(handoffs, target)))
        conn.execute(sa.delete(beats).where(_of_run(beats, target)))


@raises_database_errors
def beat(target: Target, job: str) -> None:
    """One heartbeat of ``job`` (working for the target's run): its count goes up by one."""
    where = _of_run(beats, target) & (beats.c.job == job)
    with target.engine.begin() as conn:
        if not conn.execute(sa.update(beats).where(where).values(beats=beats.c.beats + 1, beat_at=now())).rowcount:
            conn.execute(sa.insert(beats).values(table_name=target.table, run_id=target.run_id, job=job, beats=1,
                                                 beat_at=now()))


@raises_database_errors
def heard(target: Target) -> dict[str, int]:
    """How many heartbeats each job of the target's run has sent so far."""
    query = sa.select(beats.c.job, beats.c.beats).where(_of_run(beats, target))
    with target.engine.connect() as conn:
        return {row.job: row.beats for row in conn.execute(query)}
