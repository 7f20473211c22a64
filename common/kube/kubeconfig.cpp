#include "common/kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/encoding/base64.h"
#include "common/io/file.h"

namespace seedhop::kube {

namespace {

namespace fs = std::filesystem;

std::string TrimSpace(std::string text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  text.erase(end == std::string::npos ? 0 : end + 1);
  size_t begin = text.find_first_not_of(" \t\r\n");
  return begin == std::string::npos ? std::string() : text.substr(begin);
}

Error FieldError(const std::string& where, const std::string& field, const std::string& what) {
  return Error(ErrorCode::kInvalid, where + (where.empty() ? "" : ": ") + field + ": " + what);
}

// Reads an optional string field of `map`. Absent or null: "". Not a scalar: an error.
Result<std::string> StringField(const YAML::Node& map, const char* key, const std::string& where) {
  YAML::Node node = map[key];
  if (!node || node.IsNull())
    return std::string();
  if (!node.IsScalar())
    return FieldError(where, key, "must be a string");
  return node.Scalar();
}

Result<bool> BoolField(const YAML::Node& map, const char* key, const std::string& where) {
  YAML::Node node = map[key];
  if (!node || node.IsNull())
    return false;
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return FieldError(where, key, "must be true or false");
  }
  return value;
}

// `name` entries of a kubeconfig list (clusters, users, contexts) with their index.
struct NamedEntry {
  size_t index = 0;
  YAML::Node body;    // the "cluster"/"user"/"context" map
  std::string where;  // `clusters[0] "name"`
};

// Finds the entry called `name` in list `list_key`, whose body sits under `body_key`
// (k8s.io/client-go/tools/clientcmd/api/v1/types.go: NamedCluster, NamedAuthInfo, NamedContext).
// A missing entry is reported against `referrer`, the field that named it.
Result<NamedEntry> FindNamed(const YAML::Node& root, const char* list_key, const char* body_key,
                             const std::string& name, const std::string& referrer) {
  YAML::Node list = root[list_key];
  if (list && !list.IsNull() && !list.IsSequence()) {
    return FieldError("", list_key, "must be a list");
  }
  if (list && list.IsSequence()) {
    for (size_t i = 0; i < list.size(); ++i) {
      std::string where = std::string(list_key) + "[" + std::to_string(i) + "]";
      if (!list[i].IsMap())
        return FieldError("", where, "must be a mapping");
      auto entry_name = StringField(list[i], "name", where);
      if (!entry_name)
        return entry_name.error();
      if (*entry_name != name)
        continue;
      where += " \"" + name + "\"";
      YAML::Node body = list[i][body_key];
      if (!body || body.IsNull())
        return FieldError(where, body_key, "missing");
      if (!body.IsMap())
        return FieldError(where, body_key, "must be a mapping");
      return NamedEntry{i, body, where};
    }
  }
  return Error(ErrorCode::kInvalid,
               referrer + ": no " + body_key + " named \"" + name + "\" in " + list_key);
}

// Loads a PEM item given either as a file (`file_key`) or as base64 data (`data_key`).
// Sets *found when either is present.
Result<std::string> FileOrData(const YAML::Node& body, const char* file_key, const char* data_key,
                               const std::string& where, const std::string& base_dir, bool* found) {
  auto file = StringField(body, file_key, where);
  if (!file)
    return file.error();
  auto data = StringField(body, data_key, where);
  if (!data)
    return data.error();
  *found = !file->empty() || !data->empty();
  // Both set is a validation error upstream too
  // (k8s.io/client-go/tools/clientcmd/validation.go, validateClusterInfo/validateAuthInfo).
  if (!file->empty() && !data->empty()) {
    return FieldError(where, data_key,
                      std::string("conflicts with ") + file_key + "; set only one");
  }
  if (!data->empty()) {
    auto decoded = encoding::Base64Decode(*data);
    if (!decoded)
      return FieldError(where, data_key, "not valid base64");
    return *decoded;
  }
  if (file->empty())
    return std::string();
  fs::path path(*file);
  if (path.is_relative() && !base_dir.empty())
    path = fs::path(base_dir) / path;
  auto content = ReadFile(path.string());
  if (!content)
    return FieldError(where, file_key, content.error().message());
  return content;
}

Result<RestConfig> Resolve(const YAML::Node& root, const std::string& base_dir,
                           const std::string& requested_context) {
  if (!root.IsMap())
    return FieldError("", "document", "must be a mapping (kind: Config)");
  auto current = StringField(root, "current-context", "");
  if (!current)
    return current.error();
  std::string context_name = requested_context.empty() ? *current : requested_context;
  if (context_name.empty()) {
    return FieldError("", "current-context", "not set and no context was requested");
  }

  auto context = FindNamed(root, "contexts", "context", context_name,
                           requested_context.empty() ? "current-context" : "context override");
  if (!context)
    return context.error();
  RestConfig config;
  config.source = "context " + context_name;
  auto cluster_name = StringField(context->body, "cluster", context->where);
  if (!cluster_name)
    return cluster_name.error();
  if (cluster_name->empty())
    return FieldError(context->where, "cluster", "missing");
  auto user_name = StringField(context->body, "user", context->where);
  if (!user_name)
    return user_name.error();
  auto ns = StringField(context->body, "namespace", context->where);
  if (!ns)
    return ns.error();
  if (!ns->empty())
    config.default_namespace = *ns;

  auto cluster =
      FindNamed(root, "clusters", "cluster", *cluster_name, context->where + ": cluster");
  if (!cluster)
    return cluster.error();
  const std::string& cw = cluster->where;
  auto server = StringField(cluster->body, "server", cw);
  if (!server)
    return server.error();
  if (server->empty())
    return FieldError(cw, "server", "missing");
  if (server->rfind("https://", 0) != 0 && server->rfind("http://", 0) != 0) {
    return FieldError(cw, "server", "must start with https:// or http://");
  }
  config.server = *server;
  while (config.server.size() > 8 && config.server.back() == '/')
    config.server.pop_back();
  if (auto proxy = StringField(cluster->body, "proxy-url", cw); !proxy || !proxy->empty()) {
    return proxy ? FieldError(cw, "proxy-url", "proxies are not supported") : proxy.error();
  }
  bool has_ca = false;
  auto ca = FileOrData(cluster->body, "certificate-authority", "certificate-authority-data", cw,
                       base_dir, &has_ca);
  if (!ca)
    return ca.error();
  config.ca_pem = *ca;
  auto insecure = BoolField(cluster->body, "insecure-skip-tls-verify", cw);
  if (!insecure)
    return insecure.error();
  config.insecure_skip_tls_verify = *insecure;
  if (has_ca && *insecure) {
    // Upstream refuses this combination too (clientcmd/validation.go, validateClusterInfo).
    return FieldError(cw, "insecure-skip-tls-verify",
                      "cannot be combined with a certificate authority");
  }
  auto server_name = StringField(cluster->body, "tls-server-name", cw);
  if (!server_name)
    return server_name.error();
  config.tls_server_name = *server_name;

  if (user_name->empty())
    return config;  // anonymous, as kubectl allows
  auto user = FindNamed(root, "users", "user", *user_name, context->where + ": user");
  if (!user)
    return user.error();
  const std::string& uw = user->where;
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    YAML::Node node = user->body[unsupported];
    if (node && !node.IsNull())
      return FieldError(uw, unsupported, "not supported by seedhop");
  }
  bool has_cert = false;
  bool has_key = false;
  auto cert = FileOrData(user->body, "client-certificate", "client-certificate-data", uw, base_dir,
                         &has_cert);
  if (!cert)
    return cert.error();
  auto key = FileOrData(user->body, "client-key", "client-key-data", uw, base_dir, &has_key);
  if (!key)
    return key.error();
  if (has_cert != has_key) {
    return FieldError(uw, has_cert ? "client-key" : "client-certificate",
                      std::string("missing (") +
                          (has_cert ? "a client certificate" : "a client key") + " is set)");
  }
  config.client_cert_pem = *cert;
  config.client_key_pem = *key;
  auto token = StringField(user->body, "token", uw);
  if (!token)
    return token.error();
  config.token = *token;
  auto token_file = StringField(user->body, "tokenFile", uw);
  if (!token_file)
    return token_file.error();
  if (!token_file->empty()) {
    fs::path path(*token_file);
    if (path.is_relative() && !base_dir.empty())
      path = fs::path(base_dir) / path;
    config.token_file = path.string();
    // Read once now so that a wrong path fails at start-up, not at the first request.
    TokenSource probe(config);
    if (auto read = probe.Token(); !read)
      return FieldError(uw, "tokenFile", read.error().message());
  }
  return config;
}

}  // namespace

