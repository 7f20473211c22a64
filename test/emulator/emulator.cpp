#include "test/emulator/emulator.h"

#include <cstdlib>
#include <filesystem>

#include "common/encoding/base64.h"
#include "common/http/server.h"
#include "test/support/certs.h"

namespace seedhop::emulator {

Emulator::Emulator(EmulatorOptions options) : options_(std::move(options)) {
  ApiServerOptions api;
  api.token = options_.token;
  api.store.history_limit = options_.watch_history;
  api.bookmark_interval = options_.bookmark_interval;
  api.before_request = options_.before_request;
  api_ = std::make_unique<ApiServer>(std::move(api));
}

Emulator::~Emulator() {
  Stop();
}

Status Emulator::Start() {
  testing::CertPair ca = testing::MakeCa("seedhop-emulator-ca");
  testing::CertPair leaf =
      testing::MakeLeaf(ca, "seedhop-emulator", {"127.0.0.1", "localhost"}, 86400);
  ca_pem_ = ca.cert_pem;
  auto cert_dir = testing::MakeTempDir("seedhop-emulator-");
  if (!cert_dir.ok())
    return cert_dir.error().Wrap("emulator: certificate directory");
  cert_dir_ = *cert_dir;
  http::ServerOptions server_options;
  server_options.address = options_.address;
  server_options.port = options_.port;
  server_options.cert_file = cert_dir_ + "/tls.crt";
  server_options.key_file = cert_dir_ + "/tls.key";
  for (const auto& [path, content] : {std::pair{server_options.cert_file, leaf.cert_pem},
                                      {server_options.key_file, leaf.key_pem}}) {
    Status written = testing::WriteFile(path, content);
    if (!written.ok())
      return written.error().Wrap("emulator");
  }
  server_options.blocking_handlers = true;
  server_options.threads = 4;
  // The API answers oversized bodies itself, with kube-apiserver's 413 Status; the server's own
  // limit only stops absurd bodies.
  server_options.max_body_bytes = 16 * 1024 * 1024;
  server_options.idle_timeout = std::chrono::milliseconds(300000);
  // Stop() ends watches first, and every other handler is quick: a short drain keeps tests and
  // the lab from waiting on clients that leave connections open.
  server_options.shutdown_grace = std::chrono::milliseconds(2000);
  server_ = std::make_unique<http::Server>(server_options, nullptr, nullptr);
  ApiServer* api = api_.get();
  server_->RoutePrefix("/", [api](const http::Request& request) { return api->Handle(request); });
  Status started = server_->Start();
  if (!started.ok())
    return started.error().Wrap("emulator");
  started_ = true;
  return OkStatus();
}

void Emulator::Stop() {
  if (!started_)
    return;
  started_ = false;
  api_->Close();
  server_->Shutdown();
  std::error_code ignored;
  std::filesystem::remove_all(cert_dir_, ignored);
}

std::string Emulator::url() const {
  return "https://" + options_.address + ":" + std::to_string(server_->port());
}

kube::RestConfig Emulator::rest_config() const {
  kube::RestConfig rest;
  rest.server = url();
  rest.ca_pem = ca_pem_;
  rest.token = options_.token;
  return rest;
}

Status Emulator::WriteKubeconfig(const std::string& path) const {
  std::string config =
      "apiVersion: v1\n"
      "kind: Config\n"
      "clusters:\n"
      "- name: emulator\n"
      "  cluster:\n"
      "    server: " +
      url() +
      "\n"
      "    certificate-authority-data: " +
      encoding::Base64Encode(ca_pem_) +
      "\n"
      "users:\n"
      "- name: emulator\n"
      "  user:\n"
      "    token: " +
      options_.token +
      "\n"
      "contexts:\n"
      "- name: emulator\n"
      "  context:\n"
      "    cluster: emulator\n"
      "    user: emulator\n"
      "current-context: emulator\n";
  Status written = testing::WriteFile(path, config);
  if (!written.ok())
    return written.error().Wrap("emulator: kubeconfig " + path);
  return OkStatus();
}

}  // namespace seedhop::emulator
