# Thin wrappers, so a laptop and CI run the same commands. `make help` lists them.
# One cargo profile (release) for running, testing and benchmarking: DataFusion is built once.

CARGO ?= cargo
# Cargo features of every build, test and lint: `distributed` adds the Ballista engines. One
# set for all targets, so the binary the tests run is the one they were built with.
# `make build FEATURES=` builds the lean default binary.
FEATURES ?= distributed
FEATURE_FLAGS = $(if $(strip $(FEATURES)),--features $(FEATURES),)
SAMPLE_OUT ?= out
# make bench: events generated, measured rounds, where the figures go (see bench/README.md)
EVENTS ?= 10000000
ROUNDS ?= 3
BENCH_JSON ?= bench/.work/results.json
# make bench MEMORY_LIMIT=2GiB: sessionize runs with --memory-limit (spilling past it)
MEMORY_LIMIT ?=

.PHONY: help build run test sample fmt lint clean bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: ## build the sessionize binary (release)
	$(CARGO) build --release --locked $(FEATURE_FLAGS)

run: ## run the job on the sample data in data/ and print what it wrote
	$(CARGO) run --release --locked $(FEATURE_FLAGS) --quiet -- run --config data/sessionize.toml --output $(SAMPLE_OUT)

test: ## run every test (unit and integration, one test binary), with an S3 server on 127.0.0.1
	@env_file=$$(tests/s3/server.sh start) && set -a && . "$$env_file" && set +a && \
	$(CARGO) test --release --locked $(FEATURE_FLAGS); status=$$?; tests/s3/server.sh stop; exit $$status

sample: ## regenerate the committed sample data in data/events
	rm -rf data/events
	$(CARGO) run --release --locked $(FEATURE_FLAGS) --quiet -- generate --events 20000 --days 3 --seed 42 --start 2026-11-01 --output data/events

fmt: ## format the code
	$(CARGO) fmt --all

lint: ## formatting and clippy, as CI checks them
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --all-targets $(FEATURE_FLAGS) -- -D warnings

bench: ## time sessionize against DuckDB and a read+sort floor (EVENTS=10000000 ROUNDS=3)
	$(CARGO) build --release --locked $(FEATURE_FLAGS)
	python3 bench/bench.py --events $(EVENTS) --rounds $(ROUNDS) --json $(BENCH_JSON) --cargo $(CARGO) \
		$(if $(MEMORY_LIMIT),--memory-limit $(MEMORY_LIMIT))

clean: ## remove build output and the sample output
	$(CARGO) clean
	rm -rf $(SAMPLE_OUT)
