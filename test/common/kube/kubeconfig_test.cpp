#include "common/kube/kubeconfig.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "common/encoding/base64.h"
#include "test/support/certs.h"

namespace seedhop::kube {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kCa = "-----BEGIN CERTIFICATE-----\nCA-PEM\n-----END CERTIFICATE-----\n";
const std::string kCert = "-----BEGIN CERTIFICATE-----\nCLIENT-PEM\n-----END CERTIFICATE-----\n";
const std::string kKey =
    "-----BEGIN PRIVATE KEY-----\nSECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n";
const std::string kToken = "s3cr3t-t0ken-value";

// A kubeconfig with two contexts; `user_body` and `cluster_body` replace the default entries.
std::string Kubeconfig(const std::string& cluster_body, const std::string& user_body,
                       const std::string& current = "dev") {
  return "apiVersion: v1\nkind: Config\n"
         "clusters:\n"
         "- name: other\n  cluster:\n    server: https://other:6443\n"
         "- name: main\n  cluster:\n" +
         cluster_body +
         "users:\n"
         "- name: nobody\n  user: {}\n"
         "- name: admin\n  user:\n" +
         user_body +
         "contexts:\n"
         "- name: dev\n  context:\n    cluster: main\n    user: admin\n    namespace: shoot--a--b\n"
         "- name: anon\n  context:\n    cluster: other\n"
         "current-context: " +
         current + "\n";
}

std::string MainCluster() {
  return "    server: https://api.example:6443/\n    certificate-authority-data: " +
         encoding::Base64Encode(kCa) + "\n";
}

std::string CertUser() {
  return "    client-certificate-data: " + encoding::Base64Encode(kCert) +
         "\n    client-key-data: " + encoding::Base64Encode(kKey) + "\n";
}

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = seedhop::testing::MakeTempDir("seedhop-kubeconfig-");
    ASSERT_TRUE(made.ok()) << made.error().message();
    dir_ = *made;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    std::string path = (dir_ / name).string();
    EXPECT_TRUE(testing::WriteFile(path, content).ok());
    return path;
  }

  // Parses `yaml` and returns the error message, or "" when it parsed.
  std::string ErrorOf(const std::string& yaml, const std::string& context = "") {
    auto result = ParseKubeconfig(yaml, "/x", dir_.string(), context);
    return result ? std::string() : result.error().message();
  }

  fs::path dir_;
};

TEST_F(KubeconfigTest, InlineDataAndCurrentContext) {
  auto config = ParseKubeconfig(Kubeconfig(MainCluster(), CertUser()), "/x", dir_.string());
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->server, "https://api.example:6443");  // trailing slash dropped
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->client_cert_pem, kCert);
  EXPECT_EQ(config->client_key_pem, kKey);
  EXPECT_EQ(config->default_namespace, "shoot--a--b");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->source, "kubeconfig /x context dev");
}

TEST_F(KubeconfigTest, ContextOverrideAndAnonymousUser) {
  auto config = ParseKubeconfig(Kubeconfig(MainCluster(), CertUser()), "/x", dir_.string(), "anon");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->server, "https://other:6443");
  EXPECT_EQ(config->default_namespace, "default");
  EXPECT_TRUE(config->client_cert_pem.empty());
  EXPECT_TRUE(config->token.empty());
  EXPECT_TRUE(config->token_file.empty());
}

TEST_F(KubeconfigTest, FilesRelativeToTheKubeconfigDirectory) {
  Write("ca.crt", kCa);
  fs::create_directories(dir_ / "pki");
  Write("pki/client.crt", kCert);
  std::string key_path = Write("client.key", kKey);
  std::string path = Write("config", Kubeconfig("    server: https://10.0.0.1:443\n"
                                                "    certificate-authority: ca.crt\n"
                                                "    tls-server-name: kubernetes.default.svc\n",
                                                "    client-certificate: pki/client.crt\n"
                                                "    client-key: " +
                                                    key_path + "\n"));
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->client_cert_pem, kCert);
  EXPECT_EQ(config->client_key_pem, kKey);
  EXPECT_EQ(config->tls_server_name, "kubernetes.default.svc");
  EXPECT_EQ(config->source, "kubeconfig " + path + " context dev");
}

