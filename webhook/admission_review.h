// The AdmissionReview protocol (admission.k8s.io/v1 and v1beta1): decoding a review into a plain
// request and encoding a response in the version that was asked. Field names and the response
// rules follow kubernetes/api admission/v1/types.go and kubernetes/apiserver
// pkg/admission/plugin/webhook/request/admissionreview.go (VerifyAdmissionResponse).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "webhook/json_prune.h"

namespace seedhop::webhook {

// The AdmissionReview version a request came in; the response must use the same one.
enum class ReviewVersion { kV1, kV1beta1 };

// Returns "admission.k8s.io/v1" or "admission.k8s.io/v1beta1".
const char* ReviewApiVersion(ReviewVersion version);

enum class Operation { kCreate, kUpdate, kDelete, kConnect };

// Returns the wire name: "CREATE", "UPDATE", "DELETE" or "CONNECT".
const char* OperationName(Operation operation);

struct GroupVersionKind {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
};

struct GroupVersionResource {
  std::string group;
  std::string version;
  std::string resource;
};

// What a webhook needs from AdmissionReview.request. userInfo and options are not kept: no
// decision of ours depends on who asks.
struct AdmissionRequest {
  ReviewVersion version = ReviewVersion::kV1;
  std::string uid;
  GroupVersionKind kind;
  GroupVersionResource resource;
  std::string sub_resource;  // "" for the main resource, "scale", "status", ...
  std::string name;          // "" on CREATE with generateName
  std::string namespace_name;
  Operation operation = Operation::kCreate;
  nlohmann::json object;  // a JSON object with what the decode filter selected, or null (DELETE)
  bool has_old_object = false;  // request.oldObject is an object (UPDATE, DELETE); not kept
  bool dry_run = false;
};

// Nesting deeper than this is refused: no Kubernetes object comes close (a StatefulSet review is
// about 15 levels deep), and recursive JSON code must stay off the stack limit.
inline constexpr size_t kMaxJsonDepth = 128;

// Decodes an AdmissionReview request body, building of request.object only what `object_filter`
// selects (the policy's kEtcdObjectFilter; kWholeObject for all of it).
// Returns kBadRequest, with a message fit for an HTTP 400 answer, when the body is not JSON, is
// nested deeper than kMaxJsonDepth, is not an AdmissionReview of a known version, has no request
// or no uid, has an unknown operation, or has fields of the wrong type. CREATE and UPDATE require
// `object` to be a JSON object; elsewhere object/oldObject must be an object or null.
Result<AdmissionRequest> DecodeAdmissionReview(std::string_view body,
                                               const JsonFilter& object_filter);

// Selects all of request.object.
inline constexpr JsonFilter kWholeObject{"object", true, {}};

// The name of the object `request` is about: request.name, or object.metadata.name when the
// request has none (CREATE with generateName); "" when neither is set.
std::string ObjectName(const AdmissionRequest& request);

// The answer to one request. Build it with Allowed(), Denied() or Patched().
struct AdmissionResponse {
  std::string uid;
  bool allowed = true;
  int status_code = 0;         // sent (with status_message) only when !allowed
  std::string status_message;  // never carries secret values
  std::string patch = "[]";    // the JSON array of RFC 6902 operations; sent only when non-empty
  std::vector<std::string> warnings;
};

// Allows `request` unchanged.
AdmissionResponse Allowed(const AdmissionRequest& request);
// Refuses `request` with HTTP-style `code` (e.g. 400, 403) and `message` shown to the client.
AdmissionResponse Denied(const AdmissionRequest& request, int code, std::string message);
// Allows `request` with the JSON Patch `operations` (the text of an array, as kube::JsonPatch
// or json::dump writes it; may be "[]").
AdmissionResponse Patched(const AdmissionRequest& request, std::string operations);

// Encodes `response` as an AdmissionReview of `version`: uid echoed, `patch` base64-encoded with
// patchType "JSONPatch" only when non-empty, status only when denied, warnings when present.
std::string EncodeAdmissionReview(const AdmissionResponse& response, ReviewVersion version);

}  // namespace seedhop::webhook
