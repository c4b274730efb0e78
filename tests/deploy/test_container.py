"""The image, built and run for real: `scripts/build-image.sh` (what `make image` runs) builds the Dockerfile, and its
commands run in containers set up the way the per-file Kubernetes Job sets up its pod (k8s/base-job-template.json).

Needs a working podman or docker (`.ci/run` installs podman from Debian packages); skipped with the reason otherwise.
TEST_IMAGE=<ref> tests an image built beforehand instead of building one. The first build here takes about three
minutes (two when the stand-in base exists); a rebuild with nothing changed about twenty seconds.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import REPO

ENGINE = REPO / "scripts" / "container-engine.sh"
JOB_TEMPLATE = json.loads((REPO / "k8s" / "base-job-template.json").read_text())
POD_SPEC = JOB_TEMPLATE["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
JOB_ENV = JOB_TEMPLATE["variables"]["properties"]["env"]["default"]
DATA = JOB_TEMPLATE["variables"]["properties"]["data_mount_path"]["default"]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ECS_FIELDS = {"@timestamp", "log.level", "log.logger", "message"}

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(900)]


def _engine_or_skip() -> str:
    which = subprocess.run([str(ENGINE), "--which"], capture_output=True, text=True)
    if which.returncode != 0:
        pytest.skip(f"no container engine: {which.stderr.strip()}", allow_module_level=True)
    if which.stdout.strip() == "buildah":
        pytest.skip("only buildah here: it builds images but cannot run them (install podman)",
                    allow_module_level=True)
    return which.stdout.strip()


_engine_or_skip()


@pytest.fixture(scope="session")
def image() -> str:
    """The project's image: TEST_IMAGE if given, else built now from this checkout (layers cached between runs)."""
    if os.environ.get("TEST_IMAGE"):
        return os.environ["TEST_IMAGE"]
    tag = "data-processor:test"
    build = subprocess.run([str(REPO / "scripts" / "build-image.sh"), tag], capture_output=True, text=True,
                           timeout=850)
    assert build.returncode == 0, f"image build failed:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}"
    return tag


