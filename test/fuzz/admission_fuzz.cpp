// libFuzzer target: AdmissionReview decode -> etcd policy -> encode, with the invariants the
// webhook promises checked on every input that decodes:
//   - the encoded answer is JSON that kube-apiserver accepts (uid echoed, patchType iff patch);
//   - a patch applies to the object as sent (kube-apiserver fails the request otherwise);
//   - the patched object is a fixed point (deciding again yields no patch);
//   - the pruned decode agrees with nlohmann::json's full parse: the body is refused as "not
//     valid JSON" exactly when nlohmann refuses it (or it holds a NUL byte), and deciding on the
//     whole object gives the same answer as deciding on the parts the policy's filter built;
//   - the request's own fields, which the decoder reads as captured text, are what nlohmann reads
//     (duplicate members, escapes and all).
// Build: cmake -DSEEDHOP_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... --target admission_fuzz
// Run:   admission_fuzz -dict=test/fuzz/admission.dict NEW_DIR test/fuzz/corpus/admission
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "webhook/admission_review.h"
#include "webhook/etcd_policy.h"

namespace {

using nlohmann::json;
using seedhop::plan::EtcdPlan;
using namespace seedhop::webhook;

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

// Plans keyed to the request's own namespace/name so that the policy's main paths run; the input
// length picks one of several shapes (members, ordinals start, a side held at 0 replicas).
EtcdPlan PlanFor(const AdmissionRequest& request, size_t variant) {
  EtcdPlan plan;
  plan.namespace_name = request.namespace_name;
  plan.statefulset = ObjectName(request);
  switch (variant % 4) {
    case 0:
      plan.replicas = 3;
      plan.ordinals_start = 3;
      plan.remote_members = {{0, "10.0.0.10"}, {1, "10.0.0.11"}, {2, "10.0.0.12"}};
      break;
    case 1:
      plan.replicas = 0;
      plan.remote_members = {{0, "fd00::1"}};
      break;
    case 2:
      plan.replicas = 5;
      break;
    default:
      plan.replicas = 1;
      plan.ordinals_start = 1;
      plan.remote_members = {{0, "192.0.2.1"}, {7, "192.0.2.7"}};
      break;
  }
  return plan;
}

void CheckResponse(const AdmissionRequest& request, const EtcdDecision& decision) {
  std::string encoded =
      EncodeAdmissionReview(ToAdmissionResponse(request, decision), request.version);
  json review = json::parse(encoded, nullptr, false);
  Check(!review.is_discarded(), "encoded review is JSON");
  Check(review["apiVersion"] == ReviewApiVersion(request.version), "apiVersion echoed");
  const json& response = review["response"];
  Check(response["uid"] == request.uid, "uid echoed");
  Check(response.contains("patch") == response.contains("patchType"), "patchType iff patch");
  Check(response["allowed"] == (decision.outcome != Outcome::kDenied), "allowed matches outcome");
}

// True when `body` is JSON by nlohmann's rules and ours (which refuse a NUL byte after the value).
bool IsJson(std::string_view body) {
  return json::accept(body) && body.find('\0') == std::string_view::npos;
}

// The string nlohmann reads at request[key]: "" when absent or null. Requires a decoded request,
// whose fields were checked to be strings.
std::string StringAt(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? std::string() : it->get<std::string>();
}

void CheckSameFields(const AdmissionRequest& decoded, const json& review) {
  const json& request = review["request"];
  Check(ReviewApiVersion(decoded.version) == StringAt(review, "apiVersion"), "apiVersion read");
  Check(decoded.uid == StringAt(request, "uid"), "uid read as nlohmann reads it");
  Check(decoded.kind.group == StringAt(request["kind"], "group") &&
            decoded.kind.version == StringAt(request["kind"], "version") &&
            decoded.kind.kind == StringAt(request["kind"], "kind"),
        "kind read as nlohmann reads it");
  Check(decoded.resource.group == StringAt(request["resource"], "group") &&
            decoded.resource.version == StringAt(request["resource"], "version") &&
            decoded.resource.resource == StringAt(request["resource"], "resource"),
        "resource read as nlohmann reads it");
  Check(decoded.sub_resource == StringAt(request, "subResource") &&
            decoded.name == StringAt(request, "name") &&
            decoded.namespace_name == StringAt(request, "namespace") &&
            OperationName(decoded.operation) == StringAt(request, "operation"),
        "names and operation read as nlohmann reads them");
  auto dry_run = request.find("dryRun");
  Check(decoded.dry_run == (dry_run != request.end() && *dry_run == true),
        "dryRun read as nlohmann reads it");
  Check(
      decoded.has_old_object == (request.contains("oldObject") && request["oldObject"].is_object()),
      "oldObject's type read as nlohmann reads it");
}

// The decision on the whole object as sent must be the decision on the pruned one, patch and all.
void CheckSameDecision(const AdmissionRequest& pruned, const json& sent, const EtcdPlan& plan) {
  AdmissionRequest whole = pruned;
  whole.object = sent;
  EtcdDecision want = DecideEtcdMutation(whole, &plan);
  EtcdDecision got = DecideEtcdMutation(pruned, &plan);
  Check(got.outcome == want.outcome && got.reason == want.reason &&
            got.patch.text() == want.patch.text() && got.warnings == want.warnings,
        "the pruned object decides as the whole one");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto decoded = DecodeAdmissionReview(body, kEtcdObjectFilter);
  if (!decoded.ok()) {
    Check(decoded.error().code() == seedhop::ErrorCode::kBadRequest, "decode errors are 400s");
    const std::string& message = decoded.error().message();
    if (!message.starts_with("AdmissionReview nests deeper") && !body.empty()) {
      Check(message.starts_with("body is not valid JSON") == !IsJson(body),
            "\"not valid JSON\" exactly when it is not");
    }
    return 0;
  }
  Check(IsJson(body), "decoded bodies are JSON");
  const AdmissionRequest& request = *decoded;
  json review = json::parse(body);
  CheckSameFields(request, review);

  EtcdDecision without_plan = DecideEtcdMutation(request, nullptr);
  Check(without_plan.patch.empty(), "no plan, no patch");
  CheckResponse(request, without_plan);

  EtcdPlan plan = PlanFor(request, size);
  json sent = request.object.is_object() ? review["request"]["object"] : json();
  if (sent.is_object())
    CheckSameDecision(request, sent, plan);
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  CheckResponse(request, decision);
  if (decision.patch.empty())
    return 0;
  Check(decision.outcome == Outcome::kPatched, "a patch means patched");
  Check(json::parse(decision.patch.text()).dump() == decision.patch.text(),
        "the patch is written as json::dump writes it");
  Check(request.object.is_object(), "patches only objects");

  AdmissionRequest again = request;
  try {
    again.object = sent.patch(json::parse(decision.patch.text()));
  } catch (const json::exception& e) {
    std::fprintf(stderr, "patch does not apply: %s\n", e.what());
    std::abort();
  }
  EtcdDecision second = DecideEtcdMutation(again, &plan);
  Check(second.patch.empty(), "fixed point: the patched object needs no patch");
  return 0;
}
