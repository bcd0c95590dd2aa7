# The README's commands. `make demo` and `make test` both install first (idempotent).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export MLOPS_HOME ?= $(CURDIR)/.mlops
export DAGSTER_HOME ?= $(MLOPS_HOME)/dagster
export PATH := $(CURDIR)/$(BIN):$(PATH)
# no tqdm bar per MLflow artifact download in run logs (the CLI sets the same default)
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR ?= false
DBT_SOURCES := $(shell find dbt_project -name '*.sql' -o -name '*.yml' | grep -v '/target/')

.PHONY: install system-packages demo demo-headless simulate materialize ui validate test test-fast lint bench clean

install: $(BIN)/.installed dbt_project/target/manifest.json

# Debian packages for the servers and tools the tests start on loopback (binary=package); only
# `make test` needs them, so the first command works without root.
SYSTEM_PACKAGES := redis-server=redis-server
# Postgres for the prod-profile tests (tests/servers.py finds initdb/pg_ctl on PATH or in
# /usr/lib/postgresql/*/bin; pg_ctlcluster is the package's binary on PATH)
SYSTEM_PACKAGES += pg_ctlcluster=postgresql
# observability: promtool/prometheus (rules, end-to-end alerts), amtool/alertmanager (routing)
SYSTEM_PACKAGES += promtool=prometheus prometheus=prometheus
SYSTEM_PACKAGES += amtool=prometheus-alertmanager prometheus-alertmanager=prometheus-alertmanager

system-packages:
	@scripts/install-system-packages.sh $(SYSTEM_PACKAGES)
	@scripts/ensure-postgres-user.sh

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# The dbt manifest is prepared once here, never parsed when the code location loads.
dbt_project/target/manifest.json: $(BIN)/.installed $(DBT_SOURCES)
	$(BIN)/dagster-dbt project prepare-and-package --file mlops_assets/resources/dbt.py
	@touch $@

# CDNOW_DAYS: days of real CDNOW purchases replayed next to the simulated churn world. Labels
# need 90 days of future, so 200 days give 110 labelled observation days (the model trains on
# the newest 21) and 110 scored days, and keep `make demo-headless` under 5 minutes.
CDNOW_DAYS ?= 200

simulate: install
	$(BIN)/mlops-assets simulate
	$(BIN)/mlops-assets replay-cdnow --days $(CDNOW_DAYS)

materialize: install
	$(BIN)/mlops-assets materialize

# First command: install, land both datasets (simulated churn world, CDNOW replay),
# materialize every dataset and model, open the UI.
demo: simulate materialize ui

# The same without the UI (CI, servers).
demo-headless: simulate materialize

# `recover` writes (or upgrades) the instance's dagster.yaml and fails runs whose process died,
# freeing their pool slots, before the daemon starts. `dg dev` is the current way to start the
# webserver and daemon on this project (`dagster dev` now prints a supersession warning);
# workspace.yaml stays for `dagster-webserver -w` / deployments.
ui: install
	$(BIN)/mlops-assets recover
	$(BIN)/dg dev --host 127.0.0.1 --port $${DAGSTER_PORT:-3000}

# Load the code location the way a deployment does, and list what it defines. Dagster 1.13
# marks its own `definitions validate` as superseded by `dg check defs` before loading any
# project code: that one notice, and only it, is filtered.
validate: install
	$(BIN)/mlops-assets recover
	$(BIN)/dg check defs
	PYTHONWARNINGS='ignore:Function `definitions_validate_command` is superseded' \
		$(BIN)/dagster definitions validate -w workspace.yaml

# Second command: install and run every test (slow end-to-end ones included).
test: install system-packages
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/pytest

test-fast: install system-packages
	$(BIN)/pytest -m "not slow"

bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
	@$(BIN)/python bench/summary.py

clean:
	rm -rf $(MLOPS_HOME) dbt_project/target
