"""Check a file against the planned types while it loads, in the same pass over its bytes.

For a file the planning scan did not read (``FilePlan.verify``: the table already had all its columns), the
load gathers the statistics of its typed columns as the batches go by, exactly as the planner would
(:func:`infer.observe`), and asks whether each planned column holds them (:func:`infer.needed`). Text columns
need no check: any bytes fit text, and the fingerprint already checked the encoding and NUL bytes. A value that
does not fit must neither load silently changed (PostgreSQL reads ``007`` into an integer column as 7, rounds
``1.234`` into numeric(5,2)) nor become a reject: the file is a :class:`Misfit`, carrying every column it needs
widened, and its transaction rolls back.

On PostgreSQL, :func:`copy_verified` makes that one pass: the reader's blocks are handed to a ``COPY`` running in
a second thread, so the server parses the file while this process checks it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from . import infer
from .read import as_text
from .types import ColumnPlan, FilePlan, LoadPlan


class Misfit(Exception):
    """Values of the file do not fit their columns' planned types; ``widen`` is what the columns must become."""

    def __init__(self, widen: tuple[ColumnPlan, ...]) -> None:
        self.widen = widen
        super().__init__(", ".join(f"{c.name} needs {c.describe()}" for c in widen))


class Verifier:
    """Statistics of a file's typed columns (not those a schema file set: their bad values are rejects)."""

    def __init__(self, plan: LoadPlan, file: FilePlan) -> None:
        planned = {c.name: c for c in plan.columns}
        self.columns = {position: planned[name] for position, name in enumerate(file.columns)
                        if name not in plan.unverified and planned[name].type != "text"}
        self.stats = {position: infer.ColumnStats() for position in self.columns}
        self.misfit = False
        """Some value seen so far does not fit: writing more of the file is wasted work."""

    def observe(self, batch: pa.RecordBatch, positions: Sequence[int], valid_utf8: bool = True) -> None:
        """Add a batch whose columns are the file's columns at ``positions`` (binary or string)."""
        for column, position in zip(batch.columns, positions):
            column_plan = self.columns.get(position)
            if column_plan is None:
                continue
            text = column if column.type == pa.string() else as_text(column, valid_utf8)
            self.stats[position] = infer.observe(text, self.stats[position])
            self.misfit = self.misfit or infer.needed(column_plan, self.stats[position]) is not None

    def widen(self) -> tuple[ColumnPlan, ...]:
        """Every column whose planned type does not hold the values seen, as the column it must become."""
        return tuple(wider for position, column in self.columns.items()
                     if (wider := infer.needed(column, self.stats[position])) is not None)

    def check(self) -> None:
        """Raise :class:`Misfit` when a column must be widened."""
        if widen := self.widen():
            raise Misfit(widen)


class _Aborted(Exception):
    """The reading side gave up: the COPY must end in an error, never with a partial file."""


_END, _ABORT = b"", object()


class Pipe:
    """Blocks handed from a reader (``put``, e.g. as its tap) to a consumer in another thread (``run``), a few at
    a time. When the consumer ends, early or not, later blocks are dropped, so the reader can always go on."""

    def __init__(self, depth: int = 8) -> None:
        self._blocks: queue.Queue = queue.Queue(depth)
        self._gone = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.aborted = False
        """The reading side ended the consumer on purpose (its error then says nothing about the database)."""

    def put(self, block: bytes | object) -> None:
        if not self._gone.is_set():
            self._blocks.put(bytes(block) if isinstance(block, (bytes, bytearray, memoryview)) else block)

    def read(self, _size: int = -1) -> bytes:
        """The consumer's side: the next block, b"" at the end; raises if the reader gave up."""
        block = self._blocks.get()
        if block is _ABORT:
            raise _Aborted("the reading side stopped")
        return block

    def end(self) -> None:
        self.put(_END)

    def abort(self) -> None:
        self.aborted = True
        self.put(_ABORT)

    def broken(self, expected: type[BaseException]) -> BaseException | None:
        """The consumer's error, unless it was ``expected`` or the reading side's own abort."""
        return None if self.aborted or isinstance(self.error, expected) else self.error

    def start(self, consume: Callable[[Pipe], Any]) -> threading.Thread:
        thread = threading.Thread(target=self._run, args=(consume,), name="copy", daemon=True)
        thread.start()
        return thread

    def _run(self, consume: Callable[[Pipe], Any]) -> None:
        try:
            self.result = consume(self)
        except BaseException as exc:  # handed to the reading thread, which decides what it means
            self.error = exc
        finally:
            self._gone.set()
            while True:  # unblock a reader waiting for room
                try:
                    self._blocks.get_nowait()
                except queue.Empty:
                    break
