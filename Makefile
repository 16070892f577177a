# Two entry points for a fresh clone: `make run` (full local pipeline) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

# `make run` installs only what running smlp needs; the test and benchmark tools (CDK, moto,
# FLAML, ...) come with `make test`.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(BIN)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(BIN)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(BIN)/.installed-run

.PHONY: install install-dev run test lint bench
install: $(BIN)/.installed-run
install-dev: $(BIN)/.installed-dev

run: install
	$(BIN)/smlp run

lint: install-dev
	$(BIN)/ruff check .

test: install-dev lint
	scripts/ensure-chromium
	$(BIN)/pytest

bench: install-dev
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done
