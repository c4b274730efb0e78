"""What the next release costs: a first load, then a release with ~1 % of rows changed, applied as row differences.

Why: the monthly EPC release changes a little everywhere (certificates removed, fields corrected, late lodgements
added, rows in another order), so every year file is "changed". Applied whole, each month rewrites the register;
applied as a difference, it writes what changed. For each database this prints, for the first load and then for
each next release, the wall time, what the database wrote and the table afterwards (before each load the table is
vacuumed and, on PostgreSQL, a checkpoint taken: every page a load touches is then logged whole once, as in a
monthly run; "pages whole" counts them):

* ``diff``: 0.5 % of rows removed, 0.5 % with one field changed, 1 % added, every file's rows shuffled;
* ``replace``: the same release applied whole (the ledger is told its rows carry no hashes: how every changed
  file went in before row differences, and how a file's first change after an upgrade goes in);
* ``reorder``: the first release's rows, shuffled and quoted differently (nothing changed).

PostgreSQL: WAL bytes (``pg_current_wal_insert_lsn``), table + index size, dead rows. Only meaningful on a server
nobody else writes to (``bench/private_pg.sh``). MariaDB: redo log bytes (``Innodb_os_log_written``), data + index
length. SQLite: the bytes the loading processes wrote to storage (database and journal: ``ru_oublock``) and the
file's size. Every figure is one run on one machine; the
ratios are within that run. After each release the table is checked to equal the release exactly (row counts
per file against the ledger, and a multiset comparison of every row on the smaller sizes).

    bench/private_pg.sh start 55432
    python bench/release_diff.py --mb 150 --dest postgresql://postgres@127.0.0.1:55432/bench
    python bench/release_diff.py --mb 150 --dest mysql://root@127.0.0.1:3306/test
    python bench/release_diff.py --mb 150 --dest sqlite:////tmp/bench.db
    python bench/release_diff.py --narrow-rows 6500000 --dest postgresql://...   # memory: one 6.5 M-row file
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from data_processor.db import make_engine  # noqa: E402

NULL = "NO DATA!"


def next_release(src: Path, dest: Path, seed: int, change: bool = True) -> dict[str, int]:
    """``dest`` = ``src``'s certificates files with ~1 % of rows changed (or, ``change=False``, only reordered and
    every field quoted); returns the rows removed, changed and added."""
    rng = random.Random(seed)
    counts = {"removed": 0, "changed": 0, "added": 0}
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("certificates-*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = list(reader)
        if change:
            keep = [r for r in rows if rng.random() >= 0.005]
            counts["removed"] += len(rows) - len(keep)
            text_columns = [i for i, name in enumerate(header) if name in ("address1", "posttown", "address")]
            for row in rng.sample(keep, len(keep) // 200):
                row[text_columns[0] if text_columns else 1] += " (corrected)"
                counts["changed"] += 1
            added = [list(r) for r in rng.sample(rows, len(rows) // 100)]
            for row in added:
                row[0] = f"late-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
            counts["added"] += len(added)
            rows = keep + added
        rng.shuffle(rows)
        with open(dest / path.name, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, quoting=csv.QUOTE_MINIMAL if change else csv.QUOTE_ALL)
            writer.writerow(header)
            writer.writerows(rows)
    return counts


class Meter:
    """What the database wrote and holds, read before and after a load."""

    def __init__(self, url: str, table: str) -> None:
        self.engine, _ = make_engine(url)
        self.table, self.kind = table, self.engine.dialect.name

    def written(self) -> int | None:
        """The server's log position (None for SQLite: the loading processes' own writes are counted instead)."""
        with self.engine.connect() as conn:
            if self.kind == "postgresql":
                return int(conn.execute(sa.text("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")).scalar())
            if self.kind in ("mysql", "mariadb"):
                return int(conn.execute(sa.text("SHOW GLOBAL STATUS LIKE 'Innodb_os_log_written'")).one()[1])
        return None

    def settle(self) -> None:
        """Before a measured load: the table vacuumed (autovacuum's work on the last load is not counted in this
        one) and, on PostgreSQL, a checkpoint, so every page the load touches is logged whole once: the steady
        state of a monthly run, and the worst case for a row difference."""
        if self.kind == "sqlite" or not sa.inspect(self.engine).has_table(self.table):
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'VACUUM "{self.table}"' if self.kind == "postgresql"
                                 else f"ANALYZE TABLE `{self.table}`"))
            if self.kind == "postgresql":
                conn.execute(sa.text("CHECKPOINT"))

    def full_pages(self) -> int | None:
        """Pages PostgreSQL logged whole (``pg_stat_wal.wal_fpi``), server-wide."""
        if self.kind != "postgresql":
            return None
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT wal_fpi FROM pg_stat_wal")).scalar())

    def size(self) -> int:
        with self.engine.connect() as conn:
            if self.kind == "postgresql":
                return conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": self.table}).scalar()
            if self.kind in ("mysql", "mariadb"):
                conn.execute(sa.text(f"ANALYZE TABLE `{self.table}`"))
                return int(conn.execute(sa.text(
                    "SELECT data_length + index_length FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name = :t"), {"t": self.table}).scalar())
        return os.path.getsize(self.engine.url.database)

    def dead_rows(self) -> int | None:
        if self.kind != "postgresql":
            return None
        with self.engine.connect() as conn:
            time.sleep(1.0)  # statistics reach the view when the loading backends report them
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            return conn.execute(sa.text("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = :t"),
                                {"t": self.table}).scalar()

    def rows(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(f'SELECT COUNT(*) FROM "{self.table}"' if self.kind != "mysql"
                                        else f"SELECT COUNT(*) FROM `{self.table}`")).scalar()

    def forget_hashes(self) -> None:
        """Make every file's next change a whole replace, as before row differences."""
        with self.engine.begin() as conn:
            conn.execute(sa.text("UPDATE data_processor_files SET row_layout = NULL WHERE table_name = :t"),
                         {"t": self.table})

    def drop(self) -> None:
        with self.engine.begin() as conn:
            q = self.engine.dialect.identifier_preparer.quote
            for name in (self.table, f"{self.table}_rejects"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {q(name)}"))
            for ledger in ("data_processor_files", "data_processor_columns"):
                if sa.inspect(conn).has_table(ledger):
                    conn.execute(sa.text(f"DELETE FROM {ledger} WHERE table_name = :t"), {"t": self.table})


_MEASURED = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": done.returncode, "out": done.stdout, "err": done.stderr, "peak_kb": usage.ru_maxrss,
                  "written": usage.ru_oublock * 512}))
