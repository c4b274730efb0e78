"""Every error the engine raises on purpose.

Each class keeps its inputs as attributes and builds one sentence from them, so the CLI can print it as the whole
story (file, line, reason) and the flows can use it as a state message. Messages never contain secrets: database
URLs are rendered with their password hidden before they reach an error.

The CLI maps the branches to exit codes: ``UsageError`` and ``ConfigError`` → 2, a failed file → 1.
"""

from __future__ import annotations

from .text import plural
from .types import Failure


def failure(file: str, exc: BaseException) -> Failure:
    """``exc`` as the failure of ``file``: an error of a file (:class:`InputError`) keeps its line and reason as
    they are; any other is its sentence. Every failed file's error becomes a :class:`Failure` here."""
    if isinstance(exc, InputError):
        return Failure(file, exc.reason, exc.line, type(exc).__name__)
    return Failure.parse(file, str(exc), type(exc).__name__)


class DataProcessorError(Exception):
    """Base of every expected error: the CLI prints its message, never a traceback."""

    exit_code = 1

    def __reduce__(self) -> tuple:
        """Pickled with its parts (a worker process raises it, the run reads it): Python's default rebuilds an
        exception by calling its class with the message alone, which fails for a class that takes its parts."""
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(kind: type[DataProcessorError], args: tuple, parts: dict) -> DataProcessorError:
    error = kind.__new__(kind)
    Exception.__init__(error, *args)
    error.__dict__.update(parts)
    return error


# -- configuration and usage -------------------------------------------------------------------------------------


class ConfigError(DataProcessorError, ValueError):
    """The command line, the environment or a schema file asks for something impossible."""

    exit_code = 2


class NoFilesMatched(ConfigError):
    """The glob matched no readable file: almost always a wrong folder or pattern."""

    def __init__(self, src: str, pattern: str) -> None:
        self.src, self.pattern = src, pattern
        super().__init__(f"no file under {src!r} matches {pattern!r}")


class TableLocked(ConfigError):
    """Another run is loading the same table; two runs never interleave."""

    def __init__(self, table: str, waited: float) -> None:
        self.table, self.waited = table, waited
        super().__init__(
            f"another data-processor run is loading table {table!r} (waited {waited:.0f} s); "
            "try again when it has finished, or raise --lock-timeout"
        )


# -- input -------------------------------------------------------------------------------------------------------


class WorkerDied(DataProcessorError):
    """A worker process was killed (out of memory, a signal) mid-run; its file's transaction rolled back."""

    def __init__(self, file: str) -> None:
        self.file = file
        super().__init__(
            f"{file}: a worker process died (killed, or out of memory) while loading it; files not yet committed "
            "were rolled back and will load on the next run"
        )


class InputError(DataProcessorError):
    """A file cannot be loaded as a whole (its rows are not the problem, the file is)."""

    def __init__(self, file: str, reason: str, line: int | None = None) -> None:
        self.file, self.reason, self.line = file, reason, line
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {reason}")


class TooManyRejects(InputError):
    """More bad rows than --max-bad-rows: the file fails whole and nothing of it is committed."""

    def __init__(self, file: str, rejected: int, limit: int, first_reason: str, first_line: int | None = None) -> None:
        self.rejected, self.limit, self.first_line = rejected, limit, first_line
        first = f"first, line {first_line}" if first_line is not None else "first"
        super().__init__(file, f"{plural(rejected, 'bad row')} exceed{'s' if rejected == 1 else ''} "
                         f"--max-bad-rows {limit} ({first}: {first_reason})")


class FileChanged(InputError):
    """The file's bytes changed after it was planned or while it was read: nothing of it is committed."""

    def __init__(self, file: str) -> None:
        super().__init__(file, "changed during the load (its bytes no longer match the sha256 taken when it was "
                         "planned); nothing of it was committed: the next run loads it whole")


class ReconciliationError(InputError):
    """Rows read != rows loaded + rows rejected: something was lost, so nothing is committed."""

    def __init__(self, file: str, read: int, loaded: int, rejected: int) -> None:
        self.read, self.loaded, self.rejected = read, loaded, rejected
        super().__init__(file, f"read {read} rows but loaded {loaded} + rejected {rejected}; nothing committed")


# -- database ----------------------------------------------------------------------------------------------------


class DatabaseError(DataProcessorError):
    """The database refused or dropped us; ``reason`` is the driver's first line, ``database`` the masked URL."""

    exit_code = 2

    def __init__(self, reason: str, database: str = "") -> None:
        self.reason, self.database = reason, database
        super().__init__(self.sentence())

    def sentence(self) -> str:
        return f"database {self.database}: {self.reason}" if self.database else self.reason

    def at(self, database: str) -> DatabaseError:
        """The same error, naming the database (its URL with the password hidden)."""
        return type(self)(self.reason, database)


class TransientDatabaseError(DatabaseError):
    """Worth retrying: connection lost, server restarting, deadlock, lock timeout."""


class TerminalDatabaseError(DatabaseError):
    """Retrying will not help: bad credentials, missing database, permission denied, a limit of the database."""


class DatabaseFull(TerminalDatabaseError):
    """The disk (or tablespace, or SQLite file's limit) is full: nothing more can be written until space is freed."""

    def sentence(self) -> str:
        where = f" ({self.database})" if self.database else ""
        return (f"database full{where}: {self.reason}; free space (or grow the disk or tablespace) and run again: "
                "nothing of an unfinished file was committed")


class DatabaseDown(TerminalDatabaseError):
    """The database stayed unreachable through every retry: the run stops instead of retrying file after file."""

    def sentence(self) -> str:
        where = f" {self.database}" if self.database else ""
        return (f"database{where} unreachable ({self.reason}); gave up: files not committed will load on the "
                "next run")


class TableLockLost(TerminalDatabaseError):
    """Another run took the table's lock while this one ran (the lock died with its connection in a restart)."""

    def __init__(self, table: str, database: str = "") -> None:
        self.table = table
        super().__init__(table, database)

    def sentence(self) -> str:
        return (f"lost the lock on table {self.table!r} (the database restarted or the connection dropped) and "
                "another run now holds it: this run stops loading; that run loads what is left")

    def at(self, database: str) -> DatabaseError:
        return TableLockLost(self.table, database)


# -- fetch -------------------------------------------------------------------------------------------------------


class FetchError(DataProcessorError):
    """A download ended without a good file in place; a partial file stays for the next run to resume."""


class BadDownload(FetchError):
    """The bytes arrived but are not the file: wrong size, or a zip whose central directory does not read."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason
        super().__init__(f"{name}: {reason}; nothing was put in place")


class ServiceError(FetchError):
    """The service or the destination could not be reached, or kept failing after every retry."""

    exit_code = 2


class ServiceRefused(ServiceError):
    """The service refused the credentials (HTTP 401/403): retrying will not help."""


class FileNotOnService(ServiceError):
    """The service has no such file (HTTP 404): a wrong dataset or URL."""
