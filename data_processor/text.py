"""How values are worded for people: counts with the right plural, and names that cannot rewrite the terminal.

A file name may hold any byte but ``/`` and NUL: a newline would forge a line of output, an ANSI escape could
recolour or erase the screen. Text output shows such names escaped (``printable``); JSON output needs nothing,
since JSON strings escape control characters themselves.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 control characters (newline, carriage return, escape, ...) and Unicode's line separators."""

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 file``, ``2 files``, ``1,000 rows``."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def printable(name: str) -> str:
    """``name`` on one line with nothing the terminal obeys: control characters as ``\\n``, ``\\x1b``, ...

    The same form discovery gives bytes that are not UTF-8 (``\\xNN``).
    """
    return _CONTROL.sub(_escape, name)


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