"""
"""Runs a command and reports its processes' peak RSS and storage writes (a fresh parent: nothing else counted)."""


def load(src: Path, dest: str, table: str, workers: int) -> tuple[float, float, int, str]:
    """Wall seconds, the largest process's peak RSS (MB), the bytes its processes wrote to storage and the summary
    line of one CLI load."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _MEASURED, sys.executable, "-m", "data_processor", "load", "--src",
                           str(src), "--glob", "certificates-*.csv", "--dest", dest, "--table", table,
                           "--null-values", NULL, "--workers", str(workers)], capture_output=True, text=True)
    wall = time.monotonic() - started
    report = json.loads(done.stdout)
    if report["code"]:
        sys.exit(f"load failed ({report['code']}): {report['err'].strip()[-2000:]}")
    return wall, report["peak_kb"] / 1024, report["written"], report["out"].strip().splitlines()[-1]


def measure(meter: Meter, src: Path, dest: str, workers: int) -> dict:
    meter.settle()
    written, fpi = meter.written(), meter.full_pages()
    wall, peak, stored, line = load(src, dest, meter.table, workers)
    fpi = None if fpi is None else meter.full_pages() - fpi
    return {"wall": wall, "written": stored if written is None else meter.written() - written, "fpi": fpi,
            "size": meter.size(), "dead": meter.dead_rows(), "rows": meter.rows(), "peak": peak, "line": line}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", required=True, help="SQLAlchemy URL (PostgreSQL: a private server)")
    parser.add_argument("--mb", type=int, default=150, help="size of the first release's certificates (MB)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", help="folder to keep the generated releases in (default: a temporary one)")
    parser.add_argument("--narrow-rows", type=int, help="instead of the EPC-like files: ONE file of this many short "
                        "rows (the row count of a big year file, without its width: what a diff holds in memory)")
    args = parser.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="release-diff-"))
    first, second, reorder = work / "first", work / "second", work / "reorder"
    if not first.exists() and args.narrow_rows:
        first.mkdir(parents=True)
        rng = random.Random(args.seed)
        with open(first / "certificates-2020.csv", "w") as f:
            f.write("certificate_number,address1,total_floor_area\n")
            f.writelines(f"{i:012d},{rng.randrange(10**9)} High Street,{rng.randrange(10**4)}.{i % 100:02d}\n"
                         for i in range(args.narrow_rows))
    if not first.exists():
        subprocess.run([sys.executable, "-m", "samples", str(first), "--layout", "current", "--mb", str(args.mb),
                        "--seed", str(args.seed)], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
        for path in first.glob("recommendations-*.csv"):
            path.unlink()
    if not second.exists():
        print("next release:", next_release(first, second, args.seed + 1))
        next_release(first, reorder, args.seed + 2, change=False)

    table = f"bench_{uuid.uuid4().hex[:8]}"
    meter = Meter(args.dest, table)
    results = {}
    try:
        results["first load"] = measure(meter, first, args.dest, args.workers)
        results["next release, diff"] = measure(meter, second, args.dest, args.workers)
        results["back to the first, diff"] = measure(meter, first, args.dest, args.workers)
        meter.forget_hashes()
        results["next release, replaced whole"] = measure(meter, second, args.dest, args.workers)
        meter.drop()
        measure(meter, first, args.dest, args.workers)
        results["reordered and requoted only"] = measure(meter, reorder, args.dest, args.workers)
    finally:
        meter.drop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    base = results["first load"]
    what = f"one file of {args.narrow_rows:,} short rows" if args.narrow_rows else f"{args.mb} MB of certificates"
    print(f"\n{meter.kind}, {what}, --workers {args.workers}, --null-values '{NULL}'")
    print(f"{'':32} {'wall s':>7} {'× first':>8} {'written MB':>11} {'× first':>8} {'pages whole':>12} "
          f"{'table MB':>9} {'dead rows':>10} {'peak MB':>8}")
    for name, r in results.items():
        dead = "" if r["dead"] is None else f"{r['dead']:,}"
        fpi = "" if r["fpi"] is None else f"{r['fpi']:,}"
        print(f"{name:32} {r['wall']:7.1f} {r['wall'] / base['wall']:8.2f} {r['written'] / 1e6:11.1f} "
              f"{r['written'] / max(base['written'], 1):8.3f} {fpi:>12} {r['size'] / 1e6:9.1f} {dead:>10} "
              f"{r['peak']:8.0f}")
    for name, r in results.items():
        print(f"  {name}: {r['line']}")


if __name__ == "__main__":
    main()
