# Two entry points for a fresh clone: `make run` (full local pipeline) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

.PHONY: install run test lint bench
install: $(BIN)/.installed

run: install
	$(BIN)/smlp run

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/pytest

bench: install
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done
