"""``prefect deploy --all`` against a real Prefect server, with the work pools created as the README says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from conftest import REPO

ROOT = REPO
PREFECT = [sys.executable, "-m", "prefect"]


def prefect(*args: str, api: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    """``prefect ARGS`` as a user's shell runs it in ``cwd`` (by default the checkout; ``$PWD`` says where)."""
    done = subprocess.run([*PREFECT, *args], cwd=cwd, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PREFECT_API_URL": api, "PREFECT_CLI_PROMPT": "false",
                               "PWD": str(cwd), **(env or {})})
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def deployed(prefect_api):
    """What the README's deploy step does (``make deploy`` runs ``scripts/deploy.sh`` with the virtualenv's prefect),
    twice: the second must change nothing and fail on nothing."""
    for _ in range(2):
        done = subprocess.run(["scripts/deploy.sh"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_CLI_PROMPT": "false",
                                   "PWD": str(ROOT), "PREFECT": f"{sys.executable} -m prefect"})
        assert done.returncode == 0, f"scripts/deploy.sh failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    with get_client(sync_client=True) as client:  # by flow and name: the tests' served child is load-csv-file/local
        flows = {f.id: f.name for f in client.read_flows()}
        yield {f"{flows[d.flow_id]}/{d.name}": d for d in client.read_deployments()}, client


def test_the_readme_deploys_with_the_script_the_tests_run():
    for name in ("README.md", "docs/DEPLOY.md"):
        assert "\nmake deploy " in (ROOT / name).read_text(), name
    assert "PREFECT=$(BIN)/prefect scripts/deploy.sh" in (ROOT / "Makefile").read_text()


def test_every_deployment_is_created(deployed):
    deployments, _ = deployed
    assert {"load-csv-folder/certificates-quarterly", "load-csv-folder/recommendations-quarterly",
            "load-csv-file/k8s", "sync-epc/epc-monthly", "load-csv-file/k8s-s3",
            "load-csv-folder/local"} <= set(deployments)


def test_the_parents_run_quarterly_in_london_on_their_own_queue(deployed):
    deployments, _ = deployed
    for name in ("certificates-quarterly", "recommendations-quarterly"):
        d = deployments[f"load-csv-folder/{name}"]
        (schedule,) = d.schedules
        assert schedule.schedule.cron.split()[3] == "1,4,7,10" and schedule.schedule.timezone == "Europe/London"
        assert d.work_pool_name == "data-processor-k8s" and d.work_queue_name == "parents"
        assert d.parameters["fanout"] == "kubernetes" and d.parameters["child_deployment"] == "load-csv-file/k8s"
        assert "dest" not in d.parameters  # the URL comes from the pod's Secret, never from run parameters
        assert d.pull_steps == [{"prefect.deployments.steps.set_working_directory":
                                 {"directory": "/opt/data-processor"}}]


def test_the_epc_sync_runs_monthly_in_london_from_object_storage(deployed):
    deployments, _ = deployed
    sync = deployments["sync-epc/epc-monthly"]
    (schedule,) = sync.schedules
    assert schedule.schedule.cron == "0 6 2 * *" and schedule.schedule.timezone == "Europe/London"
    assert sync.work_pool_name == "data-processor-k8s-s3" and sync.work_queue_name == "parents"
    assert sync.parameters["to"].startswith("s3://") and "token" not in json.dumps(sync.parameters).lower()
    child = deployments["load-csv-file/k8s-s3"]
    assert sync.parameters["child_deployment"] == f"load-csv-file/{child.name}"
    assert child.work_pool_name == "data-processor-k8s-s3" and child.work_queue_name == "files"


def test_the_child_is_capped_and_enqueues_on_its_own_queue(deployed):
    deployments, _ = deployed
    child = deployments["load-csv-file/k8s"]
    assert child.work_queue_name == "files" and child.work_pool_name == "data-processor-k8s"
    assert child.global_concurrency_limit.limit == 4
    assert child.concurrency_options.collision_strategy.value == "ENQUEUE"
    variables = child.job_variables
    assert {"image", "cpu_request", "memory_limit", "backoff_limit", "finished_job_ttl",
            "active_deadline_seconds"} <= set(variables)


def test_the_kubernetes_pool_uses_the_repository_job_template(deployed):
    import json

    _, client = deployed
    pool = client.read_work_pool("data-processor-k8s")
    assert pool.base_job_template == json.loads((ROOT / "k8s" / "base-job-template.json").read_text())


def test_the_local_deployment_points_at_the_checkout_it_was_deployed_from(deployed):
    deployments, _ = deployed
    (step,) = deployments["load-csv-folder/local"].pull_steps
    assert step == {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}


def test_the_local_deployment_runs_on_a_process_worker(deployed, prefect_api, tmp_path):
    """The README's `prefect worker start` + `prefect deployment run`, on a machine that is not the image (the pull
    step used to change into /opt/data-processor, so the run crashed); only certificates.csv lands (the glob)."""
    from prefect.deployments import run_deployment

    src = tmp_path / "epc"
    (src / "a").mkdir(parents=True)
    (src / "a" / "certificates.csv").write_text("LMK_KEY,UPRN\nk1,1\nk2,2\n")
    (src / "a" / "recommendations.csv").write_text("LMK_KEY,TEXT\nk1,loft\n")
    db = tmp_path / "local.db"
    run = run_deployment("load-csv-folder/local", timeout=0, parameters={
        "src": str(src), "glob": "**/certificates.csv", "table": "certificates"})
    worker = prefect("worker", "start", "--pool", "data-processor-local", "--run-once", api=prefect_api,
                     cwd=tmp_path, env={"DEST_SQL": f"sqlite:///{db}"})  # started outside the checkout
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run.id).state
    assert state.is_completed(), f"{state.message}\n{worker.stderr[-3000:]}"
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM certificates").fetchone() == (2,)


def test_every_local_run_in_the_readme_names_its_files():
    """An EPC folder holds two kinds of file: a run that keeps the default glob loads both into one table."""
    docs = "\n".join((ROOT / name).read_text() for name in ("README.md", "docs/DEPLOY.md")).replace("\\\n", " ")
    runs = [line for line in docs.splitlines() if "prefect deployment run 'load-csv-folder/local'" in line]
    assert runs
    for line in runs:
        assert "--param glob='**/certificates.csv'" in line and "--param table=certificates" in line, line
    import yaml

    (local,) = [d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"] if d["name"] == "local"]
    assert local["parameters"]["glob"] == f"**/{local['parameters']['table']}.csv"
