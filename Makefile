# One entry for the usual chores. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
STAYS ?= 1000000

DATA ?= tokhai-data
BENCH_DIR ?= /var/tmp
BENCH_STAYS ?= 100000000
LISTEN ?= 127.0.0.1:50051

.PHONY: help setup setup-test build server serve protos test test-rust test-python bench bench-national bench-largest bench-load bench-report bench-store bench-service lint fmt

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

setup: $(PY)  ## create the venv with what building the engine needs
	$(PY) -m pip install -q "maturin>=1.7,<2" numpy

setup-test: $(PY)  ## the test and benchmark dependencies (serving needs none of them)
	$(PY) -m pip install -q pytest hypothesis pytest-benchmark pyarrow duckdb ncls superintervals "grpcio-tools==1.85.1"

build: setup  ## build the extension (release) into the venv
	$(VENV)/bin/maturin develop --release --quiet

server: build  ## install the service (the `tokhai` command) into the venv
	$(PY) -m pip install -q -e server

serve: server  ## the main job: the national service on its embedded default (SQLite in DATA, gRPC on LISTEN)
	$(VENV)/bin/tokhai serve --data-dir $(DATA) --listen $(LISTEN)

protos: setup  ## regenerate server/tokhai/v1 from protos/ (a test checks this changes nothing)
	$(PY) -m pip install -q "grpcio-tools==1.85.1"
	$(PY) -m grpc_tools.protoc -I protos --python_out=server --grpc_python_out=server --pyi_out=server protos/tokhai/v1/*.proto

test-rust:  ## Rust unit, property and doc tests (engine core and workload model)
	cargo test -p overlap -p workload --locked

test-python: server setup-test  ## pytest (engine and service, the service on SQLite and on a throwaway PostgreSQL), against the release build
	bash .ci/with-postgres $(PY) -m pytest -q

test: test-rust test-python  ## everything CI runs

bench: build setup-test  ## the region model (no geography): engine, DuckDB and ncls side by side on STAYS stays
	$(PY) bench/compare.py --stays $(STAYS)

bench-national: build setup-test  ## the national side-by-side runs (10M and 100M stays, every peer; the peers' F2 at 100M for one case; skew at 10M), then docs/benchmarks.md; PostgreSQL when TOKHAI_BENCH_DATABASE_URL is set
	$(PY) -m pip install -q "matplotlib>=3.8" "psycopg[binary]>=3.2"
	$(PY) bench/national.py --sizes 10M --skew-size 0 --no-report
	$(PY) bench/national.py --sizes 100M --f2-cases 1 --skew-size 0 --no-report
	$(PY) bench/national.py --sizes "" --skew-size 10M

bench-largest: build setup-test  ## the largest size: 1 billion stays, the nation over 10 days, into a durable store in BENCH_DIR (about 25 GB of disk); the engine alone
	$(PY) -m pip install -q "matplotlib>=3.8"
	$(PY) bench/national.py --sizes 1000M --days 10 --peers none --skew-size 0 --checkpoint-mib 8192 --dir $(BENCH_DIR)

bench-load: server setup-test  ## the service under ingest and trace load on loopback, holding BENCH_STAYS stays of the national model (default 100M; 1000000000 is the largest size: about 30 minutes and 25 GB of disk)
	$(PY) -m pip install -q "matplotlib>=3.8"
	$(PY) bench/load.py --stays $(BENCH_STAYS) --dir $(BENCH_DIR)

bench-report: setup  ## regenerate docs/benchmarks.md and its plots from the saved rows
	$(PY) -m pip install -q "matplotlib>=3.8"
	$(PY) bench/report.py

bench-store: build setup-test  ## durable ingest, close, reopen beside the in-memory build, on STAYS stays
	$(PY) bench/store.py --stays $(STAYS)

bench-service: server setup-test  ## the service under load on loopback (CheckIn, IngestCheckins, Trace, counts) with STAYS stays loaded
	$(PY) bench/service.py --stays $(STAYS)

fmt:  ## format the Rust code
	cargo fmt --all

lint:  ## rustfmt, clippy
	cargo fmt --all -- --check
	cargo clippy -p overlap -p overlap-py -p workload --all-targets -- -D warnings
