"""What to load where: one typed settings object, the only place options, defaults and environment names are written.

The CLI's options are generated from these fields (``cli.settings_options``); the flows' parameters, the
deployments' parameters and the Helm chart's environment are checked against them by ``tests/unit/test_settings.py``.
Values come from keyword arguments, else the environment, else the field's default; ``None`` or ``""`` counts as
not given. The original script's variables keep their names (``SRC_DATA_FOLDER``, ``SRC_FILE_NAME``, ``DEST_SQL``,
``DEST_TABLE``); every other field reads ``DATA_PROCESSOR_<NAME>`` (a list: one value, or a JSON list).

Importing this module imports no Prefect: load worker processes import it with the engine.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .db import masked
from .errors import ConfigError

ENV_PREFIX = "DATA_PROCESSOR_"

DEFAULT_DEST = "sqlite:///data_processor.db"
"""Where a load goes when neither --dest nor DEST_SQL says: a SQLite file in the current folder."""

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
"""A container's CPU limit (cgroup v2: "<quota> <period>" or "max <period>")."""


class DatabaseUrl(SecretStr):
    """A database URL whose text (``str``, ``repr``, logs, JSON) hides the password but still names the database."""

    def _display(self) -> str:
        return masked(self.get_secret_value())


class Destination(BaseSettings):
    """Where the rows go: the part of :class:`Settings` a per-file load and ``status`` need."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid", validate_by_name=True)

    dest: DatabaseUrl = Field(
        DatabaseUrl(DEFAULT_DEST), validation_alias="DEST_SQL",
        description="SQLAlchemy URL: postgresql://user@host/db, mysql://user@host/db or sqlite:///file.db. Give a "
        "password through DEST_SQL (a Kubernetes Secret in a pod) rather than on the command line; it is never "
        "printed or logged.",
    )

    def __init__(self, **values: Any) -> None:
        given = {name: value for name, value in values.items() if value is not None and value != ""}
        try:
            super().__init__(**given)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None

    @property
    def dest_url(self) -> str:
        """The URL itself, password included: for the engine only, never for a message."""
        return self.dest.get_secret_value()


class Settings(Destination):
    """What to load where; the CLI's options and the flows' parameters, one for one."""

    src: str = Field(
        ".", validation_alias="SRC_DATA_FOLDER",
        description="Where the files are: a folder, s3://bucket/prefix (or gs://, az://), https://…/file, or a zip "
        "archive, local or remote, read as if it were the folder (members never extracted).",
    )
    glob: str = Field(
        "**/*.csv", validation_alias="SRC_FILE_NAME",
        description="Which files, relative to the source (the prefix, or inside the zip). ** spans folders; {a,b} "
        "alternatives; .csv.gz files are decompressed.",
    )
    table: str = Field(validation_alias="DEST_TABLE", description="Target table (created if missing).")
    workers: int = Field(
        0, ge=0,
        description="Files scanned and loaded at once; 0 = one per CPU this process may use (a container's CPU "
        "limit counts), right for a laptop and for a pod alike. SQLite always loads one at a time.",
    )
    schema_file: str | None = Field(
        None,
        description="YAML/JSON file 'columns: {HEADER: type}' overriding inferred types (integer, bigint, "
        "decimal(p,s), double, date, timestamp, text).",
    )
    max_bad_rows: int = Field(
        1000, ge=0, description="A file with more bad rows than this fails whole; nothing of it is loaded.",
    )
    null_values: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Values that mean NULL, e.g. 'NO DATA!'. By default only an empty field is NULL: None, N/A and "
        "NA are data.",
    )
    null_padding: bool = Field(
        False,
        description="Load a row with fewer fields than the header, its missing fields NULL (files that leave out "
        "empty trailing fields), instead of rejecting it. A row with more fields is still rejected.",
    )
    hash_first_load: bool = Field(
        False,
        description="Give a new file's rows their hashes on its first load too (every row parsed: slower on "
        "PostgreSQL, where a clean file is otherwise copied raw), so that its first change is applied as a row "
        "difference instead of replacing it whole. For data that comes back changed, like the monthly EPC release.",
    )
    lock_timeout: float = Field(
        600.0, ge=0,
        description="Seconds to wait for another run on the same table to finish. Ten minutes, so that an "
        "unattended run started beside one that is finishing (a retry, a manual run next to the schedule) waits "
        "instead of failing; at a terminal, Ctrl-C stops the wait.",
    )
    prune: bool = Field(
        False,
        description="Delete the rows of files loaded earlier that the glob no longer matches (deleted, moved, "
        "merged into another authority's file). Without it they stay, with a note.",
    )
    run_id: str = Field(
        "", description="Recorded in the ledger with every file this run loads; empty: a new id for each run.",
    )

    @field_validator("null_values", mode="before")
    @classmethod
    def _one_or_a_list(cls, value: object) -> object:
        return text_list(value) if isinstance(value, str) else value

    @field_validator("table")
    @classmethod
    def _table_named(cls, table: str) -> str:
        if not table.strip():
            raise ValueError("empty")
        return table

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else available_cpus()


def env_name(field: str) -> str:
    """The environment variable a field of :class:`Settings` reads."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else ENV_PREFIX + field.upper()


def option_name(field: str) -> str:
    """The command-line option of a field: ``--max-bad-rows``; ``--schema`` for ``schema_file``."""
    return "--schema" if field == "schema_file" else "--" + field.replace("_", "-")


def text_list(text: str) -> tuple[str, ...]:
    """A list in an environment variable: ``'["NO DATA!", "N/A"]'`` (JSON), or one value as it is: ``NO DATA!``."""
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except ValueError:
            raise ValueError(f"not a JSON list of strings: {text!r}") from None
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            return tuple(values)
        raise ValueError(f"not a JSON list of strings: {text!r}")
    return (text,)


def available_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a container's CPU limit, which ``os.cpu_count`` ignores
    (a 2-CPU pod on a 16-core node would otherwise start 16 workers of ~200 MB each)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()
        return max(1, min(count, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):  # no cgroup v2 limit ("max", or not in a container)
        return count


def _one_line(exc: ValidationError) -> str:
    """A validation error as one sentence naming the option and its variable, never the value (it may be a URL)."""
    error = exc.errors()[0]
    field = next((name for name in Settings.model_fields
                  if error["loc"] and error["loc"][0] in (name, Settings.model_fields[name].validation_alias)), None)
    if field is None:
        return f"unknown setting {'.'.join(map(str, error['loc']))!r}"
    if field == "table":
        return f"a table name is required: --table NAME (or {env_name('table')})"
    if error["type"] == "greater_than_equal":
        return f"{option_name(field)} must be {error['ctx']['ge']:g} or more"
    reason = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
    return f"{option_name(field)} (or {env_name(field)}): {reason[0].lower()}{reason[1:]}"
