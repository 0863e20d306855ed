# One entry for the usual chores. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
STAYS ?= 1000000

.PHONY: help setup build test test-rust test-python bench bench-store lint fmt

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

setup: $(PY)  ## create the venv and install the test and benchmark dependencies
	$(PY) -m pip install -q "maturin>=1.7,<2" numpy pytest hypothesis pytest-benchmark pyarrow duckdb ncls

build: setup  ## build the extension (release) into the venv
	$(VENV)/bin/maturin develop --release --quiet

test-rust:  ## Rust unit, property and doc tests
	cargo test -p overlap --locked

test-python: build  ## pytest, against the release build
	$(PY) -m pytest -q

test: test-rust test-python  ## everything CI runs

bench: build  ## engine, DuckDB and ncls side by side on STAYS synthetic stays
	$(PY) bench/compare.py --stays $(STAYS)

bench-store: build  ## durable ingest, close, reopen beside the in-memory build, on STAYS stays
	$(PY) bench/store.py --stays $(STAYS)

lint:  ## rustfmt, clippy
	cargo fmt --all -- --check
	cargo clippy -p overlap -p overlap-py --all-targets -- -D warnings
