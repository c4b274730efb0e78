"""Turn CSV headers into safe, unique SQL column names (pure functions).

Rules, in order:

- trim white space and a stray byte-order mark; lower-case;
- every run of characters other than ``a-z``, ``0-9`` becomes one ``_``; leading and trailing ``_`` go;
- a name that starts with a digit gets a ``c_`` prefix; an empty name becomes ``column_<position>``;
- names the tool owns (``_file_id``, ``_row_hash``) cannot be taken: the header gets a ``_2`` suffix like any duplicate;
- a name longer than the database allows (63 bytes in PostgreSQL, 64 in MariaDB) is cut and given a short hash of
  the original header, so two long headers that share a prefix can never collide after truncation;
- duplicates get ``_2``, ``_3`` … (shortened the same way when needed).

Reserved words (``select``, ``order``) are kept as they are: SQLAlchemy quotes every identifier we emit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from .types import FILE_ID_COLUMN, ROW_HASH_COLUMN

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_RESERVED_FOR_TOOL = frozenset({FILE_ID_COLUMN, ROW_HASH_COLUMN})


def snake_case(header: str) -> str:
    """``"  Current Energy-Rating (%)"`` → ``"current_energy_rating"``. Accents are folded to ASCII."""
    text = unicodedata.normalize("NFKD", header.strip().lstrip("\ufeff")).encode("ascii", "ignore").decode()
    return _NOT_WORD.sub("_", text.lower()).strip("_")


def shorten(name: str, max_bytes: int | None, original: str | None = None) -> str:
    """Cut ``name`` to ``max_bytes`` with a hash tag of ``original`` so different originals stay different."""
    if max_bytes is None or len(name.encode()) <= max_bytes:
        return name
    tag = hashlib.sha1((original or name).encode()).hexdigest()[:8]
    return f"{name[: max_bytes - len(tag) - 1].rstrip('_')}_{tag}"


def column_names(headers: list[str] | tuple[str, ...], max_bytes: int | None = 63) -> list[str]:
    """Safe unique column names for a file's headers, position for position."""
    names: list[str] = []
    taken: set[str] = set(_RESERVED_FOR_TOOL)
    for position, header in enumerate(headers, start=1):
        base = snake_case(header) or f"column_{position}"
        if base[0].isdigit():
            base = f"c_{base}"
        name = shorten(base, max_bytes, header)
        suffix = 1
        while name in taken:
            suffix += 1
            name = shorten(f"{base}_{suffix}", max_bytes, f"{header}\x00{suffix}")
        taken.add(name)
        names.append(name)
    return names
