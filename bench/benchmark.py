"""Benchmark ``data-processor load`` against ``psql \\copy`` (the ceiling) and the original pandas script.

Why: the tool claims to be close to the database's own bulk path and far faster and leaner than the original
``read_csv`` + ``to_sql`` script. This measures all three on the same EPC-like files (certificates.csv only,
92 columns), in one run, into a fresh table each time:

1. ``data-processor load --workers W`` (run as ``python -m data_processor``), tables dropped first;
2. ``psql \\copy`` into an all-text table, one psql per file, one after another (no types, no checks: the ceiling);
3. the original script: ``pandas.read_csv(path)`` + ``DataFrame.to_sql(table, engine, if_exists="append")`` per
   file. On EPC data it fails: pandas reads the 32-digit LMK_KEY as Python ints and to_sql makes it BIGINT
   ("bigint out of range" in the first file); past that, a column blank in the first file (COUNTY) becomes
   FLOAT and later text breaks it. The failure is reported and a ``read_csv(dtype=str)`` variant is timed
   instead, so there is still a pandas figure.

Each method runs as its own process tree, started through a tiny launcher that reports ``wait4`` usage:
"peak RSS" is the largest single process (the command or any worker it waited for), not this script's memory
(a child forked from a big Python process would inherit its high-water mark). "tree RSS" samples the sum over
all processes of the run every 0.1 s, which is what a multi-worker run really costs (shared pages are counted
once per process, so it overstates a little). Database server memory is not counted for any method.

``--sources`` loads the same dump from a local folder, a local zip of it and that zip on a local S3 server (moto),
side by side, and compares two ways of reading zip members from the store (``bench/sources.py``);
``--member-mb N`` adds the peak RSS of one worker streaming one N MB member from the zip on S3.

Not a test: a shared 2-core machine is noisy; use ``--repeat`` for medians (``psql`` and the tool's runs alternate,
so a busy spell slows both). Example:

    python bench/benchmark.py --mb 200 --workers 2,1 --single-file-mb 500
    python bench/benchmark.py --mb 200 --workers 2 --methods tool --sources --member-mb 1000
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from samples.columns import CERTIFICATE_COLUMNS, CERTIFICATE_SHARE  # noqa: E402
from samples.epc_legacy import generate_epc_dump  # noqa: E402

DEFAULT_DEST = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
TOOL_TABLE, SINGLE_TABLE, PSQL_TABLE, PANDAS_TABLE = "bench_tool", "bench_tool_single", "bench_psql", "bench_pandas"

# Runs a command as its child and writes that child's wait4 ru_maxrss (KiB) to argv[1]. Being small (~9 MB) it
# keeps the high-water mark a child inherits at exec down to the launcher's own size.
LAUNCHER = """\
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""

# The original script, file by file, exactly as it was (index column included). argv: url table as_text files...
PANDAS_SCRIPT = """\
import os, sys, pandas, sqlalchemy
url, table, as_text, paths = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
engine = sqlalchemy.create_engine(url)
for number, path in enumerate(paths, 1):
    print(f"file {number}/{len(paths)} ({os.path.basename(os.path.dirname(path))})", file=sys.stderr, flush=True)
    frame = pandas.read_csv(path, dtype=str) if as_text else pandas.read_csv(path)
    frame.to_sql(table, engine, if_exists="append")
"""


@dataclass
class Measurement:
    """One run of one method. ``error`` is set when the process failed."""

    seconds: float
    peak_rss_mb: float
    tree_rss_mb: float
    rows: int | None = None
    error: str | None = None
    cpu_seconds: float = 0.0


# ---------------------------------------------------------------------------------------------------------------
# Measuring a process tree


def _children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    return children


def _tree_rss_bytes(root: int) -> int:
    """Sum of RSS of ``root``'s descendants (not ``root``: that is the launcher)."""
    children, total = _children_by_parent(), 0
    stack = list(children.get(root, []))
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        stack += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
    return total


