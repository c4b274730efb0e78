"""Data Processor: load a folder of CSV files into one SQL table, fast, exactly once, nothing lost.

The engine knows nothing of Prefect; ``flows/`` wraps these functions.
"""

from typing import Any

from .run import RunSummary, load, prepare

__all__ = ["RunSummary", "Settings", "load", "prepare"]


def __getattr__(name: str) -> Any:
    """``Settings`` on first use: load worker processes import this package and never need pydantic."""
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
