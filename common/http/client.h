// A synchronous HTTPS/HTTP client with connection reuse, timeouts, client certificates, custom CA
// bundles and chunked streaming. Used by the Kubernetes and etcd clients; Beast stays behind it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/http/message.h"
#include "common/result.h"

namespace seedhop::http {

struct ClientOptions {
  // PEM data (not file names). Empty ca_pem with https: the system trust store.
  std::string ca_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
  bool insecure_skip_verify = false;
  std::string server_name;  // SNI/verification name override; default: the URL's host
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
  size_t max_idle_per_host = 8;
  size_t max_response_bytes = 512 * 1024 * 1024;
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // http(s)://host:port/path?query
  Headers headers;  // lower-case names
  std::string body;
  // Per-request override of request_timeout (0: use the client's).
  std::chrono::milliseconds timeout{0};
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

// Called for each piece of a streamed body as it arrives. Return false to stop reading.
using ChunkCallback = std::function<bool(std::string_view)>;

// Thread-safe: concurrent calls use separate pooled connections.
class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request` and reads the whole response. Transport failures come back as kUnavailable
  // or kTimeout errors naming the URL; any HTTP status is a successful Result. Only GET, HEAD,
  // OPTIONS and TRACE are ever sent twice (a kept-alive connection that closed before answering);
  // other methods are retried, if at all, by the caller.
  Result<ClientResponse> Send(const ClientRequest& request);

  // Sends `request` and hands the body to `on_data` as it arrives (no overall timeout; the
  // connection is closed when the callback returns false or `idle_timeout` passes with no data).
  // The returned response carries status and headers; its body is empty for 2xx.
  Result<ClientResponse> Stream(const ClientRequest& request, const ChunkCallback& on_data,
                                std::chrono::milliseconds idle_timeout);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedhop::http
