# Every target does its own set-up, idempotently: a fresh clone needs only
# python3 (3.11), node (20+) and the package registries.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INFRA_VENV := .venv-infra
PYTEST := $(PY) -m pytest

.PHONY: help setup run test test-unit test-python test-js actions check format bench reliability clean

help:
	@echo "make run          start Azurite + Service Bus emulator + Functions host (Ctrl-C stops)"
	@echo "make test         lint, type-check, every Python test tier, the Action's JS tests, infra checks"
	@echo "make test-unit    the unit tier only: no services, no npm (the fast loop)"
	@echo "make check        ruff + mypy only"
	@echo "make actions      build the Auth0 Actions' code.js from auth0/src (then a0deploy import)"
	@echo "make bench        benchmarks; ratios against same-run baselines"
	@echo "make reliability  the full fault-injection suite"
	@echo "make clean        remove virtualenvs, node_modules and local data"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(INFRA_VENV)/.installed: requirements-infra.txt
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

auth0/node_modules/.installed: auth0/package.json auth0/package-lock.json
	cd auth0 && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.installed $(INFRA_VENV)/.installed node_modules/.installed auth0/node_modules/.installed

run: $(VENV)/.installed node_modules/.installed
	$(PY) -m localdev up

check: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: $(VENV)/.installed
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# The fast loop: needs only .venv (no infra venv, no npm, no services).
test-unit: $(VENV)/.installed
	$(PYTEST) -q tests/unit

# Four workers on two cores: the integration and e2e tiers mostly wait on services
# (lock expiry, restarts, SDK handshakes). loadfile keeps a file's tests, and the
# services its fixtures start, on one worker; every fixture picks its own free ports.
test-python: setup
	$(PYTEST) -m "not slow" -n 4 --dist loadfile tests

# The JS tests build the Actions from auth0/src themselves (build-actions.js loadAction).
test-js: auth0/node_modules/.installed
	cd auth0 && npm test

# The deployable bundles are build outputs, not in git: build them before `a0deploy import`.
actions:
	node auth0/scripts/build-actions.js

test: check test-js test-python

bench: setup
	$(PY) -m bench

reliability: setup
	$(PYTEST) -m slow tests/reliability -p no:randomly

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules auth0/node_modules auth0/tenant/actions/*/code.js .localdev .mypy_cache .ruff_cache .pytest_cache .hypothesis
