"""What to load where: one settings object for the CLI, the flows and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """What to load where; the CLI's options and the flows' parameters, one for one."""

    src: str
    glob: str
    dest: str
    table: str
    workers: int = 0
    schema_file: str | None = None
    max_bad_rows: int = 1000
    null_values: tuple[str, ...] = ()
    lock_timeout: float = 60.0
    run_id: str = ""
    prune: bool = False
    """Delete the rows of files loaded earlier that no longer match (deleted, moved, merged into another file)."""

    def __post_init__(self) -> None:
        if not self.table or not self.table.strip():
            raise ConfigError("a table name is required: --table NAME (or DEST_TABLE)")
        if self.max_bad_rows < 0:
            raise ConfigError("--max-bad-rows must be 0 or more")

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)
