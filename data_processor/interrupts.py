"""Ctrl-C that is never lost.

Python raises ``KeyboardInterrupt`` wherever the main thread is when SIGINT arrives. Inside a weakref callback or a
``__del__`` (frequent while thousands of futures come and go: 20,000 tiny files) it is printed as "Exception
ignored" and dropped, and the run went on to the end. While ``latched`` is in force the interrupt is also
remembered, and the loops that wait for files' results (``check``) raise it again at the next result.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_pressed = threading.Event()


def _on_interrupt(signum: int, frame: object) -> None:
    _pressed.set()
    raise KeyboardInterrupt


@contextmanager
def latched() -> Iterator[None]:
    """Within the block, Ctrl-C is remembered as well as raised (main thread only, as signal handlers are)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _pressed.clear()


def check() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed, even if its first raise was swallowed."""
    if _pressed.is_set():
        raise KeyboardInterrupt
