#!/usr/bin/env bash
# Clippy with warnings as errors, as `cargo clippy --workspace --all-targets -- -D warnings`,
# but as a normal build with clippy-driver wrapping rustc for the workspace's crates.
# `cargo clippy` checks in check mode, which builds librocksdb-sys (17+ minutes of C++) a
# second time next to the test build; a wrapped build shares every dependency with the tests
# (make test runs them with the same wrapper, so nothing is compiled twice).
set -euo pipefail
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver" \
  cargo build --workspace --all-targets --color never 2>&1 | tee "$log"
if grep -qE '^(warning|error)' "$log"; then
  echo "lint: the build above has warnings; fix them (make test treats clippy and rustc warnings as errors)" >&2
  exit 1
fi
