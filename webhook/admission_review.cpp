#include "webhook/admission_review.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "common/encoding/base64.h"

namespace seedhop::webhook {

namespace {

using nlohmann::json;

constexpr char kApiVersionV1[] = "admission.k8s.io/v1";
constexpr char kApiVersionV1beta1[] = "admission.k8s.io/v1beta1";

Error BadRequest(std::string message) {
  return Error(ErrorCode::kBadRequest, std::move(message));
}

// Quotes a client-supplied value for an error message, cut at 64 bytes (on a UTF-8 boundary) so a
// hostile body cannot make our answer or our logs arbitrarily large.
std::string Quote(std::string_view value) {
  constexpr size_t kMax = 64;
  if (value.size() <= kMax)
    return "\"" + std::string(value) + "\"";
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80)
    --cut;
  return "\"" + std::string(value.substr(0, cut)) + "...\"";
}

// True when brackets outside strings nest deeper than `limit`. Runs before the parser so that a
// body like "[[[[..." is refused in linear time with no recursion anywhere.
bool NestsDeeperThan(std::string_view body, size_t limit) {
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit)
        return true;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

// The review's members the decoder reads without building them: their indexes in the captures.
enum Capture : int {
  kApiVersion,
  kReviewKind,
  kUid,
  kKind,
  kKindGroup,
  kKindVersion,
  kKindKind,
  kResource,
  kResourceGroup,
  kResourceVersion,
  kResourceResource,
  kSubResource,
  kName,
  kNamespace,
  kOperation,
  kDryRun,
  kOldObject,
  kCaptureCount,
};

// Reads the optional string member `key` of `where`, captured as `capture`: absent or null is "".
Result<std::string> OptionalString(std::string_view capture, std::string_view where,
                                   std::string_view key) {
  if (CapturedNothing(capture))
    return std::string();
  auto value = CapturedString(capture);
  if (!value)
    return BadRequest(std::string(where) + "." + std::string(key) + " must be a string");
  return std::move(*value);
}

// Reads the required object member `where` ("request.kind"), made of three strings (a
// GroupVersionKind or GroupVersionResource) captured from `first` on: the object, then its group,
// version and `third` member. `group` may be empty (the core group); the other two must not.
Result<std::array<std::string, 3>> GroupVersionThing(std::span<const std::string_view> captures,
                                                     Capture first, std::string_view where,
                                                     std::string_view third) {
  if (!CapturedObject(captures[first]))
    return BadRequest(std::string(where) + " must be an object");
  std::array<std::string, 3> out;
  const std::string_view fields[] = {"group", "version", third};
  for (size_t i = 0; i < 3; ++i) {
    auto value = OptionalString(captures[first + 1 + i], where, fields[i]);
    if (!value)
      return value.error();
    if (i > 0 && value->empty())
      return BadRequest(std::string(where) + "." + std::string(fields[i]) + " is required");
    out[i] = std::move(*value);
  }
  return out;
}

std::optional<Operation> ParseOperation(const std::string& text) {
  if (text == "CREATE")
    return Operation::kCreate;
  if (text == "UPDATE")
    return Operation::kUpdate;
  if (text == "DELETE")
    return Operation::kDelete;
  if (text == "CONNECT")
    return Operation::kConnect;
  return std::nullopt;
}

}  // namespace

const char* ReviewApiVersion(ReviewVersion version) {
  return version == ReviewVersion::kV1 ? kApiVersionV1 : kApiVersionV1beta1;
}

const char* OperationName(Operation operation) {
  switch (operation) {
    case Operation::kCreate:
      return "CREATE";
    case Operation::kUpdate:
      return "UPDATE";
    case Operation::kDelete:
      return "DELETE";
    case Operation::kConnect:
      return "CONNECT";
  }
  return "UNKNOWN";
}

