"""Log records for people and for machines: ECS-named JSON lines, secrets masked, one record per file loaded.

* ``json_formatter()`` is a ``pythonjsonlogger.json.JsonFormatter`` whose records carry the ECS names
  ``@timestamp`` (ISO-8601, UTC), ``log.level``, ``log.logger`` and ``message``, plus every ``extra`` field.
* ``SecretMaskingFilter`` hides database passwords in URLs (``scheme://user:***@host``) and whole webhook URLs
  (Slack, Teams, ``ALERT_WEBHOOK_URL``) in a record's message, arguments, extras and traceback. Put it on a handler.
* ``configure(format, level)`` is the command line's logging: in JSON, one handler on the root logger, to stderr.
* ``result_fields(result)`` is the one shape of a file's outcome, shared by the engine's record and the CLI's line.

``logging.yml`` (the Prefect image's logging) names the formatter and the filter by import path. Nothing here
imports Prefect; python-json-logger is imported only when a JSON formatter is asked for.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from typing import IO, Any, Literal, get_args

from .types import LoadResult

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[str, ...] = get_args(LogFormat)

ECS_RENAMES = {"levelname": "log.level", "name": "log.logger", "file": "file.path", "error": "error.message"}
"""Python's record attribute (or extra) → the Elastic Common Schema field it becomes (``message`` keeps its name).
ECS maps ``file`` and ``error`` as objects, so a plain string there would make Elasticsearch refuse the line."""

TIMESTAMP_FIELD = "@timestamp"
MASK = "***"

WEBHOOK_ENV = "ALERT_WEBHOOK_URL"
"""An environment variable holding the alert webhook: its value is masked wherever it appears."""

_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)\S+@")
"""``scheme://user:PASSWORD@`` (greedy up to the last ``@`` of the word: a password may hold one)."""

_PASSWORD_PARAM = re.compile(r"(?i)\b(password|passwd|pwd)(\s*=\s*)('[^']*'|[^\s&;'\"]+)")
"""``password=...`` in a libpq key=value string or a URL's query."""

_WEBHOOK = re.compile(
    r"(?i)\bhttps?://(?:hooks\.slack\.com|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.webhook\.office\.com"
    r"|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.logic\.azure\.com(?::\d+)?/workflows)(?![\w.-])"
    r"(?:[^\s'\"<>]*[^\s'\"<>.,;:!?)\]}])?"
)
"""Slack incoming webhooks, Teams (Office 365 connector, Power Automate workflow) webhooks: the whole URL is the key.
A sentence's punctuation after the URL is kept."""

_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
"""Attributes every record has; anything else on a record is an ``extra`` field."""


def mask(text: str) -> str:
    """``text`` with URL passwords and webhook URLs replaced by ``***``."""
    webhook = os.environ.get(WEBHOOK_ENV, "").strip()
    if len(webhook) >= 8 and webhook in text:
        text = text.replace(webhook, MASK)
    text = _WEBHOOK.sub(MASK, text)
    text = _PASSWORD_PARAM.sub(rf"\1\2{MASK}", text)
    return _URL_PASSWORD.sub(rf"\1{MASK}@", text)


def _mask_value(value: Any) -> Any:
    """Strings masked, containers walked; any other object is left as it is unless its text holds a secret."""
    if isinstance(value, str):
        return mask(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {key: _mask_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_mask_value(item) for item in value]
    text = str(value)
    hidden = mask(text)
    return hidden if hidden != text else value


class SecretMaskingFilter(logging.Filter):
    """Masks secrets in the message (after ``%`` formatting, so arguments too), extras, traceback and stack.

    The record is changed in place, so every handler after this one sees it masked; a second pass is skipped.
    Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_secrets_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - arguments that do not fit the format: keep both, masked, as text
            message = f"{record.msg} {record.args}"
        if isinstance(record.msg, dict):  # a dict message (python-json-logger) becomes fields, keep its shape
            record.msg = _mask_value(record.msg)
        else:
            record.msg = mask(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                setattr(record, key, _mask_value(value))
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_info = None  # formatters then use exc_text, which is masked below
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        record._secrets_masked = True
        return True


def json_formatter(**options: Any) -> logging.Formatter:
    """A ``pythonjsonlogger.json.JsonFormatter`` emitting one ECS-named JSON object per record.

    ``{"@timestamp": "2026-01-31T09:30:00.123456+00:00", "log.level": "INFO", "log.logger": "data_processor.load",
    "message": "...", <extra fields>}``. ``options`` go to the formatter (e.g. ``static_fields``).
    """
    try:
        from pythonjsonlogger.json import JsonFormatter
    except ImportError:
        from .errors import ConfigError

        raise ConfigError("JSON logs need python-json-logger: pip install python-json-logger") from None
    settings: dict[str, Any] = {
        "fmt": ["levelname", "name", "message"],
        "rename_fields": ECS_RENAMES,
        "timestamp": TIMESTAMP_FIELD,  # datetime in UTC, written as ISO-8601
        "defaults": {TIMESTAMP_FIELD: None},  # defaults come first: the timestamp leads each line
        "json_ensure_ascii": False,
    }
    return JsonFormatter(**{**settings, **options})


def result_fields(result: LoadResult) -> dict[str, Any]:
    """How one file ended, as log fields: file, status, rows_read/loaded/rejected, bytes, seconds (and error; and
    for a loaded file how it went in: applied, rows_inserted/deleted/unchanged)."""
    fields: dict[str, Any] = {
        "file": result.key,
        "status": result.status,
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_rejected": result.rows_rejected,
        "bytes": result.bytes,
        "seconds": round(result.seconds, 3),
    }
    if result.applied:
        fields.update(applied=result.applied, rows_inserted=result.rows_inserted, rows_deleted=result.rows_deleted,
                      rows_unchanged=result.rows_unchanged)
    if result.error is not None:
        fields["error"] = str(result.error)  # ECS error.message
        if result.error.kind:
            fields["error.type"] = result.error.kind
    return fields


def configure(
    format: LogFormat = "text",
    level: int | str = logging.WARNING,
    stream: IO[str] | None = None,
    filters: Iterable[logging.Filter] = (),
) -> logging.Handler | None:
    """The command line's logging: records at ``level`` and above; in ``json``, ECS objects on ``stream`` (stderr).

    ``text`` keeps Python's default (warnings and errors as bare lines on stderr) and leaves the root logger free,
    so Prefect, when a command imports it, installs its own console. ``json`` puts one handler on the root logger
    (replacing one an earlier call added), masks secrets, adds ``filters`` (e.g. the flows' run-context filter)
    and turns Python warnings into records, so stderr holds nothing but JSON. Returns the handler, if any.
    """
    if format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {format!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_data_processor", False)]:
        root.removeHandler(old)
    root.setLevel(level)
    logging.captureWarnings(format == "json")
    if format == "text":
        return None
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(SecretMaskingFilter())
    for extra_filter in filters:
        handler.addFilter(extra_filter)
    handler._data_processor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    return handler
