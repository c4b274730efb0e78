"""What every layout's generator shares: its set-up from the arguments, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .authorities import Authority, authority_list, default_authorities
from .certificates import Decimals

CHUNK_ROWS = 4000
"""Certificates made per numpy pass: large enough to amortise the per-call cost, small enough to bound memory."""


@dataclass(frozen=True)
class GeneratedDump:
    """What a generator wrote. ``files`` lists each certificates file, then its recommendations file."""

    root: Path
    files: list[Path]
    certificate_rows: int
    recommendation_rows: int
    total_bytes: int
    archive: Path | None = None
    """The zip holding ``files`` (the current layout with ``--zip``)."""


def start_dump(dest: Path, target_mb: float, authorities: int | None,
               seed: int) -> tuple[Path, list[Authority | None], np.random.Generator, Decimals]:
    """What every layout's generator starts from: the folder (created), the authorities, the seeded set-up
    generator and the decimal formatter."""
    if target_mb <= 0:
        raise ValueError(f"target_mb must be positive, got {target_mb}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    chosen = authority_list(authorities if authorities is not None else default_authorities(target_mb))
    setup = np.random.default_rng([seed, 0])
    return dest, chosen, setup, Decimals(setup)

