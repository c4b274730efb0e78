"""Where planning reads: the parent run's data-file opens and the planning phase's wall time, per fan-out.

For N equal files it runs the parent flow ``load-csv-folder`` against a temporary Prefect server and PostgreSQL:

* ``--fanout kubernetes``: the per-file child deployment served on this machine (``python -m flows.load_file``,
  one subprocess per child run instead of one pod); the pods scan, the parent only lists;
* ``--fanout local``: the parent's own worker processes scan (as every run did before planning moved out).

The parent runs under ``strace -f -e trace=openat``: every file it (or a process it starts) opens under the data
folder is counted. The planning phase's wall time is the ``plan`` task run's duration in the Prefect API.

    .venv/bin/python bench/fanout_planning.py --files 1,4 --mb 20
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEST = "postgresql://postgres@127.0.0.1:5432/test"
PARENT = """
import sys
from flows.load_folder import load_csv_folder
state = load_csv_folder(table=sys.argv[1], src=sys.argv[2], glob="**/certificates.csv", fanout=sys.argv[3],
                        child_deployment="load-csv-file/local", workers=2, db_concurrency_limit="", return_state=True)
print("STATE", state.type.value, state.state_details.flow_run_id)
"""


def one_file(work: Path, mb: int) -> Path:
    """The biggest certificates.csv of a generated dump of about ``mb`` MB (its own single authority)."""
    dump = work / "dump"
    subprocess.run([sys.executable, "-m", "samples", str(dump), "--mb", str(mb), "--authorities", "1", "--seed", "1"],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return max(dump.rglob("certificates.csv"), key=lambda p: p.stat().st_size)


def folder_of(work: Path, template: Path, count: int) -> Path:
    src = work / f"n{count}"
    for i in range(count):
        (src / f"f{i:02d}").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, src / f"f{i:02d}" / "certificates.csv")
    return src


def serve_child(env: dict) -> subprocess.Popen:
    from prefect.client.orchestration import get_client

    process = subprocess.Popen([sys.executable, "-m", "flows.load_file"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            try:
                client.read_deployment_by_name("load-csv-file/local")
                return process
            except Exception:  # noqa: BLE001 - not served yet
                time.sleep(0.5)
    raise SystemExit("the child deployment was not served in 120 s")


def measure(src: Path, fanout: str, env: dict, work: Path) -> dict:
    """Run the parent once under strace; the data files it opened and its plan task's wall time."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    trace = work / f"trace-{uuid.uuid4().hex[:6]}.txt"
    table = f"bench_plan_{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(trace), sys.executable, "-c",
                           PARENT, table, str(src), fanout], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    match = re.search(r"STATE (\w+) (\S+)", done.stdout)
    if not match:
        raise SystemExit(f"the parent did not finish:\n{done.stderr[-3000:]}")
    opened = [line for line in trace.read_text().splitlines()
              if str(src) in line and "O_DIRECTORY" not in line and "= -1" not in line]
    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[match[2]])))
                if r.name.startswith("plan")]
    plan_seconds = (runs[0].end_time - runs[0].start_time).total_seconds() if runs else float("nan")
    return {"state": match[1], "opened": len(opened), "plan_s": plan_seconds, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", default="1,4", help="numbers of equal files to plan, comma-separated")
    parser.add_argument("--mb", type=int, default=20, help="size of each file in MB (about)")
    parser.add_argument("--fanouts", default="kubernetes,local")
    args = parser.parse_args()
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory() as tmp, temporary_settings({PREFECT_HOME: tmp}), \
            prefect_test_harness(server_startup_timeout=120):
        work = Path(tmp)
        env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "DEST_SQL": DEST,
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
        template = one_file(work, args.mb)
        print(f"each file: {template.stat().st_size / 1e6:.1f} MB")
        child = serve_child(env)
        try:
            print(f"{'fan-out':<11} {'files':>5} {'data files the parent opened':>29} {'planning s':>11} {'run s':>7}")
            for count in (int(n) for n in args.files.split(",")):
                src = folder_of(work, template, count)
                for fanout in args.fanouts.split(","):
                    found = measure(src, fanout, env, work)
                    print(f"{fanout:<11} {count:>5} {found['opened']:>29} {found['plan_s']:>11.2f} "
                          f"{found['wall_s']:>7.1f}  ({found['state']})", flush=True)
        finally:
            child.terminate()
            child.wait(timeout=30)


if __name__ == "__main__":
    main()
