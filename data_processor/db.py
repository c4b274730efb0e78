"""Engines for a destination URL, and the one place a URL is turned into text (always with the password hidden)."""

from __future__ import annotations

import os
import re
from types import ModuleType

import sqlalchemy as sa

from .errors import ConfigError, TerminalDatabaseError, TransientDatabaseError
from .writers import writer_for

DEFAULT_DEST = "sqlite:///data_processor.db"
"""Where a load goes when neither --dest nor DEST_SQL says: a SQLite file in the current folder."""

_DEFAULT_DRIVERS = {"mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql", "postgresql": "postgresql+psycopg2"}


def destination(url: str | None = None) -> str:
    """``url``, else ``DEST_SQL`` (the original script's variable, a Kubernetes Secret in a pod), else the default."""
    return url or os.environ.get("DEST_SQL") or DEFAULT_DEST


def masked(url: str | sa.URL) -> str:
    """The URL as text with its password replaced by ``***``; safe for logs and error messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: hide anything that looks like user:password@
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", str(url))


def parse_url(url: str) -> sa.URL:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"--dest {masked(url)!r} is not a database URL (e.g. postgresql://user@host/db)") from None
    driver = _DEFAULT_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def make_engine(url: str) -> tuple[sa.Engine, ModuleType]:
    """An engine for ``url`` set up for its bulk path, and the writer module that goes with it."""
    parsed = parse_url(url)
    writer = writer_for(parsed.get_backend_name())
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True, **writer.engine_options())
    except ImportError as exc:
        raise ConfigError(f"no driver for {masked(parsed)}: {exc}") from None
    writer.configure_engine(engine)
    return engine, writer


def check_connection(engine: sa.Engine, writer: ModuleType) -> None:
    """Fail fast, with one clear line, when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        raise database_error(exc, engine, writer) from None


def database_error(exc: sa.exc.DBAPIError, engine: sa.Engine, writer: ModuleType) -> Exception:
    """A driver error as our own, worded without secrets (the driver's text never includes the password)."""
    first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    message = f"database {masked(engine.url)}: {first_line}"
    return TransientDatabaseError(message) if writer.is_transient(exc) else TerminalDatabaseError(message)
