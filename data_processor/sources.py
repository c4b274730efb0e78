"""Where the files come from: a local folder, an object-store prefix, one HTTPS file, or a zip archive of any of
these, read as if it were the folder.

``discover_source`` lists what ``--src`` holds (key, size, listing metadata) and ``open_source`` opens one entry as
a binary stream; everything that reads a file's bytes goes through ``open_source``.

* A local folder is walked by ``discovery.py`` and its files opened with plain ``open()`` (nothing slower).
* ``s3://bucket/prefix`` and the other stores fsspec knows (``gs://`` with gcsfs, ``az://`` with adlfs) list every
  object under the prefix; the key is the object's path relative to the prefix. Credentials and endpoint come from
  the store's standard places (for S3: ``AWS_*`` variables, a profile, pod identity, ``AWS_ENDPOINT_URL``), never
  from the URL.
* ``https://…`` is one file (its key is the last part of the URL path) unless it is a zip.
* A zip archive (a local file or a remote object whose name ends in ``.zip``, or a local file that starts like one)
  lists its members: the key is the member path, ``--glob`` matches member paths, and a member is inflated as it is
  read, never extracted. ``zipfile`` checks each member's CRC-32 when its end is read, so a corrupt member fails
  its own file; an archive whose central directory cannot be read (truncated) is one configuration error.
  Members over 4 GB (zip64) read like any other.
"""

from __future__ import annotations

import io
import os
import posixpath
import threading
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit

from .discovery import Discovery, Problem, discover_folder, file_key, matches
from .errors import ConfigError, InputError
from .types import SourceFile

REMOTE_BLOCK = 8 << 20
"""Bytes fetched per request from an object store: large enough to stream at full speed, small enough that one
worker's read-ahead stays a few MB (s3fs would fetch 50 MB blocks)."""

ZIP_MAGIC = b"PK\x03\x04"
_READABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
             "abfss": "adlfs", "adl": "adlfs", "http": "aiohttp", "https": "aiohttp"}


def is_remote(src: str) -> bool:
    return "://" in str(src) and not str(src).startswith("file://")


def display(url: str | os.PathLike[str]) -> str:
    """A location safe for messages and logs: no password in ``user:password@``, no query string (a presigned
    URL's signature, a token)."""
    text = str(url)
    if not is_remote(text):
        return text
    parts = urlsplit(text)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}" if ":" in user else f"***@{host}"
    return f"{parts.scheme}://{netloc}{parts.path}" + ("?…" if parts.query else "")


def discover_source(src: str, pattern: str) -> Discovery:
    """Every file ``src`` holds whose key matches ``pattern``, sorted by key; see the module docstring."""
    global _generation
    _generation += 1
    pattern = pattern.strip().lstrip("/") or "**/*.csv"
    if is_remote(src):
        return _discover_remote(src, pattern)
    path = Path(str(src).removeprefix("file://"))
    if path.is_file():
        if _is_zip(path):
            return _discover_zip(lambda: open(path, "rb"), str(path), pattern, lambda **kw: SourceFile(path, **kw))
        key = path.name
        found = [SourceFile(path, key, path.stat().st_size)] if matches(key, pattern) else []
        return Discovery(found)
    return discover_folder(path, pattern)


def open_source(source: SourceFile | str | os.PathLike[str]) -> BinaryIO:
    """The file's bytes as stored (compressed if it is a .gz): a local file, an object, or a zip member."""
    if not isinstance(source, SourceFile):
        return open(source, "rb")
    if source.member is None:
        return open(source.path, "rb") if source.url is None else _open_url(source.url)
    if source.url is not None:
        return _remote_archive(source.url).open(source.member)
    archive = open(source.path, "rb")
    try:
        zip_file = zipfile.ZipFile(archive)
        member = zip_file.open(source.member)
    except BaseException:
        archive.close()
        raise
    return Stream(member, zip_file, archive)


_archives: dict[tuple[int, str], tuple[int, zipfile.ZipFile, BinaryIO]] = {}
_generation = 0


