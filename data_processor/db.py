"""Engines for a destination URL, and the one place a URL is turned into text (always with the password hidden)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import sqlalchemy as sa

from .errors import ConfigError, DatabaseError
from .logs import mask
from .writers import Writer, writer_for

_DEFAULT_DRIVERS = {"mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql", "postgresql": "postgresql+psycopg2"}

_BACKEND_ALIASES = {"postgres": "postgresql"}
"""Names other tools write (libpq, Heroku, Django's settings) for what SQLAlchemy calls ``postgresql``."""

_KEY_VALUE_DSN = re.compile(r"^\s*[a-z_]+\s*=")
"""A libpq connection string (``host=db user=loader password=... dbname=epc``) rather than a URL."""

URL_EXAMPLE = "postgresql://user:password@host:5432/db, mysql://user@host/db or sqlite:///file.db"


def masked(url: str | sa.URL) -> str:
    """The URL as text with its password replaced by ``***``; safe for logs and error messages.

    Also for what is not quite a URL: a libpq ``key=value`` string, a bad port, a password holding an unescaped
    ``@`` (everything up to the last ``@`` is hidden), and ``password=`` in the query.
    """
    try:
        text = sa.make_url(url).render_as_string(hide_password=True)
        if "@" in (sa.make_url(url).host or ""):
            raise ValueError("a password with an unescaped @")
    except Exception:  # not a URL SQLAlchemy can take apart: hide anything that looks like user:password@
        text = re.sub(r"//([^:/@\s]*):\S*@", r"//\1:***@", str(url))
    return mask(text)  # and password=... in the query or a key=value string


def parse_url(url: str) -> sa.URL:
    """``url`` as an SQLAlchemy URL with its default driver; a ConfigError, one line and no secret, if it is not one."""
    if _KEY_VALUE_DSN.match(url):
        raise ConfigError(f"--dest {masked(url)!r} is a libpq key=value string; give a URL instead: {URL_EXAMPLE}")
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"--dest is not a database URL; expected {URL_EXAMPLE}") from None
    except ValueError:  # SQLAlchemy's int() of the port
        raise ConfigError(f"--dest {masked(url)!r}: the port is missing or not a number") from None
    if "@" in (parsed.host or ""):
        raise ConfigError(f"--dest {masked(url)!r} has more than one @: write an @ in the password as %40") from None
    backend, plus, driver = parsed.drivername.partition("+")
    backend = _BACKEND_ALIASES.get(backend, backend)
    parsed = parsed.set(drivername=backend + plus + driver)
    default = _DEFAULT_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=default) if default else parsed


def make_engine(url: str) -> tuple[sa.Engine, Writer]:
    """An engine for ``url`` set up for its bulk path, and the writer module that goes with it."""
    parsed = parse_url(url)
    writer = writer_for(parsed.get_backend_name())
    ports = parsed.query.get("port", ())
    if any(not port.isdigit() for port in ((ports,) if isinstance(ports, str) else ports)):
        raise ConfigError(f"--dest {masked(parsed)!r}: the port in ?port= is not a number")
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True, **writer.engine_options())
    except sa.exc.NoSuchModuleError:
        raise ConfigError(f"--dest {masked(parsed)!r}: SQLAlchemy has no driver {parsed.drivername!r}; "
                          f"leave the driver out (postgresql://, mysql://, sqlite:///) for the default") from None
    except ImportError as exc:
        raise ConfigError(f"no driver for {masked(parsed)}: {exc}") from None
    writer.configure_engine(engine)
    return engine, writer


def check_connection(engine: sa.Engine, writer: Writer) -> None:
    """Fail fast, with one clear line, when the database cannot be reached."""
    with database_errors(engine):
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))


@contextmanager
def database_errors(engine: sa.Engine) -> Iterator[None]:
    """The one boundary where driver errors become ours (as httpx's ``map_exceptions`` does for its transports).

    Catches what the database's driver raises, whether SQLAlchemy wrapped it or a raw cursor (COPY, executemany,
    LOAD DATA) raised it, and raises the writer's translation (transient, full or terminal) naming the database
    with its password hidden. Our own errors pass through untouched.
    """
    writer = writer_for(engine.dialect.name)
    try:
        yield
    except writer.DRIVER_ERRORS as exc:
        raise database_error(exc, engine, writer) from None


P = ParamSpec("P")
R = TypeVar("R")


def raises_database_errors(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` with its driver errors translated by :func:`database_errors` (as dlt's ``@raise_database_error``
    on its SQL client's methods): for functions whose first argument is an engine, or has one (a ``Target``)."""

    @functools.wraps(function)
    def translating(*args: P.args, **kwargs: P.kwargs) -> R:
        with database_errors(getattr(args[0], "engine", args[0])):
            return function(*args, **kwargs)

    return translating


def database_error(exc: BaseException, engine: sa.Engine, writer: Writer) -> DatabaseError:
    """A driver error as our own, worded without secrets (the driver's text never includes the password)."""
    return writer.translate_error(exc).at(masked(engine.url))
