#!/usr/bin/env bash
# Benchmarks seedhop-webhook against nginx answering a fixed AdmissionReview over the same TLS
# setup, in one run: wrk -t2 -c32 -d10s --latency, 3 rounds each, alternating; prints the medians,
# the ratios, the webhook's RSS under load, and PASS/MISS for the targets of issue 3
# (throughput >= 80% of nginx, p99 <= 1.5x nginx, RSS <= 30 MiB). A miss does not fail the script.
# First it runs the /mutate handler alone in a loop (seedhop-bench-webhook-handler: CPU time per
# call of each stage). Each round also prints the CPU time per request (utime+stime of the
# server's processes over the wrk run, from /proc/PID/stat, divided by the requests served):
# unlike req/s it hardly depends on what else the machine runs. A last round posts the same
# review to the webhook's /healthz, which is the server path (TLS, HTTP, body read) without the
# admission handler.
# The webhook runs against the API-server emulator with an EtcdPlan present, so every request is
# really patched. nginx must be startable by this user (Debian nginx-light; as root).
#   bench/webhook/run.sh [BUILD_DIR] [ROUNDS] [DURATION]
# With SEEDHOP_BENCH_PERF=1 it then profiles the webhook under one more load run (perf record)
# and prints where the CPU time goes. SEEDHOP_BENCH_JQ=FILTER rewrites the review first (e.g.
# '.request.oldObject = null' to see what decoding the old object costs).
# SEEDHOP_BENCH_WEBHOOK_FLAGS adds flags to the webhook's command line (e.g. '--threads 1').
# SEEDHOP_BENCH_CALLGRIND=1 also counts the instructions of one HandleMutate call under valgrind
# (Debian valgrind, not installed by scripts/install-deps.sh): a figure that, unlike CPU time,
# does not move with the other load on the machine.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build-wbench}"
rounds="${2:-3}"
duration="${3:-10s}"
shared="$root/../shared"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target seedhop-webhook seedhop-emulator seedhop-bench-webhook-handler \
  -j2 >/dev/null
webhook_bin="$build/webhook/seedhop-webhook"
emulator_bin="$build/test/emulator/seedhop-emulator"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for WHAT COMMAND...: up to 10 s
  local what="$1"; shift
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$what did not come up" >&2
  return 1
}

# One serving certificate for both servers: EC P-256 leaf for 127.0.0.1 signed by a fresh CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=bench-ca -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=seedhop-webhook \
  -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -days 1 -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') \
  -out "$work/tls.crt" 2>/dev/null

# The review: the shared reference etcd StatefulSet UPDATE, compacted (7.3 KiB) as kube-apiserver
# sends it. SEEDHOP_BENCH_JQ (a jq filter, default ".") varies it for experiments.
jq -c "${SEEDHOP_BENCH_JQ:-.}" "$shared/reference/admission/etcd-sts-update.request.json" >"$work/review.json"
echo "the handler alone, one thread, no sockets:"
"$build/bench/webhook/seedhop-bench-webhook-handler" "$work/review.json"
if [[ "${SEEDHOP_BENCH_CALLGRIND:-0}" == 1 ]]; then
  # Instructions are counted, not timed: the same on a busy machine as on a quiet one, so two
  # builds compare exactly. HandleMutate runs once to check the review, then `calls` times.
  calls=2000
  valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
    "$build/bench/webhook/seedhop-bench-webhook-handler" "$work/review.json" "$calls" >/dev/null 2>&1
  callgrind_annotate --inclusive=yes "$work/callgrind.out" 2>/dev/null |
    awk -v n="$((calls + 1))" '$0 ~ /webhook\/handler.cpp:seedhop::webhook::HandleMutate\(/ && !done {
      gsub(",", "", $1); printf "instructions per HandleMutate call (callgrind): %.1fk\n", $1 / n / 1000
      done = 1 }'
fi
echo
namespace="$(jq -r .request.namespace "$work/review.json")"
name="$(jq -r .request.name "$work/review.json")"

emulator_port="$(free_port)"
"$emulator_bin" --port "$emulator_port" --token "bench-$RANDOM$RANDOM" \
  --kubeconfig-out "$work/kubeconfig" 2>"$work/emulator.log" &
pids+=($!)
wait_for "the emulator" test -s "$work/kubeconfig"
kc=(kubectl --kubeconfig "$work/kubeconfig")
wait_for "the emulator's API" "${kc[@]}" get namespaces
"${kc[@]}" create -f "$root/manifests/crds/etcdplans.yaml" >/dev/null
"${kc[@]}" create namespace "$namespace" >/dev/null
"${kc[@]}" create -f - >/dev/null <<PLAN
apiVersion: seedhop.io/v1alpha1
kind: EtcdPlan
metadata: {name: $name, namespace: $namespace}
spec:
  replicas: 2
  ordinalsStart: 3
  remoteMembers:
    - {ordinal: 0, address: 10.1.0.10}
    - {ordinal: 1, address: 10.1.0.11}
    - {ordinal: 2, address: 10.1.0.12}
