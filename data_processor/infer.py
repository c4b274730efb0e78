"""Type inference by elimination, widening as a pure merge (vectorised with Arrow compute).

Every column starts out able to be any type; each non-null value can only rule candidates out. Gathering
(``observe``) and deciding (``decide``) are separate, and ``merge`` is associative, so per-file statistics gathered
in parallel combine into one plan for all files. ``fits`` answers the same questions for validation at load time,
so what the planner accepted the loader accepts.

What a value must look like (anything else makes the column text):

- integer: ``-12``, ``0``, ``+7``; never a leading zero (``007`` is a code and stays text); up to 18 digits,
  wider ones are identifiers and stay text rather than become floats;
- decimal: ``12.50``, ``-0.13``: kept exact (decimal(p, s), p ≤ 38);
- double: exponent forms ``1.5e3`` (only when some value needs it);
- date: ``YYYY-MM-DD``, a real calendar date; timestamp: a date or ``YYYY-MM-DD[ T]HH:MM:SS[.ffffff]``.
  Day-first or month-first forms are ambiguous and stay text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from .types import ColumnPlan, LogicalType

INTEGER = r"^[+-]?(0|[1-9][0-9]*)$"
DECIMAL = r"^[+-]?(0|[1-9][0-9]*)\.[0-9]+$"
EXPONENT = r"^[+-]?(0|[1-9][0-9]*)(\.[0-9]+)?[eE][+-]?[0-9]{1,3}$"
DATE = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}$"
TIMESTAMP = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?$"

MAX_BIGINT_DIGITS = 18
MAX_INTEGER_DIGITS = 9
MAX_DECIMAL_PRECISION = 38
INT32 = (-(2**31), 2**31 - 1)
INT64_MAX = str(2**63 - 1)


@dataclass(frozen=True)
class ColumnStats:
    """What the values of one column allow. ``True`` flags mean "every value seen so far is one"."""

    values: int = 0
    integer: bool = True
    number: bool = True
    double: bool = True
    date: bool = True
    timestamp: bool = True
    int_digits: int = 0
    scale: int = 0


def merge(a: ColumnStats, b: ColumnStats) -> ColumnStats:
    """Statistics of the union of two value sets (associative and commutative)."""
    return ColumnStats(
        values=a.values + b.values,
        integer=a.integer and b.integer,
        number=a.number and b.number,
        double=a.double and b.double,
        date=a.date and b.date,
        timestamp=a.timestamp and b.timestamp,
        int_digits=max(a.int_digits, b.int_digits),
        scale=max(a.scale, b.scale),
    )


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(mask).as_py())


def _number_at(values: pa.Array, start: int, stop: int) -> pa.Array:
    return pc.cast(pc.utf8_slice_codeunits(values, start, stop), pa.int32())


def _valid_dates(values: pa.Array) -> pa.Array:
    """Real calendar dates among ``YYYY-MM-DD…`` strings (integer arithmetic: Arrow's timestamp kernels would roll
    02-30 into March, and load pandas into every worker)."""
    year, month, day = _number_at(values, 0, 4), _number_at(values, 5, 7), _number_at(values, 8, 10)
    leap = pc.and_(pc.equal(pc.bit_wise_and(year, 3), 0),
                   pc.or_(pc.not_equal(pc.divide(year, 100) * 100, year), pc.equal(pc.divide(year, 400) * 400, year)))
    short = pc.is_in(month, value_set=pa.array([4, 6, 9, 11], pa.int32()))
    days = pc.if_else(pc.equal(month, 2), pc.if_else(leap, 29, 28), pc.if_else(short, 30, 31))
    return pc.and_(pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12)),
                   pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, days)))


def _valid_timestamps(values: pa.Array) -> pa.Array:
    hour, minute, second = _number_at(values, 11, 13), _number_at(values, 14, 16), _number_at(values, 17, 19)
    clock = pc.and_(pc.less(hour, 24), pc.and_(pc.less(minute, 60), pc.less(second, 60)))
    return pc.and_(_valid_dates(values), clock)


def _date_mask(values: pa.Array) -> pa.Array:
    shaped = pc.match_substring_regex(values, DATE)
    return pc.and_(shaped, _valid_dates(pc.if_else(shaped, values, "2000-01-01")))


def _timestamp_mask(values: pa.Array, dates: pa.Array | None = None) -> pa.Array:
    shaped = pc.match_substring_regex(values, TIMESTAMP)
    valid = _valid_timestamps(pc.if_else(shaped, values, "2000-01-01 00:00:00"))
    return pc.or_(_date_mask(values) if dates is None else dates, pc.and_(shaped, valid))


def _digit_counts(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Digits before and after the point of each numeric string (sign not counted)."""
    length = pc.utf8_length(values)
    point = pc.find_substring(values, ".")
    signed = pc.cast(pc.match_substring_regex(values, "^[+-]"), pa.int32())
    has_point = pc.greater_equal(point, 0)
    before = pc.subtract(pc.if_else(has_point, point, length), signed)
    after = pc.if_else(has_point, pc.subtract(pc.subtract(length, point), 1), 0)
    return before, after


