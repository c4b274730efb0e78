"""Fetch one file into a destination: decide whether it changed, transfer it, check it, put it in place.

The order is the guarantee: the bytes go to a ``.part`` file; its size must equal what the service announced and a
zip's central directory must read; only then does it replace the file at the destination, and the manifest (what
release this is) is written last. A run killed at any point leaves the previous file and manifest untouched, and the
part for the next run to resume.
"""

from __future__ import annotations

import base64
import fcntl
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from ..errors import BadDownload, ConfigError, FetchError
from .destination import check_room, open_destination
from .epc import DEFAULT_API_URL, DEFAULT_DATASET, EpcApi, Release, file_name
from .transfer import NOT_MODIFIED, PartFile, Reporter, RetryPolicy, Silent, Target, download, new_client, shown


@dataclass(frozen=True)
class FetchResult:
    """What a fetch did: ``downloaded`` or ``skipped`` (the destination already held this release)."""

    status: Literal["downloaded", "skipped"]
    name: str
    location: str
    size: int
    seconds: float
    transferred: int = 0
    release: dict[str, Any] | None = None

    @property
    def mb_per_s(self) -> float:
        return self.transferred / 1e6 / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        release = f"release {self.release['lastUpdated']}, " if self.release else ""
        if self.status == "skipped":
            return (f"skipped {self.name}: {release}{self.size:,} bytes, already at {self.location} "
                    f"(checked in {self.seconds:.1f} s)")
        return (f"downloaded {self.name}: {release}{self.size:,} bytes to {self.location} in {self.seconds:.1f} s, "
                f"{self.mb_per_s:.1f} MB/s")

    def fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"file.name": self.name, "destination": self.location, "status": self.status,
                                  "bytes": self.size, "bytes_transferred": self.transferred,
                                  "seconds": round(self.seconds, 3), "mb_per_s": round(self.mb_per_s, 2)}
        if self.release:
            fields.update(release_last_updated=self.release["lastUpdated"], release_size=self.release["fileSize"])
        return fields


def fetch_epc(to: str, token: str, *, api_url: str = DEFAULT_API_URL, dataset: str = DEFAULT_DATASET,
              force: bool = False, scratch: str | None = None, policy: RetryPolicy = RetryPolicy(),
              report: Reporter | None = None, sleep: Callable[[float], None] = time.sleep) -> FetchResult:
    """The current EPC release into ``to``, unless ``to`` already holds it (same ``lastUpdated`` and size)."""
    report = report or Silent()
    started = time.monotonic()
    name = file_name(dataset)
    with new_client(policy) as client:
        api = EpcApi(client, api_url, token, dataset, policy, report, sleep)
        release = api.info()
        destination = open_destination(to, name, scratch)
        if not force and _holds(destination, release):
            return FetchResult("skipped", name, destination.location, release.file_size,
                               time.monotonic() - started, release=release.as_dict())
        with exclusive(destination):
            part = PartFile(destination.part_path, {"release": release.as_dict(), "source": api.file_url})
            check_room(part.path.parent, release.file_size - part.size())
            transferred = _transfer(lambda: download(
                client, api.locate, part, name=name, policy=policy, report=report, expected_size=release.file_size,
                expiring=True, whose="the download URL", sleep=sleep), part)
            _check(part, name, release.file_size)
            manifest = {**release.as_dict(), "file": name, "dataset": dataset, "source": api.file_url,
                        "fetchedAt": _now()}
            _publish(destination, part, manifest, report)
    return FetchResult("downloaded", name, destination.location, release.file_size, time.monotonic() - started,
                       transferred, release.as_dict())


