"""The Helm chart helm/data-processor, linted and rendered offline by the real Helm v4 engine (helm-python-sdk).

Each case renders the chart with one set of values (the defaults, ci/production-values.yaml, the object-storage
data source with a Secret, ci/object-storage-values.yaml with workload identity); every object it renders must be
valid Kubernetes for each supported version (strict), namespaced, and least-privilege.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import helm_python as helm
import pytest
import yaml

from conftest import REPO
from test_k8s import (BASE_JOB_TEMPLATE, KUBERNETES_VERSIONS, OBJECT_STORAGE_JOB_TEMPLATE, OBJECT_STORAGE_WORK_POOL,
                      WORK_POOL, k8s_deployments, load_manifests, render_flow_run_job, restricted_violations,
                      validation_errors, without_prefect_pod_fields)

CHART = REPO / "helm" / "data-processor"
RELEASE = "dp"

CASES = {
    # name: (values, release namespace)
    "defaults": ({}, "data-processor"),
    "production": (yaml.safe_load((CHART / "ci" / "production-values.yaml").read_text()), "prefect-workers"),
    # object storage with keys from the storage Secret, an S3-compatible store on 9000 besides HTTPS
    "object-storage": ({"data": {"source": "objectStorage"}, "workPool": {"name": OBJECT_STORAGE_WORK_POOL},
                        "networkPolicy": {"objectStorage": {"ports": [443, 9000]}}}, "data-processor"),
    # object storage with workload identity (IRSA): the chart creates the flow-run pods' annotated ServiceAccount
    "workload-identity": (yaml.safe_load((CHART / "ci" / "object-storage-values.yaml").read_text()),
                          "prefect-workers"),
}

WORKER_RULES = {
    ("batch", "jobs", verb) for verb in ("create", "delete", "get", "list", "watch")
} | {
    ("", "pods", verb) for verb in ("get", "list", "watch")
} | {("", "pods/log", "get"), ("", "events", "create")}
"""Exactly what prefect-kubernetes 0.8's worker and observer call (see templates/role.yaml)."""

CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "Namespace", "PersistentVolume", "StorageClass",
                  "CustomResourceDefinition", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}


# --- helpers ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart, values: dict, namespace: str) -> list[dict]:
    """Every object the chart renders with `values`, each tagged with its template under "_template"."""
    objects = []
    for template, text in chart.render(values, name=RELEASE, namespace=namespace).items():
        if template.endswith(".yaml"):
            for manifest in load_manifests(text):
                manifest["_template"] = template
                objects.append(manifest)
    return objects


def one(objects: list[dict], kind: str, name_suffix: str = "") -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)]
    assert len(matches) == 1, f"{kind} *{name_suffix}: {len(matches)} rendered"
    return matches[0]


def strip(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k != "_template"}


def jobs_namespace(case: str) -> str:
    values, namespace = CASES[case]
    return values.get("jobs", {}).get("namespace") or namespace


def reads_object_storage(values: dict) -> bool:
    return values.get("data", {}).get("source") == "objectStorage"


def repository_template(values: dict) -> dict:
    """The k8s/ base job template the chart must ship for these values' data source."""
    path = OBJECT_STORAGE_JOB_TEMPLATE if reads_object_storage(values) else BASE_JOB_TEMPLATE
    return json.loads(path.read_text())


def worker_account(objects: list[dict]) -> dict:
    """The worker's ServiceAccount (object-storage setups may add the flow-run pods' own)."""
    name = worker_pod(objects)["serviceAccountName"]
    (account,) = [o for o in objects if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == name]
    return account


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, chart):
    values, namespace = CASES[request.param]
    return request.param, values, namespace, render(chart, values, namespace)


# --- lint and render --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
def test_lints_clean(name, kube_version):
    values, namespace = CASES[name]
    report = helm.lint(CHART, values, strict=True, namespace=namespace, kube_version=f"v{kube_version}.0")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []  # 2 = warning, 3 = error


