"""What the Prefect flow costs over the engine: ``data-processor flow`` against ``data-processor load`` on the same
small files, against a running Prefect server.

Why: the flow is the path the users run (the schedule, ``prefect deployment run``, the UI), and small files show
its per-file cost plainly (a second per file was once the price of a concurrency slot asked of a SQLite-backed
server). Each round loads the same files into fresh tables, the engine's run then the flow's, so a busy spell on the
shared machine hits both; the ratio is taken round by round. Goal: flow ≤ 1.5 × engine + 5 s.

    prefect server start &                           # the server a user starts (SQLite), or any PREFECT_API_URL
    PREFECT_API_URL=http://127.0.0.1:4200/api python bench/flow_overhead.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from samples.epc_legacy import generate_epc_dump  # noqa: E402

DEFAULT_DEST = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def fresh(engine: sa.Engine, table: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}", "{table}_rejects"'))
        if sa.inspect(conn).has_table("data_processor_files"):
            conn.execute(sa.text("DELETE FROM data_processor_files WHERE table_name = :t"), {"t": table})


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(command[:4])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=20, help="size of the generated files in MB (default 20)")
    parser.add_argument("--authorities", type=int, default=16, help="folders, two files each (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="engine + flow pairs (default 3)")
    parser.add_argument("--dest", default=DEFAULT_DEST, help=f"database URL (default {DEFAULT_DEST})")
    args = parser.parse_args()
    if not os.environ.get("PREFECT_API_URL"):
        sys.exit("set PREFECT_API_URL to a running Prefect server (the temporary API would time its own start)")
    engine = sa.create_engine(args.dest)
    with tempfile.TemporaryDirectory(prefix="dp-flow-bench-") as scratch:
        dump = generate_epc_dump(Path(scratch), args.mb, authorities=args.authorities, seed=7)
        files = len(dump.files)
        common = ["--src", scratch, "--dest", args.dest, "--workers", "2"]
        cli = [sys.executable, "-m", "data_processor"]
        pairs = []
        for _ in range(args.rounds):
            fresh(engine, "bench_flow_engine")
            fresh(engine, "bench_flow_flow")
            plain = timed([*cli, "load", *common, "--table", "bench_flow_engine"])
            flow = timed([*cli, "flow", *common, "--table", "bench_flow_flow"])
            pairs.append((plain, flow))
            print(f"  engine {plain:.2f} s, flow {flow:.2f} s", flush=True)
        for table in ("bench_flow_engine", "bench_flow_flow"):
            fresh(engine, table)
    plain, flow = (statistics.median(p[i] for p in pairs) for i in (0, 1))
    ratios = [f / p for p, f in pairs]
    print(f"\n{files} files, {dump.total_bytes / 1e6:.0f} MB, server {os.environ['PREFECT_API_URL']}, "
          f"median of {args.rounds} round(s)\n")
    print("| | seconds | × engine | per file over the engine |")
    print("|---|---:|---:|---:|")
    print(f"| `data-processor load --workers 2` | {plain:.2f} | 1.00× | |")
    print(f"| `data-processor flow --workers 2` | {flow:.2f} | {statistics.median(ratios):.2f}× "
          f"| {(flow - plain) / files:.3f} s |")
    goal = 1.5 * plain + 5
    print(f"\ngoal flow ≤ 1.5 × engine + 5 s = {goal:.1f} s: {'met' if flow <= goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
