# Every target creates .venv/ and installs the pinned dependencies (requirements.lock) when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := .sample/epc
SAMPLE_CURRENT := .sample/epc-current
IMAGE ?= data-processor:dev

.DEFAULT_GOAL := help
# Prefect's temporary server would try to send telemetry; this network has no route for it.
export PREFECT_SERVER_ANALYTICS_ENABLED := false

$(BIN)/data-processor: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

venv: $(BIN)/data-processor ## Create .venv/ with the pinned dependencies

$(SAMPLE): | $(BIN)/data-processor
	$(BIN)/python -m samples $(SAMPLE) --mb 20 --seed 1

$(SAMPLE_CURRENT)/domestic-csv.zip: | $(BIN)/data-processor
	$(BIN)/python -m samples $(SAMPLE_CURRENT) --layout current --zip --mb 20 --seed 1

ifeq ($(LAYOUT),current)
DEST ?= sqlite:///data_processor_current.db
RUN_SRC := $(SAMPLE_CURRENT)/domestic-csv.zip
CERTIFICATES := certificates-*.csv
RECOMMENDATIONS := recommendations-*.csv
else
DEST ?= sqlite:///data_processor.db
RUN_SRC := $(SAMPLE)
CERTIFICATES := **/certificates.csv
RECOMMENDATIONS := **/recommendations.csv
endif

run: $(BIN)/data-processor $(RUN_SRC) ## Run the Prefect flow on the EPC-like sample into SQLite (LAYOUT=current: the per-year zip)
	$(BIN)/data-processor flow --src $(RUN_SRC) --glob '$(CERTIFICATES)' --dest $(DEST) --table certificates --null-values 'NO DATA!'
	$(BIN)/data-processor flow --src $(RUN_SRC) --glob '$(RECOMMENDATIONS)' --dest $(DEST) --table recommendations
	$(BIN)/data-processor status --dest $(DEST) --table certificates

test: $(BIN)/data-processor ## Run the tests (real PostgreSQL, MariaDB, SQLite and Prefect server; offline Helm/k8s checks)
	$(BIN)/python -m pytest -q --require-servers

test-fast: $(BIN)/data-processor ## Run the unit tests only: no database, no Prefect server (seconds)
	$(BIN)/python -m pytest -q tests/unit

bench: $(BIN)/data-processor ## Benchmark against psql \copy and pandas.to_sql (MB=200)
	$(BIN)/python bench/benchmark.py --mb $(or $(MB),200)

deploy: $(BIN)/data-processor ## Create the work pools prefect.yaml names and deploy it all (PREFECT_API_URL)
	PREFECT=$(BIN)/prefect scripts/deploy.sh

image: ## Build the container image IMAGE (data-processor:dev) with podman, docker or buildah
	PREFECT_IMAGE=$(PREFECT_IMAGE) scripts/build-image.sh $(IMAGE)

lock: ## Re-resolve requirements.in into requirements.lock
	$(BIN)/uv pip compile --quiet requirements.in -o requirements.lock --python-version 3.11

clean: ## Remove the virtualenv, the sample data and the demo database
	rm -rf $(VENV) .sample data_processor.db data_processor_current.db data_processor*.db.*.lock

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.PHONY: venv run test test-fast bench deploy image lock clean help
