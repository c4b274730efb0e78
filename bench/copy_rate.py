"""Per-stream rates behind docs/SCALING.md: what one file costs, in wall time, CPU and WAL, on each path.

Why: the wall time of a release load is bounded by one stream's COPY rate (the largest file), by streams × rate, by
the WAL the server can write and by the read rate of the source. This measures each on one machine, into a fresh
table per measurement, medians of ``--repeat``:

* ``copy``: the largest ``certificates-*.csv`` of a current-layout dump loaded with the tool's own path (scan,
  then ``load_one``: the raw-file COPY fast path; with ``--null-values`` the validating path), ``psql \\copy``
  into the same typed table (same DDL, index and CSV options) and into an all-text table; then the two largest
  files one after another vs in two parallel streams (one process each);
* ``wal``: the WAL each of those wrote (``pg_current_wal_insert_lsn`` before/after), per GB of CSV, beside the
  table's size on disk; only meaningful on a server nobody else writes to (``bench/private_pg.sh``);
* ``replace``: a changed file reloaded (its old rows deleted in the same transaction), and ``INSERT … SELECT`` of
  the file's rows from a staging table (the last step of a file split across pods into staging tables);
* ``perfile``: the costs that do not scale with cores: fingerprint (sha256) and planning-scan rates, the fixed
  cost of one file's transaction (ledger, delete, COPY, ledger row, commit) on tiny files, and what one ragged row
  costs a big file (it leaves the fast path: batches checked in Python, then the reject located);
* ``read``: draining the file from a plain file, from the release zip (inflate) and from that zip's member on a
  local S3 server (moto, loopback).

Server CPU is the postmaster's and its children's CPU time (read from /proc: the server must run on this
machine), so it too only means something on a private server. Example:

    bench/private_pg.sh start 55432
    python -m samples /tmp/d --layout current --mb 2000 --zip
    python bench/copy_rate.py --data /tmp/d --dest postgresql+psycopg2://postgres@127.0.0.1:55432/bench --repeat 3
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from data_processor import ledger  # noqa: E402
from data_processor.fingerprint import fingerprint  # noqa: E402
from data_processor.naming import column_names  # noqa: E402
from data_processor.planning import NAME_BYTES, scan_file  # noqa: E402
from data_processor.rejects import rejects_table_name  # noqa: E402
from data_processor import Settings, apply, plan  # noqa: E402
from data_processor.fanout import slim_process  # noqa: E402
from data_processor.jobs import load_one  # noqa: E402


def prepare(settings: Settings, apply_ddl: bool = False):  # noqa: ANN201 - a namespace with .plan
    """The engine's plan stage (and with ``apply_ddl`` its DDL); ``.plan`` is the load plan."""
    the_plan = plan(settings)
    if apply_ddl:
        apply(the_plan)
    return SimpleNamespace(plan=the_plan.load_plan)
from data_processor.sources import discover_source, open_source  # noqa: E402
from data_processor.target import Target  # noqa: E402
from data_processor.types import SourceFile  # noqa: E402

DEFAULT_DEST = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
MB = 1e6
_TICK = os.sysconf("SC_CLK_TCK")


