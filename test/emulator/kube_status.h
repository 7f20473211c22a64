// metav1.Status error bodies formatted exactly as kube-apiserver writes them (field order,
// wording), so that clients under test parse the same bytes they would get from a real cluster.
// Wording: k8s.io/apimachinery/pkg/api/errors/errors.go.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/http/message.h"

namespace seedhop::emulator {

// The object a Status talks about: `resource` is the plural ("pods"), `group` may be empty.
struct StatusTarget {
  std::string group;
  std::string resource;
  std::string name;

  // "pods" or "statefulsets.apps": how kube-apiserver names a resource in messages.
  std::string GroupResource() const;
};

// A failure Status response. `details` may be null (omitted); `reason` may be empty (omitted).
http::Response StatusResponse(int code, const std::string& reason, const std::string& message,
                              const nlohmann::ordered_json& details = nullptr);

// `pods "x" not found` (404, NotFound).
http::Response NotFound(const StatusTarget& target);
// `pods "x" already exists` (409, AlreadyExists).
http::Response AlreadyExists(const StatusTarget& target);
// `Operation cannot be fulfilled on pods "x": <why>` (409, Conflict).
http::Response Conflict(const StatusTarget& target, const std::string& why);
// The Conflict `why` for a stale metadata.resourceVersion.
extern const char kStaleObjectMessage[];
// `<message>` (400, BadRequest).
http::Response BadRequest(const std::string& message);
// `Kind "name" is invalid: <field>: <detail>` (422, Invalid) with one cause.
http::Response Invalid(const StatusTarget& target, const std::string& kind,
                       const std::string& field, const std::string& cause_reason,
                       const std::string& detail);
// `Internal error occurred: <message>` (500, InternalError) with the message as the only cause.
http::Response InternalError(const std::string& message);
// `Unauthorized` (401).
http::Response Unauthorized();
// `the server could not find the requested resource` (404, NotFound, no details).
http::Response UnknownResource();
// `the server does not allow this method on the requested resource` (405, MethodNotAllowed).
http::Response MethodNotAllowed();
// `Request entity too large: limit is N` (413, RequestEntityTooLarge).
http::Response RequestTooLarge(size_t limit);
// The 410 Expired Status object a watch sends as an ERROR event: `too old resource version: a (b)`.
nlohmann::ordered_json ExpiredStatus(const std::string& message);

}  // namespace seedhop::emulator
