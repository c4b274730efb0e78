"""One retry policy for a file whose load hit a transient database error, used by the CLI and the flows alike.

Each attempt is one transaction, so a retry never duplicates rows. The delays cover a restart or a fail-over
(about 100 s in all). A database still failing after all of them is *down*: the process remembers it, and every
later file gets one attempt and fails with :class:`DatabaseDown` instead of waiting through the delays again, so
a run against a database that stays down ends in bounded time, saying so. A success forgets the outage.
"""

from __future__ import annotations

import os
import threading
import time

from .errors import ConfigError

RETRY_DELAYS: tuple[float, ...] = (2.0, 10.0, 30.0, 60.0)
"""Seconds before each retry of a transient failure."""

DELAYS_ENV = "DATA_PROCESSOR_RETRY_DELAYS"
"""Comma-separated seconds overriding :data:`RETRY_DELAYS` (e.g. ``0,1`` in tests, longer for a slow fail-over)."""


def retry_delays() -> tuple[float, ...]:
    text = os.environ.get(DELAYS_ENV, "").strip()
    if not text:
        return RETRY_DELAYS
    try:
        delays = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"{DELAYS_ENV}={text!r}: expected seconds separated by commas, e.g. 2,10,30") from None
    if any(d < 0 for d in delays):
        raise ConfigError(f"{DELAYS_ENV}={text!r}: delays cannot be negative")
    return delays


class Outage:
    """Since when this process has seen only transient database failures (None: the last attempt succeeded)."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._lock = threading.Lock()

    def failed(self) -> None:
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()

    def succeeded(self) -> None:
        with self._lock:
            self._since = None

    def is_down(self) -> bool:
        """True once failures have lasted longer than every retry delay together."""
        with self._lock:
            return self._since is not None and time.monotonic() - self._since >= sum(retry_delays())


outage = Outage()