Result<AdmissionRequest> DecodeAdmissionReview(std::string_view body,
                                               const JsonFilter& object_filter) {
  if (body.empty())
    return BadRequest("request body is empty");
  // The review filter: every field checked below is captured as text, and of the objects only
  // what the caller's policy reads is built. Building a DOM of the whole review was most of the
  // cost of a request, and building even the review's own fields cost a third of decoding
  // (docs/webhook.md, "Performance"); nobody reads the old object, so only its type is captured.
  static constexpr JsonFilter kKindMembers[] = {{"group", true, {}, kKindGroup},
                                                {"version", true, {}, kKindVersion},
                                                {"kind", true, {}, kKindKind}};
  static constexpr JsonFilter kResourceMembers[] = {{"group", true, {}, kResourceGroup},
                                                    {"version", true, {}, kResourceVersion},
                                                    {"resource", true, {}, kResourceResource}};
  const JsonFilter request_members[] = {{"uid", true, {}, kUid},
                                        {"kind", false, kKindMembers, kKind},
                                        {"resource", false, kResourceMembers, kResource},
                                        {"subResource", true, {}, kSubResource},
                                        {"name", true, {}, kName},
                                        {"namespace", true, {}, kNamespace},
                                        {"operation", true, {}, kOperation},
                                        {"dryRun", true, {}, kDryRun},
                                        {"object", object_filter.whole, object_filter.members},
                                        {"oldObject", true, {}, kOldObject}};
  const JsonFilter review_members[] = {{"apiVersion", true, {}, kApiVersion},
                                       {"kind", true, {}, kReviewKind},
                                       {"request", false, request_members}};
  std::array<std::string_view, kCaptureCount> captures;
  PrunedJson parsed = ParsePrunedJson(body, {"", false, review_members}, kMaxJsonDepth, captures);
  // Depth is reported before syntax, as when it was checked before parsing.
  if (parsed.error == JsonPruneError::kTooDeep ||
      (parsed.error != JsonPruneError::kNone && NestsDeeperThan(body, kMaxJsonDepth))) {
    return BadRequest("AdmissionReview nests deeper than " + std::to_string(kMaxJsonDepth) +
                      " levels");
  }
  if (parsed.error == JsonPruneError::kNumberOutOfRange) {
    // Found by the fuzzer: nlohmann::json refuses a number beyond double's range (1e400).
    return BadRequest("body is not valid JSON (a number is out of range)");
  }
  if (parsed.error == JsonPruneError::kSyntax) {
    // The offset alone says where; quoting the bytes around it could leak the object.
    return BadRequest("body is not valid JSON (error at byte " +
                      std::to_string(parsed.error_offset) + ")");
  }
  json& review = parsed.value;
  if (!review.is_object())
    return BadRequest("AdmissionReview must be a JSON object");

  AdmissionRequest out;
  auto api_version = OptionalString(captures[kApiVersion], "AdmissionReview", "apiVersion");
  if (!api_version)
    return api_version.error();
  if (*api_version == kApiVersionV1) {
    out.version = ReviewVersion::kV1;
  } else if (*api_version == kApiVersionV1beta1) {
    out.version = ReviewVersion::kV1beta1;
  } else {
    return BadRequest("unsupported apiVersion " + Quote(*api_version) + ", expected " +
                      kApiVersionV1 + " or " + kApiVersionV1beta1);
  }
  auto kind = OptionalString(captures[kReviewKind], "AdmissionReview", "kind");
  if (!kind)
    return kind.error();
  if (*kind != "AdmissionReview") {
    return BadRequest("unsupported kind " + Quote(*kind) + ", expected AdmissionReview");
  }

  auto request_it = review.find("request");
  if (request_it == review.end() || request_it->is_null()) {
    return BadRequest("AdmissionReview has no request");
  }
  json& request = *request_it;
  if (!request.is_object())
    return BadRequest("request must be a JSON object");

  auto uid = OptionalString(captures[kUid], "request", "uid");
  if (!uid)
    return uid.error();
  if (uid->empty())
    return BadRequest("request.uid is required");
  out.uid = std::move(*uid);

  auto gvk = GroupVersionThing(captures, kKind, "request.kind", "kind");
  if (!gvk)
    return gvk.error();
  out.kind = {std::move((*gvk)[0]), std::move((*gvk)[1]), std::move((*gvk)[2])};
  auto gvr = GroupVersionThing(captures, kResource, "request.resource", "resource");
  if (!gvr)
    return gvr.error();
  out.resource = {std::move((*gvr)[0]), std::move((*gvr)[1]), std::move((*gvr)[2])};

  auto sub_resource = OptionalString(captures[kSubResource], "request", "subResource");
  if (!sub_resource)
    return sub_resource.error();
  out.sub_resource = std::move(*sub_resource);
  auto name = OptionalString(captures[kName], "request", "name");
  if (!name)
    return name.error();
  out.name = std::move(*name);
  auto namespace_name = OptionalString(captures[kNamespace], "request", "namespace");
  if (!namespace_name)
    return namespace_name.error();
  out.namespace_name = std::move(*namespace_name);

  auto operation_text = OptionalString(captures[kOperation], "request", "operation");
  if (!operation_text)
    return operation_text.error();
  auto operation = ParseOperation(*operation_text);
  if (!operation) {
    return BadRequest("request.operation " + Quote(*operation_text) +
                      " is not one of CREATE, UPDATE, DELETE, CONNECT");
  }
  out.operation = *operation;

  std::string_view dry_run = captures[kDryRun];
  if (!CapturedNothing(dry_run)) {
    if (dry_run != "true" && dry_run != "false")
      return BadRequest("request.dryRun must be a boolean");
    out.dry_run = dry_run == "true";
  }

  auto object = request.find("object");
  if (object != request.end() && !object->is_null()) {
    if (!object->is_object())
      return BadRequest("request.object must be a JSON object");
    out.object = std::move(*object);
  }
  std::string_view old_object = captures[kOldObject];
  if (!CapturedNothing(old_object) && !CapturedObject(old_object))
    return BadRequest("request.oldObject must be a JSON object");
  out.has_old_object = CapturedObject(old_object);
  if ((out.operation == Operation::kCreate || out.operation == Operation::kUpdate) &&
      !out.object.is_object()) {
    return BadRequest(std::string("request.object is required for ") +
                      OperationName(out.operation));
  }
  return out;
}

