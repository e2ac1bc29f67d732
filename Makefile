# serverless-recsys: every task goes through this file.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help install demo train model-card report test test-unit test-integration lint format pr serve invoke bench replay load clean lock lock-check audit training-image

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Python 3.12 (the Lambda runtime): a python3.12 on PATH, or pyenv's 3.12.1 through its shim.
PYTHON312 := $(shell PYENV_VERSION=3.12.1 python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null \
                || python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null)
DEMO_MODEL := models/demo
DEMO_DATA := data/demo

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create .venv with Python 3.12 and install recsys with its train and dev extras

# Every package from requirements-dev.lock, checked against its sha256 (make lock rewrites it).
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	@if [ -z "$(PYTHON312)" ]; then \
	  echo "error: Python 3.12 not found (tried python3.12 on PATH and PYENV_VERSION=3.12.1)" >&2; exit 1; fi
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then rm -rf $(VENV); fi
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

train: install ## train the demo model on the bundled MovieTweetings data -> models/demo
	$(BIN)/recsys train --interactions $(DEMO_DATA)/ratings.dat --items $(DEMO_DATA)/movies.dat --out $(DEMO_MODEL)

demo: train ## train, then show metrics and recommendations on the demo data
	$(PY) infra/scripts/demo.py --model $(DEMO_MODEL)

report: install ## the demo model's HTML report -> models/demo.report.html
	@test -f $(DEMO_MODEL)/manifest.json || $(MAKE) --no-print-directory train
	$(BIN)/recsys report --model $(DEMO_MODEL)

model-card: install ## write models/demo's figures into README.md and docs/quality.md
	@test -f $(DEMO_MODEL)/manifest.json || $(MAKE) --no-print-directory train
	$(PY) infra/scripts/model_card.py --model $(DEMO_MODEL)

test: install ## the whole suite: lint, unit and integration tests
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest -m unit

test-integration: install
	$(BIN)/pytest -m integration

lint: install ## ruff (lint + format check), mypy (strict on shared/recsys), the layer lock against its pins
	$(BIN)/ruff check shared functions tests infra
	$(BIN)/ruff format --check shared functions tests infra
	$(BIN)/mypy
	$(PY) infra/scripts/lock.py --check --only layer

format: install
	$(BIN)/ruff check --fix shared functions tests infra
	$(BIN)/ruff format shared functions tests infra

pr: format test ## format, lint, type-check and test: run before a pull request

clean: ## remove generated files (models, runs, build output), keep .venv
	rm -rf models runs .aws-sam .bench .demo .pytest_cache .mypy_cache .ruff_cache

FUNCTION ?= rerank
invoke: install ## one handler on one event: FUNCTION=rerank|candidates|ingest|overlay|batch_scoring [EVENT=file]
	@test -f $(DEMO_MODEL)/manifest.json || $(MAKE) --no-print-directory train
	$(PY) infra/scripts/invoke.py --function $(FUNCTION) $(if $(EVENT),--event $(EVENT))

serve: install ## both functions' routes under uvicorn on 127.0.0.1:8000 (OpenAPI docs at /docs)
	@test -f $(DEMO_MODEL)/manifest.json || $(MAKE) --no-print-directory train
	POWERTOOLS_TRACE_DISABLED=true $(BIN)/recsys serve --model $(DEMO_MODEL) --host 127.0.0.1 --port 8000

bench: install ## cold load, warm latency per route, LightGBM floor, batch throughput, events, overlay, retraining, catalog scale, imports, SnapStart
	@test -f $(DEMO_MODEL)/manifest.json || $(MAKE) --no-print-directory train
	cd infra/bench && ../../$(PY) serving.py ../../$(DEMO_MODEL)
	cd infra/bench && ../../$(PY) batch.py ../../$(DEMO_MODEL)
	cd infra/bench && ../../$(PY) events.py ../../$(DEMO_MODEL)
	cd infra/bench && ../../$(PY) overlay.py ../../$(DEMO_MODEL)
	cd infra/bench && ../../$(PY) retrain.py
	cd infra/bench && ../../$(PY) catalog.py  # the first run synthesises and trains a 100k-item model (~11 min)
	cd infra/bench && ../../$(PY) imports.py
	cd infra/bench && ../../$(PY) snapstart.py ../../$(DEMO_MODEL)

