#!/usr/bin/env bash
# Installs the Debian packages seedhop needs to build, test and run its lab. Idempotent: when
# everything is present it prints nothing and touches nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang clang-format openssl curl python3
  libboost-dev libssl-dev nlohmann-json3-dev libre2-dev prometheus-cpp-dev libyaml-cpp-dev
  libmimalloc-dev libgtest-dev libgmock-dev zlib1g-dev
  etcd-server etcd-client prometheus wrk nginx-light jq
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ! command -v kubectl >/dev/null 2>&1; then
  missing+=(kubernetes-client)
fi

if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