def observe(column: pa.Array, seen: ColumnStats = ColumnStats()) -> ColumnStats:
    """``seen`` widened by one batch of a string column; tests only the candidates still alive.

    The tests run on the batch's distinct values: real columns repeat themselves (dates, codes, counts), so this
    is many times faster than testing every value, and exactly as strict.
    """
    if not undecided(seen):
        return seen  # already text: nothing left to rule out, not even the count (decide needs only values > 0)
    present = column.drop_null()
    if len(present) == 0:
        return seen
    stats = replace(seen, values=seen.values + len(present))
    values = pc.unique(present)
    if stats.number or stats.double:
        is_int = pc.match_substring_regex(values, INTEGER)
        integer = stats.integer and _all(is_int)
        is_number = is_int if integer else pc.or_(is_int, pc.match_substring_regex(values, DECIMAL))
        number = stats.number and (integer or _all(is_number))
        double = stats.double and (number or _all(pc.or_(is_number, pc.match_substring_regex(values, EXPONENT))))
        stats = replace(stats, integer=integer, number=number, double=double)
        if number:
            before, after = _digit_counts(values)
            stats = replace(
                stats,
                int_digits=max(stats.int_digits, int(pc.max(before).as_py() or 0)),
                scale=max(stats.scale, int(pc.max(after).as_py() or 0)),
            )
    else:
        stats = replace(stats, integer=False)
    if stats.double:
        return replace(stats, date=False, timestamp=False)  # every value is a number: none is a date
    shaped = pc.match_substring_regex(values, DATE if not stats.timestamp else f"{DATE}|{TIMESTAMP}")
    if not _all(shaped):  # the cheap test first: most text columns fall here, before any calendar arithmetic
        return replace(stats, date=False, timestamp=False)
    dates = _date_mask(values) if stats.date else None
    if dates is not None:
        stats = replace(stats, date=_all(dates))
    if stats.timestamp:
        stats = replace(stats, timestamp=stats.date or _all(_timestamp_mask(values, dates)))
    return stats


def undecided(stats: ColumnStats) -> bool:
    """A type other than text is still possible (or no value was seen yet)."""
    return not stats.values or stats.double or stats.timestamp


def decide(stats: ColumnStats) -> tuple[LogicalType, int | None, int | None]:
    """The narrowest type that holds every value seen, as (type, precision, scale)."""
    if stats.values == 0:
        return "text", None, None
    if stats.integer:
        if stats.int_digits <= MAX_INTEGER_DIGITS:
            return "integer", None, None
        if stats.int_digits <= MAX_BIGINT_DIGITS:
            return "bigint", None, None
        return "text", None, None
    if stats.number and stats.int_digits + stats.scale <= MAX_DECIMAL_PRECISION:
        return "decimal", max(stats.int_digits + stats.scale, 1), stats.scale
    if stats.double:
        return "double", None, None
    if stats.date:
        return "date", None, None
    if stats.timestamp:
        return "timestamp", None, None
    return "text", None, None


_ORDER: dict[LogicalType, int] = {"integer": 0, "bigint": 1, "decimal": 2, "double": 3}


