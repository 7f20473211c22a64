// etcd clients kept across polls. A poller that asks the same members every few milliseconds (the
// migrator before each step, the lab's sampler) would otherwise open a connection, and on a seed a
// TLS handshake, per member per poll; a kept client's pooled connections spare etcd that.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/etcd/client.h"
#include "common/http/client.h"

namespace seedhop::etcd {

// A client over the pods of one etcd, with the client URL of each pod (ordinal -> URL).
class Session {
 public:
  Session(std::map<int, std::string> endpoints, const http::ClientOptions& options);

  Client& client() { return client_; }
  const std::map<int, std::string>& endpoints() const { return endpoints_; }

 private:
  std::map<int, std::string> endpoints_;
  Client client_;
};

// Sessions by etcd name, each kept while the pods it reaches stay the same. Not thread-safe.
class Sessions {
 public:
  // The session for `etcd` over `endpoints`: the one from the last call for `etcd` when that had
  // the same endpoints, else a new one with `options`. A replaced session stays usable by whoever
  // still holds it.
  std::shared_ptr<Session> For(const std::string& etcd, std::map<int, std::string> endpoints,
                               const http::ClientOptions& options);

 private:
  std::map<std::string, std::shared_ptr<Session>> sessions_;
};

}  // namespace seedhop::etcd
