// A Kubernetes API client for any group/version/resource: get, list (paginated), create, update,
// patch, delete and watch, over http::Client. Status bodies become typed errors that name the
// verb and the object; throttling and transient failures are retried with jittered backoff.
//
// Retry policy: 429 is retried for every verb (the API server sends it before it processes a
// request: max-in-flight and priority-and-fairness rejections), honouring Retry-After. Connection
// errors, timeouts and 5xx are retried only for requests that are safe to repeat: GET, LIST, PUT
// (a replayed update carries the same resourceVersion precondition: if the first attempt was
// applied after all, the replay reports kConflict, which callers handle by re-reading anyway),
// DELETE and merge patches.
// POST (create) and JSON Patch are not: the first attempt may have been applied, and a replay
// would turn a success into AlreadyExists or apply a non-idempotent patch twice. Other 4xx are
// never retried, except one immediate retry of a 401 when the token comes from a file (it may
// just have rotated).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/kube/kubeconfig.h"
#include "common/result.h"

namespace seedhop::obs {
class Logger;
class Metrics;
}  // namespace seedhop::obs

namespace seedhop::http {
class Client;
struct ClientResponse;
}  // namespace seedhop::http

namespace seedhop::kube {

// A resource type, optionally narrowed to one namespace.
struct ResourceRef {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // lower-case plural: "configmaps"
  std::string ns;        // namespace; empty: cluster-scoped, or all namespaces for list/watch

  // "configmaps", "leases.coordination.k8s.io": how kubectl names the resource.
  std::string Name() const;
  // A copy narrowed to namespace `ns`.
  ResourceRef In(std::string ns) const;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;  // objects per page; 0: the server's choice (everything)
  std::string continue_token;
  std::string resource_version;  // "": the latest; "0": any cached version
};

struct WatchOptions {
  std::string resource_version;  // events after this version; "": start with synthetic ADDEDs
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  int timeout_seconds = 0;  // server-side watch duration; 0: the server's default
  // No bytes for this long ends the watch with a kTimeout error. The only way to end a watch that
  // sees no events: http::Client has no cancellation.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
};

enum class EventType { kAdded, kModified, kDeleted, kBookmark };

// Returns "ADDED", "MODIFIED", "DELETED" or "BOOKMARK", as on the wire.
const char* EventTypeName(EventType type);

struct WatchEvent {
  EventType type = EventType::kAdded;
  nlohmann::json object;  // for bookmarks only metadata.resourceVersion is meaningful
};

// Receives each watch event in order. Return false to end the watch.
using WatchCallback = std::function<bool(const WatchEvent&)>;

enum class PatchType {
  kMerge,      // application/merge-patch+json (RFC 7386)
  kJsonPatch,  // application/json-patch+json (RFC 6902), see json_patch.h
};

struct DeleteOptions {
  std::string resource_version;    // precondition: delete only this version
  std::string propagation_policy;  // "Foreground", "Background", "Orphan"; "": the default
};

struct ClientOptions {
  int max_attempts = 5;  // per call, including the first
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds max_retry_after{60000};  // cap on a server's Retry-After
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
  obs::Logger* logger = nullptr;  // retries are logged at warn; may be null
  // Registers seedhop_kube_client_requests_total{verb,code} and
  // seedhop_kube_client_request_duration_seconds{verb} when set. May be null.
  obs::Metrics* metrics = nullptr;
};

// Thread-safe. Errors carry the verb and object ("get configmaps ns/name: ...") and the
// ErrorCode that matches the server's Status reason (kNotFound, kConflict, kGone, ...).
class Client {
 public:
  // REQUIRES: `config.server` is an http(s) URL; `options.logger` and `options.metrics`, when
  // set, outlive the client.
  explicit Client(RestConfig config, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const RestConfig& config() const { return config_; }

  // Returns the object `name` of `ref` (in ref.ns).
  Result<nlohmann::json> Get(const ResourceRef& ref, std::string_view name);

  // Returns one List object (items, metadata.continue, metadata.resourceVersion).
  Result<nlohmann::json> List(const ResourceRef& ref, const ListOptions& options = {});

  // Calls `on_page` with each page of a paginated list (following metadata.continue) until the
  // last one or until it returns false. options.limit 0 means 500. An expired continue token
  // is a kGone error: list again from the start.
  Status ListPages(const ResourceRef& ref, ListOptions options,
                   const std::function<bool(nlohmann::json& page)>& on_page);

  // Returns a List object holding every item of every page, with the list's resourceVersion.
  Result<nlohmann::json> ListAll(const ResourceRef& ref, ListOptions options = {});

  // Creates `object` in ref.ns (or, when that is empty, in the object's metadata.namespace).
  // Returns the object as stored.
  Result<nlohmann::json> Create(const ResourceRef& ref, const nlohmann::json& object);

  // Replaces the object named by object.metadata.name (PUT). A metadata.resourceVersion in
  // `object` is a precondition the server checks: a stale one fails with kConflict.
  // `subresource` "status" writes only the status.
  Result<nlohmann::json> Update(const ResourceRef& ref, const nlohmann::json& object,
                                std::string_view subresource = "");

  // Patches object `name`. Returns the patched object.
  Result<nlohmann::json> Patch(const ResourceRef& ref, std::string_view name, PatchType type,
                               const nlohmann::json& patch, std::string_view subresource = "");

  // Deletes object `name`. A missing object is a kNotFound error (callers decide whether that
  // is fine).
  Status Delete(const ResourceRef& ref, std::string_view name, const DeleteOptions& options = {});

  // Streams the events of `ref` to `on_event` until the server ends the watch (OkStatus), the
  // callback returns false (OkStatus), options.idle_timeout passes without data (kTimeout), or
  // an error: a too old resourceVersion is kGone, whether the server says so by status 410 or
  // by an ERROR event. Not retried here: watchers reconnect (WatchCache does).
  Status Watch(const ResourceRef& ref, const WatchOptions& options, const WatchCallback& on_event);

 private:
  struct Call;
  struct Telemetry;
  Result<http::ClientResponse> Do(const Call& call);
  Result<nlohmann::json> DoJson(const Call& call);
  std::string Url(const std::string& path_and_query) const;

  const RestConfig config_;
  const ClientOptions options_;
  TokenSource tokens_;
  std::unique_ptr<http::Client> http_;
  std::unique_ptr<Telemetry> telemetry_;
};

// Builds the error for a non-2xx response: the ErrorCode from the Status body's reason (or, without
// one, from `http_status`), the message "<what>: <server message>". Exposed for tests.
Error StatusError(int http_status, std::string_view body, const std::string& what);

}  // namespace seedhop::kube