TEST_F(KubeconfigTest, InsecureSkipVerify) {
  auto config = ParseKubeconfig(
      Kubeconfig("    server: https://h:1\n    insecure-skip-tls-verify: true\n", "    token: t\n"),
      "/x", dir_.string());
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->token, "t");
}

TEST_F(KubeconfigTest, StaticToken) {
  auto config = ParseKubeconfig(Kubeconfig(MainCluster(), "    token: " + kToken + "\n"), "/x",
                                dir_.string());
  ASSERT_TRUE(config.ok()) << config.error().message();
  TokenSource tokens(*config);
  auto token = tokens.Token();
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, kToken);
  EXPECT_FALSE(tokens.Invalidate());  // nothing to re-read
}

TEST_F(KubeconfigTest, TokenFileIsReadRelativeAndReReadWhenItRotates) {
  Write("token", "first\n");
  std::string path = Write("config", Kubeconfig(MainCluster(), "    tokenFile: token\n"));
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->token_file, (dir_ / "token").string());

  TokenSource tokens(*config, 50ms);
  EXPECT_EQ(*tokens.Token(), "first");
  Write("token", "second");
  EXPECT_EQ(*tokens.Token(), "first");  // cached within the refresh period
  EXPECT_TRUE(tokens.Invalidate());
  EXPECT_EQ(*tokens.Token(), "second");
  Write("token", "third");
  std::this_thread::sleep_for(80ms);
  EXPECT_EQ(*tokens.Token(), "third");
  // A token file that disappears keeps the last good token.
  fs::remove(dir_ / "token");
  std::this_thread::sleep_for(80ms);
  EXPECT_EQ(*tokens.Token(), "third");
}

TEST_F(KubeconfigTest, TokenSourceWithoutAGoodReadFails) {
  RestConfig config;
  config.token_file = (dir_ / "missing").string();
  TokenSource tokens(config);
  auto token = tokens.Token();
  ASSERT_FALSE(token.ok());
  EXPECT_NE(token.error().message().find("missing"), std::string::npos);
  Write("empty", "\n");
  config.token_file = (dir_ / "empty").string();
  TokenSource empty(config);
  ASSERT_FALSE(empty.Token().ok());
  EXPECT_NE(empty.Token().error().message().find("empty"), std::string::npos);
}

TEST_F(KubeconfigTest, ExactErrorForBadBase64) {
  auto result = ParseKubeconfig(
      Kubeconfig(MainCluster(), "    client-certificate-data: " + encoding::Base64Encode(kCert) +
                                    "\n    client-key-data: not*base64\n"),
      "/x", dir_.string());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(result.error().message(),
            "kubeconfig /x: users[1] \"admin\": client-key-data: not valid base64");
}

struct InvalidCase {
  std::string label;
  std::string yaml;
  std::string context;
  std::string expected;  // substring of the message
};

