"""Data Processor: load a folder of CSV files into one SQL table, fast, exactly once, nothing lost.

The public API is the staged engine: ``plan`` (read-only) → ``apply`` (DDL, once) → ``load`` (through a fan-out),
or ``run`` for all three under the table's lock. The engine knows nothing of Prefect; ``flows/`` wraps it.
"""

from typing import Any

from .engine import Plan, apply, discover, load, locked, plan, run
from .fanout import FanOut, InProcess, LocalProcesses
from .summary import RunSummary

__all__ = ["FanOut", "InProcess", "LocalProcesses", "Plan", "RunSummary", "Settings", "apply", "discover", "load",
           "locked", "plan", "run"]


def __getattr__(name: str) -> Any:
    """``Settings`` on first use: load worker processes import this package and never need pydantic."""
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
