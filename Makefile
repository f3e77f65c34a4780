# The two commands of the README. Both install what is missing first.
#   make run   builds and runs the main example job locally, printing its results
#   make test  runs every check: formatting, clippy, all tests, doc tests

CARGO ?= cargo
RUN_EVENTS ?= 2000000

.PHONY: run test deps build bench

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --bins

run: deps
	$(CARGO) build -p strom-examples --bins
	@echo "== state-machine: $(RUN_EVENTS) events at parallelism 2; alerts for invalid transitions follow =="
	./target/debug/state-machine -p 2 --events $(RUN_EVENTS) --error-rate 0.0001
	@echo "== nexmark q5 (hot items), parallelism 2 =="
	./target/debug/nexmark -p 2 --query q5 --events $(RUN_EVENTS)

# The tests build with clippy-driver wrapping rustc (see scripts/lint.sh), so that the lint
# build and the test build share all their artifacts: RocksDB's C++ is compiled once.
LINTED = RUSTC_WORKSPACE_WRAPPER="$$(rustc --print sysroot)/bin/clippy-driver"

test: deps
	$(CARGO) fmt --all --check
	scripts/lint.sh
	$(LINTED) $(CARGO) nextest run --workspace --no-fail-fast
	$(LINTED) $(CARGO) test --workspace --doc

bench: deps
	$(CARGO) bench -p strom-examples --bench nexmark
