#include "common/kube/client.h"

#include <algorithm>
#include <optional>
#include <random>
#include <thread>

#include "common/http/client.h"
#include "common/http/message.h"
#include "common/obs/log.h"
#include "common/obs/metrics.h"

namespace seedhop::kube {

namespace {

using nlohmann::json;

std::string Qualified(const ResourceRef& ref, std::string_view name) {
  std::string out = ref.Name();
  if (!ref.ns.empty() || !name.empty())
    out += " ";
  if (!ref.ns.empty())
    out += ref.ns + (name.empty() ? "" : "/");
  out += name;
  return out;
}

// /api/v1[/namespaces/<ns>]/<resource> or /apis/<group>/<version>[/namespaces/<ns>]/<resource>.
std::string CollectionPath(const ResourceRef& ref, std::string_view ns) {
  std::string path =
      ref.group.empty() ? "/api/" + ref.version : "/apis/" + ref.group + "/" + ref.version;
  if (!ns.empty())
    path += "/namespaces/" + http::UrlEncode(ns);
  return path + "/" + ref.resource;
}

std::string ObjectPath(const ResourceRef& ref, std::string_view ns, std::string_view name,
                       std::string_view subresource) {
  std::string path = CollectionPath(ref, ns) + "/" + http::UrlEncode(name);
  if (!subresource.empty())
    path += "/" + std::string(subresource);
  return path;
}

// Appends "&key=value" (or "?key=value" first) when value is not empty.
void AddQuery(std::string* target, std::string_view key, const std::string& value) {
  if (value.empty())
    return;
  target->push_back(target->find('?') == std::string::npos ? '?' : '&');
  *target += std::string(key) + "=" + http::UrlEncode(value);
}

// metav1.StatusReason values (k8s.io/apimachinery/pkg/apis/meta/v1/types.go) and the HTTP codes
// kube-apiserver pairs with them (k8s.io/apimachinery/pkg/api/errors/errors.go).
ErrorCode CodeFor(std::string_view reason, int http_status) {
  static const std::pair<std::string_view, ErrorCode> kReasons[] = {
      {"NotFound", ErrorCode::kNotFound},
      {"AlreadyExists", ErrorCode::kAlreadyExists},
      {"Conflict", ErrorCode::kConflict},
      {"Invalid", ErrorCode::kInvalid},
      {"BadRequest", ErrorCode::kBadRequest},
      {"MethodNotAllowed", ErrorCode::kBadRequest},
      {"NotAcceptable", ErrorCode::kBadRequest},
      {"UnsupportedMediaType", ErrorCode::kBadRequest},
      {"Forbidden", ErrorCode::kForbidden},
      {"Unauthorized", ErrorCode::kUnauthorized},
      {"Gone", ErrorCode::kGone},
      {"Expired", ErrorCode::kGone},
      {"TooManyRequests", ErrorCode::kTooManyRequests},
      {"RequestEntityTooLarge", ErrorCode::kRequestEntityTooLarge},
      {"Timeout", ErrorCode::kTimeout},
      {"ServerTimeout", ErrorCode::kTimeout},
      {"ServiceUnavailable", ErrorCode::kUnavailable},
      {"InternalError", ErrorCode::kInternal},
  };
  for (const auto& [name, code] : kReasons) {
    if (reason == name)
      return code;
  }
  return ErrorCodeForHttpStatus(http_status);
}

// Up to `limit` bytes of a non-JSON error body, printable ASCII only, for the message.
std::string Excerpt(std::string_view body, size_t limit = 200) {
  std::string out;
  for (char c : body.substr(0, limit))
    out.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
  if (body.size() > limit)
    out += "...";
  return out;
}

bool IsRetryableStatus(int status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// Parses a Retry-After header given in seconds (the form kube-apiserver sends). -1: none.
long long RetryAfterMillis(const http::Headers& headers) {
  auto it = headers.find("retry-after");
  if (it == headers.end() || it->second.empty())
    return -1;
  long long seconds = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9')
      return -1;
    seconds = std::min<long long>(seconds * 10 + (c - '0'), 86400);
  }
  return seconds * 1000;
}

// Exponential backoff with "equal jitter": half the step fixed, half random, so that clients
// throttled together do not come back together.
std::chrono::milliseconds Backoff(const ClientOptions& options, int retry) {
  long long step = options.initial_backoff.count();
  for (int i = 0; i < retry && step < options.max_backoff.count(); ++i)
    step *= 2;
  step = std::min<long long>(step, options.max_backoff.count());
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_int_distribution<long long> jitter(0, step / 2);
  return std::chrono::milliseconds(step - step / 2 + jitter(random));
}

}  // namespace

std::string ResourceRef::Name() const {
  return group.empty() ? resource : resource + "." + group;
}

ResourceRef ResourceRef::In(std::string namespace_name) const {
  ResourceRef copy = *this;
  copy.ns = std::move(namespace_name);
  return copy;
}

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
    case EventType::kBookmark:
      return "BOOKMARK";
  }
  return "ADDED";
}

