"""One pass over a file's bytes: its identity (size, sha256) and the facts that decide how to read it.

Encoding rule, per file:

- a byte-order mark decides (UTF-8, UTF-16);
- else, if every byte sequence is valid UTF-8, the file is UTF-8;
- else, if it has valid multi-byte UTF-8 sequences too, it is a UTF-8 file with a few corrupt bytes: it stays
  UTF-8 and the rows holding the bad bytes are rejected (switching encoding would garble every ``£`` in it);
- else it is cp1252 (what Excel on Windows writes); the five bytes cp1252 leaves undefined read as Latin-1, so
  decoding never fails half-way through a file.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .sources import Stream, open_source
from .types import SourceFile

Source = SourceFile | Path
"""A file to read: a SourceFile (local, object or zip member) or a plain local path."""

GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 1 << 20
_MULTIBYTE_UTF8 = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True)
class Fingerprint:
    size: int
    sha256: str
    compression: str | None
    encoding: str
    has_nul: bool
    """A NUL byte anywhere: rows holding one are rejected (no database stores NUL in text)."""
    odd_quotes: bool = False
    undecodable: bool = False
    """Bytes that are not valid UTF-8 in a file read as UTF-8 (its rows holding them are rejected); a file read in
    another encoding is recoded, so it has none."""
    """An odd number of ``"``: either a stray inch mark inside a field (harmless) or a quoted field that is never
    closed and would swallow the rest of the file; the scan tells which."""


def is_gzip(path: Source) -> bool:
    with open_source(path) as f:
        return f.read(2) == GZIP_MAGIC


def open_raw(path: Source, compression: str | None, witness: Witness | None = None):
    """The file's content bytes, decompressed when needed (detected by magic bytes, never by name).

    With a ``witness``, every byte read from disk is also hashed, so the caller can prove afterwards that the bytes
    it loaded are the bytes it planned for (a file rewritten during the load would otherwise end up half old, half
    new in the table).
    """
    raw = open_source(path)
    if witness is not None:
        raw = witness.watch(raw)
    return Stream(gzip.GzipFile(fileobj=raw, mode="rb"), raw) if compression == "gzip" else raw


class Witness:
    """The size and sha256 of everything one reading pass took from a file."""

    def __init__(self) -> None:
        self.size = 0
        self._digest = hashlib.sha256()
        self._raw: io.BufferedReader | None = None
        self.read_error: Exception | None = None
        """What a read raised, kept for a consumer whose own error hides it (a COPY fed by the file says only that
        its input failed)."""

    def watch(self, raw: io.BufferedReader) -> _Hashing:
        self._raw = raw
        return _Hashing(raw, self)

    def guard(self, stream: BinaryIO) -> _Guarded:
        """``stream`` (the file's content, decompressed) with whatever its reads raise kept as :attr:`read_error`
        too: a truncated gzip raises ``EOFError`` above the raw bytes the witness watches."""
        return _Guarded(stream, self)

    def seen(self, block: bytes) -> None:
        self._digest.update(block)
        self.size += len(block)

    def finish(self) -> tuple[int, str]:
        """Size and sha256 of the whole file (what the reading pass left unread is read now)."""
        if self._raw is not None and not self._raw.closed:
            with self._raw:
                while block := self._raw.read(_BLOCK):
                    self.seen(block)
        return self.size, self._digest.hexdigest()

    def matches(self, size: int, sha256: str) -> bool:
        """Whether the whole file was exactly ``size`` bytes hashing to ``sha256``."""
        return self.finish() == (size, sha256)


class _Hashing(io.RawIOBase):
    """A read-only file that shows every block it hands out to its witness. Closing it leaves the file open: the
    witness may still need the rest of it, and closes it when it has read it (:meth:`Witness.finish`)."""

    def __init__(self, raw: io.BufferedReader, witness: Witness) -> None:
        self._file, self._witness = raw, witness

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        try:
            count = self._file.readinto(buffer)
        except OSError as exc:
            self._witness.read_error = self._witness.read_error or exc
            raise
        if count:
            self._witness.seen(memoryview(buffer)[:count])
        return count or 0

    def read(self, size: int = -1) -> bytes:
        try:
            block = self._file.read(size)
        except OSError as exc:
            self._witness.read_error = self._witness.read_error or exc
            raise
        self._witness.seen(block)
        return block


class _Guarded:
    def __init__(self, stream: BinaryIO, witness: Witness) -> None:
        self._stream, self._witness = stream, witness

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except Exception as exc:  # noqa: BLE001 - kept, then raised as it is
            self._witness.read_error = self._witness.read_error or exc
            raise


def fingerprint(path: Source) -> Fingerprint:
    """Identity and reading facts of a file, in one pass: the sha256 is taken of the same bytes the checks read."""
    compression = "gzip" if is_gzip(path) else None
    witness = Witness()
    encoding: str | None = None
    has_nul = saw_multibyte = invalid_utf8 = False
    quotes = 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open_raw(path, compression, witness) as f:
        first = True
        while block := f.read(_BLOCK):
            if first:
                first = False
                encoding = next((name for bom, name in _BOMS if block.startswith(bom)), None)
                if encoding == "utf-16":
                    break
            has_nul = has_nul or b"\x00" in block
            quotes += block.count(b'"')
            if block.isascii() and not decoder.getstate()[0]:  # unless it ends a character the last block began
                continue
            saw_multibyte = saw_multibyte or _MULTIBYTE_UTF8.search(block) is not None
            if not invalid_utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    invalid_utf8 = True
        if not invalid_utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                invalid_utf8 = True
    size, sha = witness.finish()
    if encoding == "utf-16":
        return Fingerprint(size, sha, compression, encoding, has_nul=False)
    if encoding is None:
        encoding = "cp1252" if invalid_utf8 and not saw_multibyte else "utf-8"
    return Fingerprint(size, sha, compression, encoding, has_nul, odd_quotes=quotes % 2 == 1,
                       undecodable=invalid_utf8 and encoding != "cp1252")


def _cp1252_or_latin1(error: UnicodeDecodeError) -> tuple[str, int]:
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("cp1252-latin1", _cp1252_or_latin1)
