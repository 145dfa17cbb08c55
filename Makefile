# siyu: make run (embedded pipeline), make test (lint, typecheck, all tests), make bench.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SRC := siyu collectors streams schemas sinks lookup webhooks
# Interpreter for a new virtualenv: PY if given, else the first of these found on the PATH
# that siyu supports (requires-python in pyproject.toml: 3.11 to 3.13).
PY_CANDIDATES := python3.11 python3.12 python3.13 python3
PY_SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))

.DEFAULT_GOAL := help

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-16s %s\n", $$1, $$2}'

# The stamp is written only after a complete install, so a failed one is retried by the next
# make. A virtualenv whose interpreter is missing or unsupported is made again.
$(STAMP): pyproject.toml
	@set -e; \
	  if test -x $(BIN)/python && ! $(BIN)/python -c '$(PY_SUPPORTED)' 2>/dev/null; then \
	    echo "$(VENV) was made by an unsupported Python; making it again"; rm -rf $(VENV); fi; \
	  if test -n "$$(test -d $(VENV) && ! test -x $(BIN)/python && echo broken)"; then \
	    echo "$(VENV) has no working interpreter; making it again"; rm -rf $(VENV); fi; \
	  if ! test -x $(BIN)/python; then \
	    py="$(PY)"; \
	    if test -z "$$py"; then for c in $(PY_CANDIDATES); do \
	      if command -v $$c >/dev/null && $$c -c '$(PY_SUPPORTED)' 2>/dev/null; then py=$$c; break; fi; \
	    done; fi; \
	    if test -z "$$py" || ! $$py -c '$(PY_SUPPORTED)' 2>/dev/null; then \
	      echo "siyu needs Python 3.11, 3.12 or 3.13; $${py:-no python3.1x on the PATH}$${py:+ does not run or is another version}; install one or set PY=/path/to/python" >&2; \
	      exit 1; fi; \
	    echo "creating $(VENV) with $$($$py -c 'import sys; print(sys.executable, sys.version.split()[0])')"; \
	    $$py -m venv $(VENV); fi
	@rm -f $(STAMP)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install siyu with its dev tools

run: $(STAMP) ## start the whole pipeline on the embedded stack (Ctrl-C drains and stops)
	$(BIN)/siyu run

demo: $(STAMP) ## send synthetic mini-program + H5 traffic to a running stack
	$(BIN)/siyu demo

status: $(STAMP) ## rows per table, consumer progress and errors of a running stack
	$(BIN)/siyu status

logs: $(STAMP) ## follow the logs of every part of a running stack (siyu logs [part])
	$(BIN)/siyu logs

format: $(STAMP) ## format the code
	$(BIN)/ruff format $(SRC) tests bench
	$(BIN)/ruff check --fix $(SRC) tests bench

lint: $(STAMP) ## ruff lint + format check
	$(BIN)/ruff check $(SRC) tests bench
	$(BIN)/ruff format --check $(SRC) tests bench

typecheck: $(STAMP) ## mypy (strict for streams/domain, schemas, sinks)
	$(BIN)/mypy

test-unit: $(STAMP) ## unit tests only (no services)
	$(BIN)/pytest tests/unit -q

sdk-compat: ## install the real Sensors SDKs (npm) and chromium for the SDK tests
	bash tests/sdk_compat/setup.sh

sdk-test: ## siyu JS SDK: npm ci, chromium if missing, build (size budget), typecheck, node unit tests
	bash sdk/scripts/test.sh

test: lint typecheck sdk-compat sdk-test ## lint, typecheck and every test (unit, integration, end-to-end)
	$(BIN)/pytest -q --durations=15 --cov=streams/domain --cov-report=term-missing:skip-covered --cov-fail-under=100
	$(MAKE) test-quirks-off

# Suites the embedded broker passes with every Faust/aiokafka patch and Tansu workaround off
# (SIYU_KAFKA_QUIRKS=none, as on a real Kafka); tests marked needs_quirks say why they cannot.
QUIRKS_OFF_SUITES = tests/integration/test_spine.py tests/integration/test_identity.py
# test_tags.py, test_funnels.py and test_collector.py pass too (left out to keep CI short):
#   make test-quirks-off QUIRKS_OFF_SUITES="tests/integration/test_tags.py ..."

test-quirks-off: $(STAMP) ## the QUIRKS_OFF_SUITES with SIYU_KAFKA_QUIRKS=none (no patch, no workaround)
	SIYU_KAFKA_QUIRKS=none $(BIN)/pytest -q -m "not needs_quirks" $(QUIRKS_OFF_SUITES)

bench: $(STAMP) ## every benchmark; writes bench/results/latest.json
	$(BIN)/python -m bench

bench-collector: $(STAMP) ## collector events/s and beacons/s per core against a bare ASGI echo server
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.collector

bench-funnels: $(STAMP) ## funnel events/s (5 funnels + fission) and slowest dashboard query on 10M events
	$(BIN)/python -m bench.funnels

bench-identity: $(STAMP) ## identity resolution events/s per worker, state bytes per identity, lookup p99 at 2k req/s
	$(BIN)/python -m bench.identity

bench-tags: $(STAMP) ## tag events/s per worker, event→tag latency at 5k events/s, memory per user
	$(BIN)/python -m bench.tags

clean: ## remove the virtualenv (keeps data/; see clean-data)
	rm -rf $(VENV)
	@test ! -d data || echo "kept data/ (events, spool, logs); \`make clean-data\` deletes it"

clean-data: ## delete data/: chDB tables, the collector's spool and logs of the embedded stack
	rm -rf data

.PHONY: help install run demo status format lint typecheck test-unit test test-quirks-off bench bench-funnels bench-identity bench-tags bench-collector sdk-compat sdk-test clean clean-data logs