PLAN

webhook_port="$(free_port)"
read -ra webhook_flags <<<"${SEEDHOP_BENCH_WEBHOOK_FLAGS:-}"
"$webhook_bin" --address 127.0.0.1 --port "$webhook_port" --cert-file "$work/tls.crt" \
  --key-file "$work/tls.key" --kubeconfig "$work/kubeconfig" --log-level warn \
  "${webhook_flags[@]}" 2>"$work/webhook.log" &
webhook_pid=$!
pids+=("$webhook_pid")
wait_for "seedhop-webhook" curl -sf --cacert "$work/ca.crt" "https://127.0.0.1:$webhook_port/readyz"

# nginx answers with what the webhook answers, so both send the same bytes.
curl -sf --cacert "$work/ca.crt" -H 'content-type: application/json' \
  --data-binary @"$work/review.json" "https://127.0.0.1:$webhook_port/mutate?timeout=10s" \
  >"$work/response.json"
if [[ "$(jq -r '.response.patchType // empty' "$work/response.json")" != JSONPatch ]]; then
  echo "the webhook did not patch the review:" >&2
  cat "$work/response.json" "$work/webhook.log" >&2
  exit 1
fi
if grep -q "['\\\$]" "$work/response.json"; then
  echo "the response has characters nginx's return would interpret" >&2
  exit 1
fi
nginx_port="$(free_port)"
mkdir -p "$work/nginx"
cp "$work/tls.crt" "$work/tls.key" "$work/nginx/"
sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@PORT@|$nginx_port|g" \
  -e "s|@RESPONSE@|$(sed 's/[&|]/\\&/g' "$work/response.json")|" \
  "$here/nginx.conf.in" >"$work/nginx/nginx.conf"
/usr/sbin/nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -e "$work/nginx/error.log" \
  -g 'daemon off;' &
nginx_pid=$!
pids+=("$nginx_pid")
wait_for "nginx" curl -sf --cacert "$work/ca.crt" -X POST --data-binary @"$work/review.json" \
  "https://127.0.0.1:$nginx_port/mutate?timeout=10s"

