#!/usr/bin/env bash
# build.sh <dir> [--target T]... [cmake options...]: configures seedhop into <dir> with Ninja and
# builds the named targets (everything when none is named).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
targets=()
options=()
while (($#)); do
  if [ "$1" = "--target" ]; then
    targets+=(--target "$2")
    shift 2
  else
    options+=("$1")
    shift
  fi
done
cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${options[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
