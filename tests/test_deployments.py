"""``prefect deploy --all`` against a real Prefect server, with the work pools created as the README says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

ROOT = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]


def prefect(*args: str, api: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*PREFECT, *args], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PREFECT_API_URL": api, "PREFECT_CLI_PROMPT": "false"})
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def deployed(prefect_api):
    prefect("work-pool", "create", "data-processor-k8s", "--type", "kubernetes",
            "--base-job-template", "k8s/base-job-template.json", "--overwrite", api=prefect_api)
    prefect("work-pool", "create", "data-processor-local", "--type", "process", "--overwrite", api=prefect_api)
    prefect("--no-prompt", "deploy", "--all", api=prefect_api)
    with get_client(sync_client=True) as client:
        yield {d.name: d for d in client.read_deployments()}, client


def test_every_deployment_is_created(deployed):
    deployments, _ = deployed
    assert {"certificates-quarterly", "recommendations-quarterly", "k8s", "local"} <= set(deployments)


def test_the_parents_run_quarterly_in_london_on_their_own_queue(deployed):
    deployments, _ = deployed
    for name in ("certificates-quarterly", "recommendations-quarterly"):
        d = deployments[name]
        (schedule,) = d.schedules
        assert schedule.schedule.cron.split()[3] == "1,4,7,10" and schedule.schedule.timezone == "Europe/London"
        assert d.work_pool_name == "data-processor-k8s" and d.work_queue_name == "parents"
        assert d.parameters["fanout"] == "kubernetes" and d.parameters["child_deployment"] == "load-csv-file/k8s"
        assert "dest" not in d.parameters  # the URL comes from the pod's Secret, never from run parameters
        assert d.pull_steps == [{"prefect.deployments.steps.set_working_directory":
                                 {"directory": "/opt/data-processor"}}]


def test_the_child_is_capped_and_enqueues_on_its_own_queue(deployed):
    deployments, _ = deployed
    child = deployments["k8s"]
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
