"""Where a run writes: the database, the table and the run, as one object handed to every job, fan-out and record.

Plain data (the URL, the table, the run's id), so it travels to worker processes and pods as it is; the engine and
the writer that serve the URL are made once per process (:func:`engine_for`) and shared by its files.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .db import database_errors, make_engine, masked
from .writers import Capabilities, Writer

if TYPE_CHECKING:
    from .settings import Settings


@lru_cache(maxsize=4)
def engine_for(url: str) -> tuple[sa.Engine, Writer]:
    """``(engine, writer)`` for a URL, one per process (a pool of connections shared by the process's files)."""
    return make_engine(url)


@dataclass(frozen=True)
class Target:
    """One run's destination. ``dest`` holds the password: it is left out of the object's ``repr``."""

    dest: str = field(repr=False)
    table: str
    run_id: str = ""

    @classmethod
    def of(cls, settings: Settings) -> Target:
        """The target a run's settings name (its run id as set: ``engine.with_run_id`` gives it one)."""
        return cls(settings.dest_url, settings.table, settings.run_id)

    @property
    def engine(self) -> sa.Engine:
        return engine_for(self.dest)[0]

    @property
    def writer(self) -> Writer:
        return engine_for(self.dest)[1]

    @property
    def capabilities(self) -> Capabilities:
        return self.writer.CAPABILITIES

    @property
    def database(self) -> str:
        """The URL as it may be shown: its password hidden."""
        return masked(self.dest)

    def errors(self) -> AbstractContextManager[None]:
        """A block in which the driver's errors become the engine's (transient or terminal, naming the database)."""
        return database_errors(self.engine)
