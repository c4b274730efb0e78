"""Generate the EPC dump as the current service publishes it (``shared/EPC_SCHEMA.md``, "The current service").

The values are the legacy layout's (same pools, same messiness); the layout is the new one:

* one file per lodgement year, ``certificates-YYYY.csv`` and ``recommendations-YYYY.csv``, at the top level;
* lower-case headers; ``certificate_number`` (``0151-3058-8202-6036-8204``) instead of ``lmk_key``, in both files;
  ``building_reference_number`` and ``county`` gone; ``report_type``, ``region``, ``country`` and
  ``low_energy_fixed_lighting_outlets_count`` added;
* the column order is not the same in every year (a loader must map by header name, never by position);
* optionally zipped into ``domestic-csv.zip`` (deflated, members at the top level), as the service ships it.

Deterministic: the same arguments write the same bytes (the zip too: member times are fixed).

    python -m samples DEST --layout current --zip --mb 200
"""

from __future__ import annotations

import math
import zipfile
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from .authorities import Authority, postcode_pool
from .certificates import Decimals, certificate_values
from .columns import CERTIFICATE_COLUMNS, RECOMMENDATION_COLUMNS
from .draw import Pool, where
from .dump import CHUNK_ROWS, GeneratedDump, start_dump
from .recommendations import recommendation_lines

ARCHIVE_NAME = "domestic-csv.zip"
DROPPED = ("LMK_KEY", "BUILDING_REFERENCE_NUMBER", "COUNTY")
CURRENT_CERTIFICATE_COLUMNS: list[str] = ["certificate_number", "report_type"] + [
    name.lower() for name in CERTIFICATE_COLUMNS if name not in DROPPED
]
CURRENT_CERTIFICATE_COLUMNS[CURRENT_CERTIFICATE_COLUMNS.index("constituency_label") + 1:0] = ["region", "country"]
CURRENT_CERTIFICATE_COLUMNS.insert(CURRENT_CERTIFICATE_COLUMNS.index("low_energy_fixed_light_count") + 1,
                                   "low_energy_fixed_lighting_outlets_count")
CURRENT_RECOMMENDATION_COLUMNS = ["certificate_number", *(c.lower() for c in RECOMMENDATION_COLUMNS[1:])]

REPORT_TYPE = Pool({"100": 88, "101": 12})
REGIONS = {  # postcode area -> English region (Welsh authorities: "Wales")
    "TS": "North East", "DL": "North East", "HU": "Yorkshire and The Humber", "YO": "Yorkshire and The Humber",
    "LS": "Yorkshire and The Humber", "DN": "Yorkshire and The Humber", "M": "North West", "WA": "North West",
    "BB": "North West", "FY": "North West", "B": "West Midlands", "TF": "West Midlands", "ST": "West Midlands",
    "HR": "West Midlands", "DE": "East Midlands", "LE": "East Midlands", "NG": "East Midlands",
    "BS": "South West", "BA": "South West", "PL": "South West", "TQ": "South West", "SW": "London",
    "EC": "London", "RH": "South East", "OX": "South East", "CB": "East of England",
}


def column_order(year: int) -> list[str]:
    """The certificate columns of one year's file: a few years move columns, as the real files do."""
    order = list(CURRENT_CERTIFICATE_COLUMNS)
    if year % 3 == 0:
        a, b = order.index("posttown"), order.index("constituency_label")
        order[a], order[b] = order[b], order[a]
    if year % 4 == 1:
        order.append(order.pop(order.index("report_type")))
    return order


def certificate_numbers(rng: np.random.Generator, first_number: int, n: int) -> np.ndarray:
    """``dddd-dddd-dddd-dddd-dddd``, unique per row: 12 random digits, then 8 that are a bijection of the row."""
    heads = rng.integers(0, 10**12, n)
    tails = (np.arange(first_number, first_number + n, dtype=np.int64) * 48_271 + 12_345) % 100_000_000
    digits = [f"{h:012d}{t:08d}" for h, t in zip(heads.tolist(), tails.tolist())]
    return np.array(["-".join(d[i:i + 4] for i in range(0, 20, 4)) for d in digits], dtype=object)