def widen(a: ColumnPlan, b: ColumnPlan) -> ColumnPlan:
    """The narrowest column type that holds the values of both (used for an existing table vs new files)."""
    if a.type == b.type and a.type != "decimal":
        return a
    if a.type in _ORDER and b.type in _ORDER:
        if "decimal" in (a.type, b.type) and "double" not in (a.type, b.type):
            if any(c.type == "decimal" and not c.precision for c in (a, b)):
                return replace(a, type="decimal", precision=None, scale=None)  # unbounded already holds it
            scale = max(a.scale or 0, b.scale or 0)
            digits = max(_int_digits(a), _int_digits(b))
            if digits + scale <= MAX_DECIMAL_PRECISION:
                return replace(a, type="decimal", precision=max(digits + scale, 1), scale=scale)
            return replace(a, type="text", precision=None, scale=None)
        return a if _ORDER[a.type] >= _ORDER[b.type] else replace(a, type=b.type)
    if {a.type, b.type} == {"date", "timestamp"}:
        return replace(a, type="timestamp")
    return replace(a, type="text", precision=None, scale=None)


def needed(column: ColumnPlan, stats: ColumnStats) -> ColumnPlan | None:
    """``column`` widened to hold the values ``stats`` describes, or None when it holds them as it is.

    Decided as the planner decides: the values need :func:`decide`'s type, and a column holds it when
    :func:`widen` would keep the column's type (a column with no values holds them).
    """
    if stats.values == 0 or _holds(column, stats):
        return None
    kind, precision, scale = decide(stats)
    return widen(column, replace(column, type=kind, precision=precision, scale=scale))


def _holds(column: ColumnPlan, stats: ColumnStats) -> bool:
    kind, _, _ = decide(stats)
    if column.type == "text" or kind == column.type != "decimal":
        return True
    if kind in ("integer", "bigint", "decimal"):
        if column.type == "decimal":
            return not column.precision or (stats.int_digits <= column.precision - (column.scale or 0)
                                            and stats.scale <= (column.scale or 0))
        return column.type == "double" or (kind == "integer" and column.type == "bigint")
    return kind == "date" and column.type == "timestamp"


def _int_digits(column: ColumnPlan) -> int:
    if column.type == "integer":
        return 10
    if column.type == "bigint":
        return 19
    return (column.precision or 0) - (column.scale or 0)


def fits(values: pa.Array, column: ColumnPlan) -> pa.Array:
    """Boolean mask: true where a string value is null or can be stored in ``column`` without loss.

    Returns the scalar ``True`` when every value fits (the common case), without building a mask.
    """
    if column.type == "text":
        return pa.scalar(True)
    distinct = pc.unique(values.drop_null())
    ok = _fits_distinct(distinct, column)
    if isinstance(ok, pa.Scalar) or pc.all(ok).as_py():
        return pa.scalar(True)
    misfits = pc.filter(distinct, pc.invert(ok))
    return pc.invert(pc.fill_null(pc.is_in(values, value_set=misfits), False))


def _fits_distinct(values: pa.Array, column: ColumnPlan) -> pa.Array:
    kind = column.type
    if kind in ("integer", "bigint"):
        unsigned = pc.utf8_ltrim(values, "+-")  # equal-length digit strings compare as their numbers
        digits = pc.utf8_length(unsigned)
        in_int64 = pc.or_(pc.less(digits, 19), pc.and_(pc.equal(digits, 19), pc.less_equal(unsigned, INT64_MAX)))
        shaped = pc.and_(pc.match_substring_regex(values, INTEGER), in_int64)
        if kind == "integer":
            shaped = pc.and_(shaped, pc.less_equal(digits, 10))
            number = pc.cast(pc.if_else(shaped, pc.utf8_ltrim(values, "+"), "0"), pa.int64())  # Arrow refuses "+7"
            shaped = pc.and_(shaped, pc.and_(pc.greater_equal(number, INT32[0]), pc.less_equal(number, INT32[1])))
        ok = shaped
    elif kind == "decimal":
        ok = pc.or_(pc.match_substring_regex(values, INTEGER), pc.match_substring_regex(values, DECIMAL))
        if column.precision:
            before, after = _digit_counts(pc.if_else(ok, values, "0"))
            scale = column.scale or 0
            ok = pc.and_(ok, pc.and_(pc.less_equal(before, column.precision - scale), pc.less_equal(after, scale)))
    elif kind == "double":
        ok = pc.or_(
            pc.or_(pc.match_substring_regex(values, INTEGER), pc.match_substring_regex(values, DECIMAL)),
            pc.match_substring_regex(values, EXPONENT),
        )
    elif kind == "date":
        ok = _date_mask(values)
    else:
        ok = _timestamp_mask(values)
    return ok
