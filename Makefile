# siyu: make run (embedded pipeline), make test (lint, typecheck, all tests), make bench.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SRC := siyu collectors streams schemas sinks lookup webhooks

.DEFAULT_GOAL := help

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || PY=python3; \
	  test -x $(BIN)/python || $${PY:-$(PY)} -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install siyu with its dev tools

run: $(STAMP) ## start the whole pipeline on the embedded stack (Ctrl-C drains and stops)
	$(BIN)/siyu run

demo: $(STAMP) ## send synthetic mini-program + H5 traffic to a running stack
	$(BIN)/siyu demo

status: $(STAMP) ## rows per table, consumer progress and errors of a running stack
	$(BIN)/siyu status

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

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) data

.PHONY: help install run demo status format lint typecheck test-unit test bench bench-funnels bench-identity bench-tags bench-collector sdk-compat sdk-test clean
