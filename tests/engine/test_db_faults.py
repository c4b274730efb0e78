"""The database misbehaving: each fault ends in one clear line (never a traceback) and the table right.

Faults are caused at known points: the engine pauses where a test asked (``data_processor.testing``) while the
test ends a connection, restarts or stops a throwaway PostgreSQL cluster, or fills a small disk.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import MARIADB_URL, POSTGRES_URL, _database, write
from data_processor.db import make_engine
from data_processor.writers.sqlite import lock_path
from fixtures.throwaway_postgres import throwaway_postgres  # noqa: F401 - a fixture

FAST_RETRIES = {"DATA_PROCESSOR_RETRY_DELAYS": "0.2,0.2"}


@pytest.fixture
def db_mariadb(tmp_path, pytestconfig):
    yield from _database("mariadb", MARIADB_URL, tmp_path, pytestconfig)


def rows_file(path: Path, rows: int, start: int = 0) -> Path:
    return write(path, "id,name\n" + "".join(f"{i},name number {i}\n" for i in range(start, start + rows)))


def load_args(src: Path, url: str, table: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "data_processor", "load", "--src", str(src), "--glob", "*.csv", "--dest", url,
            "--table", table, "--workers", "1", *extra]


def run_cli(args: list[str], env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def one_clear_line(done: subprocess.CompletedProcess) -> str:
    """The output, after checking it holds no traceback."""
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "SystemError" not in output, output[-3000:]
    return output


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_left():
    """A test that fails while a load is paused kills it (a paused load holds locks until its pause times out)."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.communicate()


class Paused:
    """A ``data-processor load`` started in the background, paused at ``point`` (see ``data_processor.testing``)."""

    def __init__(self, args: list[str], point: str, folder: Path, env: dict | None = None) -> None:
        self.point, self.folder = point, folder
        folder.mkdir(exist_ok=True)
        env = {**os.environ, **(env or {}), "DATA_PROCESSOR_PAUSE_AT": point, "DATA_PROCESSOR_PAUSE_DIR": str(folder)}
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        _STARTED.append(self.process)

    def wait_until_paused(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not (self.folder / f"{self.point}.reached").exists():
            assert self.process.poll() is None, self.process.communicate()
            assert time.monotonic() < deadline, "the load never reached its pause point"
            time.sleep(0.05)

    def resume(self, timeout: float = 180) -> subprocess.CompletedProcess:
        (self.folder / f"{self.point}.go").touch()
        out, err = self.process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err)


def count(url: str, query: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).scalar()
    finally:
        engine.dispose()


# -- a connection lost in the middle of a COPY --------------------------------------------------------------------