Error StatusError(int http_status, std::string_view body, const std::string& what) {
  json status = json::parse(body, nullptr, false);
  std::string reason;
  std::string message;
  if (status.is_object() && status.value("kind", "") == "Status") {
    reason = status.value("reason", "");
    message = status.value("message", "");
    if (status.contains("code") && status["code"].is_number_integer()) {
      http_status = status["code"].get<int>();
    }
  }
  if (message.empty()) {
    message = "HTTP " + std::to_string(http_status);
    if (!body.empty() && !status.is_object())
      message += ": " + Excerpt(body);
  }
  return Error(CodeFor(reason, http_status), what + ": " + message);
}

// One API request: what it is, how to send it, whether it may be repeated.
struct Client::Call {
  std::string verb;  // "get", "list", "create", ... (metrics label, messages)
  std::string method;
  std::string path;  // path and query
  std::string body;
  std::string content_type;
  bool safe_to_repeat = true;
  std::string what;  // "get configmaps ns/name"
};

struct Client::Telemetry {
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* duration = nullptr;

  void Record(const std::string& verb, const std::string& code, double seconds) {
    if (requests == nullptr)
      return;
    requests->Add({{"verb", verb}, {"code", code}}).Increment();
    duration->Add({{"verb", verb}}, obs::Metrics::LatencyBuckets()).Observe(seconds);
  }
};

Client::Client(RestConfig config, ClientOptions options)
    : config_(std::move(config)),
      options_(options),
      tokens_(config_),
      telemetry_(std::make_unique<Telemetry>()) {
  http::ClientOptions http_options;
  http_options.ca_pem = config_.ca_pem;
  http_options.client_cert_pem = config_.client_cert_pem;
  http_options.client_key_pem = config_.client_key_pem;
  http_options.insecure_skip_verify = config_.insecure_skip_tls_verify;
  http_options.server_name = config_.tls_server_name;
  http_options.connect_timeout = options_.connect_timeout;
  http_options.request_timeout = options_.request_timeout;
  http_ = std::make_unique<http::Client>(std::move(http_options));
  if (options_.metrics != nullptr) {
    auto& registry = options_.metrics->registry();
    telemetry_->requests = &prometheus::BuildCounter()
                                .Name("seedhop_kube_client_requests_total")
                                .Help(
                                    "Kubernetes API requests by verb and HTTP code "
                                    "(\"error\" when no response arrived), retries included.")
                                .Register(registry);
    telemetry_->duration =
        &prometheus::BuildHistogram()
             .Name("seedhop_kube_client_request_duration_seconds")
             .Help("Latency of single Kubernetes API requests (watches excluded).")
             .Register(registry);
  }
}

Client::~Client() = default;

std::string Client::Url(const std::string& path_and_query) const {
  return config_.server + path_and_query;
}

Result<http::ClientResponse> Client::Do(const Call& call) {
  bool reread_token = false;
  for (int attempt = 1;; ++attempt) {
    auto token = tokens_.Token();
    if (!token)
      return token.error().Wrap(call.what);
    http::ClientRequest request;
    request.method = call.method;
    request.url = Url(call.path);
    request.headers["accept"] = "application/json";
    if (!token->empty())
      request.headers["authorization"] = "Bearer " + *token;
    if (!call.content_type.empty())
      request.headers["content-type"] = call.content_type;
    request.body = call.body;

    auto started = std::chrono::steady_clock::now();
    auto response = http_->Send(request);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    telemetry_->Record(call.verb, response ? std::to_string(response->status) : "error", seconds);

    bool retry = false;
    long long retry_after = -1;
    std::string reason;
    if (!response) {
      retry = call.safe_to_repeat && response.error().IsRetryable();
      reason = response.error().message();
      if (!retry || attempt >= options_.max_attempts)
        return response.error().Wrap(call.what);
    } else if (response->status >= 200 && response->status < 300) {
      return response;
    } else if (response->status == 401 && !reread_token && tokens_.Invalidate()) {
      reread_token = true;  // a rotated token file: read it again and retry at once
      continue;
    } else {
      retry =
          IsRetryableStatus(response->status) && (response->status == 429 || call.safe_to_repeat);
      if (!retry || attempt >= options_.max_attempts) {
        return StatusError(response->status, response->body, call.what);
      }
      retry_after = RetryAfterMillis(response->headers);
      reason = "HTTP " + std::to_string(response->status);
    }
    auto delay = retry_after >= 0
                     ? std::min(std::chrono::milliseconds(retry_after), options_.max_retry_after)
                     : Backoff(options_, attempt - 1);
    if (options_.logger != nullptr) {
      options_.logger->Warn("retrying Kubernetes API request",
                            {{"request", call.what},
                             {"attempt", std::to_string(attempt)},
                             {"reason", reason},
                             {"delay_ms", std::to_string(delay.count())}});
    }
    std::this_thread::sleep_for(delay);
  }
}

