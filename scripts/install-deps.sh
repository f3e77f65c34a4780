#!/usr/bin/env bash
# Installs what Strom's build and tests need on a Debian machine with Rust. Idempotent:
# installs only what is missing, and runs `apt-get update` once, before the first install.
set -euo pipefail

# libclang-dev: bindgen in librocksdb-sys (RocksDB state backend).
APT_PACKAGES=(libclang-dev)

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
