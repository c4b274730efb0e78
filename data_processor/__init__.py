"""Data Processor: load a folder of CSV files into one SQL table, fast, exactly once, nothing lost.

The engine knows nothing of Prefect; ``flows/`` wraps these functions.
"""

from .run import LoadOptions, RunSummary, load, prepare

__all__ = ["LoadOptions", "RunSummary", "load", "prepare"]