TEST_F(KubeconfigTest, EveryInvalidCaseNamesTheField) {
  const std::string token_user = "    token: " + kToken + "\n";
  const std::vector<InvalidCase> cases = {
      {"not yaml", "clusters: [unclosed", "", "kubeconfig /x: not valid YAML at line"},
      {"not a mapping", "- a\n- b\n", "", "document: must be a mapping"},
      {"no current context", Kubeconfig(MainCluster(), token_user, "\"\""), "",
       "current-context: not set"},
      {"unknown current context", Kubeconfig(MainCluster(), token_user, "prod"), "",
       "current-context: no context named \"prod\" in contexts"},
      {"unknown override", Kubeconfig(MainCluster(), token_user), "staging",
       "context override: no context named \"staging\""},
      {"contexts not a list", "contexts: {a: b}\ncurrent-context: a\n", "",
       "contexts: must be a list"},
      {"context entry not a mapping", "contexts:\n- just-a-string\ncurrent-context: a\n", "",
       "contexts[0]: must be a mapping"},
      {"context without body", "contexts:\n- name: a\ncurrent-context: a\n", "",
       "contexts[0] \"a\": context: missing"},
      {"context without cluster",
       "contexts:\n- name: a\n  context:\n    user: u\ncurrent-context: a\n", "",
       "contexts[0] \"a\": cluster: missing"},
      {"unknown cluster",
       "contexts:\n- name: a\n  context:\n    cluster: nope\ncurrent-context: a\n", "",
       "contexts[0] \"a\": cluster: no cluster named \"nope\" in clusters"},
      {"unknown user",
       "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
       "contexts:\n- name: a\n  context:\n    cluster: c\n    user: ghost\ncurrent-context: a\n",
       "", "contexts[0] \"a\": user: no user named \"ghost\" in users"},
      {"no server",
       Kubeconfig("    certificate-authority-data: " + encoding::Base64Encode(kCa) + "\n",
                  token_user),
       "", "clusters[1] \"main\": server: missing"},
      {"bad scheme", Kubeconfig("    server: ftp://h\n", token_user), "",
       "clusters[1] \"main\": server: must start with https:// or http://"},
      {"server not a string", Kubeconfig("    server: [a, b]\n", token_user), "",
       "clusters[1] \"main\": server: must be a string"},
      {"proxy", Kubeconfig("    server: https://h\n    proxy-url: http://p:3128\n", token_user), "",
       "clusters[1] \"main\": proxy-url: proxies are not supported"},
      {"bad CA data",
       Kubeconfig("    server: https://h\n    certificate-authority-data: '%%%'\n", token_user), "",
       "clusters[1] \"main\": certificate-authority-data: not valid base64"},
      {"missing CA file",
       Kubeconfig("    server: https://h\n    certificate-authority: nope.crt\n", token_user), "",
       "clusters[1] \"main\": certificate-authority: cannot read"},
      {"CA file and data",
       Kubeconfig("    server: https://h\n    certificate-authority: a.crt\n"
                  "    certificate-authority-data: " +
                      encoding::Base64Encode(kCa) + "\n",
                  token_user),
       "", "certificate-authority-data: conflicts with certificate-authority"},
      {"CA with insecure",
       Kubeconfig(MainCluster() + "    insecure-skip-tls-verify: true\n", token_user), "",
       "insecure-skip-tls-verify: cannot be combined with a certificate authority"},
      {"insecure not a bool",
       Kubeconfig("    server: https://h\n    insecure-skip-tls-verify: maybe\n", token_user), "",
       "insecure-skip-tls-verify: must be true or false"},
      {"cert without key",
       Kubeconfig(MainCluster(),
                  "    client-certificate-data: " + encoding::Base64Encode(kCert) + "\n"),
       "", "users[1] \"admin\": client-key: missing (a client certificate is set)"},
      {"key without cert",
       Kubeconfig(MainCluster(), "    client-key-data: " + encoding::Base64Encode(kKey) + "\n"), "",
       "users[1] \"admin\": client-certificate: missing (a client key is set)"},
      {"missing cert file",
       Kubeconfig(MainCluster(), "    client-certificate: c.crt\n    client-key-data: " +
                                     encoding::Base64Encode(kKey) + "\n"),
       "", "users[1] \"admin\": client-certificate: cannot read"},
      {"cert file and data",
       Kubeconfig(MainCluster(), "    client-certificate: c.crt\n    client-certificate-data: " +
                                     encoding::Base64Encode(kCert) + "\n    client-key-data: " +
                                     encoding::Base64Encode(kKey) + "\n"),
       "", "client-certificate-data: conflicts with client-certificate"},
      {"missing token file", Kubeconfig(MainCluster(), "    tokenFile: /nonexistent/token\n"), "",
       "users[1] \"admin\": tokenFile: token file: cannot read /nonexistent/token"},
      {"exec plugin", Kubeconfig(MainCluster(), "    exec:\n      command: gke-auth\n"), "",
       "users[1] \"admin\": exec: not supported by seedhop"},
      {"basic auth", Kubeconfig(MainCluster(), "    username: u\n    password: hunter2\n"), "",
       "users[1] \"admin\": username: not supported by seedhop"},
      {"user body not a mapping", Kubeconfig(MainCluster(), "    - a\n"), "",
       "users[1] \"admin\": user: must be a mapping"},
  };
  for (const auto& c : cases) {
    std::string message = ErrorOf(c.yaml, c.context);
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << c.label << ": got \"" << message << "\", want \"" << c.expected << "\"";
    EXPECT_EQ(message.rfind("kubeconfig /x: ", 0), 0u) << c.label << ": " << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << c.label;
  }
}

