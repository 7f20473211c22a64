#!/usr/bin/env bash
# Full audit of an emulated seed with 2,000 shoot namespaces (about 12 Leases, 15 Deployments and
# 10 ConfigMaps each) against, in the same run, what an operator would do by hand:
# `kubectl get leases,deployments,configmaps -A -o json`. Prints medians of alternating rounds.
#   bench/auditor/run.sh [BUILD_DIR] [NAMESPACES] [ROUNDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build-bench}"
namespaces="${2:-2000}"
rounds="${3:-3}"

bash "$root/scripts/build.sh" "$build" --target seedhop-bench-load-seed --target seedhop-auditor \
  --target seedhop-emulator >/dev/null
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }

work="$(mktemp -d)"
emulator_pid=""
cleanup() {
  if [[ -n "$emulator_pid" ]]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$build/test/emulator/seedhop-emulator" --port 0 --token "bench-$RANDOM$RANDOM" \
  --kubeconfig-out "$work/kubeconfig" 2>"$work/emulator.log" &
emulator_pid=$!
for _ in $(seq 100); do [[ -s "$work/kubeconfig" ]] && break; sleep 0.1; done

start=$(date +%s%N)
"$build/bench/auditor/seedhop-bench-load-seed" "$work/kubeconfig" "$root/../shared/reference/leases" "$namespaces"
echo "loaded $namespaces namespaces in $(( ($(date +%s%N) - start) / 1000000 )) ms"

# measure NAME COMMAND...: wall milliseconds and peak RSS (KiB) of one run.
measure() {
  local name=$1
  shift
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/rss" "$@" >/dev/null 2>"$work/$name.err" || true
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000000 )) $(tail -1 "$work/rss")"
}

audit_ms=(); audit_rss=(); kubectl_ms=()
for round in $(seq "$rounds"); do
  read -r ms rss < <(measure audit "$build/auditor/seedhop-auditor" -o json --kubeconfig "$work/kubeconfig")
  audit_ms+=("$ms"); audit_rss+=("$rss")
  read -r kms _ < <(measure kubectl kubectl --kubeconfig "$work/kubeconfig" get leases,deployments,configmaps -A -o json)
  kubectl_ms+=("$kms")
  echo "round $round: audit ${ms} ms (peak RSS $((rss / 1024)) MiB), kubectl fetch ${kms} ms"
done
# The figures only count if the audit really read the seed: exit 0 (safe) or 1 (blockers).
set +e
"$build/auditor/seedhop-auditor" -o json --kubeconfig "$work/kubeconfig" >"$work/report.json" 2>/dev/null
code=$?
set -e
echo "audit exit code $code, report $(wc -c <"$work/report.json") bytes, $(grep -o '"verdict"' "$work/report.json" | wc -l) verdicts"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
a=$(median "${audit_ms[@]}"); r=$(median "${audit_rss[@]}"); k=$(median "${kubectl_ms[@]}")
echo
echo "full audit of $namespaces namespaces: median ${a} ms, peak RSS $((r / 1024)) MiB"
echo "kubectl get leases,deployments,configmaps -A -o json: median ${k} ms"
awk -v a="$a" -v k="$k" 'BEGIN {printf "audit / kubectl fetch: %.2f (target < 1): %s\n", a / k, (a < k ? "PASS" : "MISS")}'
echo "peak RSS $((r / 1024)) MiB (target <= 200 MiB): $([ $((r / 1024)) -le 200 ] && echo PASS || echo MISS)"
