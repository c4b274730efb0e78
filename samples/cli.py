"""``python -m samples DEST [--layout legacy|current] [--zip] [--mb N] [--seed N]``: write a dump, say what it holds."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .authorities import MAX_AUTHORITIES
from .epc_current import generate_current_dump
from .epc_legacy import generate_epc_dump


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m samples",
        description="Write an EPC-like dump for demos, tests and benchmarks, in the legacy layout (one "
        "domestic-<ONS code>-<Name>/ folder per local authority, each with certificates.csv, the real 92 columns, "
        "and recommendations.csv) or the current service's per-year files, with the real dump's value shapes and "
        "messiness. The same arguments write the same bytes.",
    )
    parser.add_argument("dest", type=Path, help="folder to write into (created if missing; files are overwritten)")
    parser.add_argument("--mb", type=float, default=20, help="total size of all CSV files in MB, ±10%% (default 20)")
    parser.add_argument("--authorities", type=int, default=None,
                        help=f"number of local-authority folders, 1..{MAX_AUTHORITIES} "
                        "(default: about one per 10 MB, at least 3)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--layout", choices=("legacy", "current"), default="legacy",
                        help="legacy: one folder per local authority, upper-case headers, LMK_KEY (default); "
                        "current: the service's per-year certificates-YYYY.csv and recommendations-YYYY.csv, "
                        "lower-case headers, certificate_number")
    parser.add_argument("--zip", action="store_true",
                        help="with --layout current: also write DEST/domestic-csv.zip holding the files")
    args = parser.parse_args(argv)
    if args.zip and args.layout != "current":
        parser.error("--zip needs --layout current")
    started = time.perf_counter()
    try:
        if args.layout == "current":
            dump = generate_current_dump(args.dest, args.mb, authorities=args.authorities, seed=args.seed,
                                         archive=args.zip)
        else:
            dump = generate_epc_dump(args.dest, args.mb, authorities=args.authorities, seed=args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    seconds = time.perf_counter() - started
    where = f"{len(dump.files) // 2} years" if args.layout == "current" else f"{len(dump.files) // 2} folders"
    print(f"wrote {dump.total_bytes / 1e6:.1f} MB in {where} under {dump.root}"
          f"{f' (and {dump.archive.name})' if dump.archive else ''}: "
          f"{dump.certificate_rows:,} certificates, {dump.recommendation_rows:,} recommendations "
          f"({seconds:.1f} s, {dump.total_bytes / 1e6 / max(seconds, 1e-9):.0f} MB/s)")
    return 0