def test_a_connection_ended_mid_copy_is_retried_and_the_file_loads_once(pg, src, tmp_path):
    """psycopg2 printed a ``SystemError … decode`` traceback and the raw OperationalError escaped the engine."""
    rows_file(src / "big.csv", 120_000)  # > 1 MiB: the COPY reads it in several chunks
    load = Paused(load_args(src, pg.url, pg.table), "copy-streaming", tmp_path / "pause", FAST_RETRIES)
    load.wait_until_paused()
    with pg.engine.connect() as admin:
        ended = admin.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE :q"),
                              {"q": f"COPY {pg.table} %"}).scalars().all()
    assert ended == [True]
    done = load.resume()
    one_clear_line(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert pg.count() == 120_000 == pg.scalar(f"SELECT COUNT(DISTINCT id) FROM {pg.q(pg.table)}")


# -- a full disk ----------------------------------------------------------------------------------------------------


@contextmanager
def small_disk(folder: Path, size: str = "1m", owner: str | None = None):
    """A tmpfs of ``size`` mounted on ``folder`` (root only); the test is skipped where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        if owner:
            subprocess.run(["chown", f"{owner}:{owner}", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_sqlite_on_a_full_disk_is_one_line_and_nothing_partial(src, tmp_path):
    rows_file(src / "a.csv", 50)
    rows_file(src / "b.csv", 100_000, start=50)  # ~2.5 MB: more than the disk holds
    with small_disk(tmp_path / "disk") as disk:
        url = f"sqlite:///{disk}/test.db"
        done = run_cli(load_args(src, url, "t"))
        output = one_clear_line(done)
        assert done.returncode in (1, 2), output
        assert "database full" in output, output
        assert count(url, "SELECT COUNT(*) FROM t") in (0, 50)  # a.csv whole or not at all, nothing of b.csv


def test_a_full_postgresql_tablespace_is_one_line_and_nothing_partial(throwaway_postgres, src, tmp_path):
    cluster = throwaway_postgres
    rows_file(src / "big.csv", 100_000)
    with small_disk(cluster.folder / "space", "1m", owner="postgres") as space:  # a folder postgres can reach
        admin = sa.create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE TABLESPACE small LOCATION '{space}'"))
        url = cluster.url + "?options=-cdefault_tablespace%3Dsmall"
        done = run_cli(load_args(src, url, "t"))
        output = one_clear_line(done)
        assert done.returncode in (1, 2), output
        assert "database full" in output and "No space left on device" in output, output
        assert count(cluster.url, "SELECT COUNT(*) FROM t") == 0
        admin.engine.dispose()


# -- DDL the database refuses ---------------------------------------------------------------------------------------


def test_a_schema_change_the_database_refuses_is_one_line_naming_the_table(pg, src):
    """Widening a column a view depends on: PostgreSQL refuses the ALTER (the DDL's error was a traceback)."""
    write(src / "a.csv", "id,amount\n1,10\n")
    assert pg.load(src).exit_code == 0
    with pg.engine.begin() as conn:
        conn.execute(sa.text(f"CREATE VIEW {pg.table}_v AS SELECT amount FROM {pg.q(pg.table)}"))
    try:
        write(src / "b.csv", "id,amount\n2,ten\n")  # amount becomes text
        done = run_cli(load_args(src, pg.url, pg.table))
    finally:
        with pg.engine.begin() as conn:
            conn.execute(sa.text(f"DROP VIEW {pg.table}_v"))
    output = one_clear_line(done)
    assert done.returncode == 2, output
    assert f"cannot create or change table {pg.table!r}: cannot alter type of a column used by a view" in output, output


# -- SQLite's lock file and folder ----------------------------------------------------------------------------------


def test_a_table_name_holding_a_path_never_puts_the_lock_file_outside_the_database_folder(src, tmp_path):
    rows_file(src / "a.csv", 3)
    folder = tmp_path / "x" / "y"
    folder.mkdir(parents=True)
    before = {p for p in tmp_path.rglob("*")}
    done = run_cli(load_args(src, f"sqlite:///{folder}/test.db", "a/../../b"))
    one_clear_line(done)
    assert done.returncode == 0, done.stdout + done.stderr
    created = {p for p in tmp_path.rglob("*")} - before
    assert created and all(p.parent == folder for p in created), created
    assert Path(lock_path(str(folder / "test.db"), "a/../../b")).parent == folder


@contextmanager
def read_only_view(folder: Path, view: Path):
    """``folder`` seen read-only at ``view`` (a read-only bind mount: root ignores file permissions)."""
    view.mkdir()
    if subprocess.run(["mount", "--bind", str(folder), str(view)], capture_output=True).returncode:
        pytest.skip("cannot bind-mount here")
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], capture_output=True, text=True)
        if remount.returncode:
            pytest.skip(f"cannot remount read-only here: {remount.stderr.strip()}")
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], capture_output=True)


def test_a_read_only_folder_beside_an_sqlite_database_is_one_line(src, tmp_path):
    rows_file(src / "a.csv", 3)
    folder = tmp_path / "db"
    folder.mkdir()
    assert run_cli(load_args(src, f"sqlite:///{folder}/test.db", "t")).returncode == 0
    rows_file(src / "b.csv", 3, start=3)
    with read_only_view(folder, tmp_path / "ro") as view:
        done = run_cli(load_args(src, f"sqlite:///{view}/test.db", "t"))
        output = one_clear_line(done)
        assert done.returncode == 2, output
        assert "must be writable" in output or "readonly" in output, output
    assert count(f"sqlite:///{folder}/test.db", "SELECT COUNT(*) FROM t") == 3


