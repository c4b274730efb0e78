"""Check one batch against the plan: decode, find the rows that cannot load, keep the rest (vectorised).

A row is bad when a field's bytes are not valid in the file's encoding, when it holds a NUL byte (no database
stores one in text) or when a value does not fit its column's planned type. The first problem found names the
row's reason; the rest of the batch goes on at full speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .infer import fits
from .read import decode_utf8
from .types import FilePlan, LoadPlan

_SHOW = 80


@dataclass(frozen=True)
class Checked:
    good: pa.RecordBatch
    """Rows that can load, as strings, columns named as in the table."""
    kept: np.ndarray
    """Positions of ``good``'s rows in the input batch."""
    bad: dict[int, str]
    """Position in the input batch → reason."""


def check_batch(batch: pa.RecordBatch, file: FilePlan, plan: LoadPlan) -> Checked:
    """Types are checked only for ``plan.unverified`` columns: the planning scan saw every other value."""
    bad: dict[int, str] = {}
    arrays = []
    for position, name in enumerate(file.columns):
        column = batch.column(position)
        text, undecodable = (column.view(pa.string()), []) if file.valid_utf8 else decode_utf8(column)
        for row in undecodable:
            bad.setdefault(row, f"column {name}: bytes that are not valid {file.dialect.encoding}")
        if file.has_nul:
            _mark(bad, pc.invert(pc.fill_null(pc.match_substring(text, "\x00"), False)), text, name, "a NUL byte")
        if name in plan.unverified:
            column = plan.column(name)
            if column.type != "text":
                _mark(bad, fits(text, column), text, name, f"not a valid {column.describe()}")
        arrays.append(text)
    good = pa.RecordBatch.from_arrays(arrays, names=list(file.columns))
    if not bad:
        return Checked(good, np.arange(batch.num_rows), bad)
    keep = np.ones(batch.num_rows, dtype=bool)
    keep[list(bad)] = False
    return Checked(good.filter(pa.array(keep)), np.flatnonzero(keep), bad)


def _mark(bad: dict[int, str], ok: pa.Array, text: pa.Array, name: str, problem: str) -> None:
    if isinstance(ok, pa.Scalar) or pc.all(ok).as_py():
        return
    for row in np.flatnonzero(~ok.to_numpy(zero_copy_only=False)):
        value = text[int(row)].as_py()
        shown = value if value is None or len(value) <= _SHOW else value[:_SHOW] + "…"
        bad.setdefault(int(row), f"column {name}: {shown!r} is {problem}")