def measure(command: list[str], env: dict[str, str] | None = None) -> Measurement:
    """Wall time, peak RSS (wait4) and sampled tree RSS of ``command``; its stderr tail becomes the error."""
    with tempfile.NamedTemporaryFile("r") as usage, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, usage.name, *command],
                                   stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        peak_tree, stop = [0], threading.Event()

        def sample() -> None:
            while not stop.wait(0.1):
                peak_tree[0] = max(peak_tree[0], _tree_rss_bytes(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
        text = usage.read().split()
        peak = int(text[0]) / 1024 if text else 0.0
        cpu = float(text[1]) if text else 0.0
        error = None
        if code != 0:
            stderr.seek(0)
            error = f"exit {code}: {_error_summary(stderr.read())}"
        return Measurement(seconds, peak, max(peak_tree[0] / 2**20, peak), error=error, cpu_seconds=cpu)


def _error_summary(stderr: str) -> str:
    """One readable line from a failed run's stderr: the driver error (not SQLAlchemy's parameter dump)."""
    progress = [line for line in stderr.splitlines() if line.startswith("file ")]
    driver = re.search(r"\(((?:\w+\.)+\w+)\) ([^\n\[]+)", stderr)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    reason = f"{driver.group(1)}: {driver.group(2).strip()}" if driver else (lines[-1] if lines else "no output")
    return (f"at {progress[-1]}: " if progress else "") + reason[:300]


# ---------------------------------------------------------------------------------------------------------------
# Database chores (not timed)


def drop_tool_tables(engine: sa.Engine, table: str) -> None:
    """A fresh load: drop the table and its rejects, and forget its files in the tool's ledger."""
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}", "{table}_rejects"'))
        inspector = sa.inspect(conn)
        for ledger in ("data_processor_files", "data_processor_columns"):
            if inspector.has_table(ledger):
                conn.execute(sa.text(f"DELETE FROM {ledger} WHERE table_name = :t"), {"t": table})


def create_text_table(engine: sa.Engine, table: str) -> None:
    """The psql target: the 92 certificate columns, all ``text`` (so \\copy never rejects anything)."""
    columns = ", ".join(f'"{name}" text' for name in CERTIFICATE_COLUMNS)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))
        conn.execute(sa.text(f'CREATE TABLE "{table}" ({columns})'))


def drop_table(engine: sa.Engine, table: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))


def count_rows(engine: sa.Engine, table: str) -> int | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(table):
            return None
        return conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar()


# ---------------------------------------------------------------------------------------------------------------
# The methods


def engine_missing() -> str | None:
    """Why ``python -m data_processor load`` cannot run yet, or None when it can."""
    if importlib.util.find_spec("data_processor.__main__") is None:
        return "the engine is not there yet: data_processor/__main__.py is missing (python -m data_processor)"
    probe = subprocess.run([sys.executable, "-m", "data_processor", "load", "--help"], capture_output=True,
                           text=True, env=_env())
    if probe.returncode != 0:
        tail = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`python -m data_processor load --help` failed (exit {probe.returncode}): {tail}"
    return None


def _env() -> dict[str, str]:
    """Children import this checkout's data_processor, installed or not."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_tool(url: str, engine: sa.Engine, src: Path | str, table: str, workers: int,
             extra: tuple[str, ...] = ()) -> Measurement:
    drop_tool_tables(engine, table)
    result = measure([sys.executable, "-m", "data_processor", "load", "--src", str(src),
                      "--glob", "**/certificates.csv", "--dest", url, "--table", table,
                      "--workers", str(workers), *extra], env=_env())
    result.rows = count_rows(engine, table)
    return result


def run_psql(engine: sa.Engine, files: list[Path]) -> Measurement:
    """One ``psql \\copy`` per file, sequentially, as a careful shell script would do it."""
    create_text_table(engine, PSQL_TABLE)
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    total = Measurement(0.0, 0.0, 0.0)
    for path in files:
        quoted = str(path).replace("'", "''")
        one = measure(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", url.host or "127.0.0.1",
                       "-p", str(url.port or 5432), "-U", url.username or "postgres", url.database or "test",
                       "-c", f"\\copy \"{PSQL_TABLE}\" FROM '{quoted}' WITH (FORMAT csv, HEADER true)"], env=env)
        total.seconds += one.seconds
        total.peak_rss_mb = max(total.peak_rss_mb, one.peak_rss_mb)
        total.tree_rss_mb = max(total.tree_rss_mb, one.tree_rss_mb)
        if one.error:
            total.error = f"{path}: {one.error}"
            break
    total.rows = count_rows(engine, PSQL_TABLE)
    return total


def run_pandas(url: str, engine: sa.Engine, files: list[Path], as_text: bool) -> Measurement:
    drop_table(engine, PANDAS_TABLE)
    result = measure([sys.executable, "-c", PANDAS_SCRIPT, url, PANDAS_TABLE, "1" if as_text else "0",
                      *map(str, files)])
    result.rows = count_rows(engine, PANDAS_TABLE)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Reporting


def _paired_ratios(runs: dict[str, list[Measurement]]) -> dict[str, list[float]]:
    """Each method's time over the psql run of the same round: steadier than a ratio of medians on a busy machine."""
    psql = next((m for name, m in runs.items() if name.startswith("psql")), None)
    if psql is None:
        return {}
    return {name: [m.seconds / p.seconds for m, p in zip(measured, psql) if not (m.error or p.error)]
            for name, measured in runs.items() if not name.startswith("psql")}


