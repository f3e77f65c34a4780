# The two commands of the README. Both install what is missing first.
#   make run   starts a local session cluster and submits the main example job to it
#   make test  runs every check: formatting, clippy, all tests, doc tests

CARGO ?= cargo

# C and C++ (RocksDB, librdkafka) compile through ccache when it is installed (install-deps.sh
# installs it): a machine that built RocksDB once rebuilds it in a minute instead of 17. Through
# PATH, not CC/CXX, so that builds outside make share the same build-script hashes. The
# directory is left out of the hash so that clones in other directories share the cache.
export PATH := /usr/lib/ccache:$(PATH)
export CCACHE_NOHASHDIR := true
RUN_EVENTS ?= 2000000

.PHONY: run test deps build bench

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --bins

run: deps
	$(CARGO) build --workspace --bins
	RUN_EVENTS=$(RUN_EVENTS) scripts/run-cluster.sh

# The tests build with clippy-driver wrapping rustc (see scripts/lint.sh), so that the lint
# build and the test build share all their artifacts: RocksDB's C++ is compiled once.
LINTED = RUSTC_WORKSPACE_WRAPPER="$$(rustc --print sysroot)/bin/clippy-driver"

test: deps
	$(CARGO) fmt --all --check
	scripts/lint.sh
	$(LINTED) $(CARGO) nextest run --workspace --no-fail-fast
	$(LINTED) $(CARGO) test --workspace --doc

# Nexmark in one process, then the cluster figures (TaskManager start-up, idle memory, Nexmark
# over TCP, failover time), which run the release binaries as processes.
bench: deps
	$(CARGO) bench -p strom-examples --bench nexmark
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench -p strom-examples --bench cluster
