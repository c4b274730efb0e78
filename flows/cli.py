"""CLI commands that need Prefect; ``data_processor.cli`` adds them. Prefect is imported only when one runs."""

from __future__ import annotations

COMMANDS: list = []
