# offline-push: the commands a newcomer can guess. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# One Python everywhere: the Lambda runtime in template.yaml, the layer's BuildMethod and the test venv.
# tests/unit/test_template.py fails if they disagree.
PYTHON_VERSION := 3.13
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
# pyenv's own build first: its shim for python3.13 exists even when that version is not selected.
PYTHON ?= $(firstword $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/$(PYTHON_VERSION).*/bin/python$(PYTHON_VERSION)))) \
                      $(shell command -v python$(PYTHON_VERSION) 2>/dev/null))
# SAM CLI and cfn-lint get their own venv: aws-sam-cli pins an older boto3 than the tests use.
SAM_PYTHON ?= $(firstword $(shell command -v python3 2>/dev/null) $(PYTHON))

VENV := .venv
VENV_SAM := .venv-sam
# checkov gets its own venv too: its many pins clash with both others.
VENV_CHECKOV := .venv-checkov
BIN := $(VENV)/bin
SAM := $(VENV_SAM)/bin/sam

.PHONY: help
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements-dev.txt layers/offline_push/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python $(PYTHON_VERSION) not found: install it (pyenv install $(PYTHON_VERSION)) or set PYTHON=/path/to/python$(PYTHON_VERSION)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(VENV_SAM)/bin/.installed: requirements-sam.txt
	$(SAM_PYTHON) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV_SAM)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

$(VENV_CHECKOV)/bin/.installed: requirements-checkov.txt
	$(SAM_PYTHON) -m venv $(VENV_CHECKOV)
	$(VENV_CHECKOV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV_CHECKOV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

.PHONY: venv
venv: $(BIN)/.installed $(VENV_SAM)/bin/.installed $(VENV_CHECKOV)/bin/.installed  ## create the test venv, the SAM venv and the checkov venv

.PHONY: lint
lint: $(BIN)/.installed  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/offline_push/offline_push local tests $(wildcard functions/*/*.py bench/*.py)

.PHONY: format
format: $(BIN)/.installed  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: validate
validate: $(VENV_SAM)/bin/.installed  ## sam validate (the SAM transform, as sam deploy runs it) and sam validate --lint (cfn-lint), offline
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(SAM) validate --template template.yaml
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --template template.yaml

.PHONY: checkov
checkov: $(VENV_CHECKOV)/bin/.installed  ## checkov on template.yaml: every finding fixed, or skipped in the template with its reason
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(VENV_CHECKOV)/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet

# The deploy rehearsal and the privilege test (tests/integration/deploy) use the SAM venv (the translator,
# cfn-lint) and `sam build`'s output.
.PHONY: pytest
pytest: $(BIN)/.installed $(VENV_SAM)/bin/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: test
test: lint validate checkov build pytest build-check  ## everything CI checks: lint, types, template (SAM transform, cfn-lint, checkov), tests with the deploy rehearsal, the built bundle

.PHONY: mutate
mutate: $(BIN)/.installed  ## mutation testing of the layer's rules, slow (README "Mutation testing"); MUTATE_ARGS=logic/formatter.py
	nice -n 15 $(BIN)/python -m tests.mutation $(MUTATE_ARGS)

.PHONY: bench
bench: $(BIN)/.installed $(VENV_SAM)/bin/.installed  ## run every benchmark in bench/ (each prints a table); BENCH_ARGS=--quick for a smoke run
	@for module in $(sort $(basename $(notdir $(wildcard bench/bench_*.py)))); do \
		echo "== bench.$$module"; $(BIN)/python -m bench.$$module $(BENCH_ARGS) || exit 1; echo; done

.PHONY: run
run: $(BIN)/.installed $(VENV_SAM)/bin/.installed  ## the whole product locally (AWS emulation, APNs sandbox, API, dispatcher) and the seed's story
	PYTHONPATH=layers/offline_push:. $(BIN)/python -m local.run $(RUN_ARGS)

.PHONY: invoke
invoke: $(BIN)/.installed $(VENV_SAM)/bin/.installed  ## run one handler on a sample event against local AWS: make invoke FN=dispatch EVENT=events/<file>.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<logical id or folder> EVENT=events/<file>.json [TEMPLATE=template.yaml]" >&2; exit 2; }
	@$(BIN)/python -m local.invoke "$(FN)" "$(EVENT)" --template "$(or $(TEMPLATE),template.yaml)"

.PHONY: build
build: $(VENV_SAM)/bin/.installed  ## sam build (no Docker needed: the runtime's Python is put on PATH)
	PATH="$(dir $(PYTHON)):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build --template template.yaml

.PHONY: print-python
print-python:  # the runtime's Python, for the tests that run `sam build` themselves
	@echo $(PYTHON)

.PHONY: build-check
build-check: build $(BIN)/.installed  ## import every built function with only the built layer on its path, on the runtime's Python
	PYTHONPATH=layers/offline_push:. $(BIN)/python -m local.check_build

.PHONY: deploy
deploy: build  ## sam deploy --guided (needs AWS credentials)
	SAM_CLI_TELEMETRY=0 $(SAM) deploy --guided

.PHONY: clean
clean:  ## remove venvs and build output
	rm -rf $(VENV) $(VENV_SAM) $(VENV_CHECKOV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis .mutation
