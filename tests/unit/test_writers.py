"""Every writer module satisfies the ``Writer`` Protocol: each member there, with the Protocol's parameters."""

from __future__ import annotations

import inspect

import pytest
import sqlalchemy as sa

from data_processor.writers import Writer, mysql, postgres, sqlite, writer_for

WRITERS = [postgres, mysql, sqlite]
METHODS = [name for name, member in vars(Writer).items() if inspect.isfunction(member) and not name.startswith("_")]


def test_the_protocol_names_the_surface_the_engine_uses():
    assert set(METHODS) == {"engine_options", "configure_engine", "bulk_write", "copy_file", "translate_error",
                            "ledger_lock", "table_lock", "widen_column", "database_file", "delete_gone", "stored_hashes"}


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__.rsplit(".", 1)[-1])
def test_each_writer_satisfies_the_protocol(writer):
    assert isinstance(writer, Writer)
    for name in METHODS:
        expected = list(inspect.signature(getattr(Writer, name)).parameters)[1:]  # without self
        assert list(inspect.signature(getattr(writer, name)).parameters) == expected, name
    assert isinstance(writer.DRIVER_ERRORS, tuple) and all(issubclass(e, BaseException) for e in writer.DRIVER_ERRORS)


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__.rsplit(".", 1)[-1])
def test_a_raw_file_copy_is_declared_not_probed(writer):
    """``copy_file`` is a capability; a writer that declares it also lets the database stamp ``_file_id``."""
    if writer.CAPABILITIES.copy_file:
        assert writer.CAPABILITIES.file_id_default
    else:
        with sa.create_engine("sqlite://").connect() as conn, pytest.raises(NotImplementedError):
            writer.copy_file(conn, None, None, 0, None)


def test_dialect_names_map_to_writers():
    assert [writer_for(n) for n in ("postgresql", "mysql", "mariadb", "sqlite")] == [postgres, mysql, mysql, sqlite]


def test_filling_makes_room_when_more_rows_come_than_expected():
    import numpy as np

    from data_processor.writers import Filling

    filling = Filling(2)
    for piece in ([1, 2], [3], [4, 5, 6]):
        filling.add(np.array(piece, np.int64))
    assert filling.array().tolist() == [1, 2, 3, 4, 5, 6]
    assert Filling(0).array().tolist() == []
