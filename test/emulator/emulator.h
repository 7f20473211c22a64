// A Kubernetes API-server emulator served over HTTPS with a fresh CA, for tests and the local lab.
// Real kubectl works against it; several can run at once on different ports.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/kube/kubeconfig.h"
#include "common/result.h"
#include "test/emulator/api_server.h"

namespace seedhop::http {
class Server;
}

namespace seedhop::emulator {

struct EmulatorOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port; url() tells which
  std::string token = "seedhop-emulator-token";
  // Changes kept for watches; tests shrink it to force 410 Expired.
  size_t watch_history = 10000;
  std::chrono::milliseconds bookmark_interval{10000};
  // See ApiServerOptions::before_request.
  std::function<void(const http::Request&)> before_request;
};

class Emulator {
 public:
  explicit Emulator(EmulatorOptions options);
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  // Makes a CA and a serving certificate for 127.0.0.1/localhost and starts HTTPS.
  // REQUIRES: called once.
  Status Start();
  // Ends watches, then stops the server. Idempotent.
  void Stop();

  // https://127.0.0.1:PORT. REQUIRES: Start() succeeded.
  std::string url() const;
  // PEM of the CA that signed the serving certificate.
  const std::string& ca_pem() const { return ca_pem_; }
  const std::string& token() const { return options_.token; }
  // What a kube::Client needs to reach this emulator: url(), ca_pem() and token().
  kube::RestConfig rest_config() const;
  // Writes a kubeconfig whose cluster, user and context are all named "emulator".
  Status WriteKubeconfig(const std::string& path) const;

  // The API behind the server, for tests that want to seed or inspect state directly.
  ApiServer& api() { return *api_; }

 private:
  EmulatorOptions options_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<http::Server> server_;
  std::string ca_pem_;
  std::string cert_dir_;
  bool started_ = false;
};

}  // namespace seedhop::emulator
