import pyarrow as pa
import pytest

from data_processor.infer import ColumnStats, decide, fits, merge, observe, widen
from data_processor.types import ColumnPlan


def infer(*values):
    return decide(observe(pa.array(list(values), pa.string())))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "2", None], ("integer", None, None)),
        (["-5", "+7", "0"], ("integer", None, None)),
        (["007", "1"], ("text", None, None)),  # a leading zero is a code
        (["TS24 8AB"], ("text", None, None)),
        (["123456789012"], ("bigint", None, None)),  # 12-digit UPRN: bigint, never float
        (["89931970062019053113040836250130"], ("text", None, None)),  # 32-digit key: identifier
        (["1", "2.5"], ("decimal", 2, 1)),
        (["-0.13", "12.50"], ("decimal", 4, 2)),
        (["1e5", "2"], ("double", None, None)),
        (["2019-05-31"], ("date", None, None)),
        (["2019-02-30"], ("text", None, None)),  # not a real date
        (["31/05/2019"], ("text", None, None)),  # ambiguous order
        (["2019-05-31 13:04:08", "2019-01-01"], ("timestamp", None, None)),
        (["2019-05-31T13:04:08.123"], ("timestamp", None, None)),
        (["None", "N/A"], ("text", None, None)),
        ([None, None], ("text", None, None)),
        (["NaN", "1"], ("text", None, None)),
        (["1.0", "Ground"], ("text", None, None)),
    ],
)
def test_decide(values, expected):
    assert infer(*values) == expected


def test_merge_widens_across_files():
    ints = observe(pa.array(["1", "2"]))
    decimals = observe(pa.array(["3.25"]))
    words = observe(pa.array(["three"]))
    assert decide(merge(ints, decimals)) == ("decimal", 3, 2)
    assert decide(merge(merge(ints, decimals), words))[0] == "text"
    assert merge(ints, ColumnStats()) == ints


def test_merge_is_associative():
    a, b, c = (observe(pa.array(v)) for v in (["1"], ["22.5"], ["2020-01-01"]))
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


def test_blank_only_batches_do_not_change_the_type():
    stats = observe(pa.array(["1"]))
    assert observe(pa.array([None, None], pa.string()), stats) == stats


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [
        (ColumnPlan("a", "a", "integer"), ["1", "x", None, "3000000000"], [True, False, True, False]),
        (ColumnPlan("a", "a", "bigint"), ["3000000000", "1.5"], [True, False]),
        (ColumnPlan("a", "a", "decimal", 4, 2), ["1.234", "12.5", "123.1"], [False, True, False]),
        (ColumnPlan("a", "a", "date"), ["2020-02-29", "2019-02-29", "x"], [True, False, False]),
        (ColumnPlan("a", "a", "timestamp"), ["2020-02-29 10:00:00", "2020-02-29", "2020-02-29 25:00:00"],
         [True, True, False]),
    ],
)
def test_fits(column, values, expected):
    assert fits(pa.array(values, pa.string()), column).to_pylist() == expected


def test_fits_is_a_scalar_true_when_everything_fits():
    assert fits(pa.array(["1", None, "1"]), ColumnPlan("a", "a", "integer")).as_py() is True


def test_widen_existing_column():
    integer, text = ColumnPlan("a", "a", "integer"), ColumnPlan("a", "a", "text")
    assert widen(integer, ColumnPlan("a", "a", "bigint")).type == "bigint"
    assert widen(integer, text).type == "text"
    assert widen(ColumnPlan("a", "a", "date"), ColumnPlan("a", "a", "timestamp")).type == "timestamp"
    assert widen(integer, ColumnPlan("a", "a", "decimal", 4, 2)).describe() == "decimal(12,2)"


def test_widen_never_narrows_an_unbounded_numeric():
    unbounded = ColumnPlan("a", "a", "decimal")
    assert widen(unbounded, ColumnPlan("a", "a", "decimal", 4, 2)).describe() == "decimal"