std::string ObjectName(const AdmissionRequest& request) {
  if (!request.name.empty() || !request.object.is_object())
    return request.name;
  auto metadata = request.object.find("metadata");
  if (metadata == request.object.end() || !metadata->is_object())
    return {};
  auto name = metadata->find("name");
  return name != metadata->end() && name->is_string() ? name->get<std::string>() : std::string();
}

AdmissionResponse Allowed(const AdmissionRequest& request) {
  AdmissionResponse response;
  response.uid = request.uid;
  return response;
}

AdmissionResponse Denied(const AdmissionRequest& request, int code, std::string message) {
  AdmissionResponse response;
  response.uid = request.uid;
  response.allowed = false;
  response.status_code = code;
  response.status_message = std::move(message);
  return response;
}

AdmissionResponse Patched(const AdmissionRequest& request, std::string operations) {
  AdmissionResponse response;
  response.uid = request.uid;
  response.patch = std::move(operations);
  return response;
}

std::string EncodeAdmissionReview(const AdmissionResponse& response, ReviewVersion version) {
  // Written out directly, not through a json DOM: the base64 patch is most of the answer and
  // needs no escaping. Members come in the sorted order json::dump used, so the bytes are the same.
  auto dump = [](const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  bool patched = response.patch != "[]";
  std::string out;
  out.reserve(192 + (patched ? (response.patch.size() + 2) / 3 * 4 : 0) + response.uid.size());
  out += R"({"apiVersion":")";
  out += ReviewApiVersion(version);
  out += R"(","kind":"AdmissionReview","response":{"allowed":)";
  out += response.allowed ? "true" : "false";
  if (patched) {
    // VerifyAdmissionResponse rejects a patch without patchType and a patchType without a patch.
    out += R"(,"patch":")";
    encoding::AppendBase64(out, response.patch);
    out += R"(","patchType":"JSONPatch")";
  }
  if (!response.allowed) {
    // metav1.Status; kube-apiserver ignores it when allowed is true, so it is sent only on denial.
    out += R"(,"status":{"code":)";
    out += std::to_string(response.status_code);
    out += R"(,"message":)";
    out += dump(response.status_message);
    out += R"(,"status":"Failure"})";
  }
  out += R"(,"uid":)";
  out += dump(response.uid);
  if (!response.warnings.empty()) {
    out += R"(,"warnings":)";
    out += dump(response.warnings);
  }
  out += "}}";
  return out;
}

}  // namespace seedhop::webhook
