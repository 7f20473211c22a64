#include "test/emulator/kube_status.h"

namespace seedhop::emulator {

using nlohmann::ordered_json;

const char kStaleObjectMessage[] =
    "the object has been modified; please apply your changes to the latest version and try again";

std::string StatusTarget::GroupResource() const {
  return group.empty() ? resource : resource + "." + group;
}

namespace {

ordered_json StatusObject(int code, const std::string& reason, const std::string& message,
                          const ordered_json& details) {
  ordered_json status;
  status["kind"] = "Status";
  status["apiVersion"] = "v1";
  status["metadata"] = ordered_json::object();
  status["status"] = "Failure";
  status["message"] = message;
  if (!reason.empty())
    status["reason"] = reason;
  if (!details.is_null())
    status["details"] = details;
  status["code"] = code;
  return status;
}

// details{name, group, kind} in kube-apiserver's field order; group only when non-empty.
ordered_json Details(const StatusTarget& target, const std::string& kind) {
  ordered_json details;
  if (!target.name.empty())
    details["name"] = target.name;
  if (!target.group.empty())
    details["group"] = target.group;
  details["kind"] = kind;
  return details;
}

std::string Quoted(const std::string& text) {
  return nlohmann::json(text).dump();
}

}  // namespace

http::Response StatusResponse(int code, const std::string& reason, const std::string& message,
                              const ordered_json& details) {
  return http::Response::Json(code, StatusObject(code, reason, message, details).dump());
}

http::Response NotFound(const StatusTarget& target) {
  return StatusResponse(404, "NotFound",
                        target.GroupResource() + " " + Quoted(target.name) + " not found",
                        Details(target, target.resource));
}

http::Response AlreadyExists(const StatusTarget& target) {
  return StatusResponse(409, "AlreadyExists",
                        target.GroupResource() + " " + Quoted(target.name) + " already exists",
                        Details(target, target.resource));
}

http::Response Conflict(const StatusTarget& target, const std::string& why) {
  return StatusResponse(409, "Conflict",
                        "Operation cannot be fulfilled on " + target.GroupResource() + " " +
                            Quoted(target.name) + ": " + why,
                        Details(target, target.resource));
}

http::Response BadRequest(const std::string& message) {
  return StatusResponse(400, "BadRequest", message);
}

http::Response Invalid(const StatusTarget& target, const std::string& kind,
                       const std::string& field, const std::string& cause_reason,
                       const std::string& detail) {
  ordered_json details = Details(target, kind);
  ordered_json cause;
  cause["reason"] = cause_reason;
  cause["message"] = detail;
  cause["field"] = field;
  details["causes"] = ordered_json::array({cause});
  std::string name = target.name;
  return StatusResponse(
      422, "Invalid", kind + " " + Quoted(name) + " is invalid: " + field + ": " + detail, details);
}

http::Response InternalError(const std::string& message) {
  ordered_json cause;
  cause["message"] = message;
  ordered_json details;
  details["causes"] = ordered_json::array({cause});
  return StatusResponse(500, "InternalError", "Internal error occurred: " + message, details);
}

http::Response Unauthorized() {
  return StatusResponse(401, "Unauthorized", "Unauthorized");
}

http::Response UnknownResource() {
  return StatusResponse(404, "NotFound", "the server could not find the requested resource",
                        ordered_json::object());
}

http::Response MethodNotAllowed() {
  return StatusResponse(405, "MethodNotAllowed",
                        "the server does not allow this method on the requested resource",
                        ordered_json::object());
}

http::Response RequestTooLarge(size_t limit) {
  return StatusResponse(413, "RequestEntityTooLarge",
                        "Request entity too large: limit is " + std::to_string(limit));
}

ordered_json ExpiredStatus(const std::string& message) {
  return StatusObject(410, "Expired", message, nullptr);
}

}  // namespace seedhop::emulator
