"""The Kubernetes side without a cluster: the manifests in k8s/ and the Job the worker submits for each flow run.

The Job is rendered by prefect-kubernetes itself, as the worker does: `KubernetesWorkerJobConfiguration
.from_template_and_values(k8s/base-job-template.json, <job_variables of a prefect.yaml deployment>)`, then
`.prepare_for_flow_run(<a FlowRun>)`; the same for the object-storage variant (k8s/base-job-template-object-storage
.json, derived from the first by k8s/derive_object_storage_template.py). Every manifest is validated against the Kubernetes OpenAPI schemas of each
version in KUBERNETES_VERSIONS (kubernetes-validate, strict: an unknown or misplaced field fails).

tests/deploy/test_helm.py imports the helpers marked "shared" below.
"""

from __future__ import annotations

import asyncio
import copy
import fnmatch
import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect_kubernetes.worker import KubernetesWorker, KubernetesWorkerJobConfiguration

from conftest import REPO

K8S = REPO / "k8s"
BASE_JOB_TEMPLATE = K8S / "base-job-template.json"
OBJECT_STORAGE_JOB_TEMPLATE = K8S / "base-job-template-object-storage.json"
"""The variant without the data volume: the pods read s3:// (gs://, az://) URLs directly (shared)."""

KUBERNETES_VERSIONS = ("1.30", "1.33", "1.37")
"""Kubernetes versions we claim to support (shared): the chart's minimum (Chart.yaml kubeVersion), one in between,
and the newest kubernetes-validate ships schemas for."""

WORK_POOL = "data-processor-k8s"
OBJECT_STORAGE_WORK_POOL = "data-processor-k8s-s3"
"""The work pool created with the object-storage template (shared)."""
FILE_DEPLOYMENT = "k8s"
"""The per-file child deployment in prefect.yaml: one flow run, one Job, one pod per file."""

API_URL = "http://prefect-server.prefect.svc.cluster.local:4200/api"

RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}
"""Volume types the "restricted" Pod Security Standard allows."""


# --- shared helpers ---------------------------------------------------------------------------------------------------

def load_manifests(text: str) -> list[dict]:
    """Every non-empty YAML document of a manifest file (shared)."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def validation_errors(manifest: dict) -> list[str]:
    """Why `manifest` is not a valid object of each supported Kubernetes version (shared); empty when it is."""
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "(root)"
            errors.append(f"{manifest['kind']}/{manifest['metadata'].get('name')} on {version}: {where}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(exc.message)
    return errors


def restricted_violations(pod_spec: dict) -> list[str]:
    """What in a pod spec breaks the "restricted" Pod Security Standard (shared); the subset we rely on."""
    problems = []
    pod_sc = pod_spec.get("securityContext", {})
    for container in pod_spec.get("initContainers", []) + pod_spec["containers"]:
        name, sc = container["name"], container.get("securityContext", {})
        if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True):
            problems.append(f"{name}: runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{name}: runs as uid 0")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities are not dropped (drop: [ALL])")
        if sc.get("readOnlyRootFilesystem") is not True:  # not in the standard, but our own rule
            problems.append(f"{name}: root filesystem is writable")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {seccomp!r}")
    for volume in pod_spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']}: {sorted(kinds)} is not allowed")
    if pod_spec.get("hostNetwork") or pod_spec.get("hostPID") or pod_spec.get("hostIPC"):
        problems.append("uses a host namespace")
    return problems


def prefect_yaml() -> dict:
    return yaml.safe_load((REPO / "prefect.yaml").read_text())


def k8s_deployments(pool: str = WORK_POOL) -> dict[str, dict]:
    """prefect.yaml deployments on a Kubernetes work pool (the data-volume one unless told), by name (shared)."""
    return {d["name"]: d for d in prefect_yaml()["deployments"] if d.get("work_pool", {}).get("name") == pool}


class NoPrefectApi:
    """Stands in for the Prefect client: rendering a Job from our template must not need the API (no block or
    variable placeholders); any use of this fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the base job template needs the Prefect API to render ({name})")


def render_flow_run_job(base_job_template: dict, job_variables: dict, flow_run: FlowRun | None = None) -> dict:
    """The Job manifest the Kubernetes worker would submit for `flow_run` (shared)."""
    flow_run = flow_run or FlowRun(id=uuid.uuid4(), name="clever-otter", flow_id=uuid.uuid4(),
                                   deployment_id=uuid.uuid4())
    with temporary_settings(updates={PREFECT_API_URL: API_URL}):
        configuration = asyncio.run(KubernetesWorkerJobConfiguration.from_template_and_values(
            copy.deepcopy(base_job_template), copy.deepcopy(job_variables), client=NoPrefectApi()))
        configuration.prepare_for_flow_run(flow_run=flow_run)
    return configuration.job_manifest