def engine(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The container engine (podman or docker, with this machine's flags), as a subprocess."""
    return subprocess.run([str(ENGINE), *args], capture_output=True, text=True, timeout=timeout)


def run_job_container(image: str, *command: str, env: dict[str, str] | None = None, data: Path | None = None,
                      tmp_path: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `command` in `image` as the per-file Job runs its container: uid/gid 10001, read-only root filesystem,
    /tmp as scratch, every capability dropped, no privilege escalation, the job template's default environment
    plus `env` passed through an env file (as `envFrom` a Secret gives DEST_SQL), `data` mounted read-only at /data,
    and the host's network (the test servers listen on 127.0.0.1). An S3 source needs no mount: pass its
    AWS_* settings in `env`."""
    env_file = tmp_path / f"job-{uuid.uuid4().hex[:8]}.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**JOB_ENV, **(env or {})}.items()))
    env_file.chmod(0o600)
    user = f"{POD_SPEC['securityContext']['runAsUser']}:{POD_SPEC['securityContext']['runAsGroup']}"
    args = ["run", "--rm", "--user", user, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--network", "host", "--env-file", str(env_file)]
    if data is not None:
        args += ["--volume", f"{data}:{DATA}:ro"]
    return engine(*args, image, *command, timeout=timeout)


def json_lines(output: str) -> list[dict]:
    """Every non-empty line of `output` as JSON; a line that is not JSON fails the test, naming the line."""
    records = []
    for line in output.splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"not a JSON log line: {line!r}")
    return records


def csv_records(folder: Path, glob: str) -> int:
    """Data records (not lines: quoted fields may hold newlines) of the files `glob` matches."""
    total = 0
    for path in folder.glob(glob):
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            total += sum(1 for _ in csv.reader(handle)) - 1
    return total


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """A small EPC-like dump, readable by uid 10001 through the read-only mount."""
    folder = tmp_path_factory.mktemp("sample")
    subprocess.run([sys.executable, "-m", "samples", str(folder),
                    "--mb", "2", "--seed", "1"], check=True, capture_output=True)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


# --- the image ----------------------------------------------------------------------------------------------------

def test_default_user_is_not_root(image):
    result = engine("run", "--rm", image, "id", "-u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(POD_SPEC["securityContext"]["runAsUser"])


def test_default_command_prints_the_help_behind_the_base_entrypoint(image):
    inspect = engine("image", "inspect", "--format", "{{json .Config.Entrypoint}}", image)
    assert json.loads(inspect.stdout) == ["/usr/bin/tini", "-g", "--", "/opt/prefect/entrypoint.sh"]
    result = engine("run", "--rm", image)
    assert result.returncode == 0, result.stderr
    assert "Usage: data-processor" in result.stdout


def test_no_compiler_is_left(image):
    result = engine("run", "--rm", image, "sh", "-c",
                    "for c in gcc cc c++ g++ make cpp ld x86_64-linux-gnu-gcc; do command -v $c; done; true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_commands_run_under_the_job_settings(image, tmp_path):
    version = run_job_container(image, "data-processor", "--version", tmp_path=tmp_path)
    assert version.returncode == 0, version.stderr
    assert "0.1.0" in version.stdout
    prefect = run_job_container(image, "prefect", "version", tmp_path=tmp_path)
    assert prefect.returncode == 0, prefect.stderr
    assert "3.8." in prefect.stdout


def test_cli_load_in_the_job_container_loads_once_with_ecs_json_logs(image, sample, pg, tmp_path):
    """`data-processor load` with DEST_SQL from the environment, the data read-only at /data: the first run loads
    every record of the sample (into the table or its rejects), the second skips every file."""
    env = {"DEST_SQL": POSTGRES_URL, "DATA_PROCESSOR_LOG_FORMAT": "json"}
    command = ["data-processor", "load", "--src", f"{DATA}", "--glob", "**/certificates.csv", "--table", pg.table,
               "--null-values", "NO DATA!"]
    first = run_job_container(image, *command, env=env, data=sample, tmp_path=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    loaded = pg.count()
    assert loaded > 0
    assert loaded + pg.count(f"{pg.table}_rejects") == csv_records(sample, "**/certificates.csv")

    second = run_job_container(image, *command, env=env, data=sample, tmp_path=tmp_path)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert pg.count() == loaded

    for run, status in ((first, "loaded"), (second, "skipped")):
        records = json_lines(run.stdout) + json_lines(run.stderr)
        assert records and all(ECS_FIELDS <= set(r) for r in records), records[:3]
        files = [r for r in records if r.get("event.action") == "load.file"]
        assert len(files) == len(list(sample.glob("**/certificates.csv")))
        assert {r["status"] for r in files} == {status}, files


def test_a_zip_on_object_storage_loads_in_the_job_container_once(image, pg, s3, tmp_path):
    """The object-storage pool's Job: no data volume, the release read in place from a zip in a bucket, the
    store's endpoint and keys from the environment (as the storage Secret gives them through envFrom)."""
    subprocess.run([sys.executable, "-m", "samples", str(tmp_path / "release"), "--layout",
                    "current", "--zip", "--mb", "2", "--seed", "1"], check=True, capture_output=True)
    archive = tmp_path / "release" / "domestic-csv.zip"
    url = s3.put(s3.bucket(), "epc/domestic-csv.zip", archive.read_bytes())
    env = {"DEST_SQL": POSTGRES_URL, "DATA_PROCESSOR_LOG_FORMAT": "json",
           **{name: os.environ[name] for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                  "AWS_DEFAULT_REGION")}}
    command = ["data-processor", "load", "--src", url, "--glob", "certificates-*.csv", "--table", pg.table,
               "--null-values", "NO DATA!"]
    first = run_job_container(image, *command, env=env, tmp_path=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    import zipfile

    with zipfile.ZipFile(archive) as members:
        expected = sum(members.read(n).count(b"\n") - 1 for n in members.namelist() if n.startswith("certificates-"))
    assert pg.count() + pg.count(f"{pg.table}_rejects") == expected
    second = run_job_container(image, *command, env=env, tmp_path=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    files = [r for r in json_lines(second.stdout) + json_lines(second.stderr) if r.get("event.action") == "load.file"]
    assert files and {r["status"] for r in files} == {"skipped"}
    assert "testing" not in first.stdout + first.stderr  # the keys never reach the logs


# --- the per-file Job's own command: `prefect flow-run execute` ---------------------------------------------------

PLAN_ONE_FILE = """
import json, os
from data_processor import Settings, apply, plan
options = Settings(src=os.environ["SRC"], glob=os.environ["GLOB"], dest=os.environ["DEST_SQL"],
                   table=os.environ["TABLE"], null_values=("NO DATA!",))
the_plan = apply(plan(options))
print(json.dumps(the_plan.load_plan.for_file(the_plan.pending[0]).to_json()))
"""


@pytest.fixture(scope="module")
def file_deployment(prefect_api):
    """prefect.yaml's per-file deployment (entrypoint, pull steps) registered on the test Prefect server."""
    from prefect.client.orchestration import get_client

    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    (spec,) = [d for d in config["deployments"] if d["name"] == "k8s"]
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("load-csv-file")
        return client.create_deployment(flow_id=flow_id, name=f"k8s-{uuid.uuid4().hex[:6]}",
                                        entrypoint=spec["entrypoint"], pull_steps=config["pull"])


def test_flow_run_execute_in_the_job_container_loads_the_file_once(image, sample, pg, prefect_api, file_deployment,
                                                                   tmp_path):
    """What a Kubernetes worker does for a child run of load-csv-file: create the flow run, then start the image
    with `prefect flow-run execute` and PREFECT__FLOW_RUN_ID. The plan comes from a container too (the parent's pod
    plans). Two child runs of the same file plan: the first loads it, the second finds it loaded."""
    from prefect.client.orchestration import get_client

    env = {"DEST_SQL": POSTGRES_URL, "PREFECT_API_URL": prefect_api}
    planned = run_job_container(image, "python", "-c", PLAN_ONE_FILE, data=sample, tmp_path=tmp_path,
                                env={**env, "SRC": DATA, "GLOB": "**/certificates.csv", "TABLE": pg.table})
    assert planned.returncode == 0, planned.stderr[-3000:]
    plan = json.loads(planned.stdout.splitlines()[-1])
    (file,) = plan["files"]

    outputs = []
    for attempt in range(2):
        with get_client(sync_client=True) as client:
            flow_run = client.create_flow_run_from_deployment(
                file_deployment, parameters={"plan": plan, "run_id": f"container-test-{attempt}", "db_limit": ""})
        job = run_job_container(image, "prefect", "flow-run", "execute", data=sample, tmp_path=tmp_path,
                                env={**env, "PREFECT__FLOW_RUN_ID": str(flow_run.id)})
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run.id).state
        assert job.returncode == 0 and state.is_completed(), f"{state}\n{job.stdout[-3000:]}\n{job.stderr[-3000:]}"
        outputs.append(job.stdout + job.stderr)
        if attempt == 0:
            loaded = pg.count()
            expected = csv_records(sample, file["source"]["key"])
            assert loaded > 0 and loaded + pg.count(f"{pg.table}_rejects") == expected
    assert pg.count() == loaded

    for output in outputs:
        records = json_lines(output)
        assert all(ECS_FIELDS <= set(r) for r in records), records[:3]
        assert any(r.get("flow_run_id") for r in records)  # logging.yml tags each line with its run
