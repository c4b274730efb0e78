#!/usr/bin/env bash
# Create every work pool prefect.yaml names (idempotent: --overwrite), then deploy every deployment, against the
# Prefect server in PREFECT_API_URL. Run from the checkout (the `local` deployment runs the code where it was
# deployed from). `make deploy` runs it with the project's virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
prefect=${PREFECT:-prefect}
$prefect work-pool create data-processor-local --type process --overwrite
$prefect work-pool create data-processor-k8s --type kubernetes \
    --base-job-template k8s/base-job-template.json --overwrite
$prefect work-pool create data-processor-k8s-s3 --type kubernetes \
    --base-job-template k8s/base-job-template-object-storage.json --overwrite
$prefect --no-prompt deploy --all