def without_prefect_pod_fields(job: dict) -> dict:
    """The Job as the API server keeps it (shared). prefect-kubernetes 0.8 refuses a template whose pod spec lacks
    `parallelism: 1` and `completions: 1` (its `_get_base_job_manifest`), but those are Job fields: in a pod spec they
    are unknown, and the API server drops them with a warning. Strict validation would fail on them, so they go here,
    after checking they are exactly what prefect-kubernetes insists on."""
    job = copy.deepcopy(job)
    pod_spec = job["spec"]["template"]["spec"]
    assert {key: pod_spec.pop(key, None) for key in ("parallelism", "completions")} == {
        "parallelism": 1, "completions": 1}
    return job


def container(job: dict, name: str = "prefect-job") -> dict:
    containers = {c["name"]: c for c in job["spec"]["template"]["spec"]["containers"]}
    return containers[name]


# --- fixtures ---------------------------------------------------------------------------------------------------------

POOL_TEMPLATES = {WORK_POOL: BASE_JOB_TEMPLATE, OBJECT_STORAGE_WORK_POOL: OBJECT_STORAGE_JOB_TEMPLATE}
"""Each Kubernetes work pool and the base job template it is created with."""


def pool_deployments() -> list[tuple[str, str]]:
    """(pool, deployment name) of every prefect.yaml deployment on a Kubernetes work pool."""
    return [(pool, name) for pool in POOL_TEMPLATES for name in sorted(k8s_deployments(pool))]


@pytest.fixture(scope="module")
def template() -> dict:
    return json.loads(BASE_JOB_TEMPLATE.read_text())


@pytest.fixture(scope="module", params=sorted(POOL_TEMPLATES))
def any_template(request) -> dict:
    """Each of the base job templates in k8s/."""
    return json.loads(POOL_TEMPLATES[request.param].read_text())


@pytest.fixture(scope="module")
def file_job_variables() -> dict:
    return k8s_deployments()[FILE_DEPLOYMENT]["work_pool"]["job_variables"]


@pytest.fixture(scope="module")
def flow_run() -> FlowRun:
    return FlowRun(id=uuid.uuid4(), name="clever-otter", flow_id=uuid.uuid4(), deployment_id=uuid.uuid4())


@pytest.fixture(scope="module")
def file_job(template, file_job_variables, flow_run) -> dict:
    return render_flow_run_job(template, file_job_variables, flow_run)


# --- the base job template --------------------------------------------------------------------------------------------

class TestBaseJobTemplate:
    def test_keeps_the_worker_default_shape(self, any_template):
        default = KubernetesWorker.get_default_base_job_template()
        assert set(any_template["job_configuration"]) == set(default["job_configuration"])
        assert set(default["variables"]["properties"]) <= set(any_template["variables"]["properties"])
        containers = any_template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]["containers"]
        assert [c["name"] for c in containers] == ["prefect-job"]

    def test_every_placeholder_is_a_variable(self, any_template):
        placeholders = set(re.findall(r"\{\{\s*([\w.]+)\s*\}\}", json.dumps(any_template["job_configuration"])))
        assert placeholders <= set(any_template["variables"]["properties"])

    def test_every_variable_has_a_description(self, any_template):
        for name, schema in any_template["variables"]["properties"].items():
            assert schema.get("description"), name

    def test_variable_defaults_match_their_schema(self, any_template):
        """What `prefect work-pool create` would store as the defaults must be valid job variables."""
        properties = any_template["variables"]["properties"]
        defaults = {name: schema["default"] for name, schema in properties.items() if "default" in schema}
        jsonschema.validate(defaults, any_template["variables"])

    @pytest.mark.parametrize("name, default", [
        ("db_secret_name", "data-processor-db"), ("data_pvc_claim_name", "data-processor-data"),
        ("data_mount_path", "/data"), ("namespace", "data-processor"), ("backoff_limit", 0),
    ])
    def test_defaults(self, template, name, default):
        assert template["variables"]["properties"][name]["default"] == default

    def test_resources_have_defaults(self, template):
        for name in ("cpu_request", "cpu_limit", "memory_request", "memory_limit", "active_deadline_seconds",
                     "finished_job_ttl"):
            assert template["variables"]["properties"][name]["default"] is not None, name

    @pytest.mark.parametrize("pool, deployment", pool_deployments())
    def test_prefect_yaml_job_variables_are_template_variables(self, pool, deployment):
        """Prefect ignores a job variable the template does not declare; a typo would silently do nothing."""
        pool_template = json.loads(POOL_TEMPLATES[pool].read_text())
        job_variables = k8s_deployments(pool)[deployment]["work_pool"].get("job_variables", {})
        assert set(job_variables) <= set(pool_template["variables"]["properties"])
        jsonschema.validate(job_variables, pool_template["variables"])  # what the server checks on `prefect deploy`

    @pytest.mark.parametrize("pool, deployment", pool_deployments())
    def test_a_parent_fans_out_to_a_child_on_its_own_pool(self, pool, deployment):
        """A parent reading s3:// URLs whose children mount a volume (or the reverse) would find no files."""
        child = k8s_deployments(pool)[deployment].get("parameters", {}).get("child_deployment")
        if child is None:
            pytest.skip("not a parent")
        assert child.split("/")[-1] in k8s_deployments(pool), f"{child} is not on work pool {pool}"


