"""Null markers (``--null-values``, e.g. EPC's ``NO DATA!``) made empty fields in a file's own bytes, so that the
raw-file COPY, which knows one null string only (the empty field), can load a file that has them.

A field is a marker when it is exactly one, bare or quoted, and starts outside a quoted field; whether a position
is inside quotes is the parity of the quote characters before it, which is how PostgreSQL's CSV parser reads them
too. The work is C-speed ``bytes`` and ``re`` calls (the markers are found as literals), plus a little Python
per marker found (about 1 µs).
"""

from __future__ import annotations

import re
from typing import BinaryIO

READ_SIZE = 1 << 20
QUOTE = b'"'


def blankable(markers: tuple[str, ...], delimiter: str) -> bool:
    """Whether :class:`MarkersBlanked` can rewrite these markers: none empty, none holding a quote, a line break or
    the delimiter (a marker like that is left to the validating load)."""
    return all(m and not any(c in m for c in ('"', "\r", "\n", delimiter)) for m in markers)


def blanked(stream: BinaryIO, markers: tuple[str, ...], delimiter: str) -> BinaryIO:
    """``stream``, or its bytes with every marker field made empty when there are markers."""
    return MarkersBlanked(stream, markers, delimiter) if markers else stream


class MarkersBlanked:
    """A readable stream: ``raw``'s bytes, each marker field empty. Reads ``raw`` in 1 MiB blocks and rewrites up to
    the last line break of what it has, so no field is ever split between two rewrites."""

    def __init__(self, raw: BinaryIO, markers: tuple[str, ...], delimiter: str) -> None:
        if not blankable(markers, delimiter):
            raise ValueError(f"markers {markers!r} cannot be blanked in the bytes")
        self.raw = raw
        self.pattern = re.compile(b"|".join(re.escape(m.encode()) for m in sorted(markers, key=len, reverse=True)))
        self.ends = {ord(delimiter), ord("\n"), ord("\r")}
        self.tail, self.inside, self.ended = b"", False, False

    def read(self, size: int = -1) -> bytes:
        """The next rewritten bytes (any length); empty only at the end."""
        while not self.ended:
            block = self.raw.read(max(size, READ_SIZE))
            data = self.tail + block
            if not block:
                self.ended, self.tail = True, b""
                return self._rewrite(data) if data else b""
            cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            if cut:
                self.tail = data[cut:]
                return self._rewrite(data[:cut])
            self.tail = data  # no line break yet (a very long row): read on
        return b""

    def _rewrite(self, chunk: bytes) -> bytes:
        parts, kept, counted, inside, ends = [], 0, 0, self.inside, self.ends
        for match in self.pattern.finditer(chunk):  # a literal: found at memchr speed, each checked here
            start, end = match.span()
            if 0 < start and end < len(chunk) and chunk[start - 1] == chunk[end] == QUOTE[0]:
                start, end = start - 1, end + 1  # the quoted form
            if (start and chunk[start - 1] not in ends) or (end < len(chunk) and chunk[end] not in ends):
                continue  # part of a longer field
            inside ^= bool(chunk.count(QUOTE, counted, start) & 1)
            counted = start
            if not inside:
                parts.append(chunk[kept:start])
                kept = end
        self.inside = inside ^ bool(chunk.count(QUOTE, counted) & 1)
        if not parts:
            return chunk
        parts.append(chunk[kept:])
        return b"".join(parts)

    def close(self) -> None:
        self.raw.close()
