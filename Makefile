# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
export TEST_POSTGRES_URL

.PHONY: run test test-sqlite test-postgres lint bench install clean architecture

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

## make run: the whole service with the demo data; prints where to open it.
run: install
	$(BIN)/python -m ops.launcher

## make test: installs what is needed and runs the whole suite on SQLite, then on PostgreSQL.
test: install
	scripts/test-services
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: install
	@echo "== test suite on SQLite =="
	env -u DATABASE_URL $(BIN)/python -m pytest

test-postgres: install
	@echo "== test suite on PostgreSQL =="
	DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## make bench: the benchmarks, written to docs/benchmarks.md with their charts (BENCH_ARGS="--skip hold ..."
## passes options; `.venv/bin/python -m bench --help`).
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

## make architecture: draws docs/architecture.svg and docs/architecture-callcenter.svg from the code
## (pydeps into the virtualenv, Graphviz from apt when `dot` is missing).
architecture: $(BIN)/python
	$(BIN)/python -c 'import pydeps' 2>/dev/null || $(BIN)/pip install --quiet 'pydeps>=3,<4'
	command -v dot >/dev/null || { SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq graphviz; }
	$(BIN)/python scripts/architecture.py

clean:
	rm -rf $(VENV) instance .pytest_cache