class Server:
    """The database's WAL position and CPU time, to take differences of."""

    def __init__(self, dest: str) -> None:
        self.dest = dest
        self.engine = sa.create_engine(dest)
        self.url = self.engine.url
        with self.engine.connect() as conn:
            backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        self.postmaster = int(_stat(backend)[3]) if _stat(backend) else None

    def wal(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')")).scalar())

    def cpu(self) -> float:
        """Seconds of CPU of the postmaster, its live children and the children it has reaped; 0 if not local."""
        if self.postmaster is None:
            return 0.0
        own = _stat(self.postmaster)
        total = sum(int(v) for v in own[13:17]) if own else 0
        for pid in _children(self.postmaster):
            fields = _stat(pid)
            total += sum(int(v) for v in fields[13:17]) if fields else 0
        return total / _TICK

    def sql(self, statement: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(statement))

    def size(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": table}).scalar())

    def drop(self, table: str) -> None:
        self.sql(f'DROP TABLE IF EXISTS "{table}", "{rejects_table_name(table)}"')
        if sa.inspect(self.engine).has_table(ledger.files.name):
            ledger.forget(Target(self.dest, table))


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return ["pid", "comm", *text[text.rindex(")") + 2:].split()]  # indexes as in proc(5), from 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[3] == str(pid):
            found.append(int(entry.name))
    return found


class Measure:
    """Wall, client CPU (this process and its waited-for children, not live pool workers), server CPU and WAL of
    the block it wraps."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def __enter__(self) -> Measure:
        self._start = (time.perf_counter(), _client_cpu(), self.server.cpu(), self.server.wal())
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter()
        time.sleep(0.5)  # a backend whose client just left is still exiting: let the postmaster reap it
        end = (wall, _client_cpu(), self.server.cpu(), self.server.wal())
        self.wall, self.client, self.server_cpu, self.wal = (b - a for a, b in zip(self._start, end))


def _client_cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def median_of(repeat: int, run: Callable[[], dict]) -> dict:
    """Each numeric field's median over ``repeat`` runs (the machine is shared and noisy)."""
    runs = [run() for _ in range(repeat)]
    return {k: statistics.median(r[k] for r in runs) if isinstance(runs[0][k], (int, float)) else runs[0][k]
            for k in runs[0]}


def row(name: str, size: int, m: Measure, rows: int = 0, **extra: object) -> dict:
    return {"what": name, "MB": size / MB, "seconds": m.wall, "MB/s": size / MB / m.wall,
            "rows/s": rows / m.wall if rows else 0, "client CPU s": m.client, "server CPU s": m.server_cpu,
            "WAL MB": m.wal / MB, "WAL per CSV": m.wal / size, **extra}


# --- the tool's path -------------------------------------------------------------------------------------------


def tool_load(server: Server, dest: str, folder: Path, names: list[str], parallel: bool,
              null_values: tuple[str, ...] = ()) -> dict:
    """Scan and plan (DDL applied), then load every file with ``load_one``: all at once when ``parallel``."""
    table = f"scale_{uuid.uuid4().hex[:8]}"
    glob = names[0] if len(names) == 1 else "{" + ",".join(names) + "}"
    options = Settings(src=str(folder), glob=glob, dest=dest, table=table, workers=1, null_values=null_values)
    started = time.perf_counter()
    prepared = prepare(options, apply_ddl=True)
    plan_seconds = time.perf_counter() - started
    files = prepared.plan.files
    if parallel:  # one process per file, as the tool's workers and pods are; started (imports done) beforehand
        with ProcessPoolExecutor(len(files), mp_context=multiprocessing.get_context("spawn"),
                                 initializer=slim_process) as pool:
            list(pool.map(int, range(len(files))))
            with Measure(server) as m:
                results = list(pool.map(load_one, *zip(*[(dest, prepared.plan, f) for f in files])))
    else:
        with Measure(server) as m:
            results = [load_one(dest, prepared.plan, f) for f in files]
    failed = [r.error for r in results if r.status != "loaded"]
    if failed:
        raise SystemExit(f"the tool failed: {failed}")
    size = sum(f.source.size for f in prepared.plan.files)
    rows = sum(r.rows_loaded for r in results)
    table_bytes = server.size(table)
    server.drop(table)
    return row("tool", size, m, rows, **{"plan s": plan_seconds, "table MB": table_bytes / MB,
                                         "rejected": sum(r.rows_rejected for r in results)})


# --- psql \copy ------------------------------------------------------------------------------------------------


def typed_like(server: Server, dest: str, folder: Path, name: str) -> tuple[str, list[str]]:
    """A typed table exactly as the tool creates it for ``name`` (columns, ``_file_id`` default and index), empty."""
    table = f"scale_{uuid.uuid4().hex[:8]}"
    prepared = prepare(Settings(src=str(folder), glob=name, dest=dest, table=table, workers=1), apply_ddl=True)
    return table, list(prepared.plan.files[0].columns)


def psql_copy(server: Server, table: str, paths: list[Path], parallel: bool, create: str = "") -> Measure:
    """One ``psql \\copy`` per file, its columns in the file's order (the file id through a session setting, as
    the tool's default reads it); ``create``, if given, runs first in the same transaction."""
    url = server.url
    env = {**os.environ, "PGOPTIONS": "-c data_processor.file_id=1"}

    def command(path: Path) -> list[str]:
        quoted = ", ".join(f'"{c}"' for c in header_columns(path))
        copy = (f"\\copy \"{table}\" ({quoted}) FROM '{path}' "
                f"WITH (FORMAT csv, HEADER true, FORCE_NULL ({quoted}))")
        first = ["-1", "-c", create] if create else []
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", url.host, "-p", str(url.port or 5432),
                "-U", url.username, "-d", url.database, *first, "-c", copy]

    with Measure(server) as m:
        if parallel:
            procs = [subprocess.Popen(command(p), env=env) for p in paths]
            if any(p.wait() for p in procs):
                raise SystemExit("psql failed")
        else:
            for p in paths:
                subprocess.run(command(p), env=env, check=True)
    return m


def psql_typed(server: Server, dest: str, folder: Path, paths: list[Path], parallel: bool) -> dict:
    table, _ = typed_like(server, dest, folder, paths[0].name)
    m = psql_copy(server, table, paths, parallel)
    size = sum(p.stat().st_size for p in paths)
    result = row("psql \\copy typed", size, m, _rows(server, table), **{"table MB": server.size(table) / MB})
    server.drop(table)
    return result


def psql_text(server: Server, dest: str, folder: Path, paths: list[Path], parallel: bool) -> dict:
    typed, columns = typed_like(server, dest, folder, paths[0].name)
    server.drop(typed)
    table = f"scale_{uuid.uuid4().hex[:8]}"
    server.sql(f'CREATE TABLE "{table}" ({", ".join(f"{chr(34)}{c}{chr(34)} text" for c in columns)})')
    m = psql_copy(server, table, paths, parallel)
    size = sum(p.stat().st_size for p in paths)
    result = row("psql \\copy all-text", size, m, _rows(server, table), **{"table MB": server.size(table) / MB})
    server.drop(table)
    return result


def psql_variant(server: Server, dest: str, folder: Path, path: Path, variant: str) -> dict:
    """``psql \\copy`` of one file into a copy of the tool's typed table: without the ``_file_id`` index,
    UNLOGGED, or created in the COPY's own transaction (which skips the WAL only under ``wal_level=minimal``)."""
    model, _ = typed_like(server, dest, folder, path.name)
    table = f"scale_{uuid.uuid4().hex[:8]}"
    create = ""
    if variant == "no index":
        server.sql(f'CREATE TABLE "{table}" (LIKE "{model}" INCLUDING DEFAULTS)')
    elif variant == "unlogged":
        server.sql(f'CREATE UNLOGGED TABLE "{table}" (LIKE "{model}" INCLUDING ALL)')
    else:
        create = f'CREATE TABLE "{table}" (LIKE "{model}" INCLUDING ALL)'
    m = psql_copy(server, table, [path], False, create)
    size = path.stat().st_size
    result = row(f"psql \\copy typed, {variant}", size, m, _rows(server, table),
                 **{"table MB": server.size(table) / MB})
    server.drop(table)
    server.drop(model)
    return result


def replace_changed(server: Server, dest: str, big: Path, scratch: Path) -> dict:
    """Reload of a changed file: its old rows deleted and the new ones copied in one transaction (the tool's path)."""
    folder = scratch / "changed"
    folder.mkdir(exist_ok=True)
    copy = folder / big.name
    shutil.copyfile(big, copy)
    table = f"scale_{uuid.uuid4().hex[:8]}"
    options = Settings(src=str(folder), glob=big.name, dest=dest, table=table, workers=1)
    for file in prepare(options, apply_ddl=True).plan.files:
        load_one(dest, prepare(options).plan, file)
    with open(copy, "ab") as f:  # one more row: a changed file under the same key
        f.write(big.read_bytes().rsplit(b"\n", 2)[-2] + b"\n")
    prepared = prepare(options, apply_ddl=True)
    with Measure(server) as m:
        results = [load_one(dest, prepared.plan, f) for f in prepared.plan.files]
    result = row("tool, reload of the changed file (DELETE old rows + COPY)", copy.stat().st_size, m,
                 results[0].rows_loaded, **{"table MB": server.size(table) / MB})
    server.drop(table)
    copy.unlink()
    return result


def staging_to_target(server: Server, dest: str, folder: Path, path: Path) -> dict:
    """``INSERT … SELECT`` of a file's rows from a typed staging table into the target: the final, single-stream
    step of a split file loaded by several pods into staging tables."""
    target, _ = typed_like(server, dest, folder, path.name)
    staging = f"scale_{uuid.uuid4().hex[:8]}"
    server.sql(f'CREATE UNLOGGED TABLE "{staging}" (LIKE "{target}" INCLUDING DEFAULTS)')
    psql_copy(server, staging, [path], False)
    with Measure(server) as m:
        server.sql(f'INSERT INTO "{target}" SELECT * FROM "{staging}"')
    result = row("INSERT … SELECT from an unlogged staging table into the typed table", path.stat().st_size, m,
                 _rows(server, target))
    server.drop(staging)
    server.drop(target)
    return result


def header_columns(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return column_names(next(csv.reader(f)), NAME_BYTES)


def _rows(server: Server, table: str) -> int:
    with server.engine.connect() as conn:
        return int(conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar())


# --- per-file costs --------------------------------------------------------------------------------------------


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall, this process's CPU) of ``run``."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def per_file(server: Server, dest: str, big: Path, repeat: int, scratch: Path) -> list[dict]:
    size = big.stat().st_size
    source = SourceFile(big, big.name, size)
    out = []
    wall, cpu = statistics.median_low([timed(lambda: fingerprint(source)) for _ in range(repeat)])
    out.append({"what": "fingerprint (sha256, encoding, NUL, quotes)", "MB/s": size / MB / wall,
                "MB/s per CPU-second": size / MB / cpu})
    wall, cpu = statistics.median_low([timed(lambda: scan_file(source, (), None)) for _ in range(repeat)])
    out.append({"what": "planning scan (fingerprint + parse + type statistics)", "MB/s": size / MB / wall,
                "MB/s per CPU-second": size / MB / cpu})

    tiny = scratch / "tiny"
    tiny.mkdir()
    with open(big, "rb") as f:
        head = b"".join(f.readline() for _ in range(3))
    count = 20
    for i in range(count):
        (tiny / f"t{i:02d}.csv").write_bytes(head)
    table = f"scale_{uuid.uuid4().hex[:8]}"
    options = Settings(src=str(tiny), glob="*.csv", dest=dest, table=table, workers=1)
    plan_wall = timed(lambda: prepare(options, apply_ddl=True))[0]
    prepared = prepare(options)
    loads = [timed(lambda f=f: load_one(dest, prepared.plan, f))[0] for f in prepared.plan.files]
    server.drop(table)
    out.append({"what": f"one tiny file's transaction (median of {count}: ledger, delete, COPY, ledger row, commit)",
                "ms": statistics.median(loads) * 1000})
    out.append({"what": f"planning {count} tiny files (discover, ledger read, scan, DDL), per file",
                "ms": plan_wall / count * 1000})

    ragged = scratch / "ragged"
    ragged.mkdir()
    lines = big.read_bytes().split(b"\n")
    lines.insert(len(lines) // 2, b"one,ragged,row")
    (ragged / big.name).write_bytes(b"\n".join(lines))
    clean = median_of(repeat, lambda: tool_load(server, dest, big.parent, [big.name], False))
    bad = median_of(repeat, lambda: tool_load(server, dest, ragged, [big.name], False))
    out.append({"what": "one ragged row in the largest file: load time × the clean file's",
                "ratio": bad["seconds"] / clean["seconds"], "rejected": bad["rejected"]})
    return out


# --- reading ---------------------------------------------------------------------------------------------------


def drain(source: SourceFile) -> int:
    total = 0
    with open_source(source) as stream:
        while block := stream.read(1 << 20):
            total += len(block)
    return total


def read_rates(big: Path, repeat: int, scratch: Path, s3: bool) -> list[dict]:
    archive = scratch / "one.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as out:
        out.write(big, big.name)
    size = big.stat().st_size
    sources = [("plain file", SourceFile(big, big.name, size)),
               ("zip member (inflate)", discover_source(str(archive), "*.csv").files[0])]
    if s3:
        from sources import start_s3, upload

        server, _ = start_s3()
        url = upload(archive, "one.zip")
        sources.append(("zip member on S3 (moto, loopback)", discover_source(url, "*.csv").files[0]))
    out = []
    for name, source in sources:
        runs = [timed(lambda s=source: drain(s)) for _ in range(repeat)]
        wall, cpu = statistics.median_low(runs)
        out.append({"what": name, "MB/s": size / MB / wall, "MB/s per CPU-second": size / MB / max(cpu, 1e-9),
                    "compressed MB": archive.stat().st_size / MB if "zip" in name else size / MB})
    if s3:
        server.stop()
    return out


# --- main ------------------------------------------------------------------------------------------------------


def largest(folder: Path, pattern: str, n: int) -> list[Path]:
    return sorted(folder.glob(pattern), key=lambda p: -p.stat().st_size)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a --layout current dump")
    parser.add_argument("--dest", default=DEFAULT_DEST)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parts", default="copy,variants,replace,perfile,read",
                        help="copy, variants (no index, UNLOGGED, same-transaction CREATE), replace (a changed "
                             "file reloaded; staging table to target), perfile, read; WAL and server CPU come with "
                             "copy, variants and replace")
    parser.add_argument("--s3", action="store_true", help="also read the zip member from a local S3 server (moto)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    server = Server(args.dest)
    big, second = largest(args.data, "certificates-*.csv", 2)
    parts = set(args.parts.split(","))
    results: dict[str, list[dict]] = {"load average before": list(os.getloadavg())}  # type: ignore[dict-item]
    scratch = Path(tempfile.mkdtemp(prefix="copy_rate_"))
    try:
        if "copy" in parts:
            one, two = [big], [big, second]
            runs = [
                ("tool, 1 file", lambda: tool_load(server, args.dest, args.data, [big.name], False)),
                ("tool, 1 file, --null-values 'NO DATA!' (validating path)",
                 lambda: tool_load(server, args.dest, args.data, [big.name], False, ("NO DATA!",))),
                ("psql \\copy typed, 1 file", lambda: psql_typed(server, args.dest, args.data, one, False)),
                ("psql \\copy all-text, 1 file", lambda: psql_text(server, args.dest, args.data, one, False)),
                ("tool, 2 files, 1 stream", lambda: tool_load(server, args.dest, args.data,
                                                              [p.name for p in two], False)),
                ("tool, 2 files, 2 streams", lambda: tool_load(server, args.dest, args.data,
                                                               [p.name for p in two], True)),
                ("psql \\copy typed, 2 files, 1 stream", lambda: psql_typed(server, args.dest, args.data, two, False)),
                ("psql \\copy typed, 2 files, 2 streams", lambda: psql_typed(server, args.dest, args.data, two, True)),
            ]
            results["copy"] = []
            for name, run in runs:
                measured = median_of(args.repeat, run)
                measured["what"] = name
                results["copy"].append(measured)
                print(json.dumps(measured), flush=True)
        if "variants" in parts:
            with server.engine.connect() as conn:
                results["wal_level"] = conn.execute(sa.text("SHOW wal_level")).scalar()  # type: ignore[assignment]
            results["variants"] = []
            for variant in ("no index", "unlogged", "created in the COPY's transaction"):
                measured = median_of(args.repeat, lambda v=variant: psql_variant(server, args.dest, args.data, big, v))
                measured["wal_level"] = results["wal_level"]
                results["variants"].append(measured)
                print(json.dumps(measured), flush=True)
        if "replace" in parts:
            results["replace"] = [median_of(args.repeat, run) for run in (
                lambda: replace_changed(server, args.dest, big, scratch),
                lambda: staging_to_target(server, args.dest, args.data, big))]
            for r in results["replace"]:
                print(json.dumps(r), flush=True)
        if "perfile" in parts:
            results["perfile"] = per_file(server, args.dest, big, args.repeat, scratch)
            for r in results["perfile"]:
                print(json.dumps(r), flush=True)
        if "read" in parts:
            results["read"] = read_rates(big, args.repeat, scratch, args.s3)
            for r in results["read"]:
                print(json.dumps(r), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results["load average after"] = list(os.getloadavg())  # type: ignore[assignment]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