def test_renders_valid_kubernetes(case):
    _, _, _, objects = case
    assert {o["kind"] for o in objects} >= {"ConfigMap", "Deployment", "NetworkPolicy", "Role", "RoleBinding",
                                             "ServiceAccount"}
    for manifest in objects:
        assert validation_errors(strip(manifest)) == [], manifest["_template"]


def test_everything_is_namespaced(case):
    name, _, namespace, objects = case
    assert not [o["kind"] for o in objects if o["kind"] in CLUSTER_SCOPED]
    for manifest in objects:
        assert manifest["metadata"]["namespace"] in {namespace, jobs_namespace(name)}, manifest["_template"]


# --- RBAC -------------------------------------------------------------------------------------------------------------

def test_role_grants_exactly_what_the_worker_needs(case):
    name, _, _, objects = case
    role = one(objects, "Role")
    granted = {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    assert granted == WORKER_RULES
    assert role["metadata"]["namespace"] == jobs_namespace(name)


def test_role_is_bound_to_the_worker_service_account(case):
    name, _, namespace, objects = case
    binding, account = one(objects, "RoleBinding"), worker_account(objects)
    assert binding["metadata"]["namespace"] == jobs_namespace(name)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": one(objects, "Role")["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": namespace}]
    assert worker_pod(objects)["serviceAccountName"] == account["metadata"]["name"]


# --- the worker -------------------------------------------------------------------------------------------------------

def worker_pod(objects: list[dict]) -> dict:
    return one(objects, "Deployment")["spec"]["template"]["spec"]


def option(args: list[str], flag: str) -> str:
    """The value after `flag` in a command line."""
    return args[args.index(flag) + 1]


def worker_env(objects: list[dict], container_name: str = "prefect-worker") -> dict[str, dict]:
    pod = worker_pod(objects)
    containers = {c["name"]: c for c in pod["containers"] + pod.get("initContainers", [])}
    return {e["name"]: e for e in containers[container_name]["env"]}


def test_worker_starts_a_kubernetes_worker_on_the_pool(case):
    _, values, _, objects = case
    args = next(c for c in worker_pod(objects)["containers"] if c["name"] == "prefect-worker")["args"]
    assert args[:3] == ["prefect", "worker", "start"]
    assert option(args, "--type") == "kubernetes"
    pool = OBJECT_STORAGE_WORK_POOL if reads_object_storage(values) else WORK_POOL
    assert option(args, "--pool") == pool
    assert option(args, "--install-policy") == "never"  # the image holds prefect-kubernetes; nothing installs
    assert "--with-healthcheck" in args
    queues = [args[i + 1] for i, arg in enumerate(args) if arg == "--work-queue"]
    assert queues == values.get("workPool", {}).get("workQueues", [])


def test_worker_mounts_the_base_job_template_it_is_given(case):
    _, _, _, objects = case
    pod = worker_pod(objects)
    for worker in pod["containers"] + pod["initContainers"]:
        command = " ".join(worker["args"])
        path = Path(re.search(r"--base-job-template\s+(\S+)", command).group(1))
        mount = next(m for m in worker["volumeMounts"] if m["mountPath"] == str(path.parent))
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        configmap = one(objects, "ConfigMap")
        assert volume["configMap"]["name"] == configmap["metadata"]["name"]
        assert path.name in configmap["data"], worker["name"]


def test_worker_watches_the_jobs_namespace_only(case):
    name, _, _, objects = case
    env = worker_env(objects)
    assert env["PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES"]["value"] == jobs_namespace(name)


def test_worker_reaches_the_api_with_credentials_from_secrets(case):
    _, values, _, objects = case
    for container_name in ("prefect-worker", "sync-work-pool"):
        env = worker_env(objects, container_name)
        assert env["PREFECT_API_URL"]["value"].startswith("http")
        for secret_var in ("PREFECT_API_KEY", "PREFECT_API_AUTH_STRING"):
            if secret_var in env:
                assert "value" not in env[secret_var] and "secretKeyRef" in env[secret_var]["valueFrom"]
    if values.get("prefect", {}).get("authStringSecret", {}).get("name"):
        # ... and the Jobs get it as a secretKeyRef too, not copied into their manifest
        env = worker_env(objects)
        assert env["PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_NAME"]["value"] == \
            values["prefect"]["authStringSecret"]["name"]


def test_worker_pod_is_locked_down(case):
    _, _, _, objects = case
    assert restricted_violations(worker_pod(objects)) == []


def test_checksum_annotation_follows_the_config(chart):
    rendered = chart.render({}, name=RELEASE, namespace="data-processor")
    configmap_text = rendered["data-processor/templates/configmap.yaml"]
    deployment = yaml.safe_load(rendered["data-processor/templates/deployment.yaml"])
    checksum = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert checksum == hashlib.sha256(configmap_text.encode()).hexdigest()
    changed = render(chart, {"jobs": {"resources": {"limits": {"memory": "4Gi"}}}}, "data-processor")
    assert one(changed, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != checksum


# --- the base job template the chart installs -------------------------------------------------------------------------

@pytest.mark.parametrize("repository_file", [BASE_JOB_TEMPLATE, OBJECT_STORAGE_JOB_TEMPLATE], ids=lambda p: p.name)
def test_chart_ships_the_repository_base_job_templates(repository_file):
    assert (CHART / "files" / repository_file.name).read_bytes() == repository_file.read_bytes()


def test_work_pool_template_differs_only_in_defaults_from_values(case):
    name, values, _, objects = case
    installed = json.loads(one(objects, "ConfigMap")["data"]["base-job-template.json"])
    original = repository_template(values)
    assert installed["job_configuration"] == original["job_configuration"]
    changed = {}
    for variable, schema in original["variables"]["properties"].items():
        new = installed["variables"]["properties"][variable]
        assert {k: v for k, v in new.items() if k != "default"} == {k: v for k, v in schema.items() if k != "default"}
        if new.get("default") != schema.get("default"):
            changed[variable] = new["default"]
    expected = {
        "production": {
            "image": "registry.internal.example/analytics/data-processor:0.1.0",
            "cpu_request": "1", "cpu_limit": "2", "memory_request": "768Mi", "memory_limit": "1536Mi",
            "data_pvc_claim_name": "epc-data",
        },
        "defaults": {},
        "object-storage": {},
        "workload-identity": {
            "image": "registry.internal.example/analytics/data-processor:0.1.0",
            "service_account_name": "dp-data-processor-flow-runs",
        },
    }[name]
    assert changed == expected


def test_work_pool_template_renders_a_valid_job(case):
    """The Job a per-file run gets from the pool the chart installs (prefect.yaml's job_variables on top)."""
    name, _, _, objects = case
    installed = json.loads(one(objects, "ConfigMap")["data"]["base-job-template.json"])
    job_variables = k8s_deployments()["k8s"]["work_pool"]["job_variables"]
    job = render_flow_run_job(installed, job_variables)
    assert validation_errors(without_prefect_pod_fields(job)) == []
    assert job["metadata"]["namespace"] == job_variables["namespace"]
    bare = render_flow_run_job(installed, {})  # a deployment without job_variables gets the chart's defaults
    assert bare["metadata"]["namespace"] == jobs_namespace(name)


def test_flow_runs_read_the_data_source_the_values_choose(case):
    """volume: the claim, mounted read-only. objectStorage: no volume, the storage Secret next to the database's,
    and the workload-identity ServiceAccount when the chart creates one."""
    _, values, _, objects = case
    installed = json.loads(one(objects, "ConfigMap")["data"]["base-job-template.json"])
    job = render_flow_run_job(installed, k8s_deployments()["k8s"]["work_pool"]["job_variables"])
    pod_spec = job["spec"]["template"]["spec"]
    (job_container,) = pod_spec["containers"]
    database = {"secretRef": {"name": values.get("database", {}).get("existingSecret", "data-processor-db")}}
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod_spec["volumes"] if "persistentVolumeClaim" in v]
    assert restricted_violations(pod_spec) == []
    if not reads_object_storage(values):
        assert claims == [values.get("persistence", {}).get("claimName", "data-processor-data")]
        assert job_container["envFrom"] == [database]
        return
    assert claims == [] and [m["mountPath"] for m in job_container["volumeMounts"]] == ["/tmp"]
    storage = values.get("objectStorage", {}).get("existingSecret", "data-processor-storage")
    assert job_container["envFrom"] == [database, {"secretRef": {"name": storage, "optional": True}}]
    assert pod_spec["automountServiceAccountToken"] is False
    accounts = [o for o in objects if o["kind"] == "ServiceAccount" and o is not worker_account(objects)]
    if values.get("objectStorage", {}).get("serviceAccount", {}).get("create"):
        (account,) = accounts
        assert pod_spec["serviceAccountName"] == account["metadata"]["name"]
        assert account["metadata"]["annotations"] == values["objectStorage"]["serviceAccount"]["annotations"]
        assert account["automountServiceAccountToken"] is False
        assert account["imagePullSecrets"] == [{"name": s} for s in values["image"]["pullSecrets"]]
    else:
        assert accounts == [] and "serviceAccountName" not in pod_spec


def test_flow_runs_service_account_lives_with_the_jobs_and_is_bound_to_nothing(chart):
    values, namespace = CASES["workload-identity"]
    objects = render(chart, values, namespace)
    account = next(o for o in objects if o["_template"].endswith("flow-run-serviceaccount.yaml"))
    assert account["metadata"]["namespace"] == jobs_namespace("workload-identity") != namespace
    subjects = [s["name"] for o in objects if o["kind"] == "RoleBinding" for s in o["subjects"]]
    assert account["metadata"]["name"] not in subjects  # the flow runs never call the Kubernetes API


@pytest.mark.parametrize("values, expected", [
    ({"objectStorage": {"serviceAccount": {"name": "epc-reader"}}}, "epc-reader"),  # an existing one
    ({"objectStorage": {"serviceAccount": {"create": True, "name": "epc-reader"}}}, "epc-reader"),
    ({"objectStorage": {"serviceAccount": {"automountToken": True}}}, None),
])
def test_flow_runs_service_account_values(chart, values, expected):
    objects = render(chart, {**values, "data": {"source": "objectStorage"}}, "data-processor")
    installed = json.loads(one(objects, "ConfigMap")["data"]["base-job-template.json"])
    pod_spec = render_flow_run_job(installed, {})["spec"]["template"]["spec"]
    assert pod_spec.get("serviceAccountName") == expected
    automount = values["objectStorage"]["serviceAccount"].get("automountToken", False)
    assert pod_spec["automountServiceAccountToken"] is automount
    created = [o for o in objects if o["_template"].endswith("flow-run-serviceaccount.yaml")]
    assert len(created) == int(values["objectStorage"]["serviceAccount"].get("create", False))


# --- network policies -------------------------------------------------------------------------------------------------

def egress_ports(policy: dict) -> set[tuple[str, int]]:
    return {(p.get("protocol", "TCP"), p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}


def test_network_policies_deny_ingress_and_open_only_needed_egress(case):
    name, values, _, objects = case
    worker, flow_runs = one(objects, "NetworkPolicy", "-worker"), one(objects, "NetworkPolicy", "-flow-runs")
    api_port = values.get("networkPolicy", {}).get("prefectApi", {}).get("port", 4200)
    dns = {("UDP", 53), ("TCP", 53)}
    for policy in (worker, flow_runs):
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and policy["spec"]["ingress"] == []
    assert egress_ports(worker) == dns | {("TCP", api_port), ("TCP", 443), ("TCP", 6443)}
    object_storage = {("TCP", port) for port in values.get("networkPolicy", {}).get("objectStorage", {}).get(
        "ports", [443])} if reads_object_storage(values) else set()
    assert egress_ports(flow_runs) == dns | {("TCP", api_port), ("TCP", 5432)} | object_storage
    assert flow_runs["metadata"]["namespace"] == jobs_namespace(name)


def test_flow_run_policy_selects_the_jobs_pods_not_the_worker(case):
    _, _, _, objects = case
    selector = one(objects, "NetworkPolicy", "-flow-runs")["spec"]["podSelector"]
    assert selector == {"matchExpressions": [{"key": "prefect.io/flow-run-id", "operator": "Exists"}]}
    job = render_flow_run_job(json.loads(BASE_JOB_TEMPLATE.read_text()), {})
    assert "prefect.io/flow-run-id" in job["spec"]["template"]["metadata"]["labels"]
    worker_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert "prefect.io/flow-run-id" not in worker_labels
    worker_selector = one(objects, "NetworkPolicy", "-worker")["spec"]["podSelector"]["matchLabels"]
    assert worker_selector.items() <= worker_labels.items()


# --- optional objects and values --------------------------------------------------------------------------------------

def test_pvc_only_when_asked_and_kept_on_uninstall(case):
    name, values, _, objects = case
    claims = [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    if not values.get("persistence", {}).get("create") or reads_object_storage(values):
        assert claims == []
        return
    (claim,) = claims
    assert claim["metadata"]["namespace"] == jobs_namespace(name)
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


@pytest.mark.parametrize("values, key", [
    ({"prefect": {"apiUrl": ""}}, "prefect.apiUrl"),
    ({"workPool": {"name": ""}}, "workPool.name"),
    ({"serviceAccount": {"create": False}}, "serviceAccount.name"),
])
def test_required_values_name_their_key(chart, values, key):
    with pytest.raises(helm.HelmRenderError, match=re.escape(f"({key})")):
        chart.render(values, name=RELEASE, namespace="data-processor")


@pytest.mark.parametrize("values, complaint", [
    ({"worker": {"replicas": 2}}, "replicas"),
    ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
    ({"database": {"concurrencyLimit": 0}}, "concurrencyLimit"),
    ({"persistence": {"mountPath": "data"}}, "mountPath"),
    ({"data": {"source": "s3"}}, "source"),
    ({"objectStorage": {"existingSecret": ""}}, "existingSecret"),
])
def test_schema_rejects_mistakes(chart, values, complaint):
    with pytest.raises(helm.HelmValuesError, match=complaint):
        chart.render(values, name=RELEASE, namespace="data-processor")


# --- values.yaml documents itself -------------------------------------------------------------------------------------

def documented_keys(text: str) -> dict[str, str | None]:
    """Every key path in values.yaml with the `# --` description directly above it (None when missing).
    values.yaml keeps lists in flow style ([a, b]), so every key sits at the start of its own line."""
    descriptions: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    pending: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# -- "):
            pending = stripped[len("# -- "):]
            continue
        if not stripped or stripped.startswith("#"):
            continue
        match = re.match(r"^( *)([A-Za-z0-9_]+):", line)
        assert match, f"values.yaml line not understood: {line!r}"
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        descriptions[".".join([k for _, k in stack] + [key])] = pending
        pending = None
        stack.append((indent, key))
    return descriptions


def flatten(values: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        keys.add(path)
        if isinstance(value, dict):
            keys |= flatten(value, f"{path}.")
    return keys


def schema_entries(schema: dict, prefix: str = "") -> dict[str, dict]:
    entries = {}
    for key, entry in schema.get("properties", {}).items():
        entries[f"{prefix}{key}"] = entry
        entries.update(schema_entries(entry, f"{prefix}{key}."))
    return entries


def test_every_value_is_documented_and_in_the_schema():
    text = (CHART / "values.yaml").read_text()
    documented = documented_keys(text)
    assert set(documented) == flatten(yaml.safe_load(text))  # the line parser saw every key
    assert [key for key, description in documented.items() if not description] == []
    entries = schema_entries(json.loads((CHART / "values.schema.json").read_text()))
    assert set(entries) == set(documented)
    for key, description in documented.items():
        assert entries[key]["description"] == description, key


def test_schema_closes_the_charts_own_objects():
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    passthrough = {"worker.podSecurityContext", "worker.podSecurityContext.seccompProfile",
                   "worker.containerSecurityContext", "worker.containerSecurityContext.capabilities"}
    for key, entry in schema_entries(schema).items():
        if entry.get("type") == "object" and "properties" in entry:
            assert entry["additionalProperties"] is (key in passthrough), key
