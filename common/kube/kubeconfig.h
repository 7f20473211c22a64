// Where and how to reach a Kubernetes API server: from a kubeconfig file (clusters, users,
// contexts, current-context, a --context override) or from a pod's service account. Every
// failure names the file and the field; secret values (tokens, keys) never appear in errors.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace seedhop::kube {

// The service-account mount of a pod (k8s.io/client-go/rest/config.go, InClusterConfig).
inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// One resolved API-server connection. Certificates and keys are PEM data, never file names.
struct RestConfig {
  std::string server;  // "https://host:port", no trailing slash
  std::string ca_pem;  // empty: the system trust store
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // verification/SNI name override
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;       // a static bearer token
  std::string token_file;  // read on use and re-read periodically: bound SA tokens rotate
  std::string default_namespace = "default";
  // Where this came from, for messages: "kubeconfig /x context prod", "in-cluster".
  std::string source;
};

// Returns the kubeconfig path kubectl would use: the first entry of $KUBECONFIG, else
// $HOME/.kube/config. Merging several files is not supported.
std::string DefaultKubeconfigPath();

// Reads the kubeconfig at `path` and resolves `context` (empty: its current-context). Relative
// file names inside are taken relative to the kubeconfig's directory, as kubectl does.
// Errors name the field, e.g. `kubeconfig /x: users[0] "admin": client-key-data: not valid base64`.
Result<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");

// Like LoadKubeconfig, for kubeconfig text already in memory: `origin` names it in errors and
// `base_dir` resolves relative file names.
Result<RestConfig> ParseKubeconfig(const std::string& yaml_text, const std::string& origin,
                                   const std::string& base_dir, const std::string& context = "");

// The configuration of a pod: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT from the environment
// and token, ca.crt and namespace from `service_account_dir`. The token stays a file (re-read).
Result<RestConfig> InClusterConfig(const std::string& service_account_dir = kServiceAccountDir);

// Yields the bearer token of a RestConfig. A token file is read on first use and again once
// `refresh` has passed or after Invalidate() (a 401 may mean the token rotated), like client-go's
// cached file token source. Thread-safe.
class TokenSource {
 public:
  explicit TokenSource(const RestConfig& config,
                       std::chrono::milliseconds refresh = std::chrono::minutes(1));

  // Returns the current token ("" for none). A token file that cannot be read is an error
  // naming the file, unless a previous read succeeded: then the last good token is kept.
  Result<std::string> Token();
  // Forces the next Token() to re-read the file. Returns false when there is no file to re-read.
  bool Invalidate();

 private:
  const std::string static_token_;
  const std::string token_file_;
  const std::chrono::milliseconds refresh_;
  std::mutex mutex_;
  std::string cached_;
  std::chrono::steady_clock::time_point read_at_{};
  bool have_cached_ = false;
};

}  // namespace seedhop::kube
