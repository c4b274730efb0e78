"""Find the files a glob matches under a folder: deterministic, loop-safe, never opening what could hang.

The walk follows symbolic links (data folders are often assembled from links) but remembers every directory it
has entered by device and inode, so a link loop ends the branch instead of the run. Matches are checked with
``stat`` only: a FIFO, a socket or a directory that matches the glob is reported and skipped, never opened. A file
reached twice (a link and its target both match) is loaded once, under the first key in sorted order.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from wcmatch import glob as wcglob

from .errors import ConfigError
from .types import SourceFile

GLOB_FLAGS = wcglob.GLOBSTAR | wcglob.BRACE | wcglob.NEGATE
"""``**`` spans folders (and matches none), ``{a,b}`` alternatives; hidden files need an explicit dot."""


@dataclass(frozen=True)
class Problem:
    """A match that will not be loaded. ``fatal`` ones mean data the user asked for is missing: the run fails."""

    key: str
    reason: str
    fatal: bool


@dataclass(frozen=True)
class Discovery:
    files: list[SourceFile]
    problems: list[Problem] = field(default_factory=list)


def discover_folder(src: str | os.PathLike[str], pattern: str) -> Discovery:
    """All regular files under ``src`` whose path relative to ``src`` matches ``pattern``, sorted by that path."""
    root = Path(src)
    if not root.is_dir():
        raise ConfigError(f"source folder {str(root)!r} does not exist or is not a folder")
    pattern = pattern.strip().lstrip("/") or "**/*.csv"
    problems: list[Problem] = []
    candidates: list[str] = []
    seen_dirs: set[tuple[int, int]] = set()

    def on_error(exc: OSError) -> None:
        problems.append(Problem(_rel(root, exc.filename), f"cannot list folder: {exc.strerror}", fatal=False))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=on_error):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen_dirs:
            problems.append(Problem(_rel(root, dirpath), "folder already visited (symbolic link loop?)", False))
            dirnames.clear()
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirnames.sort()
        for name in dirnames:
            rel = _rel(root, os.path.join(dirpath, name))
            if matches(rel, pattern):
                problems.append(Problem(file_key(rel), "matches the glob but is a folder; skipped", fatal=False))
        candidates.extend(_rel(root, os.path.join(dirpath, name)) for name in filenames)

    files: list[SourceFile] = []
    seen_files: dict[tuple[int, int], str] = {}
    for rel in sorted(k for k in candidates if matches(k, pattern)):
        path, key = root / rel, file_key(rel)
        try:
            st = os.stat(path)
        except OSError as exc:
            reason = "dangling symbolic link" if path.is_symlink() else f"cannot stat: {exc.strerror}"
            problems.append(Problem(key, reason, fatal=True))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(Problem(key, "not a regular file (FIFO, socket or device); skipped", fatal=False))
            continue
        if (st.st_dev, st.st_ino) in seen_files:
            problems.append(Problem(key, f"same file as {seen_files[(st.st_dev, st.st_ino)]}; loaded once", False))
            continue
        if not os.access(path, os.R_OK):
            problems.append(Problem(key, "permission denied", fatal=True))
            continue
        seen_files[(st.st_dev, st.st_ino)] = key
        files.append(SourceFile(path=path, key=key, size=st.st_size))
    return Discovery(files=files, problems=problems)


def matches(key: str, pattern: str) -> bool:
    return wcglob.globmatch(key, pattern, flags=GLOB_FLAGS)


def file_key(rel: str) -> str:
    """A name that is not valid UTF-8 (a zip made on Windows) as text any database stores: bad bytes as \\xNN."""
    return os.fsencode(rel).decode("utf-8", errors="backslashreplace")


def _rel(root: Path, path: str | None) -> str:
    return Path(os.path.relpath(path or root, root)).as_posix()