Result<nlohmann::json> Client::DoJson(const Call& call) {
  auto response = Do(call);
  if (!response)
    return response.error();
  json parsed = json::parse(response->body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Error(ErrorCode::kInternal, call.what + ": response is not a JSON object");
  }
  return parsed;
}

Result<nlohmann::json> Client::Get(const ResourceRef& ref, std::string_view name) {
  return DoJson({"get", "GET", ObjectPath(ref, ref.ns, name, ""), "", "", true,
                 "get " + Qualified(ref, name)});
}

Result<nlohmann::json> Client::List(const ResourceRef& ref, const ListOptions& options) {
  std::string path = CollectionPath(ref, ref.ns);
  AddQuery(&path, "labelSelector", options.label_selector);
  AddQuery(&path, "fieldSelector", options.field_selector);
  AddQuery(&path, "limit", options.limit > 0 ? std::to_string(options.limit) : "");
  AddQuery(&path, "continue", options.continue_token);
  AddQuery(&path, "resourceVersion", options.resource_version);
  return DoJson({"list", "GET", path, "", "", true, "list " + Qualified(ref, "")});
}

Status Client::ListPages(const ResourceRef& ref, ListOptions options,
                         const std::function<bool(nlohmann::json& page)>& on_page) {
  if (options.limit <= 0)
    options.limit = 500;
  for (;;) {
    auto page = List(ref, options);
    if (!page)
      return page.error();
    std::string next;
    if (auto it = page->find("metadata"); it != page->end() && it->is_object()) {
      next = it->value("continue", "");
    }
    if (!on_page(*page) || next.empty())
      return OkStatus();
    options.continue_token = next;
    // A continued list is served from the first page's snapshot; a version must not be sent
    // with it (the server rejects the combination).
    options.resource_version.clear();
  }
}

Result<nlohmann::json> Client::ListAll(const ResourceRef& ref, ListOptions options) {
  json all;
  Status status = ListPages(ref, std::move(options), [&all](json& page) {
    if (all.is_null()) {
      all = std::move(page);
      if (!all.contains("items") || !all["items"].is_array())
        all["items"] = json::array();
    } else if (auto it = page.find("items"); it != page.end() && it->is_array()) {
      auto& items = all["items"];
      for (auto& item : *it)
        items.push_back(std::move(item));
    }
    return true;
  });
  if (!status)
    return status.error();
  if (auto it = all.find("metadata"); it != all.end() && it->is_object())
    it->erase("continue");
  return all;
}

Result<nlohmann::json> Client::Create(const ResourceRef& ref, const nlohmann::json& object) {
  std::string ns = ref.ns;
  std::string name;
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    if (ns.empty())
      ns = object["metadata"].value("namespace", "");
    name = object["metadata"].value("name", object["metadata"].value("generateName", ""));
  }
  ResourceRef target = ref.In(ns);
  return DoJson({"create", "POST", CollectionPath(target, ns), object.dump(), "application/json",
                 false, "create " + Qualified(target, name)});
}

Result<nlohmann::json> Client::Update(const ResourceRef& ref, const nlohmann::json& object,
                                      std::string_view subresource) {
  std::string ns = ref.ns;
  std::string name;
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    if (ns.empty())
      ns = object["metadata"].value("namespace", "");
    name = object["metadata"].value("name", "");
  }
  ResourceRef target = ref.In(ns);
  std::string what = "update " + Qualified(target, name) +
                     (subresource.empty() ? "" : " (" + std::string(subresource) + ")");
  if (name.empty())
    return Error(ErrorCode::kInvalid, what + ": object has no metadata.name");
  return DoJson({"update", "PUT", ObjectPath(target, ns, name, subresource), object.dump(),
                 "application/json", true, what});
}