def median(runs: list[Measurement]) -> Measurement:
    """The median of each figure; a method that failed in any run is reported as failed (its first error)."""
    error = next((r.error for r in runs if r.error), None)
    rows = [r.rows for r in runs if r.rows is not None]
    return Measurement(statistics.median(r.seconds for r in runs), statistics.median(r.peak_rss_mb for r in runs),
                       statistics.median(r.tree_rss_mb for r in runs), max(rows) if rows else None, error,
                       statistics.median(r.cpu_seconds for r in runs))


def print_table(results: dict[str, tuple[Measurement, float]], baseline_rate: float | None) -> None:
    """Markdown: method, seconds, MB/s, time relative to psql \\copy, peak RSS, tree RSS, rows in the table.

    The ratio compares MB/s, so the single-file row (other data, other size) is comparable too.
    """
    print("| method | seconds | CPU s | MB/s | × psql \\copy time | peak RSS MB | tree RSS MB | rows |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (m, size_mb) in results.items():
        ratio = f"{baseline_rate / (size_mb / m.seconds):.2f}×" if baseline_rate else "-"
        rows = f"{m.rows:,}" if m.rows is not None else "-"
        status = f" **FAILED** after {m.seconds:.1f} s: {m.error}" if m.error else ""
        if m.error:
            print(f"| {name}{status} | - | - | - | - | {m.peak_rss_mb:.0f} | {m.tree_rss_mb:.0f} | {rows} |")
        else:
            print(f"| {name} | {m.seconds:.2f} | {m.cpu_seconds:.2f} | {size_mb / m.seconds:.1f} | {ratio} | "
                  f"{m.peak_rss_mb:.0f} | "
                  f"{m.tree_rss_mb:.0f} | {rows} |")


# ---------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Figures are medians over --repeat runs. Tables bench_* are dropped "
                                     "and recreated; the tool's ledger rows for them are deleted.")
    parser.add_argument("--mb", type=float, default=200, help="size of the generated dump in MB (default 200)")
    parser.add_argument("--data", type=Path, help="use this EPC-like folder instead of generating one")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--dest", default=DEFAULT_DEST, help=f"PostgreSQL SQLAlchemy URL (default {DEFAULT_DEST})")
    parser.add_argument("--workers", default=str(os.cpu_count() or 2),
                        help="tool workers; a comma list such as 2,1 runs the tool once per value (default: CPUs)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method; medians are reported (default 1)")
    parser.add_argument("--methods", default="tool,psql,pandas",
                        help="comma list of tool, psql, pandas (default all; pandas is the slow one)")
    parser.add_argument("--null-values", default="",
                        help="also run the tool with --null-values VALUE (the monthly EPC job passes 'NO DATA!')")
    parser.add_argument("--single-file-mb", type=float, default=0,
                        help="also load ONE certificates.csv of this size with 1 worker (memory vs file size)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and the bench_* tables")
    parser.add_argument("--sources", action="store_true",
                        help="also load the dump from a local zip and from that zip on a local S3 server (moto)")
    parser.add_argument("--member-mb", type=float, default=0,
                        help="with --sources: also stream ONE member of this size from the zip on S3 (peak RSS)")
    args = parser.parse_args(argv)
    args.methods = {m.strip() for m in args.methods.split(",") if m.strip()}
    unknown = args.methods - {"tool", "psql", "pandas"}
    if unknown:
        parser.error(f"unknown method(s): {', '.join(sorted(unknown))}")
    args.workers = [int(w) for w in args.workers.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="dp-bench-"))
    engine = sa.create_engine(args.dest)
    try:
        return _benchmark(args, engine, scratch)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
            for table in (PSQL_TABLE, PANDAS_TABLE):
                drop_table(engine, table)
            for table in (TOOL_TABLE, SINGLE_TABLE):
                drop_tool_tables(engine, table)
        engine.dispose()