def _remote_archive(url: str) -> zipfile.ZipFile:
    """The remote zip, its central directory read once per thread and run: a file is opened several times (hash,
    scan, load), and each fresh open costs a few requests (size, end record, directory) before any data flows.

    Per thread, because interleaved reads of two members through one object would keep refilling its read-ahead
    buffer; per run (``discover_source`` starts a new generation), so next month's archive is never read through
    last month's directory.
    """
    key = (threading.get_ident(), url)
    cached = _archives.get(key)
    if cached is not None and cached[0] == _generation:
        return cached[1]
    if cached is not None:
        cached[1].close()
        cached[2].close()
    raw = _open_remote_zip(url)
    try:
        archive = zipfile.ZipFile(raw)
    except BaseException:
        raw.close()
        raise
    _archives[key] = (_generation, archive, raw)
    return archive


class Stream(io.BufferedIOBase):
    """A readable stream that closes what it was read through (a zip member, its archive, the object) with it."""

    def __init__(self, inner: BinaryIO, *holders: object) -> None:
        super().__init__()
        self._inner, self._holders = inner, holders

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._inner.read(-1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        return self._inner.read1(size) if hasattr(self._inner, "read1") else self._inner.read(size)

    def readinto(self, buffer) -> int:  # noqa: ANN001
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            for closable in (self._inner, *self._holders):
                closable.close()
        super().close()


# -- remote ------------------------------------------------------------------------------------------------------


def filesystem(url: str):  # noqa: ANN201 (an fsspec filesystem)
    """The fsspec filesystem for ``url`` and the path within it; a missing package is one clear line."""
    import fsspec

    protocol = url.split("://", 1)[0].lower()
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError:
        package = _PACKAGES.get(protocol, f"the fsspec implementation for {protocol}://")
        raise ConfigError(f"{protocol}:// sources need the package {package}: pip install {package}") from None
    except ValueError as exc:
        raise ConfigError(f"{display(url)}: {exc}") from None


def _open_url(url: str) -> BinaryIO:
    fs, path = filesystem(url)
    return fs.open(path, "rb", block_size=REMOTE_BLOCK, cache_type="readahead")


def replaced_while_read(exc: BaseException | None) -> bool:
    """The object was replaced while it was being read: s3fs's ``FileExpired`` (a range read whose ETag no longer
    matches), itself or as the cause of what a reader (pyarrow's) raised instead. Named, not imported: s3fs is only
    there for object stores."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and type(exc).__name__ == "FileExpired":
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)
"""What reading a file's bytes can raise: the disk or the store, a truncated or corrupt gzip, a bad zip member."""


def read_failure(key: str, exc: BaseException, changed: InputError) -> InputError:
    """The one sentence for a file whose bytes could not be read (one of :data:`READ_ERRORS`, or what a reader
    raised because of one), as the planning scan and the load both say it; ``changed`` when the object was replaced
    while it was read."""
    if replaced_while_read(exc):
        return changed
    if isinstance(exc, (EOFError, zlib.error)):
        return InputError(key, f"cannot read: corrupt or truncated gzip ({exc})")
    if isinstance(exc, zipfile.BadZipFile):  # a zip member whose CRC-32 or header is wrong
        return InputError(key, f"cannot read: corrupt zip member ({exc})")
    return InputError(key, f"cannot read: {getattr(exc, 'strerror', None) or exc}")


def _open_remote_zip(url: str) -> BinaryIO:
    return _ZipSeekable(_open_url(url))  # type: ignore[return-value]


class _ZipSeekable:
    """A remote file as ``zipfile`` expects a local one: a seek before its start raises OSError, which zipfile
    takes for "no such record here". s3fs raises ValueError instead, so an empty archive (0 bytes, or 22 bytes
    and no member) on S3 was a traceback."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return self._raw.seek(offset, whence)
        except ValueError as exc:
            raise OSError(str(exc)) from None

    def __getattr__(self, name: str):  # noqa: ANN204 - read, tell, close … as the remote file has them
        return getattr(self._raw, name)

    def __enter__(self) -> _ZipSeekable:
        return self

    def __exit__(self, *exc: object) -> None:
        self._raw.close()


def _discover_remote(src: str, pattern: str) -> Discovery:
    fs, root = filesystem(src)
    shown = display(src)
    fs.invalidate_cache()  # a long-lived worker must see this month's objects, not a listing cached last month
    try:
        info = fs.info(root)
        if info.get("type") == "directory":
            listing = fs.find(root, detail=True)
        else:
            listing = None
    except FileNotFoundError:
        raise ConfigError(f"source {shown!r} does not exist") from None
    except PermissionError as exc:
        raise ConfigError(f"source {shown!r}: access denied ({_reason(exc, src)}); check the credentials") from None
    except Exception as exc:  # botocore / aiohttp: no credentials, no route, bad endpoint
        raise ConfigError(f"source {shown!r}: cannot list: {_reason(exc, src)}") from None
    base = src.split("?", 1)[0].rstrip("/")
    if listing is None:  # one object: a zip archive, or a single file
        if src.split("?", 1)[0].lower().endswith(".zip"):
            return _discover_zip(lambda: _open_remote_zip(src), shown, pattern,
                                 lambda **kw: SourceFile(None, url=src, **kw))
        key = PurePosixPath(urlsplit(base).path).name or "file"
        found = [SourceFile(None, key, int(info.get("size") or 0), url=src, etag=_etag(info))]
        return Discovery(found if matches(key, pattern) else [])
    prefix = root.rstrip("/") + "/"
    files = []
    for name, entry in sorted(listing.items()):
        if entry.get("type") == "directory" or not name.startswith(prefix):
            continue
        key = file_key(name[len(prefix):])
        if matches(key, pattern):
            files.append(SourceFile(None, key, int(entry.get("size") or 0), url=f"{base}/{name[len(prefix):]}",
                                    etag=_etag(entry)))
    return Discovery(files)


def _etag(info: dict) -> str | None:
    value = info.get("ETag") or info.get("etag") or info.get("LastModified") or info.get("mtime")
    return str(value).strip('"') if value is not None else None


def _reason(exc: BaseException, src: str) -> str:
    return str(exc).replace(src, display(src)) or type(exc).__name__


# -- zip archives ------------------------------------------------------------------------------------------------


def _is_zip(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        return True
    with open(path, "rb") as f:
        return f.read(4) == ZIP_MAGIC


def _discover_zip(opener: Callable[[], BinaryIO], shown: str, pattern: str,
                  make: Callable[..., SourceFile]) -> Discovery:
    """Members whose path matches ``pattern``; only the central directory is read."""
    try:
        with opener() as archive, zipfile.ZipFile(archive) as zip_file:
            members = zip_file.infolist()
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ConfigError(f"{shown}: not a readable zip archive (truncated or corrupt?): {exc}") from None
    files: dict[str, SourceFile] = {}
    problems: list[Problem] = []
    for info in members:
        name = member_key(info.filename)
        if name == "":
            continue
        if name is None:  # never extracted, so never a danger; but its place in the release is unknowable
            shown_name = file_key(info.filename)
            fatal = matches(posixpath.basename(info.filename.replace("\\", "/")), posixpath.basename(pattern))
            problems.append(Problem(shown_name, "zip member name climbs out of the archive ('..' past its root): "
                                    "not loaded", fatal=fatal))
            continue
        if not matches(name, pattern):
            continue
        key = file_key(name)
        if info.is_dir():
            problems.append(Problem(key, "matches the glob but is a folder; skipped", fatal=False))
        elif info.flag_bits & 0x1:
            problems.append(Problem(key, "encrypted zip member: cannot be read", fatal=True))
        elif info.compress_type not in _READABLE:
            problems.append(Problem(key, f"zip compression method {info.compress_type} is not supported "
                                    "(store, deflate, bzip2, lzma are)", fatal=True))
        else:
            if key in files:
                problems.append(Problem(key, "appears twice in the archive; the last copy is loaded", False))
            files[key] = make(key=key, size=info.file_size, member=info.filename, etag=f"crc32:{info.CRC:08x}")
    return Discovery(sorted(files.values(), key=lambda f: f.key), problems)


def member_key(name: str) -> str | None:
    """A zip member's path as a key: ``./`` and a leading ``/`` dropped, ``\\`` read as ``/`` (zips made on Windows),
    ``a/./b`` and ``a/x/../b`` folded; "" for the root itself; None for a name that leaves the root (``../x``,
    ``a/../../x``)."""
    text = name.replace("\\", "/").strip("/")
    if not text:
        return ""
    folded = posixpath.normpath(text)
    return None if folded == ".." or folded.startswith("../") else "" if folded == "." else folded


def location(source: SourceFile) -> str:
    """Where ``source`` is, for messages: ``s3://b/epc.zip!certificates-2021.csv``, without secrets."""
    where = display(source.url) if source.url is not None else str(source.path)
    return f"{where}!{source.member}" if source.member is not None else where

