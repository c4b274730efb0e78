"""Drawing primitives: values made column by column with numpy from small pools of *already CSV-quoted* strings.

Quoting once per pool value with the csv module makes the output byte-for-byte what ``csv.writer`` with
QUOTE_MINIMAL and ``lineterminator="\\n"`` writes, while a row costs one ``",".join``.
"""

from __future__ import annotations

import csv
import io

import numpy as np


def quote(value: str) -> str:
    """The field exactly as ``csv.writer`` (QUOTE_MINIMAL) writes it; done once per pool value, not per row."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([value, ""])
    return buffer.getvalue()[:-2]  # drop the trailing ",\n" of the dummy second field


def quote_fast(value: str) -> str:
    """Per-row quoting for the few generated free-text fields; same rule as the csv module's QUOTE_MINIMAL."""
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\r\n') else value


class Pool:
    """Weighted categorical values, stored quoted, drawn with one ``searchsorted`` per chunk."""

    def __init__(self, weighted: dict[str, float] | list[str]):
        if isinstance(weighted, list):
            weighted = dict.fromkeys(weighted, 1.0)
        self.values = np.array([quote(v) for v in weighted], dtype=object)
        weights = np.array(list(weighted.values()), dtype=float)
        self.cumulative = np.cumsum(weights / weights.sum())
        self.cumulative[-1] = 1.0

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.values[np.searchsorted(self.cumulative, rng.random(n), side="right")]


INTS = np.array([str(i) for i in range(100_001)], dtype=object)
"""Every integer a column holds, as text, so a column of integers becomes text with one fancy index."""


def where(mask: np.ndarray, yes, no) -> np.ndarray:
    return np.where(mask, yes, no).astype(object)


def blank(values: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Blank out about ``share`` of the values (real files have blanks in every kind of column)."""
    if share:
        values = values.copy()
        values[rng.random(len(values)) < share] = ""
    return values


def ints(values: np.ndarray) -> np.ndarray:
    return INTS[np.asarray(values, dtype=np.int64)]


def decimal_pool(draw, places: int, size: int = 4096) -> np.ndarray:
    """``size`` decimal strings ("123.45") from ``draw(size)``; always with a point, never negative."""
    return np.array([f"{v:.{places}f}" for v in np.abs(draw(size))], dtype=object)


def pick(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    return pool[rng.integers(0, len(pool), n)]