def _benchmark(args: argparse.Namespace, engine: sa.Engine, scratch: Path) -> int:
    with engine.connect() as conn:  # fail here, plainly, rather than in every method
        conn.execute(sa.text("SELECT 1"))
    data = args.data
    if data is None:
        data = scratch / "epc"
        started = time.perf_counter()
        dump = generate_epc_dump(data, args.mb, seed=args.seed)
        took = time.perf_counter() - started
        print(f"generated {dump.total_bytes / 1e6:.0f} MB ({dump.certificate_rows:,} certificates) in {took:.1f} s "
              f"({dump.total_bytes / 1e6 / took:.0f} MB/s) into {data}", flush=True)
    files = sorted(data.glob("**/certificates.csv"))
    if not files:
        print(f"no certificates.csv under {data}", file=sys.stderr)
        return 2
    size_mb = sum(f.stat().st_size for f in files) / 1e6

    results: dict[str, tuple[Measurement, float]] = {}
    failed = False
    missing = engine_missing() if "tool" in args.methods else None
    if missing:
        print(f"ERROR: cannot benchmark the tool: {missing}", file=sys.stderr)
        failed = True

    def record(name: str, runs: list[Measurement], size: float = size_mb, may_fail: bool = False) -> Measurement:
        """Keep the median for the table; a failure fails the benchmark unless it is an expected finding."""
        nonlocal failed
        result = median(runs)
        failed |= result.error is not None and not may_fail
        results[name] = (result, size)
        print(f"  {name}: {result.seconds:.1f} s" + (f" FAILED {result.error}" if result.error else ""),
              flush=True)
        return result

    alternating: dict[str, Callable[[], Measurement]] = {}
    if "psql" in args.methods:
        alternating["psql \\copy, all-text table, 1 file at a time"] = lambda: run_psql(engine, files)
    if "tool" in args.methods and not missing:
        for workers in args.workers:
            alternating[f"data-processor load --workers {workers}"] = (
                lambda workers=workers: run_tool(args.dest, engine, data, TOOL_TABLE, workers))
            if args.null_values:
                alternating[f"data-processor load --workers {workers} --null-values {args.null_values!r}"] = (
                    lambda workers=workers: run_tool(args.dest, engine, data, TOOL_TABLE, workers,
                                                     ("--null-values", args.null_values)))
    runs: dict[str, list[Measurement]] = {name: [] for name in alternating}
    for _ in range(args.repeat):  # one run of each in turn: a busy spell on the shared machine hits all of them
        for name, run in alternating.items():
            runs[name].append(run())
    for name, measured in runs.items():
        record(name, measured)
    paired = _paired_ratios(runs)
    if "pandas" in args.methods:
        original = record("pandas read_csv + to_sql (original script)",
                          [run_pandas(args.dest, engine, files, as_text=False) for _ in range(args.repeat)],
                          may_fail=True)  # failing on EPC data is a finding, not a benchmark error
        if original.error:  # still give pandas a throughput figure
            record("pandas read_csv(dtype=str) + to_sql (original, made to finish)",
                   [run_pandas(args.dest, engine, files, as_text=True) for _ in range(args.repeat)])
    if args.single_file_mb and "tool" in args.methods and not missing:
        single = generate_epc_dump(scratch / "single", args.single_file_mb / CERTIFICATE_SHARE, authorities=1,
                                   seed=args.seed + 1)
        big = single.files[0]
        big_mb = big.stat().st_size / 1e6
        record(f"data-processor load --workers 1, ONE {big_mb:.0f} MB file",
               [run_tool(args.dest, engine, single.root, SINGLE_TABLE, 1) for _ in range(args.repeat)], big_mb)

    if args.sources and "tool" in args.methods and not missing:
        failed |= _sources(args, engine, scratch, data, size_mb)

    baseline_rate = next((size / m.seconds for name, (m, size) in results.items()
                          if name.startswith("psql") and not m.error), None)
    print(f"\n{size_mb:.0f} MB of certificates.csv in {len(files)} files (92 columns), PostgreSQL at "
          f"{engine.url.host}:{engine.url.port or 5432}, {os.cpu_count()} CPUs, median of {args.repeat} run(s)\n")
    print_table(results, baseline_rate)
    for name, ratios in paired.items():
        print(f"\n{name}: run-by-run time ÷ the psql run before it: "
              f"{', '.join(f'{r:.2f}×' for r in ratios)} (median {statistics.median(ratios):.2f}×)")
    if missing:
        print(f"\ndata-processor: not measured: {missing}")
    return 1 if failed else 0


