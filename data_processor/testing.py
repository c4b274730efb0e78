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
