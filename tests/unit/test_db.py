"""db and target: URLs taken and shown without their password, and driver errors translated where they happen.

SQLite is embedded, so these need no server."""

from __future__ import annotations

import pickle

import pytest
import sqlalchemy as sa

from data_processor.db import masked, parse_url, raises_database_errors
from data_processor.errors import ConfigError, DatabaseError, TerminalDatabaseError
from data_processor.target import Target


@pytest.mark.parametrize("url", [
    "postgresql://loader:s3cret@db:5432/epc",
    "postgresql://loader:s3cret@db:notaport/epc",  # not a URL SQLAlchemy can take apart
    "postgresql://loader:s3c@ret@db/epc",  # an unescaped @ in the password
    "host=db user=loader password=s3cret dbname=epc",  # libpq's key=value
    "postgresql://db/epc?user=loader&password=s3cret",
])
def test_a_url_is_never_shown_with_its_password(url):
    assert "s3cret" not in masked(url) and "ret@" not in masked(url)


def test_a_url_gets_its_default_driver_and_a_wrong_one_a_sentence():
    assert parse_url("postgres://u@db/epc").drivername == "postgresql+psycopg2"  # libpq's and Heroku's spelling
    assert parse_url("mysql://u@db/epc").drivername == "mysql+pymysql"
    with pytest.raises(ConfigError, match="libpq key=value"):
        parse_url("host=db user=loader password=s3cret")
    with pytest.raises(ConfigError, match="more than one @") as raised:
        parse_url("postgresql://u:p@ss@db/epc")
    assert "p@ss" not in str(raised.value)


def test_a_target_hides_its_url_and_travels_as_plain_data(tmp_path):
    target = Target("postgresql://loader:s3cret@db/epc", "certificates", "run-1")
    assert "s3cret" not in repr(target) and "s3cret" not in target.database
    assert pickle.loads(pickle.dumps(target)) == target  # to worker processes as it is


def test_a_decorated_functions_driver_error_becomes_ours_naming_the_database(tmp_path):
    @raises_database_errors
    def read_missing(target: Target) -> None:
        with target.engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM missing"))

    target = Target(f"sqlite:///{tmp_path}/x.db", "t")
    with pytest.raises(DatabaseError) as raised:
        read_missing(target)
    assert type(raised.value) is TerminalDatabaseError and "no such table: missing" in raised.value.reason
    assert raised.value.database == target.database and raised.value.__cause__ is None  # no driver traceback