def _sources(args: argparse.Namespace, engine: sa.Engine, scratch: Path, data: Path, size_mb: float) -> bool:
    """The same dump from a local folder, a local zip and the zip on S3; returns True if any load failed."""
    import sources as bench_sources

    server, _ = bench_sources.start_s3()
    try:
        workers = args.workers[0]
        archive = bench_sources.zip_folder(data, "**/certificates.csv", scratch / "domestic-csv.zip")
        remote = bench_sources.upload(archive, "epc/domestic-csv.zip")
        print(f"zipped {size_mb:.0f} MB into {archive.stat().st_size / 1e6:.0f} MB; uploaded to {remote}", flush=True)
        rows: dict[str, Measurement] = {}
        for name, src in (("local folder", data), ("local zip", archive), ("zip on S3 (moto, loopback)", remote)):
            rows[name] = median([run_tool(args.dest, engine, src, TOOL_TABLE, workers) for _ in range(args.repeat)])
            print(f"  {name}: {rows[name].seconds:.1f} s", flush=True)
        if args.member_mb:
            single = generate_epc_dump(scratch / "member", args.member_mb / CERTIFICATE_SHARE, authorities=1,
                                       seed=args.seed + 2)
            big_archive = bench_sources.zip_folder(single.root, "**/certificates.csv", scratch / "one-member.zip")
            big_remote = bench_sources.upload(big_archive, "epc/one-member.zip")
            big_mb = single.files[0].stat().st_size / 1e6
            for name, src in ((f"ONE {big_mb:.0f} MB file, local folder, 1 worker", single.root),
                              (f"ONE {big_mb:.0f} MB member, zip on S3, 1 worker", big_remote)):
                rows[name] = median([run_tool(args.dest, engine, src, SINGLE_TABLE, 1) for _ in range(args.repeat)])
                print(f"  {name}: {rows[name].seconds:.1f} s", flush=True)
        readers = bench_sources.compare_zip_readers(remote, repeat=max(3, args.repeat))
    finally:
        server.stop()
    local = rows["local folder"]
    print(f"\nSources: {size_mb:.0f} MB of certificates.csv, --workers {workers} (1 for the single member), "
          f"median of {args.repeat} run(s)\n")
    print("| source | seconds | × local folder time | peak RSS MB | tree RSS MB | rows |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in rows.items():
        ratio = f"{m.seconds / local.seconds:.2f}×" if not name.startswith("ONE") else "-"
        rows_text = f"{m.rows:,}" if m.rows is not None else "-"
        error = f" **FAILED**: {m.error}" if m.error else ""
        print(f"| {name}{error} | {m.seconds:.2f} | {ratio} | {m.peak_rss_mb:.0f} | {m.tree_rss_mb:.0f} | {rows_text} |")
    print("\n| reading every member of the zip on S3 | seconds | MB/s (inflated) |\n|---|---:|---:|")
    for name, seconds, rate in readers:
        print(f"| {name} | {seconds:.2f} | {rate:.0f} |")
    return any(m.error for m in rows.values())


if __name__ == "__main__":
    sys.exit(main())
