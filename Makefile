# The generator's own commands. A fresh machine needs only Python 3.11, make, git and terraform:
# `make demo` and `make test` install everything else (uv, the Python environment, and the
# Debian packages the stack tests use) from this repository's files.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv
DEMO ?= build/demo
TIERS ?=
# Python may cache bytecode: the suite starts hundreds of processes that import the same libraries.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help bootstrap system-deps env demo test test-fast lint bench-render bench-smoke clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

bootstrap: ## Install uv if it is missing
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

system-deps: ## Debian packages the stack tests use (redis-server, promtool, wrk, libjemalloc2); needs root
	@bash ci/system-deps.sh

env: bootstrap ## The generator's Python environment (uv sync)
	$(UV) sync --frozen

demo: env system-deps ## Render a default-answers project into build/demo and run its smoke deploy
	rm -rf $(DEMO)
	$(UV) run copier copy --trust --defaults --quiet --vcs-ref HEAD . $(DEMO)
	$(MAKE) -C $(DEMO) smoke

test: env system-deps ## The whole test suite, tier by tier, with the time per tier
	$(UV) run python ci/run_suite.py $(TIERS)

test-fast: env ## Tiers 1 and 2 only (engine, render + static checks)
	$(UV) run python ci/run_suite.py 1 2

lint: env ## ruff + mypy on the generator's own code
	$(UV) run ruff check modules tests ci
	$(UV) run ruff format --check modules tests ci
	$(UV) run mypy

bench-render: env ## Time `copier copy --defaults` beside peer templates (target: under 2 s)
	$(UV) run python ci/bench_render.py

bench-smoke: env system-deps ## Time copier copy + make smoke, stage by stage, warm and cold uv cache
	$(UV) run python ci/bench_smoke.py

clean: ## Remove build output (and the suite's temporary folders)
	python3 ci/run_suite.py --clean
	rm -rf build .pytest_cache .ruff_cache .mypy_cache .hypothesis
