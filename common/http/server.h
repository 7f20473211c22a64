// An HTTPS (or plain HTTP) server: HTTP/1.1 keep-alive and pipelining, TLS 1.2+, routing on the
// path, limits with defined answers, certificate hot reload and graceful shutdown. Beast stays
// behind this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/http/message.h"
#include "common/result.h"

namespace seedhop::obs {
class Metrics;
class Logger;
}  // namespace seedhop::obs

namespace seedhop::http {

struct ServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 0;  // 0: pick a free port; Server::port() tells which.
  // PEM files. Both empty: plain HTTP (tests and loopback-only tooling). Reloaded when they change,
  // including Kubernetes secret-volume `..data` symlink swaps.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle. When set, clients must present a certificate signed by it (mTLS).
  std::string client_ca_file;
  std::chrono::milliseconds cert_poll_interval{2000};

  size_t max_header_bytes = 16 * 1024;      // larger: 431
  size_t max_body_bytes = 7 * 1024 * 1024;  // larger: 413 (controller-runtime's 7 MiB)
  // A whole request must arrive within this: counted from the connection (TLS handshake
  // included) for the first request, from its first byte for later ones. Slow-loris cut.
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds idle_timeout{90000};  // keep-alive connection with no request
  // A response must be written within this, counted from the first time the client's socket
  // was full: a client that reads too slowly or not at all is cut.
  std::chrono::milliseconds write_timeout{10000};
  size_t max_connections = 4096;                    // beyond: accept and close at once
  std::chrono::milliseconds shutdown_grace{15000};  // in-flight requests finish within this
  // I/O threads, each with its own event loop; connections are spread over them in turn.
  int threads = 2;
  // Handlers run on the I/O threads when false (fast, non-blocking handlers such as admission);
  // on a worker pool of `threads` when true (handlers that block, such as the emulator's).
  bool blocking_handlers = false;
};

// REQUIRES: Route() before Start(); Start() once. Thread-safe afterwards.
class Server {
 public:
  // `metrics` and `logger` may be null; when given they must outlive the server.
  Server(ServerOptions options, obs::Metrics* metrics, obs::Logger* logger);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes requests whose path (query ignored) equals `path` to `handler`.
  void Route(const std::string& path, Handler handler);
  // Routes every path that starts with `prefix` and has no exact route.
  void RoutePrefix(const std::string& prefix, Handler handler);
  // Adds /healthz, /readyz (ready only once a TLS handshake with itself succeeds and every
  // readiness check passes) and, with metrics, /metrics.
  void AddStandardRoutes();
  // Adds a condition /readyz requires, such as a synced cache. REQUIRES: before Start().
  void AddReadinessCheck(std::function<bool()> check);

  // Loads the certificate, binds, and starts serving on background threads.
  Status Start();
  // Stops accepting, lets in-flight requests finish within shutdown_grace, then closes the rest.
  void Shutdown();
  // Blocks until SIGTERM or SIGINT arrives, then Shutdown().
  void RunUntilSignal();

  uint16_t port() const;
  bool ready() const;
  // Re-reads the certificate files now (the poller does this on change).
  Status ReloadCertificate();

  class Impl;  // implementation detail, public only so that sessions in server.cpp can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedhop::http
