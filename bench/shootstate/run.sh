#!/usr/bin/env bash
# Benchmarks the ShootState copy: 5,000 persisted Secrets of 5 KiB random data (~25 MiB) exported
# from emulator A (seed + garden) and imported into emulator B, then imported again (no change).
# The baseline, in the same run and on fresh emulators, is the plain copy of the same Secrets.
#   bench/shootstate/run.sh [BUILD_DIR] [SECRETS] [BYTES]
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build-shootstate-bench}"
secrets="${2:-5000}"
bytes="${3:-5120}"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target seedhop-emulator seedhop-bench-shootstate -j2 >/dev/null
emulator="$(find "$build" -name seedhop-emulator -type f -perm -u+x | head -n1)"
bench="$(find "$build" -name seedhop-bench-shootstate -type f -perm -u+x | head -n1)"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

start_emulator() {  # $1: name
  "$emulator" --port 0 --token "bench-$RANDOM$RANDOM" --kubeconfig-out "$work/$1.kubeconfig" \
    2>"$work/$1.log" &
  pids+=($!)
  for _ in $(seq 100); do
    [[ -s "$work/$1.kubeconfig" ]] && return 0
    sleep 0.1
  done
  echo "emulator $1 did not start:"; cat "$work/$1.log"; exit 1
}

for mode in baseline shootstate; do
  start_emulator "$mode-a"
  start_emulator "$mode-b"
  "$bench" --kubeconfig-a="$work/$mode-a.kubeconfig" --kubeconfig-b="$work/$mode-b.kubeconfig" \
    --mode="$mode" --secrets="$secrets" --bytes="$bytes"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=()
done
