"""Writes k8s/base-job-template-object-storage.json, the base job template of the object-storage work pool, from
k8s/base-job-template.json, and the Helm chart's copies of both (helm/data-processor/files/).

k8s/base-job-template.json is the one source. The others are in the repository because `prefect work-pool create
--base-job-template` and the Helm chart (which can read no file outside its folder) need them as they are; writing
them from the source keeps them from drifting apart (tests/deploy/test_k8s.py fails when a file in the repository is not
what this script writes). After changing k8s/base-job-template.json, run

    python k8s/derive_object_storage_template.py          # rewrite the variant and the chart's copies
    python k8s/derive_object_storage_template.py --check  # exit 1 if any is out of date

The variant differs only where reading from object storage needs it: no data volume (no PersistentVolumeClaim, no
mount, no data_pvc_claim_name / data_mount_path variables); the object-store credentials come from a second Secret
through envFrom, marked optional so a workload-identity setup can leave it out; the service account's token mount
becomes a variable for identity providers that want the pod's own token. Security context, /tmp scratch, resources
and every other variable are the base template's.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

K8S = Path(__file__).resolve().parent
BASE = K8S / "base-job-template.json"
VARIANT = K8S / "base-job-template-object-storage.json"
CHART_FILES = K8S.parent / "helm" / "data-processor" / "files"

DATA_VOLUME = "data"
DATA_VARIABLES = ("data_pvc_claim_name", "data_mount_path")

DESCRIPTION = (
    "Variables of the data-processor Kubernetes work pool that reads the files from object storage (s3://, gs://, "
    "az:// URLs in the flows' src parameter; no data volume), one Job per flow run. Deployments override them with "
    "job_variables in prefect.yaml."
)

STORAGE_SECRET_VARIABLE = {
    "type": "string",
    "default": "data-processor-storage",
    "title": "Object Storage Secret Name",
    "description": (
        "Name of the Kubernetes Secret (in the job namespace) whose keys become environment variables of the "
        "flow-run container (envFrom, optional): the object store's credentials and endpoint, e.g. "
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and, for an S3-compatible store, "
        "AWS_ENDPOINT_URL. With workload identity (IRSA, EKS Pod Identity, GKE, Azure) the Secret may not exist: "
        "the pod then gets its credentials from its service account."
    ),
}

SERVICE_ACCOUNT_DESCRIPTION = (
    "The Kubernetes service account the flow-run pod runs as (null: the namespace's default). For workload identity, "
    "name the service account that carries the identity annotation (eks.amazonaws.com/role-arn, "
    "iam.gke.io/gcp-service-account, azure.workload.identity/client-id) or the EKS Pod Identity association."
)

AUTOMOUNT_VARIABLE = {
    "type": "boolean",
    "default": False,
    "title": "Mount the Service Account Token",
    "description": (
        "Mount the service account's Kubernetes API token in the flow-run pod (automountServiceAccountToken). The "
        "flow run never calls the Kubernetes API; the IRSA, EKS Pod Identity and Azure Workload Identity webhooks "
        "project a token of their own and GKE answers from its metadata server, so false usually works: set true "
        "only if your identity provider reads the pod's default token."
    ),
}


def derive(base: dict) -> dict:
    """The object-storage variant of the base job template `base`."""
    template = copy.deepcopy(base)
    pod_spec = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    (container,) = pod_spec["containers"]

    pod_spec["volumes"] = [v for v in pod_spec["volumes"] if v["name"] != DATA_VOLUME]
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != DATA_VOLUME]
    container["envFrom"].append({"secretRef": {"name": "{{ storage_secret_name }}", "optional": True}})
    pod_spec["automountServiceAccountToken"] = "{{ automount_service_account_token }}"

    variables = template["variables"]
    variables["description"] = DESCRIPTION
    properties = variables["properties"]
    for name in DATA_VARIABLES:
        del properties[name]
    properties["service_account_name"]["description"] = SERVICE_ACCOUNT_DESCRIPTION
    properties = insert_after(properties, "db_secret_name", "storage_secret_name", STORAGE_SECRET_VARIABLE)
    properties = insert_after(properties, "service_account_name", "automount_service_account_token",
                              AUTOMOUNT_VARIABLE)
    variables["properties"] = properties
    return template


def insert_after(mapping: dict, after: str, key: str, value: object) -> dict:
    """`mapping` with `key` placed right after `after`, so the variables read in a sensible order in the UI."""
    result = {}
    for name, existing in mapping.items():
        result[name] = existing
        if name == after:
            result[key] = value
    return result


def render(template: dict) -> str:
    """The file's text, in the base template's own format."""
    return json.dumps(template, indent=2) + "\n"


def generated() -> dict[Path, str]:
    """Every file this script writes, with the text it must hold."""
    base = BASE.read_text()
    variant = render(derive(json.loads(base)))
    return {VARIANT: variant, CHART_FILES / BASE.name: base, CHART_FILES / VARIANT.name: variant}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date; write nothing")
    args = parser.parse_args(argv)
    stale = [path for path, text in generated().items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(K8S.parent)} is out of date: run python k8s/{Path(__file__).name}",
                  file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(generated()[path])
    return 0


if __name__ == "__main__":
    sys.exit(main())