# -- the table lock when PostgreSQL restarts --------------------------------------------------------------------------


def two_files(src: Path) -> int:
    rows_file(src / "a.csv", 1000)
    rows_file(src / "b.csv", 1000, start=1000)
    return 2000


def exactly_once(url: str, expected: int) -> None:
    assert count(url, "SELECT COUNT(*) FROM t") == expected
    assert count(url, "SELECT COUNT(DISTINCT id) FROM t") == expected


def paused_through_a_restart(cluster, src: Path, tmp_path: Path) -> tuple[Paused, int]:
    """Two files, and a load paused before its commit while the server restarts under it; the rows expected."""
    expected = two_files(src)
    first = Paused(load_args(src, cluster.url, "t"), "before-commit", tmp_path / "pause", FAST_RETRIES)
    first.wait_until_paused()
    cluster.stop()
    cluster.start()
    return first, expected


def test_a_restart_mid_file_retries_the_file_and_the_run_ends_cleanly(throwaway_postgres, src, tmp_path):
    """The lock's session died with the restart: unlocking it crashed the run with no summary."""
    cluster = throwaway_postgres
    first, expected = paused_through_a_restart(cluster, src, tmp_path)
    done = first.resume()
    one_clear_line(done)
    assert done.returncode == 0, done.stdout + done.stderr
    exactly_once(cluster.url, expected)


def test_a_run_that_lost_its_lock_in_a_restart_stops_and_the_run_holding_it_loads(throwaway_postgres, src,
                                                                                    tmp_path):
    """A second run started after the restart got the table; the first must not load beside it."""
    cluster = throwaway_postgres
    first, expected = paused_through_a_restart(cluster, src, tmp_path)
    second = run_cli(load_args(src, cluster.url, "t", "--lock-timeout", "5"))
    assert second.returncode == 0, second.stdout + second.stderr
    done = first.resume()
    output = one_clear_line(done)
    assert done.returncode == 1, output
    assert "lost the lock on table 't'" in output, output
    exactly_once(cluster.url, expected)
    statuses = count(cluster.url, "SELECT string_agg(DISTINCT status, ',') FROM data_processor_files")
    assert statuses == "loaded"  # the run that lost the table recorded nothing over the one that has it


def test_a_database_that_stays_down_ends_the_run_in_bounded_time_saying_so(throwaway_postgres, src, tmp_path):
    cluster = throwaway_postgres
    two_files(src)
    first = Paused(load_args(src, cluster.url, "t"), "before-commit", tmp_path / "pause", FAST_RETRIES)
    first.wait_until_paused()
    cluster.stop()
    started = time.monotonic()
    done = first.resume(timeout=120)
    output = one_clear_line(done)
    assert time.monotonic() - started < 60, output
    assert done.returncode in (1, 2), output
    assert "unreachable" in output and "gave up" in output, output
    cluster.start()
    exactly_once(cluster.url, 0)


# -- two first runs against a brand-new database ----------------------------------------------------------------------

CREATE_LEDGER = """
import pathlib, sys, time
from data_processor import ledger
from data_processor.db import make_engine
engine, _ = make_engine(sys.argv[1])
engine.connect().close()
barrier = pathlib.Path(sys.argv[2])
(barrier / f"ready-{sys.argv[3]}").touch()
while not (barrier / "go").exists():
    time.sleep(0.005)
ledger.ensure_tables(engine)
print("created")
"""


def create_ledgers_at_once(url: str, folder: Path, processes: int = 6) -> list[subprocess.CompletedProcess]:
    """``processes`` processes create the ledger tables at the same moment (all wait behind a file barrier)."""
    folder.mkdir()
    started = [subprocess.Popen([sys.executable, "-c", CREATE_LEDGER, url, str(folder), str(i)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(processes)]
    deadline = time.monotonic() + 120
    while len(list(folder.glob("ready-*"))) < processes:
        assert time.monotonic() < deadline and all(p.poll() is None for p in started), "a process never got ready"
        time.sleep(0.02)
    (folder / "go").touch()
    return [subprocess.CompletedProcess(p.args, p.wait(120), *p.communicate()) for p in started]


@contextmanager
def fresh_database(server_url: str):
    """A database created for this test (the ledger tables do not exist yet), dropped afterwards."""
    name = f"dp_fresh_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server_url)[0].execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE {name}"))
        admin.engine.dispose()