TEST_F(KubeconfigTest, SecretsNeverAppearInErrors) {
  // A broken cluster while the user holds a token and key material.
  std::string yaml =
      Kubeconfig("    server: gopher://h\n", "    token: " + kToken + "\n" + CertUser());
  std::string message = ErrorOf(yaml);
  ASSERT_FALSE(message.empty());
  EXPECT_EQ(message.find(kToken), std::string::npos);
  EXPECT_EQ(message.find(encoding::Base64Encode(kKey)), std::string::npos);
  // Invalid key data that looks like a secret is not echoed either.
  message = ErrorOf(
      Kubeconfig(MainCluster(), "    client-certificate-data: " + encoding::Base64Encode(kCert) +
                                    "\n    client-key-data: " + kToken + "!!\n"));
  ASSERT_FALSE(message.empty());
  EXPECT_EQ(message.find(kToken), std::string::npos);
}

TEST_F(KubeconfigTest, LoadMissingFile) {
  auto result = LoadKubeconfig((dir_ / "absent").string());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("kubeconfig: cannot read"), std::string::npos);
}

TEST_F(KubeconfigTest, DefaultPathFollowsKubeconfigEnv) {
  ::setenv("KUBECONFIG", "/a/one:/b/two", 1);
  EXPECT_EQ(DefaultKubeconfigPath(), "/a/one");
  ::unsetenv("KUBECONFIG");
  ::setenv("HOME", "/home/op", 1);
  EXPECT_EQ(DefaultKubeconfigPath(), "/home/op/.kube/config");
}

class InClusterTest : public KubeconfigTest {
 protected:
  void TearDown() override {
    ::unsetenv("KUBERNETES_SERVICE_HOST");
    ::unsetenv("KUBERNETES_SERVICE_PORT");
    KubeconfigTest::TearDown();
  }
};

TEST_F(InClusterTest, ReadsEnvironmentAndServiceAccount) {
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  Write("token", kToken + "\n");
  Write("ca.crt", kCa);
  Write("namespace", "garden\n");
  auto config = InClusterConfig(dir_.string());
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->default_namespace, "garden");
  EXPECT_EQ(config->token_file, (dir_ / "token").string());
  EXPECT_EQ(*TokenSource(*config).Token(), kToken);
}

TEST_F(InClusterTest, Ipv6HostAndOptionalNamespace) {
  ::setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
  Write("token", kToken);
  Write("ca.crt", kCa);
  auto config = InClusterConfig(dir_.string());
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->server, "https://[fd00::1]:6443");
  EXPECT_EQ(config->default_namespace, "default");
}

TEST_F(InClusterTest, Failures) {
  auto no_env = InClusterConfig(dir_.string());
  ASSERT_FALSE(no_env.ok());
  EXPECT_NE(no_env.error().message().find("KUBERNETES_SERVICE_HOST"), std::string::npos);

  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto no_token = InClusterConfig(dir_.string());
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.error().message().find("in-cluster config: token"), std::string::npos);

  Write("token", kToken);
  auto no_ca = InClusterConfig(dir_.string());
  ASSERT_FALSE(no_ca.ok());
  EXPECT_NE(no_ca.error().message().find("in-cluster config: ca.crt"), std::string::npos);
  EXPECT_EQ(no_ca.error().message().find(kToken), std::string::npos);
}

}  // namespace
}  // namespace seedhop::kube
