// The HTTP face of the mutating webhook: POST /mutate with an AdmissionReview in, an
// AdmissionReview out. Glues the codec (admission_review.h) and the policy (etcd_policy.h) and
// counts what happened; knows nothing about sockets or TLS (common/http/server.h serves it).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <array>
#include <functional>
#include <optional>
#include <string>

#include "common/http/message.h"
#include "common/obs/metrics.h"
#include "common/plan/etcd_plan.h"
#include "webhook/etcd_policy.h"

namespace seedhop::webhook {

// Returns the EtcdPlan stored under (namespace, name), or nullopt when there is none. Runs on the
// server's I/O threads for every request, so it must be a cheap in-memory read (the watch-backed
// plan cache), never an API call. Must be safe to call from several threads at once.
using PlanLookup = std::function<std::optional<plan::EtcdPlan>(const std::string& namespace_name,
                                                               const std::string& name)>;

// The webhook's own metrics (docs/webhook.md lists them):
//   seedhop_webhook_requests_total{operation,result}   counter
//   seedhop_webhook_request_duration_seconds           histogram, decode to encode
//   seedhop_webhook_patches_total{field}               counter, one per patched field
// operation: CREATE, UPDATE, DELETE, CONNECT or unknown (undecodable request); result: patched,
// unchanged, skipped, denied, bad_request or error. Every series exists from the start at 0.
// Thread-safe.
class WebhookMetrics {
 public:
  // Registers the metrics on `metrics`, which must outlive this object.
  explicit WebhookMetrics(obs::Metrics& metrics);

  // Records one handled request. `operation` and `result` must be among the label values above
  // (anything else is counted as operation "unknown", result "error").
  void Observe(std::string_view operation, std::string_view result, double seconds);
  // Records one patched field.
  void ObservePatch(PatchedField field);

 private:
  // Every series is resolved once here: Family::Add hashes the labels under a lock, which cost
  // more per request than the counting itself.
  std::array<std::array<prometheus::Counter*, 6>, 5> requests_{};  // [operation][result]
  prometheus::Histogram& duration_;
  std::array<prometheus::Counter*, 3> patches_{};  // by PatchedField
};

// Serves one /mutate request: 405 unless POST; 400 when Content-Type is not application/json (as
// controller-runtime pkg/webhook/admission/http.go does) or the body is not a decodable
// AdmissionReview (the message says why); otherwise 200 with the AdmissionReview answer in the
// version asked. Never throws: an unexpected failure is a 500. `metrics` may be null.
http::Response HandleMutate(const http::Request& request, const PlanLookup& lookup,
                            WebhookMetrics* metrics);

}  // namespace seedhop::webhook
