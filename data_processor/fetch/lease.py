"""One fetch at a time into an object-store destination, across machines: a lease object beside the file.

Two pods fetching the monthly release into the same bucket each have their own scratch disk, so the local ``flock``
cannot see the other. The lease is an object, ``<file>.lock``, created with S3's conditional write
(``If-None-Match: *``: exactly one creator wins), renewed every ``RENEW_SECONDS`` with ``If-Match`` on its own ETag,
and deleted at the end. A fetch that finds a live lease stops at once, naming its holder; one that finds a lease
past its expiry (its holder died) takes it over with ``If-Match`` on the stale ETag, so of two takers one wins. A
holder whose renewal finds the lease taken (it stalled past the expiry) does not publish.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from typing import Any

from ..errors import ConfigError, FetchError, ServiceError

LEASE_SECONDS = 300
"""A lease not renewed for this long is its holder's no more (the holder died)."""
RENEW_SECONDS = 60


class StoreLease:
    """The lease on ``key`` of fsspec filesystem ``fs`` (S3), held while the block runs."""

    def __init__(self, fs: Any, key: str, location: str) -> None:
        self.fs, self.key, self.location = fs, key, location
        self.seconds, self.renew_every = LEASE_SECONDS, RENEW_SECONDS
        self.holder = f"{socket.gethostname()} (pid {os.getpid()}, {uuid.uuid4().hex[:8]})"
        self.since = time.time()
        self.etag: str | None = None
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StoreLease:
        try:
            self.etag = self._put(mode="create")
        except FileExistsError:
            self._take_over_if_stale()
        except Exception as exc:  # noqa: BLE001 - botocore/aiohttp errors: a refusal is one line, not a traceback
            raise ServiceError(f"writing the lease object {self.key} beside {self.location}: "
                               f"{type(exc).__name__}: {exc}") from None
        self._thread = threading.Thread(target=self._renewing, name="fetch lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if not self.lost:
            try:
                if self.fs.info(self.key).get("ETag") == self.etag:
                    self.fs.rm_file(self.key)
            except Exception:  # noqa: BLE001 - a lease left behind expires on its own
                pass

    def check(self) -> None:
        """Before publishing: the lease is still this fetch's."""
        if self.lost:
            raise FetchError(f"{self.location}: another fetch took over this one's lease (it stalled for over "
                             f"{self.seconds:.0f} s); nothing was published: run the fetch again")

    def _take_over_if_stale(self) -> None:
        self.fs.invalidate_cache()
        try:
            stale = self.fs.info(self.key).get("ETag")
            held = json.loads(self.fs.cat_file(self.key))
        except FileNotFoundError:  # released meanwhile: try once more from the start
            self.etag = self._put(mode="create")
            return
        except ValueError:  # not JSON: no lease anyone can renew
            held = {}
        held = held if isinstance(held, dict) else {}
        expires = float(held.get("expires_at") or 0)
        if expires > time.time():
            since = time.strftime("%H:%M:%S UTC", time.gmtime(float(held.get("since") or 0)))
            raise ConfigError(f"another fetch is writing {self.location}: {held.get('holder', '?')} since {since} "
                              f"(its lease object {self.key}); try again when it has finished")
        try:
            self.etag = self._put(IfMatch=stale)
        except OSError:
            raise ConfigError(f"another fetch is writing {self.location}: it took over the expired lease "
                              f"{self.key} at the same moment; try again when it has finished") from None

    def _put(self, **options: Any) -> str:
        body = {"holder": self.holder, "since": self.since, "expires_at": time.time() + self.seconds}
        return self.fs.pipe_file(self.key, json.dumps(body).encode(), **options)["ETag"]

    def _renewing(self) -> None:
        while not self._stop.wait(self.renew_every):
            try:
                self.etag = self._put(IfMatch=self.etag)
            except FileNotFoundError:
                self.lost = True
            except OSError as exc:
                if "pre-condition" in str(exc) or "Precondition" in str(exc):
                    self.lost = True  # someone took it over: this fetch must not publish
                # any other failure (the store briefly away): the next renewal tries again
            if self.lost:
                return