replay: install ## train before the demo's last 14 days, replay them as events: model, session path, overlay, charts (~10 min; REPLAY_ARGS=--retrain-daily adds a model retrained each day, ~35 min)
	$(PY) infra/scripts/replay.py $(REPLAY_ARGS)

load: install ## 60 s locust load test of `recsys serve`: per-route latency, errors, server RSS (LOAD_SECONDS, LOAD_USERS)
	@test -f $(DEMO_MODEL)/manifest.json || $(MAKE) --no-print-directory train
	cd infra/bench && ../../$(PY) load.py ../../$(DEMO_MODEL)

# ---- deployment tooling: SAM CLI, cfn-lint and checkov live in their own environment, so their
# pins never fight the project's.
TOOLS := .venv-tools
$(TOOLS)/.installed: infra/requirements-tools.txt
	$(PYTHON312) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements-tools.txt
	@touch $@

ARCH ?= x86_64
# what the python3.12 runtime adds to the layer: boto3, and SnapStart's hooks (snapshot_restore_py)
RUNTIME_SIM := .aws-sam/runtime-boto3

template-check: $(TOOLS)/.installed install ## sam validate --lint, cfn-lint, checkov, and the least-privilege test
	SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam validate --lint --region us-east-1
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/checkov -f template.yaml --skip-download --quiet --compact
	$(BIN)/pytest -q tests/unit/test_template.py

build: $(TOOLS)/.installed ## sam build: the layer through shared/Makefile (pruned), the three functions
	LAYER_ARCH=$(ARCH) PATH="$(dir $(PYTHON312)):$$PATH" SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam build \
	  --parameter-overrides Architecture=$(ARCH) --build-dir .aws-sam/build
	@echo "layer built for $(ARCH)"

layer-check: install ## sizes against Lambda's limits; per function an isolated import and answer
	@test -d .aws-sam/build/SharedLayer || $(MAKE) --no-print-directory build
	@test -f $(DEMO_MODEL)/manifest.json || $(MAKE) --no-print-directory train
	@test -f $(RUNTIME_SIM)/.installed || ($(PY) -m pip install --quiet --disable-pip-version-check \
	  --target $(RUNTIME_SIM) boto3 snapshot-restore-py==1.0.0 && touch $(RUNTIME_SIM)/.installed)
	$(PY) infra/scripts/layer_check.py --build-dir .aws-sam/build --runtime-dir $(RUNTIME_SIM) \
	  --model $(DEMO_MODEL) --python $(PYTHON312)

TRAINING_TAG ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo latest)
training-image: ## build and push the TrainingFunction image (Docker, an ECR repository): make training-image TRAINING_REPOSITORY=<uri>
	@test -n "$(TRAINING_REPOSITORY)" || { echo "set TRAINING_REPOSITORY=<account>.dkr.ecr.<region>.amazonaws.com/<name>" >&2; exit 2; }
	docker build --platform linux/amd64 -f infra/training/Dockerfile -t $(TRAINING_REPOSITORY):$(TRAINING_TAG) .
	docker push $(TRAINING_REPOSITORY):$(TRAINING_TAG)
	@echo "deploy with: sam deploy --parameter-overrides TrainingImageUri=$(TRAINING_REPOSITORY):$(TRAINING_TAG)"

lock: $(TOOLS)/.installed ## regenerate the hashed locks: shared/requirements-layer.lock and requirements-dev.lock
	$(TOOLS)/bin/python infra/scripts/lock.py --uv $(TOOLS)/bin/uv

lock-check: $(TOOLS)/.installed ## the locks against requirements-layer.txt and pyproject.toml (the dev part asks PyPI)
	$(TOOLS)/bin/python infra/scripts/lock.py --check --uv $(TOOLS)/bin/uv

audit: $(TOOLS)/.installed ## pip-audit both locks (needs PyPI's JSON API or OSV; a package it cannot look up fails)
	$(TOOLS)/bin/pip-audit --strict --progress-spinner off --disable-pip --require-hashes -r shared/requirements-layer.lock
	$(TOOLS)/bin/pip-audit --strict --progress-spinner off --disable-pip --require-hashes -r requirements-dev.lock

deploy: build ## sam deploy --guided (needs AWS credentials)
	SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam deploy --guided