Result<nlohmann::json> Client::Patch(const ResourceRef& ref, std::string_view name, PatchType type,
                                     const nlohmann::json& patch, std::string_view subresource) {
  bool merge = type == PatchType::kMerge;
  std::string what = "patch " + Qualified(ref, name) +
                     (subresource.empty() ? "" : " (" + std::string(subresource) + ")");
  if (merge ? !patch.is_object() : !patch.is_array()) {
    return Error(ErrorCode::kInvalid, what + (merge ? ": a merge patch must be a JSON object"
                                                    : ": a JSON Patch must be a JSON array"));
  }
  return DoJson({"patch", "PATCH", ObjectPath(ref, ref.ns, name, subresource), patch.dump(),
                 merge ? "application/merge-patch+json" : "application/json-patch+json", merge,
                 what});
}

Status Client::Delete(const ResourceRef& ref, std::string_view name, const DeleteOptions& options) {
  json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (!options.resource_version.empty()) {
    body["preconditions"] = {{"resourceVersion", options.resource_version}};
  }
  if (!options.propagation_policy.empty())
    body["propagationPolicy"] = options.propagation_policy;
  auto response = Do({"delete", "DELETE", ObjectPath(ref, ref.ns, name, ""), body.dump(),
                      "application/json", true, "delete " + Qualified(ref, name)});
  if (!response)
    return response.error();
  return OkStatus();
}

Status Client::Watch(const ResourceRef& ref, const WatchOptions& options,
                     const WatchCallback& on_event) {
  const std::string what = "watch " + Qualified(ref, "");
  std::string path = CollectionPath(ref, ref.ns) + "?watch=true";
  AddQuery(&path, "resourceVersion", options.resource_version);
  AddQuery(&path, "labelSelector", options.label_selector);
  AddQuery(&path, "fieldSelector", options.field_selector);
  AddQuery(&path, "allowWatchBookmarks", options.allow_bookmarks ? "true" : "");
  AddQuery(&path, "timeoutSeconds",
           options.timeout_seconds > 0 ? std::to_string(options.timeout_seconds) : "");
  auto token = tokens_.Token();
  if (!token)
    return token.error().Wrap(what);
  http::ClientRequest request;
  request.url = Url(path);
  request.headers["accept"] = "application/json";
  if (!token->empty())
    request.headers["authorization"] = "Bearer " + *token;

  std::string pending;
  std::optional<Error> failure;
  auto on_data = [&](std::string_view data) {
    pending.append(data);
    size_t start = 0;
    for (size_t newline; (newline = pending.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      std::string_view line(pending.data() + start, newline - start);
      if (line.find_first_not_of(" \t\r") == std::string_view::npos)
        continue;
      json frame = json::parse(line, nullptr, false);
      if (frame.is_discarded() || !frame.is_object() || !frame.contains("type") ||
          !frame["type"].is_string() || !frame.contains("object")) {
        failure = Error(ErrorCode::kInternal, what + ": malformed watch event");
        return false;
      }
      const std::string type = frame["type"].get<std::string>();
      WatchEvent event;
      if (type == "ADDED") {
        event.type = EventType::kAdded;
      } else if (type == "MODIFIED") {
        event.type = EventType::kModified;
      } else if (type == "DELETED") {
        event.type = EventType::kDeleted;
      } else if (type == "BOOKMARK") {
        event.type = EventType::kBookmark;
      } else if (type == "ERROR") {
        // The object is a Status; a 410 here means the resourceVersion was compacted away.
        failure = StatusError(500, frame["object"].dump(), what);
        return false;
      } else {
        failure =
            Error(ErrorCode::kInternal, what + ": unknown watch event type " + Excerpt(type, 32));
        return false;
      }
      event.object = std::move(frame["object"]);
      if (!on_event(event)) {
        pending.clear();
        return false;
      }
    }
    pending.erase(0, start);
    return true;
  };
  auto response = http_->Stream(request, on_data, options.idle_timeout);
  if (failure)
    return *failure;
  if (!response)
    return response.error().Wrap(what);
  if (response->status < 200 || response->status >= 300) {
    return StatusError(response->status, response->body, what);
  }
  if (pending.find_first_not_of(" \t\r\n") != std::string::npos) {
    return Error(ErrorCode::kUnavailable, what + ": stream ended inside an event");
  }
  return OkStatus();
}

}  // namespace seedhop::kube
