#!/usr/bin/env bash
# Installs what Strom's build and tests need on a Debian machine with Rust. Idempotent:
# installs only what is missing, and runs `apt-get update` once, before the first install.
set -euo pipefail

# libclang-dev: bindgen in librocksdb-sys (RocksDB state backend).
# ccache: RocksDB's C++ is compiled once per machine, not once per clone (see the Makefile).
APT_PACKAGES=(libclang-dev ccache)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# The real `flink` CLI (PyPI apache-flink; it runs on the machine's Java 17), as a client of
# Strom's REST API in the tests. Only the CLI is needed, not PyFlink's Python dependencies, so
# the wheels go into a venv without them. Installed once per machine, under
# $STROM_TOOLS_DIR (default ~/.cache/strom); the tests run $STROM_TOOLS_DIR/bin/flink.
FLINK_VERSION=2.3.0
TOOLS="${STROM_TOOLS_DIR:-$HOME/.cache/strom}"
if ! command -v java >/dev/null; then
  echo "install-deps: the flink CLI of the tests needs Java 17; install it (Debian: openjdk-17-jre-headless)" >&2
  exit 1
fi
if [ ! -x "$TOOLS/bin/flink" ] || ! grep -q "flink-$FLINK_VERSION" "$TOOLS/bin/flink"; then
  echo "installing the flink CLI $FLINK_VERSION (PyPI apache-flink) into $TOOLS"
  venv="$TOOLS/flink-$FLINK_VERSION"
  rm -rf "$venv"
  if ! python3 -m venv "$venv"; then
    echo "install-deps: python3 cannot create a venv for the flink CLI; install venv support (Debian: python3-venv)" >&2
    exit 1
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    "apache-flink==$FLINK_VERSION" "apache-flink-libraries==$FLINK_VERSION"
  cli=$(ls "$venv"/lib/python3*/site-packages/pyflink/bin/flink)
  chmod +x "$venv"/lib/python3*/site-packages/pyflink/bin/*.sh "$cli"
  mkdir -p "$TOOLS/bin"
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$cli" > "$TOOLS/bin/flink"
  chmod +x "$TOOLS/bin/flink"
fi