# --- the Job of a per-file flow run -----------------------------------------------------------------------------------

class TestFlowRunJob:
    @pytest.mark.parametrize("deployment", sorted(k8s_deployments()))
    def test_is_valid_kubernetes(self, template, deployment):
        job = render_flow_run_job(template, k8s_deployments()[deployment]["work_pool"]["job_variables"])
        assert validation_errors(without_prefect_pod_fields(job)) == []

    def test_runs_the_flow_run_in_prefect_job(self, file_job, file_job_variables):
        job_container = container(file_job)
        assert job_container["args"] == ["prefect", "flow-run", "execute"]
        assert job_container["image"] == file_job_variables["image"]
        assert file_job["metadata"]["namespace"] == file_job_variables["namespace"]

    def test_database_url_comes_from_the_secret_only(self, file_job):
        job_container = container(file_job)
        assert job_container["envFrom"] == [{"secretRef": {"name": "data-processor-db"}}]
        assert "DEST_SQL" not in json.dumps(file_job)
        for env in job_container["env"]:
            assert "@" not in str(env.get("value", "")), f"{env['name']} looks like a URL with credentials"

    def test_limits_match_prefect_yaml(self, file_job, file_job_variables):
        spec = file_job["spec"]
        assert spec["activeDeadlineSeconds"] == file_job_variables["active_deadline_seconds"]
        assert spec["ttlSecondsAfterFinished"] == file_job_variables["finished_job_ttl"]
        assert spec["backoffLimit"] == file_job_variables["backoff_limit"]
        assert container(file_job)["resources"] == {
            "requests": {"cpu": file_job_variables["cpu_request"], "memory": file_job_variables["memory_request"]},
            "limits": {"cpu": file_job_variables["cpu_limit"], "memory": file_job_variables["memory_limit"]},
        }

    def test_mounts_the_data_read_only(self, file_job):
        pod_spec = file_job["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod_spec["volumes"]}
        mounts = {m["name"]: m for m in container(file_job)["volumeMounts"]}
        assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "data-processor-data", "readOnly": True}
        assert mounts["data"] == {"name": "data", "mountPath": "/data", "readOnly": True}
        assert "emptyDir" in volumes["tmp"] and mounts["tmp"]["mountPath"] == "/tmp"

    def test_data_path_holds_the_parents_src(self, file_job):
        """The parents' src parameter must be under the mount, or the pods see no files."""
        mount = container(file_job)["volumeMounts"][0]["mountPath"]
        for deployment in k8s_deployments().values():
            if "src" in deployment.get("parameters", {}):
                assert Path(deployment["parameters"]["src"]).is_relative_to(mount)

    def test_is_locked_down(self, file_job):
        pod_spec = file_job["spec"]["template"]["spec"]
        assert restricted_violations(pod_spec) == []
        assert pod_spec["securityContext"]["runAsUser"] == 10001
        assert pod_spec["automountServiceAccountToken"] is False  # the flow run never calls the Kubernetes API

    def test_writable_paths_are_under_tmp(self, file_job):
        env = {e["name"]: e.get("value") for e in container(file_job)["env"]}
        assert env["HOME"] == "/tmp" and env["PREFECT_HOME"].startswith("/tmp/")

    def test_pod_carries_the_flow_run_id(self, file_job, flow_run):
        labels = file_job["spec"]["template"]["metadata"]["labels"]
        assert labels["prefect.io/flow-run-id"] == str(flow_run.id)

    def test_evicted_runs_are_rescheduled_by_prefect(self, file_job):
        """backoffLimit 0: Prefect, not Kubernetes, retries an evicted pod (and the ledger makes that safe)."""
        env = {e["name"]: e.get("value") for e in container(file_job)["env"]}
        assert env["PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR"] == "reschedule"


