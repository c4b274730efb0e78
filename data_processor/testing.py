"""Named pause points, so a test can stop the engine at a known moment (then kill it, restart the database, …).

A test sets ``DATA_PROCESSOR_PAUSE_AT`` to a point's name and ``DATA_PROCESSOR_PAUSE_DIR`` to a folder; the first
process to reach that point writes ``<name>.reached`` there (holding its pid) and waits until ``<name>.go`` exists.
Without the variables a pause point costs one dictionary lookup. Tests never race a timer: they wait for
``.reached``, act, and release with ``.go``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import BinaryIO

PAUSE_AT = "DATA_PROCESSOR_PAUSE_AT"
PAUSE_DIR = "DATA_PROCESSOR_PAUSE_DIR"
MAX_WAIT = 300.0
"""A pause never outlives a forgotten test by more than this many seconds."""


def pause_point(name: str) -> None:
    """Wait here while a test holds point ``name``; a no-op unless the test variables name it."""
    if os.environ.get(PAUSE_AT) != name:
        return
    folder = Path(os.environ.get(PAUSE_DIR) or ".")
    go = folder / f"{name}.go"
    (folder / f"{name}.reached.tmp-{os.getpid()}").write_text(str(os.getpid()))
    try:  # the first process to arrive owns the point; the others do not wait
        os.link(folder / f"{name}.reached.tmp-{os.getpid()}", folder / f"{name}.reached")
    except FileExistsError:
        return
    finally:
        os.unlink(folder / f"{name}.reached.tmp-{os.getpid()}")
    deadline = time.monotonic() + MAX_WAIT
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def paused_reader(stream: BinaryIO, name: str) -> BinaryIO:
    """``stream``, pausing at ``name`` after its first read when a test asked for it (a fault mid-stream, e.g. a
    connection ended in the middle of a COPY); ``stream`` itself otherwise."""
    return _PauseAfterFirstRead(stream, name) if os.environ.get(PAUSE_AT) == name else stream


class _PauseAfterFirstRead:
    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._stream, self._name, self._reads = stream, name, 0

    def read(self, size: int = -1) -> bytes:
        self._reads += 1
        if self._reads == 2:
            pause_point(self._name)
        return self._stream.read(size)
