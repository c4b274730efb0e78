"""The records that cross process boundaries as JSON, and their one serializer.

A plan cut down to one file, a scan job and what a pod hands back (a file's statistics, or a failed or misfit
result) travel as flow parameters or through the database: each is a frozen dataclass of ``types``, ``jobs`` or
``planning``, written and read here by pydantic from its type hints, so no record has a hand-written format.
Pydantic is imported on first use: load workers never serialize and start faster without it.
"""

from __future__ import annotations

from functools import cache
from typing import TypeVar

T = TypeVar("T")


@cache
def _adapter(kind: type):  # noqa: ANN202 - a pydantic TypeAdapter
    from pydantic import TypeAdapter

    return TypeAdapter(kind)


def to_data(record: object) -> dict:
    """Plain JSON data (a flow parameter); :func:`from_data` gives back an equal record."""
    return _adapter(type(record)).dump_python(record, mode="json")


def from_data(kind: type[T], data: dict) -> T:
    return _adapter(kind).validate_python(data)


def to_text(record: object) -> str:
    """A JSON document (kept in a database row); :func:`from_text` gives back an equal record."""
    return _adapter(type(record)).dump_json(record).decode()


def from_text(kind: type[T], text: str) -> T:
    return _adapter(kind).validate_json(text)
