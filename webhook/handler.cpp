#include "webhook/handler.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <cctype>
#include <chrono>
#include <exception>
#include <iterator>
#include <string_view>

namespace seedhop::webhook {

namespace {

constexpr const char* kOperations[] = {"CREATE", "UPDATE", "DELETE", "CONNECT", "unknown"};
constexpr const char* kResults[] = {"patched", "unchanged",   "skipped",
                                    "denied",  "bad_request", "error"};
constexpr PatchedField kFields[] = {PatchedField::kReplicas, PatchedField::kOrdinals,
                                    PatchedField::kHostAliases};

// Returns the index of `value` in `names`, or that of `fallback` when it is not there.
template <size_t N>
size_t IndexOf(const char* const (&names)[N], std::string_view value, std::string_view fallback) {
  size_t fallback_index = 0;
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == value)
      return i;
    if (names[i] == fallback)
      fallback_index = i;
  }
  return fallback_index;
}

// Our handler takes tens of microseconds; the shared LatencyBuckets start at 0.5 ms and would
// put every request in the first bucket.
std::vector<double> HandlerBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1};
}

// True when `value` names the media type application/json, parameters such as charset aside.
bool IsJsonContentType(const std::string& value) {
  std::string type = value.substr(0, value.find(';'));
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back())))
    type.pop_back();
  size_t first = 0;
  while (first < type.size() && std::isspace(static_cast<unsigned char>(type[first])))
    ++first;
  type = type.substr(first);
  for (char& c : type)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type == "application/json";
}

}  // namespace

WebhookMetrics::WebhookMetrics(obs::Metrics& metrics)
    : duration_(prometheus::BuildHistogram()
                    .Name("seedhop_webhook_request_duration_seconds")
                    .Help("Time to decode, decide and encode one admission request.")
                    .Register(metrics.registry())
                    .Add({}, HandlerBuckets())) {
  auto& requests = prometheus::BuildCounter()
                       .Name("seedhop_webhook_requests_total")
                       .Help("Admission requests handled, by operation and result.")
                       .Register(metrics.registry());
  auto& patches = prometheus::BuildCounter()
                      .Name("seedhop_webhook_patches_total")
                      .Help("Fields patched in admitted objects, by field.")
                      .Register(metrics.registry());
  static_assert(std::size(kOperations) == std::tuple_size_v<decltype(requests_)>);
  static_assert(std::size(kResults) == std::tuple_size_v<decltype(requests_)::value_type>);
  static_assert(std::size(kFields) == std::tuple_size_v<decltype(patches_)>);
  for (size_t o = 0; o < std::size(kOperations); ++o) {
    for (size_t r = 0; r < std::size(kResults); ++r)
      requests_[o][r] = &requests.Add({{"operation", kOperations[o]}, {"result", kResults[r]}});
  }
  for (PatchedField field : kFields)
    patches_[static_cast<size_t>(field)] = &patches.Add({{"field", PatchedFieldName(field)}});
}

void WebhookMetrics::Observe(std::string_view operation, std::string_view result, double seconds) {
  requests_[IndexOf(kOperations, operation, "unknown")][IndexOf(kResults, result, "error")]
      ->Increment();
  duration_.Observe(seconds);
}

void WebhookMetrics::ObservePatch(PatchedField field) {
  patches_[static_cast<size_t>(field)]->Increment();
}

http::Response HandleMutate(const http::Request& request, const PlanLookup& lookup,
                            WebhookMetrics* metrics) {
  auto started = std::chrono::steady_clock::now();
  const char* operation = "unknown";
  auto finish = [&](const char* result, http::Response response) {
    if (metrics != nullptr) {
      std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
      metrics->Observe(operation, result, elapsed.count());
    }
    return response;
  };

  if (request.method != "POST") {
    http::Response response =
        http::Response::Text(405, "method " + request.method + " not allowed, use POST\n");
    response.headers["allow"] = "POST";
    return finish("bad_request", std::move(response));
  }
  std::string content_type = request.Header("content-type");
  if (!IsJsonContentType(content_type)) {
    // controller-runtime answers a wrong Content-Type with 400 (pkg/webhook/admission/http.go).
    return finish("bad_request",
                  http::Response::Text(400, "content-type must be application/json\n"));
  }
  try {
    auto decoded = DecodeAdmissionReview(request.body, kEtcdObjectFilter);
    if (!decoded) {
      return finish(
          "bad_request",
          http::Response::Text(400, "bad AdmissionReview: " + decoded.error().message() + "\n"));
    }
    const AdmissionRequest& admission = *decoded;
    operation = OperationName(admission.operation);

    std::optional<plan::EtcdPlan> plan;
    if (admission.operation == Operation::kCreate || admission.operation == Operation::kUpdate) {
      plan = lookup(admission.namespace_name, ObjectName(admission));
    }
    EtcdDecision decision = DecideEtcdMutation(admission, plan ? &*plan : nullptr);
    if (metrics != nullptr) {
      for (PatchedField field : decision.patched_fields)
        metrics->ObservePatch(field);
    }
    const char* result = OutcomeName(decision.outcome);
    std::string body = EncodeAdmissionReview(ToAdmissionResponse(admission, std::move(decision)),
                                             admission.version);
    return finish(result, http::Response::Json(200, std::move(body)));
  } catch (const std::exception&) {
    // Like controller-runtime's RecoverPanic: answer, never take the process down. The exception
    // text is not echoed: it may quote the object.
    return finish("error", http::Response::Text(500, "internal error handling AdmissionReview\n"));
  }
}

}  // namespace seedhop::webhook