std::string DefaultKubeconfigPath() {
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    std::string list(env);
    return list.substr(0, list.find(':'));
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "") + "/.kube/config";
}

Result<RestConfig> ParseKubeconfig(const std::string& yaml_text, const std::string& origin,
                                   const std::string& base_dir, const std::string& context) {
  Result<RestConfig> result = Error(ErrorCode::kInternal, "unreachable");
  try {
    YAML::Node root = YAML::Load(yaml_text);
    result = Resolve(root, base_dir, context);
  } catch (const YAML::Exception& e) {
    // The mark locates the problem; e.msg never quotes the document's values.
    result = Error(ErrorCode::kInvalid,
                   "not valid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!result)
    return result.error().Wrap("kubeconfig " + origin);
  result->source = "kubeconfig " + origin + " " + result->source;
  return result;
}

Result<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  auto text = ReadFile(path);
  if (!text)
    return text.error().Wrap("kubeconfig");
  return ParseKubeconfig(*text, path, fs::path(path).parent_path().string(), context);
}

Result<RestConfig> InClusterConfig(const std::string& service_account_dir) {
  const std::string where = "in-cluster config";
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return Error(ErrorCode::kInvalid, where +
                                          ": KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                                          "must be set (not running in a pod?)");
  }
  RestConfig config;
  config.source = "in-cluster";
  std::string h(host);
  // An IPv6 service address needs brackets (client-go uses net.JoinHostPort).
  config.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  config.token_file = service_account_dir + "/token";
  TokenSource probe(config);
  if (auto token = probe.Token(); !token)
    return token.error().Wrap(where + ": token");
  auto ca = ReadFile(service_account_dir + "/ca.crt");
  if (!ca)
    return ca.error().Wrap(where + ": ca.crt");
  config.ca_pem = *ca;
  // The namespace file is optional, as in client-go.
  if (auto ns = ReadFile(service_account_dir + "/namespace"); ns && !TrimSpace(*ns).empty()) {
    config.default_namespace = TrimSpace(*ns);
  }
  return config;
}

TokenSource::TokenSource(const RestConfig& config, std::chrono::milliseconds refresh)
    : static_token_(config.token), token_file_(config.token_file), refresh_(refresh) {}

Result<std::string> TokenSource::Token() {
  if (token_file_.empty())
    return static_token_;
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (have_cached_ && now - read_at_ < refresh_)
    return cached_;
  auto content = ReadFile(token_file_);
  if (!content || TrimSpace(*content).empty()) {
    if (have_cached_)
      return cached_;  // keep the last good token, as client-go does
    if (!content)
      return Error(content.error().code(), "token file: " + content.error().message());
    return Error(ErrorCode::kInvalid, "token file " + token_file_ + ": empty");
  }
  cached_ = TrimSpace(*content);
  read_at_ = now;
  have_cached_ = true;
  return cached_;
}

bool TokenSource::Invalidate() {
  if (token_file_.empty())
    return false;
  std::lock_guard lock(mutex_);
  read_at_ = {};
  return true;
}

}  // namespace seedhop::kube