def fetch_url(url: str, to: str, *, name: str | None = None, auth: tuple[str, str] | None = None,
              force: bool = False, scratch: str | None = None, policy: RetryPolicy = RetryPolicy(),
              report: Reporter | None = None, sleep: Callable[[float], None] = time.sleep) -> FetchResult:
    """Any http(s) file into ``to``; skipped when the server says it has not changed (ETag / Last-Modified)."""
    report = report or Silent()
    started = time.monotonic()
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"{shown(url)} is not an http(s) URL")
    if urlsplit(url).password:
        raise ConfigError("put no password in the URL: use --user and the FETCH_PASSWORD environment variable")
    name = name or unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"cannot name the file from {shown(url)}: give --name")
    destination = open_destination(to, name, scratch)
    known = None if force else destination.manifest()
    if known and destination.size() != known.get("size"):
        known = None
    target = Target(url, basic_auth(*auth) if auth else {})
    with exclusive(destination), new_client(policy) as client:
        part = PartFile(destination.part_path, {"source": shown(url)})
        transferred = _transfer(lambda: download(
            client, lambda: target, part, name=name, policy=policy, report=report,
            whose="the credentials" if auth else "access (is --user needed?)", if_changed=_conditions(known),
            sleep=sleep), part)
        if transferred == NOT_MODIFIED:
            return FetchResult("skipped", name, destination.location, known["size"], time.monotonic() - started)
        size = part.size()
        _check(part, name, part.total if part.total is not None else size)
        manifest = {"file": name, "source": shown(url), "size": size, "etag": part.etag,
                    "lastModified": part.last_modified, "fetchedAt": _now()}
        _publish(destination, part, manifest, report)
    return FetchResult("downloaded", name, destination.location, size, time.monotonic() - started, transferred)


@contextmanager
def exclusive(destination) -> Iterator[None]:  # noqa: ANN001 - a LocalFolder or an ObjectStore
    """One fetch at a time into a destination: a second run says so and stops.

    On this machine the lock is ``flock`` on ``<part>.lock``, released when the process ends however it ends; an
    object store adds its own (``destination.held``: a lease object on S3) for fetches from other machines.
    """
    with _locked(destination.part_path), destination.held():
        yield


@contextmanager
def _locked(part_path: Path) -> Iterator[None]:
    lock_path = part_path.with_name(part_path.name + ".lock")
    handle = open(lock_path, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigError(f"another fetch is writing {part_path}; try again when it has finished") from None
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)
        handle.close()


def _holds(destination, release: Release) -> bool:
    """The destination has this release: its manifest names it and the file is there with that size."""
    manifest = destination.manifest() or {}
    same = manifest.get("lastUpdated") == release.last_updated and manifest.get("fileSize") == release.file_size
    return same and destination.size() == release.file_size


def _conditions(known: dict[str, Any] | None) -> dict[str, str] | None:
    if not known:
        return None
    conditions = {}
    if known.get("etag"):
        conditions["If-None-Match"] = known["etag"]
    if known.get("lastModified"):
        conditions["If-Modified-Since"] = known["lastModified"]
    return conditions or None


def basic_auth(user: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header of HTTP Basic (the legacy EPC service: your e-mail and API key)."""
    pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {pair}"}


def _transfer(run: Callable[[], int], part: PartFile) -> int:
    """Run the download; a local disk that refuses a write is one line, not a traceback."""
    try:
        return run()
    except OSError as exc:
        raise FetchError(f"cannot write {part.path}: {exc.strerror or exc}") from None


def _check(part: PartFile, name: str, expected: int) -> None:
    """The part is the whole file: the announced size, and a zip's central directory reads.

    A part that fails is deleted: resuming it would only end here again.
    """
    size = part.size()
    if size != expected:
        part.discard()
        raise BadDownload(name, f"received {size:,} bytes, expected {expected:,}; the partial file was deleted")
    if not name.endswith(".zip"):
        return
    try:
        with zipfile.ZipFile(part.path) as archive:
            archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        part.discard()
        raise BadDownload(name, f"not a readable zip archive ({exc}); the partial file was deleted") from None


def _publish(destination, part: PartFile, manifest: dict[str, Any], report: Reporter) -> None:
    progress = None
    if hasattr(destination, "fs"):
        size = part.size()
        report.started(f"{destination.name} to {destination.location}", size, 0, verb="uploading")
        progress = lambda done: report.advanced(done, size)  # noqa: E731
    try:
        destination.publish(part.path, manifest, progress)
    except OSError as exc:
        raise FetchError(f"cannot put {destination.name} in place at {destination.location}: "
                         f"{exc.strerror or exc}") from None
    part.done()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