@pytest.mark.parametrize("server", ["postgres", "mariadb", "sqlite"])
def test_first_runs_at_once_against_a_brand_new_database_all_create_the_ledger(server, tmp_path):
    """PostgreSQL failed on pg_type's unique index, MariaDB with "Table 'data_processor_files' already exists"."""
    for attempt in range(2):  # the race was lost in most rounds: two rounds make a pass meaningful
        folder = tmp_path / f"round{attempt}"
        if server == "sqlite":
            done = create_ledgers_at_once(f"sqlite:///{tmp_path}/fresh{attempt}.db", folder)
        else:
            with fresh_database(POSTGRES_URL if server == "postgres" else MARIADB_URL) as url:
                done = create_ledgers_at_once(url, folder)
        for process in done:
            assert process.returncode == 0 and process.stdout.strip() == "created", process.stderr[-2000:]


# -- the table lock's connection killed (PostgreSQL and MariaDB locks die with their session) -------------------------


def kill_lock_session(database, table: str) -> None:
    """End the session holding ``table``'s run lock (and only that one)."""
    with database.engine.connect() as conn:
        if database.name == "postgres":
            key = int.from_bytes(hashlib.sha256(f"data_processor:{table}".encode()).digest()[:8], "big")
            pid = conn.execute(sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND classid::bigint = :high AND objid::bigint = :low"), {"high": key >> 32, "low": key & 0xFFFFFFFF}
            ).scalar_one()
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        else:
            holder = conn.execute(sa.text("SELECT IS_USED_LOCK(:n)"),
                                  {"n": "data_processor:" + hashlib.sha256(table.encode()).hexdigest()[:40]}
                                  ).scalar_one()
            conn.execute(sa.text(f"KILL {int(holder)}"))


def waiting_to_take_over(database) -> bool:
    """A run is waiting on the holder row (shared by the in-flight files of the run that lost the lock)."""
    query = {
        # the statement as sent (both drivers fill in the values): this table's take-over, blocked on the row
        "postgres": "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    f"AND query LIKE 'UPDATE data_processor_runs%' AND query LIKE '%''{database.table}''%'",
        "mariadb": "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'UPDATE data_processor_runs%' "
                   f"AND INFO LIKE '%''{database.table}''%'",
    }[database.name]
    with database.engine.connect() as conn:
        return bool(conn.execute(sa.text(query)).scalar())


@pytest.mark.parametrize("server", ["postgres", "mariadb"])
def test_a_run_whose_lock_session_is_killed_never_loads_beside_the_run_that_takes_the_table(server, request, src,
                                                                                            tmp_path):
    """The first run's in-flight file commits; the second run waits for it, then takes the table; the first run's
    next file stops: every row once, each file loaded by exactly one run."""
    database = request.getfixturevalue("pg" if server == "postgres" else "db_mariadb")
    expected = two_files(src)
    first = Paused(load_args(src, database.url, database.table), "before-commit", tmp_path / "pause", FAST_RETRIES)
    first.wait_until_paused()
    kill_lock_session(database, database.table)
    second = subprocess.Popen(load_args(src, database.url, database.table, "--lock-timeout", "30"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _STARTED.append(second)
    deadline = time.monotonic() + 60
    while not waiting_to_take_over(database):
        assert second.poll() is None, second.communicate()
        assert time.monotonic() < deadline, "the second run never waited for the first run's in-flight file"
        time.sleep(0.05)
    done = first.resume()
    second_out, second_err = second.communicate(timeout=180)
    output = one_clear_line(done)
    assert done.returncode == 1 and "lost the lock on table" in output, output
    assert second.returncode == 0, second_out + second_err
    assert database.count() == expected
    assert database.scalar(f"SELECT COUNT(DISTINCT id) FROM {database.q(database.table)}") == expected
