-- wrk script: POSTs the AdmissionReview in $SEEDHOP_BENCH_BODY (built by run.sh at run time from
-- the shared reference etcd StatefulSet UPDATE review) to /mutate, as kube-apiserver does
-- (?timeout=10s appended, application/json), and prints one machine-readable summary line.
-- SEEDHOP_BENCH_PATH overrides the path (run.sh posts the same review to /healthz to measure the
-- server without the handler).
local path = os.getenv("SEEDHOP_BENCH_BODY")
assert(path, "SEEDHOP_BENCH_BODY unset")
local file = assert(io.open(path))
wrk.method = "POST"
wrk.path = os.getenv("SEEDHOP_BENCH_PATH") or "/mutate?timeout=10s"
wrk.body = file:read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
file:close()

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.timeout
  io.write(string.format(
    "SEEDHOP_RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d socket_errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, errors, summary.errors.status))
end