nginx_workers="$(pgrep -P "$nginx_pid" | tr '\n' ' ')"
clk_tck="$(getconf CLK_TCK)"
cpu_ticks() { # cpu_ticks PID...: utime+stime summed
  local total=0 pid
  for pid in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "$total"
}
rss_kib() { awk -v key="$1:" '$1 == key {print $2}' "/proc/$webhook_pid/status"; }
run_wrk() { # run_wrk PORT [PATH] -> SEEDHOP_RESULT line
  SEEDHOP_BENCH_BODY="$work/review.json" SEEDHOP_BENCH_PATH="${2:-/mutate?timeout=10s}" \
    wrk -t2 -c32 -d"$duration" --latency \
    -s "$here/post-review.lua" "https://127.0.0.1:$1" | tee -a "$work/wrk.log" | grep SEEDHOP_RESULT
}
machine_ticks() { awk '$1 == "cpu" {print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat; } # total idle
switches() { # switches PID...: "VOLUNTARY NONVOLUNTARY" context switches of all their threads
  cat "${@/#//proc/}"/task/*/status 2>/dev/null |
    awk '/^voluntary_ctxt_switches:/ {v += $2} /^nonvoluntary_ctxt_switches:/ {n += $2}
      END {print v + 0, n + 0}'
}
measure() { # measure PORT PATH PID... -> SEEDHOP_RESULT line with cpu_us_per_req= and more
  local port="$1" path="$2" before after line machine_before machine_after switches_before n
  shift 2
  before="$(cpu_ticks "$@")"
  machine_before="$(machine_ticks)"
  switches_before="$(switches "$@")"
  line="$(run_wrk "$port" "$path")"
  after="$(cpu_ticks "$@")"
  machine_after="$(machine_ticks)"
  n="$(field requests "$line")"
  # machine_idle_pct: how much of both cores nobody used (the load is CPU-bound when it is ~0);
  # sleeps_per_req: the server's voluntary context switches per request (it waited for work);
  # preemptions_per_req: the involuntary ones (the scheduler gave its core to someone else).
  echo "$line cpu_us_per_req=$(awk -v t="$((after - before))" -v hz="$clk_tck" -v n="$n" \
    'BEGIN {printf "%.1f", t * 1e6 / hz / n}') machine_idle_pct=$(awk -v a="$machine_before" \
    -v b="$machine_after" 'BEGIN {split(a, x, " "); split(b, y, " ");
      printf "%.1f", (y[2] - x[2]) * 100 / (y[1] - x[1])}') $(awk -v a="$switches_before" \
    -v b="$(switches "$@")" -v n="$n" 'BEGIN {split(a, x, " "); split(b, y, " ");
      printf "sleeps_per_req=%.2f preemptions_per_req=%.2f", (y[1] - x[1]) / n, (y[2] - x[2]) / n}')"
}
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

declare -a w_rps w_p50 w_p99 n_rps n_p50 n_p99 w_rss w_cpu n_cpu
for round in $(seq "$rounds"); do
  line="$(measure "$webhook_port" "/mutate?timeout=10s" "$webhook_pid")"
  w_rss+=("$(rss_kib VmRSS)")
  echo "round $round webhook: $line"
  [[ "$(field socket_errors "$line")" == 0 && "$(field non2xx "$line")" == 0 ]] ||
    echo "  (errors in this round)"
  w_rps+=("$(field rps "$line")"); w_p50+=("$(field p50_us "$line")"); w_p99+=("$(field p99_us "$line")")
  w_cpu+=("$(field cpu_us_per_req "$line")")
  # shellcheck disable=SC2086 # one argument per worker pid
  line="$(measure "$nginx_port" "/mutate?timeout=10s" $nginx_workers)"
  echo "round $round nginx:   $line"
  n_rps+=("$(field rps "$line")"); n_p50+=("$(field p50_us "$line")"); n_p99+=("$(field p99_us "$line")")
  n_cpu+=("$(field cpu_us_per_req "$line")")
done
line="$(measure "$webhook_port" /healthz "$webhook_pid")"
echo "webhook /healthz: $line"
h_cpu="$(field cpu_us_per_req "$line")"
hwm="$(rss_kib VmHWM)"

wr="$(median "${w_rps[@]}")"; nr="$(median "${n_rps[@]}")"
wp50="$(median "${w_p50[@]}")"; np50="$(median "${n_p50[@]}")"
wp99="$(median "${w_p99[@]}")"; np99="$(median "${n_p99[@]}")"
rss="$(median "${w_rss[@]}")"
verdict() { awk -v ok="$1" 'BEGIN {print (ok ? "PASS" : "MISS")}'; }
throughput_ratio="$(awk -v a="$wr" -v b="$nr" 'BEGIN {printf "%.2f", a / b}')"
p99_ratio="$(awk -v a="$wp99" -v b="$np99" 'BEGIN {printf "%.2f", a / b}')"

echo
echo "wrk -t2 -c32 -d$duration --latency, $rounds rounds each, medians ($(nproc) CPUs, $(uname -r))"
printf '%-16s %10s %10s %10s\n' "" "req/s" "p50 ms" "p99 ms"
printf '%-16s %10.0f %10.2f %10.2f\n' seedhop-webhook "$wr" "$(awk -v v="$wp50" 'BEGIN{print v/1000}')" "$(awk -v v="$wp99" 'BEGIN{print v/1000}')"
printf '%-16s %10.0f %10.2f %10.2f\n' nginx "$nr" "$(awk -v v="$np50" 'BEGIN{print v/1000}')" "$(awk -v v="$np99" 'BEGIN{print v/1000}')"
echo "CPU per request: webhook /mutate $(median "${w_cpu[@]}") us (rounds: ${w_cpu[*]}), /healthz $h_cpu us, nginx $(median "${n_cpu[@]}") us (rounds: ${n_cpu[*]})"
echo "throughput webhook/nginx: $throughput_ratio (target >= 0.80): $(verdict "$(awk -v r="$throughput_ratio" 'BEGIN{print (r >= 0.8)}')")"
echo "p99 webhook/nginx:        $p99_ratio (target <= 1.50): $(verdict "$(awk -v r="$p99_ratio" 'BEGIN{print (r <= 1.5)}')")"
echo "webhook RSS under load:   VmRSS $((rss / 1024)) MiB (median of rounds), VmHWM $((hwm / 1024)) MiB (target <= 30 MiB): $(verdict "$((hwm <= 30 * 1024))")"

if [[ "${SEEDHOP_BENCH_PERF:-0}" == 1 ]]; then
  echo
  echo "perf: the webhook under load, self time by symbol"
  run_wrk "$webhook_port" >/dev/null &
  wrk_pid=$!
  sleep 1
  perf record -F 999 -g -p "$webhook_pid" -o "$work/perf.data" -- sleep 5 2>/dev/null >/dev/null
  wait "$wrk_pid"
  perf report -i "$work/perf.data" --no-children -g none --sort dso,symbol --stdio \
    >"$work/perf-symbols.txt" 2>/dev/null
  perf report -i "$work/perf.data" --no-children -g none --sort dso --stdio \
    >"$work/perf-dso.txt" 2>/dev/null
  grep -E '^ +[0-9]' "$work/perf-symbols.txt" | sed -e 's/  */ /g' -e 's/nlohmann::json_abi[^:]*::/nlohmann::/g' |
    cut -c1-150 | head -25 || true
  echo "by library:"
  grep -E '^ +[0-9]' "$work/perf-dso.txt" | sed 's/  */ /g' | head -8 || true
fi
