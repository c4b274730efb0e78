"""validate: which rows of a batch can load, and the one-line reason of each that cannot."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from data_processor.types import ColumnPlan, CsvDialect, FilePlan, LoadPlan, SourceFile
from data_processor.validate import check_batch


def check(columns: dict[str, str | tuple], rows: list[tuple], unverified=None, has_nul=False, encoding="utf-8"):
    """``rows`` (bytes or None per column) checked against ``columns`` ({name: type or (type, precision, scale)});
    every column is unverified (set by a schema file) unless ``unverified`` says otherwise.
    Returns (good rows as dicts, kept positions, {position: reason})."""
    names = list(columns)
    plans = tuple(ColumnPlan(n, n, *(t if isinstance(t, tuple) else (t,))) for n, t in columns.items())
    file = FilePlan(SourceFile(Path("x.csv"), "x.csv", 0), CsvDialect(encoding=encoding), "", tuple(names),
                    tuple(names), has_nul=has_nul)
    plan = LoadPlan("t", plans, (file,), unverified=frozenset(names if unverified is None else unverified))
    arrays = [pa.array([r[i] for r in rows], pa.binary()) for i in range(len(names))]
    checked = check_batch(pa.record_batch(arrays, names=[f"f{i}" for i in range(len(names))]), file, plan)
    return checked.good.to_pylist(), checked.kept.tolist(), checked.bad


@pytest.mark.parametrize(
    ("kind", "value", "fits"),
    [
        ("integer", b"12", True),
        ("integer", b"-12", True),
        ("integer", b"+7", True),  # documented as an integer; must not fail the whole file
        ("integer", b"0", True),
        ("integer", b"007", False),  # a leading zero: a code, which the database would turn into 7
        ("integer", b" 12", False),  # whitespace the database would silently drop
        ("integer", b"12 ", False),
        ("integer", b"2147483647", True),
        ("integer", b"2147483648", False),
        ("integer", b"-2147483648", True),
        ("integer", b"9999999999999999999", False),  # 19 digits: out of range, not a crash
        ("integer", b"12.0", False),
        ("integer", b"1e3", False),
        ("bigint", b"123456789012", True),
        ("bigint", b"+123456789012", True),
        ("bigint", b"9223372036854775807", True),
        ("bigint", b"9223372036854775808", False),  # one past the largest bigint
        ("bigint", b"99999999999999999999", False),
        ("bigint", b"0123", False),
        (("decimal", 4, 2), b"12.34", True),
        (("decimal", 4, 2), b"-12.3", True),
        (("decimal", 4, 2), b"12", True),
        (("decimal", 4, 2), b"12.345", False),  # more decimal places than the scale: would be rounded
        (("decimal", 4, 2), b"123.4", False),  # more integer digits than precision - scale
        (("decimal", 4, 2), b"1,5", False),  # a decimal comma
        (("decimal", 4, 2), b"1e1", False),
        (("decimal",), b"123456789.123456789", True),  # no precision: any exact number
        ("double", b"1.5e3", True),
        ("double", b"-2", True),
        ("double", b"NaN", False),
        ("date", b"2020-02-29", True),
        ("date", b"2019-02-29", False),  # not a real date
        ("date", b"31/01/2020", False),  # day-first: ambiguous, the database would guess
        ("date", b"01/31/2020", False),
        ("date", b"2020-1-5", False),
        ("date", b"2020-01-31 10:00:00", False),
        ("date", b" 2020-01-31", False),
        ("timestamp", b"2020-01-31 10:00:00", True),
        ("timestamp", b"2020-01-31T10:00:00.123456", True),
        ("timestamp", b"2020-01-31", True),
        ("timestamp", b"2020-01-31 24:00:00", False),
        ("timestamp", b"31/01/2020 10:00", False),
        ("text", b" 007 \xc2\xa3", True),  # text takes any valid text as it is
    ],
)
def test_a_value_fits_its_column_or_the_row_is_rejected(kind, value, fits):
    kind = kind if isinstance(kind, tuple) else (kind,)
    surely_good = b"2020-01-01" if kind[0] in ("date", "timestamp") else b"1"
    good, kept, bad = check({"v": kind}, [(surely_good,), (value,)])
    assert kept == ([0, 1] if fits else [0])
    described = ColumnPlan("v", "v", *kind).describe()
    assert bad == ({} if fits else {1: f"column v: {value.decode()!r} is not a valid {described}"})
    assert len(good) == len(kept)


def test_only_unverified_columns_are_type_checked():
    """The planning scan saw every value of an inferred column: checking again would only cost time."""
    rows = [(b"x", b"y")]
    assert check({"a": "integer", "b": "integer"}, rows, unverified={"b"})[2] == {
        0: "column b: 'y' is not a valid integer"}
    assert check({"a": "integer", "b": "integer"}, rows, unverified=set())[2] == {}


def test_nulls_fit_every_type():
    good, kept, bad = check({"n": "integer", "d": "date"}, [(None, None)])
    assert (good, kept, bad) == ([{"n": None, "d": None}], [0], {})


@pytest.mark.parametrize(
    ("value", "encoding", "reason"),
    [
        (b"\xff", "utf-8", "column v: bytes that are not valid utf-8"),
        (b"caf\xc3", "utf-8", "column v: bytes that are not valid utf-8"),  # a character cut short
        (b"\xc3\xa9", "utf-8", None),
    ],
)
def test_bytes_that_are_not_valid_text(value, encoding, reason):
    _, _, bad = check({"v": "text"}, [(value,)], encoding=encoding)
    assert bad == ({} if reason is None else {0: reason})


def test_a_nul_byte_is_rejected_only_in_a_file_the_fingerprint_found_one_in():
    rows = [(b"1", b"a"), (b"2", b"x\x00y"), (b"3", b"c")]
    good, kept, bad = check({"id": "integer", "v": "text"}, rows, has_nul=True)
    assert bad == {1: "column v: 'x\\x00y' is a NUL byte"}
    assert (kept, [r["id"] for r in good]) == ([0, 2], ["1", "3"])
    assert check({"id": "integer", "v": "text"}, rows, has_nul=False)[2] == {}  # the fast path trusts the fingerprint


def test_the_first_problem_of_a_row_names_it_and_good_rows_keep_their_positions():
    rows = [(b"1", b"2020-01-01"), (b"x", b"\xff"), (b"3", b"31/12/2020"), (b"4", b"2020-12-31")]
    good, kept, bad = check({"id": "integer", "day": "date"}, rows)
    assert bad == {1: "column id: 'x' is not a valid integer", 2: "column day: '31/12/2020' is not a valid date"}
    assert kept == [0, 3]
    assert good == [{"id": "1", "day": "2020-01-01"}, {"id": "4", "day": "2020-12-31"}]  # strings, table names


def test_a_long_value_is_cut_in_its_reason():
    _, _, bad = check({"n": "integer"}, [(b"9" * 30 + b"x" * 100,)])
    assert bad == {0: f"column n: '{'9' * 30 + 'x' * 50}…' is not a valid integer"}


def test_a_clean_batch_keeps_every_row_in_order():
    good, kept, bad = check({"n": "integer"}, [(str(i).encode(),) for i in range(1000)])
    assert bad == {} and kept == list(range(1000)) and good[-1] == {"n": "999"}
