#!/usr/bin/env bash
# Benchmarks kube::Client against the API-server emulator: loads 50,000 ConfigMaps, lists them
# with pagination (limit 500), replays them through a watch, and runs kubectl over the same list
# as the baseline, all in one run.
#   bench/client/run.sh [BUILD_DIR] [OBJECTS]
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build-bench}"
objects="${2:-50000}"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target seedhop-emulator seedhop-bench-client -j2 >/dev/null

work="$(mktemp -d)"
emulator_pid=""
cleanup() {
  if [[ -n "$emulator_pid" ]]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The watch replay needs every creation in the emulator's history.
"$(find "$build" -name seedhop-emulator -type f -perm -u+x | head -n1)" \
  --port 0 --token "bench-$RANDOM$RANDOM" --kubeconfig-out "$work/kubeconfig" \
  --watch-history $((objects + 1000)) 2>"$work/emulator.log" &
emulator_pid=$!
for _ in $(seq 100); do
  [[ -s "$work/kubeconfig" ]] && break
  sleep 0.1
done
[[ -s "$work/kubeconfig" ]] || { echo "emulator did not start:"; cat "$work/emulator.log"; exit 1; }

"$(find "$build" -name seedhop-bench-client -type f -perm -u+x | head -n1)" \
  --kubeconfig "$work/kubeconfig" --objects "$objects" --page 500
