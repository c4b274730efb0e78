"""Slots of the writers' global concurrency limit, asked for so that a load never waits longer than it must.

Prefect's ``concurrency()`` waits out a busy limit by sleeping whatever the server's ``Retry-After`` says: up to 30 s,
and more with its jitter, however soon the slot comes free; two 0.02 s loads were seen to wait 62.5 s each that way,
with no line saying why. Here a refused ask is made again soon (0.5 s, backing off to 5 s), and the wait is logged,
naming the limit. A local run asks once for all its writers' slots (:func:`writer_slots`), not once per file: on a
SQLite-backed Prefect server each ask took about a second, which was most of a small file's time in the flow.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound

from data_processor.errors import ConfigError
from data_processor.text import plural

LEASE_SECONDS = 60
"""A slot's lease, renewed while it is held: the least Prefect's server takes, so a lost pod's slot returns soonest."""

FIRST_RETRY, LAST_RETRY = 0.5, 5.0
"""Seconds before asking a busy limit again: the first, and the most it backs off to."""

WAIT_LOG_EVERY = 60.0
"""Seconds between the lines that say a load is still waiting for a slot."""


@contextmanager
def writer_slots(limit: str, wanted: int, logger, *, fewer_ok: bool = False) -> Iterator[int]:  # noqa: ANN001
    """Hold up to ``wanted`` slots of ``limit`` while the block runs; yields how many are held.

    Never more than the limit's size. ``fewer_ok``: once any slot is free, take what is free rather than wait for
    all ``wanted`` (a run's threads then write with as many as it got). The slots are leased and the lease renewed
    while held; a renewal that fails does not stop a load mid-file (the cap is briefly one writer loose at worst).
    An empty ``limit`` holds nothing and yields ``wanted``.
    """
    if not limit:
        yield wanted
        return
    size, free = _limit_state(limit)
    wanted = min(wanted, size)
    held, started, delay, logged = ExitStack(), time.monotonic(), FIRST_RETRY, None
    while True:
        ask = max(1, min(wanted, free)) if fewer_ok else wanted
        try:
            held.enter_context(concurrency(limit, occupy=ask, max_retries=0, strict=True, lease_duration=LEASE_SECONDS,
                                           raise_on_lease_renewal_failure=False))
            break
        except Exception as exc:  # noqa: BLE001 - ConcurrencySlotAcquisitionError; only a busy limit is waited on
            if getattr(getattr(exc.__cause__, "response", None), "status_code", None) != 423:
                raise
        waited = time.monotonic() - started
        if logged is None or waited - logged >= WAIT_LOG_EVERY:
            logged = waited
            logger.info("waiting for %s of the writers' limit %s (%d of %d held by other loads on this database)"
                        "%s", plural(ask, "slot"), limit, size - free, size,
                        f", {waited:.0f} s so far" if waited >= 1 else "")
        time.sleep(delay)
        delay = min(delay * 1.5, LAST_RETRY)
        free = _limit_state(limit)[1]
    with held:
        if logged is not None:
            logger.info("got %s of the writers' limit %s after %.1f s", plural(ask, "slot"), limit,
                        time.monotonic() - started)
        yield ask


def _limit_state(limit: str) -> tuple[int, int]:
    """The limit's size, and how many of its slots are free now."""
    with get_client(sync_client=True) as client:
        try:
            found = client.read_global_concurrency_limit_by_name(limit)
        except ObjectNotFound:
            raise ConfigError(f"no global concurrency limit {limit!r} on this Prefect server: create it "
                              f"(prefect gcl create {limit} --limit N) or pass max_db_writers") from None
    return found.limit, max(0, found.limit - found.active_slots)
