"""Fixtures by concern: real databases (one unique table per test), CSV folders, running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from data_processor.db import make_engine
from data_processor.target import Target
from data_processor import Settings, run

REPO = Path(__file__).resolve().parents[1]
"""The repository's root, wherever a test module lives under tests/."""

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")


@dataclass
class Database:
    """A real database and a table name no other test uses."""

    name: str
    url: str
    table: str
    engine: sa.Engine

    def rows(self, query: str, **params) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query), params)]

    def scalar(self, query: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(query), params).scalar()

    def count(self, table: str | None = None) -> int:
        return self.scalar(f'SELECT COUNT(*) FROM {self.q(table or self.table)}')

    def q(self, name: str) -> str:
        return self.engine.dialect.identifier_preparer.quote(name)

    def target(self, run_id: str = "", table: str | None = None) -> Target:
        """The engine's handle on this database and table (in run ``run_id``)."""
        return Target(self.url, table or self.table, run_id)

    def load(self, src: Path, glob: str = "**/*.csv", **kwargs):
        return run(Settings(src=str(src), glob=glob, dest=self.url, table=self.table, **kwargs))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--require-servers", action="store_true",
                     help="fail (rather than skip) a test whose database server is not reachable; make test sets it")


def _database(name: str, url: str, tmp_path: Path, config: pytest.Config):
    table = f"t_{uuid.uuid4().hex[:10]}"
    engine, _ = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:  # say so plainly: skipped here, a failure under make test
        engine.dispose()
        (pytest.fail if config.getoption("--require-servers") else pytest.skip)(
            f"{name} is not reachable at {url}: {exc.orig}")
    db = Database(name, url, table, engine)
    yield db
    with engine.begin() as conn:
        for t in (table, f"{table}_rejects"):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {db.q(t)}"))
        inspector = sa.inspect(conn)
        for t in ("data_processor_files", "data_processor_columns"):
            if inspector.has_table(t):
                conn.execute(sa.text(f"DELETE FROM {t} WHERE table_name = :t"), {"t": table})
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def db(request, tmp_path):
    """The same test against every database we support."""
    urls = {"sqlite": f"sqlite:///{tmp_path}/test.db", "postgres": POSTGRES_URL, "mariadb": MARIADB_URL}
    yield from _database(request.param, urls[request.param], tmp_path, request.config)


@pytest.fixture
def pg(tmp_path, pytestconfig):
    yield from _database("postgres", POSTGRES_URL, tmp_path, pytestconfig)


@pytest.fixture
def sqlite_db(tmp_path, pytestconfig):
    yield from _database("sqlite", f"sqlite:///{tmp_path}/test.db", tmp_path, pytestconfig)


@pytest.fixture
def src(tmp_path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    return folder


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real command line in a new process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "data_processor", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """One real Prefect API server (a subprocess) for the whole session, on PostgreSQL as production runs it (a
    database of its own on the loopback server); yields its URL.

    Not Prefect's test harness: its server keeps its state in SQLite, which answers "database is locked" under the
    flows' concurrent writes, so a task's state or a concurrency slot could lag a minute and a test read RUNNING
    where the run had failed. The harness's steps otherwise (its server registered as the default, the log and
    event workers drained before the server stops)."""
    from prefect.settings import PREFECT_HOME, temporary_settings

    name = f"prefect_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg", database=name)
    try:
        with temporary_settings({PREFECT_HOME: str(tmp_path_factory.mktemp("prefect-home"))}):
            with _prefect_server(url.render_as_string(False), startup_timeout=90) as api:
                yield api
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _prefect_server(database: str, startup_timeout: float):
    """A Prefect server subprocess keeping its state in ``database``, made this process's API and its default
    server. Only the server is told the database: the settings this process passes on (into a rendered Kubernetes
    Job, say) never carry it."""
    import socket

    import prefect.context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = SubprocessASGIServer(port=port)
    prior = SubprocessASGIServer._instances.get(None)
    SubprocessASGIServer._instances[None] = server  # flows that look for a server find this one
    with temporary_settings({PREFECT_SERVER_DATABASE_CONNECTION_URL: database}):
        server.start(timeout=startup_timeout)
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}), \
                prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()):
            yield server.api_url
            APILogWorker.drain_all()
            EventsWorker.drain_all()
    finally:
        server.stop()
        if prior is not None:
            SubprocessASGIServer._instances[None] = prior
        else:
            SubprocessASGIServer._instances.pop(None, None)


@dataclass
class ObjectStore:
    """A real S3 API (moto's server over HTTP on loopback); the process environment points boto at it."""

    endpoint: str

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint)

    def bucket(self) -> str:
        """A new, empty bucket for one test."""
        name = f"b-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, content: str | bytes) -> str:
        """Upload ``content``; returns its ``s3://`` URL."""
        self.client().put_object(Bucket=bucket, Key=key, Body=content.encode() if isinstance(content, str) else content)
        return f"s3://{bucket}/{key}"


@pytest.fixture(scope="session")
def s3():
    """One S3-compatible server for the session, reached the standard way: AWS_ENDPOINT_URL and dummy keys in the
    environment (so the CLI in a subprocess and spawned workers reach it too); no in-process patching."""
    import logging
    import socket

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    settings = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield ObjectStore(settings["AWS_ENDPOINT_URL"])
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
