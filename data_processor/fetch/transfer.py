"""HTTP transfer of one large file to a local ``.part`` file that survives cuts, expiries and rate limits.

* A cut connection resumes where it stopped with ``Range: bytes=N-`` (the answer must be ``206`` with a
  ``Content-Range`` starting at N; a server that ignores Range sends ``200`` and the file restarts from zero).
  ``If-Range`` carries the first answer's ETag, so a file replaced on the server restarts instead of being spliced.
* A ``403`` from a presigned URL means it expired: ``locate()`` is asked for a fresh one (the EPC API signs a new
  URL per request). For a plain URL, ``401``/``403`` are refused credentials.
* ``408``/``429``/``5xx`` and connection errors are retried after ``Retry-After`` (seconds or a date) or an
  exponential backoff, each wait capped by ``RetryPolicy.max_wait``. ``RetryPolicy.attempts`` bounds the attempts in a
  row that bring no new byte; an attempt that brings bytes starts the count again, so a long download over a poor
  line finishes while a dead one stops.
* The ``.part`` file has a small sidecar (``<part>.json``: what it is a part of, ETag, total size), so the next
  run (same scratch folder) resumes it and a part of an older release is discarded.

Credentials live only in the request headers ``locate()`` returns: they never reach a URL, a message or a log.
A URL in a message is shown without its query string (a presigned URL's signature is a credential too).
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..errors import BadDownload, FileNotOnService, ServiceError, ServiceRefused

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
USER_AGENT = "data-processor-fetch/0.1"


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying: ``attempts`` in a row without a new byte, each wait at most ``max_wait`` s."""

    attempts: int = 8
    max_wait: float = 60.0
    timeout: float = 60.0

    def wait(self, failures: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(self.max_wait, max(0.0, retry_after))
        backoff = 2.0 ** (failures - 1)
        return min(self.max_wait, backoff * random.uniform(0.5, 1.0))


@dataclass(frozen=True)
class Target:
    """One request to make: the URL, headers (credentials, if any) and whether redirects are followed here."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    follow_redirects: bool = True


class Reporter(Protocol):
    """Where a transfer says how it goes (``report.py`` writes it for people or as JSON lines)."""

    def started(self, name: str, total: int | None, resumed_from: int, verb: str = "downloading") -> None: ...
    def advanced(self, done: int, total: int | None) -> None: ...
    def note(self, message: str, action: str, **fields: Any) -> None: ...


class Silent:
    """A reporter that says nothing (library use)."""

    def started(self, name: str, total: int | None, resumed_from: int, verb: str = "downloading") -> None:
        pass

    def advanced(self, done: int, total: int | None) -> None:
        pass

    def note(self, message: str, action: str, **fields: Any) -> None:
        pass


def shown(url: str) -> str:
    """``url`` fit for a message: no query string, no user or password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds, from either form the header takes (delta-seconds or an HTTP date)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def new_client(policy: RetryPolicy) -> httpx.Client:
    timeout = httpx.Timeout(policy.timeout, connect=min(30.0, policy.timeout))
    # identity: the bytes as stored, so sizes and Range offsets mean the file, not a compressed transfer of it
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    return httpx.Client(timeout=timeout, headers=headers, trust_env=True)


def describe(exc: httpx.TransportError) -> str:
    """A transport error in a few words, without the request's URL."""
    text = str(exc).split("\n")[0] or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


class Attempts:
    """Counts failures in a row, sleeps between them, and gives up after ``policy.attempts``."""

    def __init__(self, policy: RetryPolicy, what: str, report: Reporter, sleep: Callable[[float], None]) -> None:
        self.policy, self.what, self.report, self.sleep = policy, what, report, sleep
        self.failures = 0

    def progressed(self) -> None:
        self.failures = 0

    def failed(self, reason: str, retry_after: float | None = None, hint: str = "") -> None:
        """Wait before the next attempt, or raise ``ServiceError`` when the attempts are spent."""
        self.failures += 1
        if self.failures >= self.policy.attempts:
            raise ServiceError(f"{self.what}: {reason}; gave up after {self.failures} attempts{hint}")
        wait = self.policy.wait(self.failures, retry_after)
        self.report.note(f"{self.what}: {reason}; attempt {self.failures + 1} of {self.policy.attempts} "
                         f"in {wait:.1f} s", "fetch.retry", reason=reason, attempt=self.failures + 1,
                         wait_seconds=round(wait, 3))
        self.sleep(wait)


def refused(status: int, what: str, whose: str) -> ServiceError:
    """The error for a final 4xx answer."""
    if status in (401, 403):
        return ServiceRefused(f"{what}: the server refused {whose} (HTTP {status})")
    if status == 404:
        return FileNotOnService(f"{what}: the server has no such file (HTTP 404)")
    return ServiceError(f"{what}: the server answered HTTP {status}")


def request(client: httpx.Client, target: Target, *, what: str, whose: str, policy: RetryPolicy,
            report: Reporter, sleep: Callable[[float], None] = time.sleep,
            read: bool = True) -> httpx.Response:
    """GET an API's answer (JSON, a redirect), retrying transient failures; any other 4xx/5xx raises at once.

    ``read=False`` keeps only the status and headers (an endpoint that might send a whole file instead of a
    redirect is not read into memory).
    """
    attempts = Attempts(policy, what, report, sleep)
    while True:
        try:
            outgoing = client.build_request("GET", target.url, headers=target.headers)
            response = client.send(outgoing, stream=True, follow_redirects=target.follow_redirects)
            try:
                if read or response.status_code >= 400:
                    response.read()
            finally:
                response.close()
        except httpx.TransportError as exc:
            attempts.failed(describe(exc))
            continue
        if response.status_code in RETRY_STATUSES:
            attempts.failed(f"HTTP {response.status_code}", retry_after(response))
            continue
        if response.status_code < 400:
            return response
        raise refused(response.status_code, what, whose)


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def content_range(value: str | None) -> tuple[int, int | None] | None:
    """``Content-Range: bytes 100-199/1000`` → ``(100, 1000)``; ``None`` when absent or unreadable."""
    found = _CONTENT_RANGE.fullmatch((value or "").strip())
    if not found:
        return None
    total = found.group(3)
    return int(found.group(1)), (None if total == "*" else int(total))


class PartFile:
    """The file being downloaded and its sidecar: what it is a part of (``identity``), its ETag and total size."""

    def __init__(self, path: Path, identity: dict[str, Any]) -> None:
        self.path, self.identity = path, identity
        self.sidecar = path.with_name(path.name + ".json")
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.total: int | None = None
        known = self._read_sidecar()
        if known.get("identity") == identity and path.exists():
            self.etag, self.total = known.get("etag"), known.get("total")
            self.last_modified = known.get("last_modified")
        else:
            self.discard()

    def _read_sidecar(self) -> dict[str, Any]:
        try:
            return json.loads(self.sidecar.read_text())
        except (OSError, ValueError):
            return {}

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def remember(self, etag: str | None, total: int | None, last_modified: str | None = None) -> None:
        self.etag, self.total = etag, total
        self.last_modified = last_modified or self.last_modified
        self.sidecar.write_text(json.dumps({"identity": self.identity, "etag": etag, "total": total,
                                            "last_modified": self.last_modified}))

    def discard(self) -> None:
        """Start from zero: the bytes on disk belong to another file, or to nothing we can trust."""
        self.path.unlink(missing_ok=True)
        self.sidecar.unlink(missing_ok=True)
        self.etag = self.total = self.last_modified = None

    def done(self) -> None:
        """The part became the file: forget the sidecar."""
        self.sidecar.unlink(missing_ok=True)


NOT_MODIFIED = -1
"""``download`` returns this when ``if_changed`` headers got ``304 Not Modified``: nothing was transferred."""


def download(client: httpx.Client, locate: Callable[[], Target], part: PartFile, *, name: str,
             policy: RetryPolicy, report: Reporter, expected_size: int | None = None,
             expiring: bool = False, whose: str = "the credentials", if_changed: dict[str, str] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> int:
    """Download what ``locate()`` points at into ``part`` (resuming what is there); returns the bytes written now.

    ``expiring``: the URL ``locate()`` returns is presigned, so a 403 asks it for a fresh one. ``expected_size``:
    a different total fails the download (the service's own record of the file). ``if_changed``: conditional
    headers (``If-None-Match``...) sent while nothing is on disk yet; a ``304`` returns ``NOT_MODIFIED``.
    """
    attempts = Attempts(policy, f"downloading {name}", report, sleep)
    target = locate()
    written = 0
    started = False
    restarts = 0

    def restart(reason: str, **fields: Any) -> None:
        """Throw the part away; bounded, or a server that never resumes over a line that keeps dropping loops."""
        nonlocal restarts
        restarts += 1
        if restarts > policy.attempts:
            raise ServiceError(f"downloading {name}: {reason}, {restarts} times; giving up")
        report.note(f"{name}: {reason}: starting again from byte 0", "fetch.restart", **fields)
        part.discard()

    while True:
        have = part.size()
        if part.total is not None and have >= part.total:
            if have == part.total:
                return written
            part.discard()  # longer than the file: not ours to trust
            have = 0
        headers = dict(target.headers)
        if have:
            headers["Range"] = f"bytes={have}-"
            if part.etag and not part.etag.startswith("W/"):
                headers["If-Range"] = part.etag
        elif if_changed:
            headers.update(if_changed)
        hint = f" ({have:,} bytes kept in {part.path}: the next run resumes them)" if have else ""
        try:
            with client.stream("GET", target.url, headers=headers,
                               follow_redirects=target.follow_redirects) as response:
                status = response.status_code
                if status == 304 and not have and if_changed:
                    return NOT_MODIFIED
                if status == 403 and expiring:
                    attempts.failed("the download URL was refused (HTTP 403): it has probably expired; "
                                    "asking for a fresh one", hint=hint)
                    target = locate()
                    continue
                if status in RETRY_STATUSES:
                    attempts.failed(f"HTTP {status}", retry_after(response), hint=hint)
                    continue
                if status == 416 and have:
                    restart(f"the server cannot resume at byte {have:,} (HTTP 416)", bytes=have)
                    continue
                if status == 206:
                    span = content_range(response.headers.get("content-range"))
                    if span is None or span[0] != have:
                        restart(f"the server resumed at the wrong byte ({response.headers.get('content-range')})")
                        continue
                    total = span[1]
                elif status == 200:
                    if have:
                        restart("the server did not resume (HTTP 200 to a Range request)", bytes=have)
                        have = 0
                    length = response.headers.get("content-length")
                    total = int(length) if length and length.isdigit() else None
                elif status >= 400:
                    raise refused(status, f"downloading {name}", whose)
                else:
                    raise ServiceError(f"downloading {name}: unexpected HTTP {status} from {shown(target.url)}")
                if expected_size is not None and total is not None and total != expected_size:
                    part.discard()
                    raise BadDownload(name, f"the server sends {total:,} bytes but the service lists the file at "
                                      f"{expected_size:,}: the release may have changed meanwhile; run again")
                etag = response.headers.get("etag")
                if have and part.etag and etag and etag != part.etag:
                    restart("the file changed on the server (another ETag)")
                    continue
                part.remember(etag or part.etag, total, response.headers.get("last-modified"))
                if not started:
                    report.started(name, total, have)
                    started = True
                elif have:
                    report.note(f"{name}: resuming at byte {have:,}", "fetch.resume", bytes=have)
                with open(part.path, "ab" if have else "wb") as sink:
                    for chunk in response.iter_raw():  # as received: a cut keeps every byte
                        sink.write(chunk)
                        have += len(chunk)
                        written += len(chunk)
                        attempts.progressed()
                        report.advanced(have, total)
        except httpx.TransportError as exc:
            attempts.failed(f"connection lost at byte {part.size():,} ({describe(exc)})",
                            hint=f" ({part.size():,} bytes kept in {part.path}: the next run resumes them)")
            continue
        if total is None:  # no length announced: the server closing cleanly is the end
            part.remember(part.etag, part.size())
            return written
        if part.size() < total:
            attempts.failed(f"the server ended the transfer at byte {part.size():,} of {total:,}",
                            hint=f" ({part.size():,} bytes kept in {part.path}: the next run resumes them)")
