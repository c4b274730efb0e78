"""How a fetch shows itself: a progress bar (bytes, rate, ETA) on a terminal, JSON lines under ``--log-format json``.

It writes through the command line's chosen output (``output.current()``): on stderr the progress and notes
(``fetch.start``, ``fetch.progress`` every few seconds, ``fetch.retry``, ``fetch.resume``, ``fetch.restart``,
``fetch.upload`` when the file goes on to an object store), on stdout the one-line summary (``fetch.done`` or
``fetch.skipped``) with the release, size, where, seconds, MB/s.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)

from .. import output

if TYPE_CHECKING:
    from .download import FetchResult


class CliReport:
    """The ``Reporter`` of ``transfer.py`` for the command line; a context manager around the transfer."""

    json_interval = 5.0
    """Seconds between two ``fetch.progress`` lines."""
    text_interval = 30.0
    """Seconds between two progress lines when stderr is not a terminal (a cron job's or a pod's log)."""

    def __init__(self) -> None:
        self.out = output.current()
        self.bar: Progress | None = None
        self.task = None
        self._last_line = 0.0
        self._start = time.monotonic()
        self._resumed_from = 0

    def __enter__(self) -> CliReport:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def _json(self) -> bool:
        return self.out.format == "json"

    def started(self, name: str, total: int | None, resumed_from: int, verb: str = "downloading") -> None:
        """A transfer begins (the download, then for an object store the upload)."""
        self.__exit__()
        self._start, self._resumed_from, self._last_line = time.monotonic(), resumed_from, 0.0
        where = f" (resuming at byte {resumed_from:,})" if resumed_from else ""
        if self._json():
            action = "fetch.upload" if verb == "uploading" else "fetch.start"
            self.out.emit(self.out.err, logging.INFO, action, f"{verb} {name}{where}",
                          **{"file.name": name},
                          total_bytes=total, resumed_from=resumed_from)
        elif self.out.err.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                TransferSpeedColumn(), TimeRemainingColumn(), console=self.out.err)
            self.bar.start()
            self.task = self.bar.add_task(f"{verb} {name}", total=total, completed=resumed_from)
        else:
            self.out.err.print(f"{verb} {name}{where}", markup=False)

    def advanced(self, done: int, total: int | None) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)
            return
        now = time.monotonic()
        interval = self.json_interval if self._json() else self.text_interval
        last = self._json() and done == total  # JSON always says 100 %; text has the summary for that
        if now - self._last_line < interval and not last:
            return
        self._last_line = now
        elapsed = now - self._start
        rate = (done - self._resumed_from) / elapsed if elapsed else 0.0
        eta = (total - done) / rate if total and rate else None
        share = f" of {total:,} ({done / total:.0%})" if total else ""
        left = f", about {eta:,.0f} s left" if eta else ""
        message = f"{done:,} bytes{share}, {rate / 1e6:.1f} MB/s{left}"
        if not self._json():
            self.out.err.print(message, markup=False)
            return
        self.out.emit(self.out.err, logging.INFO, "fetch.progress", message, bytes=done, total_bytes=total,
                      mb_per_s=round(rate / 1e6, 2), eta_seconds=None if eta is None else round(eta, 1))

    def note(self, message: str, action: str, **fields: Any) -> None:
        if self._json():
            level = logging.WARNING if action in ("fetch.retry", "fetch.restart") else logging.INFO
            self.out.emit(self.out.err, level, action, message, **fields)
        elif self.bar is not None:
            self.bar.console.print(message, markup=False)
        else:
            self.out.err.print(message, markup=False)

    def finished(self, result: FetchResult) -> None:
        """The summary line, on stdout."""
        self.__exit__()
        action = "fetch.skipped" if result.status == "skipped" else "fetch.done"
        self.out.note(result.line(), action, **result.fields())
