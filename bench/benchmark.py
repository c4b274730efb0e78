"""Benchmark: the tool against ``psql \\copy`` (the ceiling) and the original ``read_csv`` + ``to_sql`` script.

Not a test: shared 2-core machines are noisy, so it prints ratios measured in one run (median of --repeat runs),
plus each method's peak RSS (read from ``wait4`` for that process alone). Run: ``make bench MB=200``.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data_processor.sample_data import CERTIFICATE_COLUMNS, generate_epc_dump  # noqa: E402

PSQL = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
PANDAS_LOAD = """
import sys, pandas, sqlalchemy
engine = sqlalchemy.create_engine(sys.argv[1])
for path in sys.argv[3:]:
    pandas.read_csv(path).to_sql(sys.argv[2], engine, if_exists="append", index=False)
"""


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process tree's largest process.

    GNU time reports the peak of the command it starts itself, so the figure is not inflated by this (large)
    Python process, which a direct fork would count. Worker processes report their own peak to their parent.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M", *command],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            errors = [line for line in done.stderr.decode().splitlines() if "Error" in line or "error" in line]
            raise Failed((errors or ["exit status %d" % done.returncode])[-1][:300])
        return seconds, int(report.read().split()[-1]) / 1024


class Failed(Exception):
    """A method that could not load the data at all (the original script does this on EPC data)."""


def reset(engine: sa.Engine, *tables: str) -> None:
    with engine.begin() as conn:
        for table in tables:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}", "{table}_rejects"'))
        if sa.inspect(conn).has_table("data_processor_files"):
            conn.execute(sa.text("DELETE FROM data_processor_files WHERE table_name IN :t").bindparams(
                sa.bindparam("t", expanding=True)), {"t": list(tables)})
            conn.execute(sa.text("DELETE FROM data_processor_columns WHERE table_name IN :t").bindparams(
                sa.bindparam("t", expanding=True)), {"t": list(tables)})


def tool(url: str, data: Path, workers: int, table: str = "bench_tool", glob: str = "**/certificates.csv"):
    return run([sys.executable, "-m", "data_processor", "load", "--src", str(data), "--glob", glob,
                "--dest", url, "--table", table, "--workers", str(workers)])


def psql_copy(engine: sa.Engine, files: list[Path]) -> tuple[float, float]:
    """One psql per file, one after another: what a careful shell script does."""
    columns = ", ".join(f'"{c.lower()}" text' for c in CERTIFICATE_COLUMNS)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE bench_psql ({columns})"))
    url = engine.url
    seconds = peak = 0.0
    for path in files:
        s, p = run([*PSQL, "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
                    url.database or "test", "-c", f"\\copy bench_psql from '{path}' csv header"])
        seconds, peak = seconds + s, max(peak, p)
    return seconds, peak


def pandas_to_sql(url: str, files: list[Path]) -> tuple[float, float]:
    return run([sys.executable, "-c", PANDAS_LOAD, url, "bench_pandas", *map(str, files)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200, help="size of the generated dump (default 200)")
    parser.add_argument("--data", type=Path, help="use this folder instead of generating one")
    parser.add_argument("--dest", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL URL")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="tool workers (default: CPUs)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method; the median is reported")
    parser.add_argument("--single-file-mb", type=float, default=0, help="also load one file of this size")
    parser.add_argument("--skip-pandas", action="store_true", help="skip the slow original method")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="dp-bench-"))
    data = args.data or scratch / "epc"
    if not args.data:
        dump = generate_epc_dump(data, args.mb, seed=7)
        print(f"generated {dump.total_bytes / 1e6:.0f} MB, {dump.certificate_rows:,} certificates in {data}")
    files = sorted(data.glob("**/certificates.csv"))
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    engine = sa.create_engine(args.dest.replace("postgresql://", "postgresql+psycopg2://", 1))
    results: dict[str, list[tuple[float, float]]] = {}
    failures: dict[str, str] = {}
    for _ in range(args.repeat):
        reset(engine, "bench_psql")
        results.setdefault("psql \\copy (all-text table, 1 stream)", []).append(psql_copy(engine, files))
        reset(engine, "bench_tool")
        results.setdefault(f"data-processor load (--workers {args.workers})", []).append(
            tool(args.dest, data, args.workers))
        reset(engine, "bench_tool")
        results.setdefault("data-processor load (--workers 1)", []).append(tool(args.dest, data, 1))
        if not args.skip_pandas:
            reset(engine, "bench_pandas")
            try:
                measured = pandas_to_sql(args.dest, files)
                results.setdefault("pandas read_csv + to_sql (original)", []).append(measured)
            except Failed as exc:
                failures["pandas read_csv + to_sql (original)"] = str(exc)
    if args.single_file_mb:
        big = generate_epc_dump(scratch / "single", args.single_file_mb, authorities=1, seed=8)
        reset(engine, "bench_single")
        results[f"data-processor, one {big.total_bytes * 0.85 / 1e6:.0f} MB file (--workers 1)"] = [
            tool(args.dest, big.root, 1, "bench_single")]
    reset(engine, "bench_psql", "bench_tool", "bench_pandas", "bench_single")

    baseline = statistics.median(s for s, _ in next(iter(results.values())))
    print(f"\n{size_mb:.0f} MB of certificates.csv in {len(files)} files, PostgreSQL at {engine.url.host}, "
          f"{os.cpu_count()} CPUs, median of {args.repeat}\n")
    print("| method | seconds | MB/s | ratio to psql \\copy | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        peak = max(p for _, p in runs)
        rate = f"{size_mb / seconds:.1f}" if "one " not in name else "-"
        print(f"| {name} | {seconds:.2f} | {rate} | {seconds / baseline:.2f}× | {peak:.0f} |")
    for name, error in failures.items():
        print(f"| {name} | failed: {error} | | | |")


if __name__ == "__main__":
    main()