def _current_values(rng: np.random.Generator, n: int, first_number: int, authority: Authority | None,
                    postcodes: np.ndarray, dec: Decimals) -> dict[str, np.ndarray]:
    legacy = certificate_values(rng, n, first_number, authority, postcodes, dec)
    c = {name.lower(): values for name, values in legacy.items() if name not in DROPPED}
    c["certificate_number"] = certificate_numbers(rng, first_number, n)
    c["report_type"] = REPORT_TYPE.draw(rng, n)
    region = "" if authority is None else "Wales" if authority.welsh else REGIONS.get(authority.area, "")
    country = "" if authority is None else "Wales" if authority.welsh else "England"
    c["region"] = np.full(n, region, dtype=object)
    c["country"] = np.full(n, country, dtype=object)
    c["low_energy_fixed_lighting_outlets_count"] = where(rng.random(n) < 0.9, c["low_energy_fixed_light_count"], "")
    return c


def generate_current_dump(dest: Path, target_mb: float = 5.0, *, authorities: int | None = None, seed: int = 42,
                          archive: bool = False) -> GeneratedDump:
    """Write ``dest/certificates-YYYY.csv`` and ``dest/recommendations-YYYY.csv`` totalling about ``target_mb``;
    with ``archive``, also ``dest/domestic-csv.zip`` holding them (``GeneratedDump.archive``)."""
    dest, chosen, _setup, decimals = start_dump(dest, target_mb, authorities, seed)
    budget_per_authority = target_mb * 1_000_000 / len(chosen)
    certificate_rows = recommendation_rows = total_bytes = 0
    bytes_per_certificate = 1500.0
    outputs: dict[int, tuple] = {}
    with ExitStack() as stack:
        def out(year: int) -> tuple:
            if year not in outputs:
                cert = stack.enter_context(open(dest / f"certificates-{year}.csv", "wb"))
                rec = stack.enter_context(open(dest / f"recommendations-{year}.csv", "wb"))
                cert.write((",".join(column_order(year)) + "\n").encode())
                rec.write((",".join(CURRENT_RECOMMENDATION_COLUMNS) + "\n").encode())
                outputs[year] = (cert, rec)
            return outputs[year]

        for index, authority in enumerate(chosen):
            rng = np.random.default_rng([seed, 2, index])
            postcodes = postcode_pool(rng, authority)
            written = rows = 0
            while rows == 0 or written < budget_per_authority:
                n = max(1, min(CHUNK_ROWS, math.ceil((budget_per_authority - written) / bytes_per_certificate)))
                c = _current_values(rng, n, certificate_rows, authority, postcodes, decimals)
                years = np.array([int(d[:4]) for d in c["lodgement_date"]])
                chunk_bytes = 0
                for year in np.unique(years).tolist():
                    picked = np.flatnonzero(years == year)
                    columns = [c[name][picked].tolist() for name in column_order(year)]
                    lines = list(map(",".join, zip(*columns)))
                    rec_lines = recommendation_lines(rng, c["certificate_number"][picked])
                    cert, rec = out(year)
                    chunk_bytes += cert.write(("\n".join(lines) + "\n").encode())
                    if rec_lines:
                        chunk_bytes += rec.write(("\n".join(rec_lines) + "\n").encode())
                    recommendation_rows += len(rec_lines)
                written += chunk_bytes
                if n >= 200:
                    bytes_per_certificate = chunk_bytes / n
                rows += n
                certificate_rows += n
            total_bytes += written
    files = [dest / f"{kind}-{year}.csv" for year in sorted(outputs) for kind in ("certificates", "recommendations")]
    total_bytes += sum(len(",".join(column_order(y))) + len(",".join(CURRENT_RECOMMENDATION_COLUMNS)) + 2
                       for y in outputs)
    zipped = write_archive(dest / ARCHIVE_NAME, files) if archive else None
    return GeneratedDump(dest, files, certificate_rows, recommendation_rows, total_bytes, archive=zipped)


def write_archive(path: Path, files: list[Path]) -> Path:
    """``files`` deflated into one zip, members at the top level, fixed times (same input, same bytes)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for file in files:
            info = zipfile.ZipInfo(file.name, date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.file_size = file.stat().st_size  # zipfile then writes zip64 records for members over 2 GB
            with open(file, "rb") as source, archive.open(info, "w") as member:
                while block := source.read(1 << 20):
                    member.write(block)
    return path