# --- the object-storage variant: no data volume --------------------------------------------------------------------

def load_derivation():
    """k8s/derive_object_storage_template.py as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("derive_object_storage_template",
                                                  K8S / "derive_object_storage_template.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def object_storage_template() -> dict:
    return json.loads(OBJECT_STORAGE_JOB_TEMPLATE.read_text())


@pytest.fixture(scope="module")
def object_storage_job(object_storage_template, file_job_variables, flow_run) -> dict:
    """The per-file Job on the object-storage pool, with the job variables prefect.yaml gives the per-file child."""
    return render_flow_run_job(object_storage_template, file_job_variables, flow_run)


WORKLOAD_IDENTITY = {"service_account_name": "data-processor-flow-runs", "automount_service_account_token": True,
                     "labels": {"azure.workload.identity/use": "true"}}
"""Job variables of a workload-identity setup: the annotated ServiceAccount, its token, Azure's pod label."""


class TestObjectStorageTemplate:
    def test_is_the_base_template_derived(self, template):
        """The file is what the script writes from k8s/base-job-template.json: change that one, then rerun it."""
        derivation = load_derivation()
        assert OBJECT_STORAGE_JOB_TEMPLATE.read_text() == derivation.render(derivation.derive(template)), \
            "k8s/base-job-template-object-storage.json is out of date: run python k8s/derive_object_storage_template.py"
        assert derivation.main(["--check"]) == 0

    def test_differs_from_the_base_only_in_data_access(self, template, object_storage_template):
        """Same security posture, resources and limits: only the data volume, the storage Secret and the token
        mount differ."""
        base, variant = template["variables"]["properties"], object_storage_template["variables"]["properties"]
        assert set(base) - set(variant) == {"data_pvc_claim_name", "data_mount_path"}
        assert set(variant) - set(base) == {"storage_secret_name", "automount_service_account_token"}
        for name in set(base) & set(variant) - {"service_account_name"}:
            assert variant[name] == base[name], name
        assert variant["storage_secret_name"]["default"] == "data-processor-storage"
        assert variant["automount_service_account_token"]["default"] is False

    @pytest.mark.parametrize("deployment", sorted(k8s_deployments()))
    def test_takes_the_job_variables_of_the_volume_pool(self, object_storage_template, deployment):
        """Deployments can move between the pools with the same job variables (image, resources, limits)."""
        job_variables = k8s_deployments()[deployment]["work_pool"]["job_variables"]
        jsonschema.validate(job_variables, object_storage_template["variables"])

    def test_the_prefect_server_accepts_it(self, prefect_api, object_storage_template):
        """`prefect work-pool create --base-job-template` with the file as it is, against a real server."""
        done = subprocess.run(
            [sys.executable, "-m", "prefect", "work-pool", "create", OBJECT_STORAGE_WORK_POOL, "--type", "kubernetes",
             "--base-job-template", str(OBJECT_STORAGE_JOB_TEMPLATE), "--overwrite"],
            capture_output=True, text=True, timeout=180, cwd=REPO,
            env={**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_CLI_PROMPT": "false"})
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        with get_client(sync_client=True) as client:
            assert client.read_work_pool(OBJECT_STORAGE_WORK_POOL).base_job_template == object_storage_template


def object_storage_job_variables(which: str, file_job_variables: dict) -> dict:
    """Job variables by case: the per-file child's, the same with workload identity, or a prefect.yaml deployment's
    on the object-storage pool."""
    if which == "file":
        return file_job_variables
    if which == "identity":
        return {**file_job_variables, **WORKLOAD_IDENTITY}
    return k8s_deployments(OBJECT_STORAGE_WORK_POOL)[which]["work_pool"].get("job_variables", {})


class TestObjectStorageJob:
    @pytest.mark.parametrize("which", ["file", "identity", *sorted(k8s_deployments(OBJECT_STORAGE_WORK_POOL))])
    def test_is_valid_kubernetes(self, object_storage_template, file_job_variables, which):
        job = render_flow_run_job(object_storage_template, object_storage_job_variables(which, file_job_variables))
        assert validation_errors(without_prefect_pod_fields(job)) == []
        assert restricted_violations(job["spec"]["template"]["spec"]) == []

    def test_mounts_no_data_volume(self, object_storage_job):
        pod_spec = object_storage_job["spec"]["template"]["spec"]
        assert pod_spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
        assert container(object_storage_job)["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
        assert "persistentVolumeClaim" not in json.dumps(object_storage_job)

    def test_credentials_come_from_secrets_only(self, object_storage_job):
        """DEST_SQL from the database Secret, the object store's keys from the storage Secret (optional, so a
        workload-identity setup may leave it out); neither is written into the Job."""
        job_container = container(object_storage_job)
        assert job_container["envFrom"] == [
            {"secretRef": {"name": "data-processor-db"}},
            {"secretRef": {"name": "data-processor-storage", "optional": True}},
        ]
        rendered = json.dumps(object_storage_job)
        for key in ("DEST_SQL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            assert key not in rendered

    def test_storage_secret_is_a_job_variable(self, object_storage_template, file_job_variables):
        job = render_flow_run_job(object_storage_template, {**file_job_variables, "storage_secret_name": "epc-s3"})
        assert container(job)["envFrom"][1] == {"secretRef": {"name": "epc-s3", "optional": True}}

    def test_is_locked_down_like_the_volume_job(self, object_storage_job, file_job):
        pod_spec, volume_pod_spec = (job["spec"]["template"]["spec"] for job in (object_storage_job, file_job))
        assert restricted_violations(pod_spec) == []
        assert pod_spec["securityContext"] == volume_pod_spec["securityContext"]
        assert container(object_storage_job)["securityContext"] == container(file_job)["securityContext"]
        assert pod_spec["automountServiceAccountToken"] is False
        assert "serviceAccountName" not in pod_spec  # the namespace's default, unless workload identity names one
        env = {e["name"]: e.get("value") for e in container(object_storage_job)["env"]}
        assert env["HOME"] == "/tmp" and env["PREFECT_HOME"].startswith("/tmp/")
        assert env["PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR"] == "reschedule"

    def test_workload_identity_names_the_service_account(self, object_storage_template, file_job_variables):
        job = render_flow_run_job(object_storage_template, {**file_job_variables, **WORKLOAD_IDENTITY})
        pod = job["spec"]["template"]
        assert pod["spec"]["serviceAccountName"] == "data-processor-flow-runs"
        assert pod["spec"]["automountServiceAccountToken"] is True
        assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
        assert "prefect.io/flow-run-id" in pod["metadata"]["labels"]  # the NetworkPolicy still selects it

    @pytest.mark.parametrize("deployment", sorted(k8s_deployments(OBJECT_STORAGE_WORK_POOL)))
    def test_sources_are_urls_not_paths(self, deployment):
        """A pod on this pool has no /data: a src (or a download target) must be an object-store URL."""
        parameters = k8s_deployments(OBJECT_STORAGE_WORK_POOL)[deployment].get("parameters", {})
        for key in ("src", "to"):
            if key in parameters:
                assert re.match(r"^[a-z][a-z0-9+.-]*://", parameters[key]), f"{key}: {parameters[key]}"


# --- plain manifests --------------------------------------------------------------------------------------------------

MANIFEST_FILES = sorted(K8S.glob("*.yaml"))


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=lambda p: p.name)
def test_manifests_are_valid_kubernetes(path):
    manifests = load_manifests(path.read_text())
    assert manifests
    for manifest in manifests:
        assert validation_errors(manifest) == []


def all_manifests() -> list[dict]:
    return [m for path in MANIFEST_FILES for m in load_manifests(path.read_text())]


def find(kind: str, name: str) -> dict:
    matches = [m for m in all_manifests() if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def test_jobs_namespace_enforces_restricted(template):
    namespace = template["variables"]["properties"]["namespace"]["default"]
    labels = find("Namespace", namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_pvc_is_the_one_the_jobs_mount(template):
    variables = template["variables"]["properties"]
    pvc = find("PersistentVolumeClaim", variables["data_pvc_claim_name"]["default"])
    assert pvc["metadata"]["namespace"] == variables["namespace"]["default"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]  # pods of many files, on many nodes, at once


def test_secret_example_holds_placeholders_only(template):
    secret = find("Secret", template["variables"]["properties"]["db_secret_name"]["default"])
    assert set(secret["stringData"]) == {"DEST_SQL"}
    for manifest in load_manifests((K8S / "secret.example.yaml").read_text()):
        for key, value in manifest["stringData"].items():
            if key in {"DEST_SQL", "auth-string", "username", "password", "ca.crt", "AWS_ACCESS_KEY_ID",
                       "AWS_SECRET_ACCESS_KEY"}:
                assert "CHANGE_ME" in value, f"{manifest['metadata']['name']}.{key} is not a placeholder"


def test_secret_example_has_the_storage_secret_the_object_storage_jobs_read(object_storage_template):
    variables = object_storage_template["variables"]["properties"]
    secret = find("Secret", variables["storage_secret_name"]["default"])
    assert secret["metadata"]["namespace"] == variables["namespace"]["default"]
    assert set(secret["stringData"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                                         "AWS_ENDPOINT_URL", "EPC_API_TOKEN"}  # the token: epc-monthly's fetch


# --- log shipping (Fluent Bit) ----------------------------------------------------------------------------------------

def fluent_bit_sections(config: str) -> list[tuple[str, dict[str, str]]]:
    """[SECTION] blocks of a classic Fluent Bit config as (name, {key: value}); comments skipped."""
    sections: list[tuple[str, dict[str, str]]] = []
    for line in config.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1], {}))
        else:
            key, _, value = line.partition(" ")
            sections[-1][1][key.lower()] = value.strip()
    return sections


@pytest.fixture(scope="module")
def fluent_bit() -> dict[str, Any]:
    config = find("ConfigMap", "fluent-bit-config")["data"]
    sections = fluent_bit_sections(config["fluent-bit.conf"])
    by_plugin = {(kind, opts.get("name")): opts for kind, opts in sections}
    return {"sections": by_plugin, "lua": config["ecs.lua"], "daemonset": find("DaemonSet", "fluent-bit")}


def test_fluent_bit_tails_the_flow_run_containers_only(fluent_bit, file_job):
    path = fluent_bit["sections"][("INPUT", "tail")]["path"]
    namespace = file_job["metadata"]["namespace"]
    # kubelet names container logs <pod>_<namespace>_<container>-<container id>.log
    assert fnmatch.fnmatch(f"/var/log/containers/clever-otter-x7k2p_{namespace}_prefect-job-0123abcd.log", path)
    assert not fnmatch.fnmatch(f"/var/log/containers/dp-worker-5d9f_{namespace}_prefect-worker-0123abcd.log", path)
    assert not fnmatch.fnmatch("/var/log/containers/web-1_default_prefect-job-0123abcd.log", path)


def test_fluent_bit_decodes_json_lines_with_kubernetes_metadata(fluent_bit):
    kubernetes = fluent_bit["sections"][("FILTER", "kubernetes")]
    assert kubernetes["merge_log"] == "On" and kubernetes["labels"] == "On"
    assert fluent_bit["sections"][("INPUT", "tail")]["multiline.parser"] == "cri, docker"


def test_fluent_bit_takes_flow_run_id_from_the_pod_label_prefect_sets(fluent_bit, file_job):
    label = "prefect.io/flow-run-id"
    assert label in file_job["spec"]["template"]["metadata"]["labels"]
    assert f'["{label}"]' in fluent_bit["lua"]
    lua_filter = fluent_bit["sections"][("FILTER", "lua")]
    assert f"function {lua_filter['call']}(" in fluent_bit["lua"]
    mounts = {m["mountPath"] for m in fluent_bit["daemonset"]["spec"]["template"]["spec"]["containers"][0][
        "volumeMounts"]}
    assert str(Path(lua_filter["script"]).parent) in mounts


def test_fluent_bit_writes_a_data_stream(fluent_bit):
    output = fluent_bit["sections"][("OUTPUT", "es")]
    assert output["index"].startswith("logs-") and output["write_operation"] == "create"
    assert output["tls.verify"] == "On"


def test_fluent_bit_reads_pod_metadata_in_the_jobs_namespace_only(template):
    role = find("Role", "fluent-bit-read-pods")
    assert role["metadata"]["namespace"] == template["variables"]["properties"]["namespace"]["default"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    assert not [m for m in all_manifests() if m["kind"] in ("ClusterRole", "ClusterRoleBinding")]
