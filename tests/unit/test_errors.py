"""errors: every expected error keeps its parts, says one sentence, and maps to the CLI's exit code."""

from __future__ import annotations

import pickle

import pytest

from data_processor.errors import (
    ConfigError, DatabaseDown, DatabaseError, DatabaseFull, FileChanged, InputError, ReconciliationError,
    TableLockLost, TerminalDatabaseError, TooManyRejects, TransientDatabaseError, WorkerDied, failure,
)
from data_processor.types import Failure


def test_exit_codes_say_whose_fault_it_is():
    """2: the command, the environment or the database; 1: a file that failed."""
    assert (ConfigError("x").exit_code, DatabaseError("x").exit_code, InputError("a.csv", "x").exit_code) == (2, 2, 1)


def test_an_input_error_names_the_file_and_the_line_once():
    assert str(InputError("a.csv", "bad quote", 3)) == "a.csv, line 3: bad quote"
    assert str(TooManyRejects("a.csv", 1, 0, "short row")) == \
        "a.csv: 1 bad row exceeds --max-bad-rows 0 (first: short row)"
    assert "read 3 rows but loaded 1 + rejected 1" in str(ReconciliationError("a.csv", 3, 1, 1))
    assert str(FileChanged("a.csv")).startswith("a.csv: changed during the load")


@pytest.mark.parametrize("kind", [TransientDatabaseError, TerminalDatabaseError, DatabaseFull, DatabaseDown])
def test_a_database_error_named_at_its_database_keeps_its_class(kind):
    """Transient or terminal is the class: naming the database must not turn one into the other."""
    named = kind("connection refused").at("postgresql://loader:***@db/epc")
    assert type(named) is kind and named.reason == "connection refused"
    assert "postgresql://loader:***@db/epc" in str(named)


def test_a_lost_table_lock_keeps_its_table_when_named_at_its_database():
    lost = TableLockLost("certificates").at("sqlite:///x.db")
    assert (type(lost), lost.table, lost.database) == (TableLockLost, "certificates", "sqlite:///x.db")
    assert "another run now holds it" in str(lost)


def test_a_failure_keeps_its_parts_and_says_its_file_once():
    assert failure("a.csv", InputError("a.csv", "bad quote", 3)) == Failure("a.csv", "bad quote", 3, "InputError")
    assert str(Failure("a.csv", "bad quote", 3)) == "a.csv, line 3: bad quote"
    assert failure("a.csv", TooManyRejects("a.csv", 3, 2, "bad")).kind == "TooManyRejects"
    died = failure("a.csv", WorkerDied("a.csv"))  # its message already leads with the file
    assert str(died).count("a.csv") == 1 and died.reason.startswith("a worker process died")
    full = failure("a.csv", DatabaseFull("disk full", "postgresql://u:***@db/epc"))
    sentence = str(DatabaseFull("disk full", "postgresql://u:***@db/epc"))
    assert (full.kind, str(full)) == ("DatabaseFull", f"a.csv: {sentence}")


def test_a_sentence_read_back_is_taken_apart_where_it_names_its_file():
    assert Failure.parse("a.csv", "a.csv, line 12: bad\nquote") == Failure("a.csv", "bad\nquote", 12)
    assert Failure.parse("a.csv", "a.csv: gone") == Failure("a.csv", "gone")
    assert Failure.parse("a.csv", "no heartbeat") == Failure("a.csv", "no heartbeat")
    assert Failure.parse("a.csv", "ab.csv: gone").reason == "ab.csv: gone"  # another file's name is not its own
    assert Failure.parse("a[1].csv", "a[1].csv, line 2: x") == Failure("a[1].csv", "x", 2)  # names are literal


def test_errors_cross_processes_whole():
    """A worker process raises them; the pool pickles them back to the run. Python's default calls the class with
    the message alone: the input errors failed to unpickle, and a lost lock came back naming its message as table."""
    for error in (InputError("a.csv", "bad", 2), TooManyRejects("a.csv", 3, 2, "bad"), WorkerDied("a.csv"),
                  TableLockLost("certificates").at("sqlite:///x.db"), DatabaseDown("gone", "db"), ConfigError("x")):
        back = pickle.loads(pickle.dumps(error))
        assert (type(back), str(back), back.__dict__) == (type(error), str(error), error.__dict__)
