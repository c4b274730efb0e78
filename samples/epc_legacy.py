"""The legacy layout: one ``domestic-<ONS code>-<Name>/`` folder per local authority (English ``E0...``, a few
Welsh ``W06...``, and ``domestic-_unknown_local_authority--Unknown-Local-Authority-``), each with
``certificates.csv`` (the 92 columns, upper-case headers, in file order) and ``recommendations.csv`` (7 columns,
keyed by LMK_KEY, 0-6 rows per certificate).

    python -m samples DEST --mb 200 --seed 1
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .authorities import UNKNOWN_FOLDER, postcode_pool
from .certificates import certificate_lines
from .columns import CERTIFICATE_COLUMNS, RECOMMENDATION_COLUMNS
from .dump import CHUNK_ROWS, GeneratedDump, start_dump
from .recommendations import recommendation_lines


def generate_epc_dump(dest: Path, target_mb: float = 5.0, *, authorities: int | None = None,
                      seed: int = 42) -> GeneratedDump:
    """Write ``dest/domestic-<code>-<Name>/{certificates,recommendations}.csv`` totalling about ``target_mb``.

    ``authorities=None`` picks about one folder per 10 MB (3..40); folders get unequal shares, as real ones do
    (the unknown folder is small). Every folder gets at least one certificate. Existing files are overwritten.
    """
    dest, chosen, setup, decimals = start_dump(dest, target_mb, authorities, seed)
    weights = setup.lognormal(0.0, 0.5, len(chosen))
    if chosen[-1] is None and len(chosen) > 1:
        weights[-1] = weights[:-1].mean() * 0.1  # the unknown folder is a small one
    budgets = weights / weights.sum() * target_mb * 1_000_000

    files: list[Path] = []
    certificate_rows = recommendation_rows = total_bytes = 0
    bytes_per_certificate = 1500.0  # certificate line + its recommendation lines; re-estimated as we go
    for index, (authority, budget) in enumerate(zip(chosen, budgets)):
        rng = np.random.default_rng([seed, 1, index])
        postcodes = postcode_pool(rng, authority)
        folder = dest / (authority.folder if authority is not None else UNKNOWN_FOLDER)
        folder.mkdir(parents=True, exist_ok=True)
        certificates, recommendations = folder / "certificates.csv", folder / "recommendations.csv"
        with open(certificates, "wb") as cert_out, open(recommendations, "wb") as rec_out:
            written = cert_out.write((",".join(CERTIFICATE_COLUMNS) + "\n").encode())
            written += rec_out.write((",".join(RECOMMENDATION_COLUMNS) + "\n").encode())
            rows = 0
            while rows == 0 or written < budget:
                n = max(1, min(CHUNK_ROWS, math.ceil((budget - written) / bytes_per_certificate)))
                lines, keys = certificate_lines(rng, n, certificate_rows, authority, postcodes, decimals)
                rec_lines = recommendation_lines(rng, keys)
                chunk_bytes = cert_out.write(("\n".join(lines) + "\n").encode())
                if rec_lines:
                    chunk_bytes += rec_out.write(("\n".join(rec_lines) + "\n").encode())
                written += chunk_bytes
                if n >= 200:  # small chunks are too noisy to learn the row size from
                    bytes_per_certificate = chunk_bytes / n
                rows += n
                certificate_rows += n
                recommendation_rows += len(rec_lines)
        total_bytes += written
        files += [certificates, recommendations]
    return GeneratedDump(dest, files, certificate_rows, recommendation_rows, total_bytes)

