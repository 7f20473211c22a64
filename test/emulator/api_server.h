// The Kubernetes REST API over the object store: authentication, discovery, the verbs (get, list,
// watch, create, update, patch, delete, deletecollection), the status and scale subresources,
// CRD registration and mutating admission. A plain Request -> Response handler: the HTTPS
// server around it lives in emulator.h.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>

#include "common/http/message.h"
#include "test/emulator/admission.h"
#include "test/emulator/object_store.h"
#include "test/emulator/resource_registry.h"

namespace seedhop::emulator {

struct ApiServerOptions {
  std::string token = "seedhop-emulator-token";
  // kube-apiserver's --max-request-bytes default: 3 MiB (k8s.io/apiserver/pkg/server/config.go
  // MaxRequestBodyBytes); larger bodies get 413 RequestEntityTooLarge.
  size_t max_request_bytes = 3 * 1024 * 1024;
  StoreOptions store;
  // How often a watch with allowWatchBookmarks=true gets a BOOKMARK event.
  std::chrono::milliseconds bookmark_interval{10000};
  // How webhooks are called; empty: DefaultWebhookTransport().
  WebhookTransport webhook_transport;
  // Called with every authenticated request before it is served, on the serving thread. Tests
  // use it to slip a concurrent write in between a client's read and its write, deterministically.
  std::function<void(const http::Request&)> before_request;
};

// Thread-safe.
class ApiServer {
 public:
  explicit ApiServer(ApiServerOptions options);

  // Serves one API request. Watches come back as streamed responses that end when the client
  // goes away, timeoutSeconds passes or Close() is called.
  http::Response Handle(const http::Request& request);

  // Ends every watch; later requests still work.
  void Close();
  ObjectStore& store() { return store_; }

 private:
  struct Call;

  http::Response Route(const http::Request& request);
  http::Response Discovery(const http::Request& request, bool* handled);
  http::Response ResourceRequest(const http::Request& request, const std::string& group,
                                 const std::string& version, const std::string& rest);

  http::Response Get(const Call& call);
  http::Response List(const Call& call);
  http::Response Watch(const Call& call);
  http::Response Create(const Call& call, nlohmann::json object);
  http::Response Update(const Call& call, nlohmann::json object, bool allow_create);
  http::Response Patch(const Call& call);
  http::Response Delete(const Call& call);
  http::Response DeleteCollection(const Call& call);

  // Runs mutating admission and stores the result of a create or update. `old` is null on
  // create.
  http::Response Write(const Call& call, nlohmann::json object, const ObjectPtr& old);
  // Updates the scale subresource: `scale` is the requested autoscaling/v1 Scale.
  http::Response WriteScale(const Call& call, nlohmann::json scale, const ObjectPtr& old);
  nlohmann::json NamespaceLabels(const Call& call, const nlohmann::json& object) const;
  void AfterWrite(const Call& call, const ObjectPtr& object, bool deleted);
  std::string Render(const Call& call, const ObjectPtr& object) const;

  ApiServerOptions options_;
  WebhookTransport transport_;
  ObjectStore store_;
  mutable std::shared_mutex registry_mutex_;
  ResourceRegistry registry_;
};

// "5s", "3m", "2h", "4d", "1y": how long ago an RFC 3339 time was, as kubectl prints ages
// (k8s.io/apimachinery/pkg/util/duration ShortHumanDuration).
std::string AgeSince(const std::string& rfc3339, std::time_t now);

}  // namespace seedhop::emulator
