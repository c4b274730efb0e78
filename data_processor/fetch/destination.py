"""Where a fetched file goes: a local folder, or an object store fsspec knows (``s3://bucket/prefix/``).

Beside the file lies its manifest (``domestic-csv.zip`` → ``domestic-csv.json``): what was fetched (the release,
its size, when), written last, so a manifest always describes a complete file, and a fresh pod reads it to decide
whether the release changed.

* Local folder: the download goes to a hidden ``.part`` file in the same folder, and ``os.replace`` puts it in
  place at once; a killed run leaves the part to resume.
* Object store: the download goes to a ``.part`` file in a local scratch folder (``--scratch``, default the
  system's temporary folder; it needs room for the whole file), then it is uploaded to the final key (s3fs sends a
  large file as a multipart upload, and the object appears only when the upload completes), then the manifest.
  Credentials and endpoint come from the store's standard places (for S3: ``AWS_*`` variables, the profile, pod
  identity; ``AWS_ENDPOINT_URL`` for an S3-compatible server), never from the command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ServiceError
from .lease import StoreLease

UPLOAD_PART_BYTES = 8 << 20
"""Multipart upload part size, boto3's own (S3 allows 10,000 parts: a larger file gets larger parts). s3fs sends a
file under two parts in one request, which reports no progress until it ends: the smaller the part, the sooner the
upload's progress moves."""
UPLOAD_CONCURRENCY = 4
"""Parts uploaded at once: memory holds about this many parts."""


def manifest_name(name: str) -> str:
    """``domestic-csv.zip`` → ``domestic-csv.json``; any other name gets ``.json`` appended."""
    return (name[:-4] if name.endswith(".zip") else name) + ".json"


def is_remote(to: str) -> bool:
    return "://" in to and not to.startswith("file://")


def open_destination(to: str, name: str, scratch: str | None = None) -> LocalFolder | ObjectStore:
    """The destination ``to`` (a folder or a store URL) for the file ``name``."""
    if not to:
        raise ConfigError("--to is required: a local folder or an object-store URL such as s3://bucket/epc/")
    if is_remote(to):
        return ObjectStore(to, name, Path(scratch or tempfile.gettempdir()))
    return LocalFolder(Path(to.removeprefix("file://")), name)


class LocalFolder:
    """A folder on this machine (or a mounted volume): the part beside the file, renamed into place."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name
        self.path = folder / name
        self.location = str(self.path)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the destination folder {folder}: {exc.strerror or exc}") from None
        self.part_path = folder / f".{name}.part"

    def manifest(self) -> dict[str, Any] | None:
        return _parse(self.folder / manifest_name(self.name))

    def size(self) -> int | None:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return None

    def held(self) -> AbstractContextManager:
        """Other fetches into this folder: the part file's ``flock`` (``download.exclusive``) sees them all."""
        return nullcontext()

    def publish(self, part: Path, manifest: dict[str, Any], progress: Callable[[int], None] | None = None) -> None:
        """The part becomes the file (atomically), then the manifest is written (atomically) last."""
        os.replace(part, self.path)
        target = self.folder / manifest_name(self.name)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(temporary, target)


class ObjectStore:
    """An fsspec filesystem URL (s3://, gs://, az://, ...): downloaded to local scratch, then uploaded."""

    def __init__(self, url: str, name: str, scratch: Path) -> None:
        import fsspec

        self.url, self.name = url.rstrip("/"), name
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"--to {url}: {exc}") from None
        self.key = f"{root.rstrip('/')}/{name}"
        self.manifest_key = f"{root.rstrip('/')}/{manifest_name(name)}"
        self.location = f"{self.url}/{name}"
        bucket = root.strip("/").split("/")[0]
        if not self._call("looking for the bucket of", self.fs.exists, bucket):
            raise ServiceError(f"{self.url}: the bucket {bucket!r} does not exist, or the credentials in the "
                               "environment cannot see it")
        try:
            scratch.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot use the scratch folder {scratch}: {exc.strerror or exc}") from None
        tag = hashlib.sha256(self.location.encode()).hexdigest()[:12]
        self.part_path = scratch / f"data-processor-fetch-{tag}-{name}.part"
        self.lease: StoreLease | None = None

    def held(self) -> AbstractContextManager:
        """One fetch at a time into this destination, from any machine: on S3 a lease object beside the file (a
        second fetch with its own scratch disk cannot see the first's local lock). Other stores: the local lock."""
        if "s3" not in self.fs.protocol:
            return nullcontext()
        self.lease = StoreLease(self.fs, f"{self.key}.lock", self.location)
        return self.lease

    def _call(self, what: str, function, *args, missing_ok: bool = False, **kwargs):
        """One store operation; a refusal or an unreachable store is one line, exit 2.

        ``missing_ok``: a missing object gives ``None`` (a manifest or file not fetched yet).
        """
        try:
            return function(*args, **kwargs)
        except FileNotFoundError:
            if missing_ok:
                return None
            raise ServiceError(f"{what} {self.location}: not found") from None
        except Exception as exc:  # noqa: BLE001 - botocore/aiohttp errors are not OSErrors; report, do not crash
            raise ServiceError(f"{what} {self.location}: {type(exc).__name__}: {exc}") from None

    def manifest(self) -> dict[str, Any] | None:
        data = self._call("reading the manifest beside", self.fs.cat_file, self.manifest_key, missing_ok=True)
        return None if data is None else _parse_bytes(data)

    def size(self) -> int | None:
        self.fs.invalidate_cache()
        info = self._call("looking at", self.fs.info, self.key, missing_ok=True)
        return None if info is None else int(info["size"])

    def publish(self, part: Path, manifest: dict[str, Any], progress: Callable[[int], None] | None = None) -> None:
        """Upload (multipart when large), check the stored size, write the manifest, drop the local part."""
        from fsspec.callbacks import Callback

        expected = part.stat().st_size
        if self.lease is not None:
            self.lease.check()
        options: dict[str, Any] = {}
        if "s3" in self.fs.protocol:  # s3fs's defaults (10 parts of 50 MiB in flight) peak at 750 MB of memory
            options = {"chunksize": max(UPLOAD_PART_BYTES, -(-expected // 10_000)),
                       "max_concurrency": UPLOAD_CONCURRENCY}
        callback = Callback(hooks={"report": lambda size, value, **_: progress(value)} if progress else None)
        self._call("uploading to", self.fs.put_file, str(part), self.key, callback=callback, **options)
        stored = self.size()
        if stored != expected:
            raise ServiceError(f"uploading to {self.location}: the store holds {stored} bytes, not {expected:,}")
        payload = (json.dumps(manifest, indent=2) + "\n").encode()
        if self.lease is not None:
            self.lease.check()  # a fetch that took over meanwhile publishes its own manifest
        self._call("writing the manifest beside", self.fs.pipe_file, self.manifest_key, payload)
        part.unlink(missing_ok=True)


def check_room(folder: Path, needed: int) -> None:
    """Fail before downloading when the folder cannot hold the rest of the file."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ConfigError(f"{folder} has {free:,} bytes free but the download needs {needed:,} more "
                          "(for an object-store destination, point --scratch at a larger folder)")


def _parse(path: Path) -> dict[str, Any] | None:
    try:
        return _parse_bytes(path.read_bytes())
    except FileNotFoundError:
        return None


def _parse_bytes(data: bytes) -> dict[str, Any] | None:
    """A manifest that does not parse is as good as none: the file is fetched again."""
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
