// Mutating admission the way kube-apiserver runs it: MutatingWebhookConfigurations sorted by
// name, webhooks in list order, rule/namespaceSelector/objectSelector matching, AdmissionReview
// v1 over HTTPS, response verification, JSON Patch application, failurePolicy and one
// reinvocation round. Sources: k8s.io/apiserver/pkg/admission/plugin/webhook/{mutating/
// dispatcher.go, request/admissionreview.go, predicates/rules/rules.go, errors/statuserror.go}.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/http/client.h"
#include "common/http/message.h"
#include "common/result.h"

namespace seedhop::emulator {

struct GroupVersionKind {
  std::string group, version, kind;
};
struct GroupVersionResource {
  std::string group, version, resource;
};

// What is being admitted. `object` is mutated by the chain; `old_object` is null for CREATE,
// `object` null for DELETE.
struct AdmissionAttributes {
  std::string operation;  // "CREATE", "UPDATE" or "DELETE"
  GroupVersionKind kind;
  GroupVersionResource resource;
  std::string subresource;  // "" or "scale", "status"
  std::string name;         // "" on CREATE with generateName
  std::string namespace_name;
  bool namespaced = true;
  nlohmann::json object;
  nlohmann::json old_object;
  // The labels of the request's namespace (or of the Namespace object itself); null when
  // cluster-scoped.
  nlohmann::json namespace_labels;
  bool dry_run = false;
};

// Whether `webhook` (one entry of a MutatingWebhookConfiguration's `webhooks`) must be called for
// `attributes`. Errors (kInvalid) for malformed selectors.
Result<bool> WebhookMatches(const nlohmann::json& webhook, const AdmissionAttributes& attributes);

// The AdmissionReview v1 request body sent to a webhook, with request.uid = `uid`.
nlohmann::json BuildAdmissionReview(const AdmissionAttributes& attributes, const std::string& uid);

// A verified webhook answer.
struct WebhookVerdict {
  bool allowed = false;
  nlohmann::json status;  // metav1.Status of a rejection, or null
  nlohmann::json patch;   // decoded JSON Patch array, or null for none
};

// Checks a webhook's response body like request.VerifyAdmissionResponse and decodes the patch.
// Errors (kInvalid) carry kube-apiserver's wording, e.g. `received invalid webhook response:
// expected response.uid="a", got "b"`.
Result<WebhookVerdict> VerifyAdmissionResponse(const std::string& body, const std::string& uid);

// Posts an AdmissionReview to a webhook. Transport failures are errors; any HTTP status is a
// response.
using WebhookTransport = std::function<Result<http::ClientResponse>(
    const std::string& url, const std::string& ca_pem, const std::string& body,
    std::chrono::seconds timeout)>;

// A transport on http::Client, one pooled client per CA bundle.
WebhookTransport DefaultWebhookTransport();

// The outcome of admission: the mutated object, or the Status response that rejects the request.
struct AdmissionOutcome {
  bool allowed = true;
  nlohmann::json object;
  http::Response rejection;
};

// Runs every matching webhook of `configurations` (MutatingWebhookConfiguration objects, any
// order) over `attributes`.
AdmissionOutcome RunMutatingAdmission(const std::vector<nlohmann::json>& configurations,
                                      AdmissionAttributes attributes,
                                      const WebhookTransport& transport);

}  // namespace seedhop::emulator
