// Reliability of the webhook's serving path under the conditions a seed produces: many idle
// connections from kube-apiservers, certificate rotation by the secret volume, SIGTERM during a
// rollout, and clients that stall mid-request.
//
// The server runs in-process with the webhook's own options (ParseWebhookFlags) and the real
// /mutate handler (HandleMutate). The plan comes from a fixed lookup instead of the watch-backed
// PlanCache: the cache is covered by e2e_test.cpp, and keeping the API server out of the loop
// makes counts exact (every handled request is seen by the test) and the tests fast.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/http/client.h"
#include "common/http/server.h"
#include "common/obs/log.h"
#include "common/obs/metrics.h"
#include "test/support/certs.h"
#include "test/support/raw_tls.h"
#include "test/webhook/fixtures.h"
#include "webhook/app.h"
#include "webhook/handler.h"

namespace seedhop::webhook {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using seedhop::testing::RawTls;
using seedhop::testing::UnverifiedClientContext;
namespace fs = std::filesystem;

// The reference review's object (etcd-sts-update.request.json).
constexpr char kNamespace[] = "shoot--garden--local";
constexpr char kStatefulSet[] = "etcd-main";

std::string GetRequest(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";
}

// Several keep-alive clients posting AdmissionReviews in a loop until Stop(). Counts answers:
// `ok` are 200s carrying a valid AdmissionReview with a patch; everything else is a failure, and
// the first failures are kept (messages only: the test has no secrets on the wire).
class Load {
 public:
  Load(http::ClientOptions options, std::string url, std::string body)
      : options_(std::move(options)), url_(std::move(url)), body_(std::move(body)) {}
  ~Load() { Stop(); }

  // Starts `clients` threads. With `stop_on_transport_error`, a thread runs until its first
  // transport failure observed after MarkShutdown() (the server refusing or closing before
  // answering); such failures are counted apart, as refusals.
  void Start(int clients, bool stop_on_transport_error) {
    for (int i = 0; i < clients; ++i) {
      threads_.emplace_back([this, stop_on_transport_error] { Run(stop_on_transport_error); });
    }
  }
  void MarkShutdown() { shutting_down_ = true; }
  void Stop() {
    stop_ = true;
    for (auto& thread : threads_)
      thread.join();
    threads_.clear();
  }

  int ok() const { return ok_.load(); }
  int failed() const { return failed_.load(); }
  int refused_after_shutdown() const { return refused_after_shutdown_.load(); }
  std::string failures() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& message : failures_)
      out += message + "\n";
    return out;
  }

 private:
  void Run(bool stop_on_transport_error) {
    http::Client client(options_);
    // Until the transport fails in shutdown mode, so that every thread sees the refusal.
    while (stop_on_transport_error || !stop_) {
      auto response =
          client.Send({"POST", url_, {{"content-type", "application/json"}}, body_, 5000ms});
      if (!response.ok()) {
        if (shutting_down_ && stop_on_transport_error) {
          ++refused_after_shutdown_;
          return;
        }
        Fail(response.error().message());
        continue;
      }
      if (response->status != 200) {
        Fail("status " + std::to_string(response->status) + ": " + response->body);
        continue;
      }
      json review = json::parse(response->body, nullptr, false);
      if (review.is_discarded() || !review["response"].contains("patch")) {
        Fail("200 without a patch: " + response->body.substr(0, 200));
        continue;
      }
      ++ok_;
    }
  }
  void Fail(const std::string& message) {
    ++failed_;
    std::lock_guard lock(mutex_);
    if (failures_.size() < 5)
      failures_.push_back(message);
  }

  http::ClientOptions options_;
  std::string url_;
  std::string body_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> ok_{0};
  std::atomic<int> failed_{0};
  std::atomic<int> refused_after_shutdown_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> failures_;
};

class WebhookReliability : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = seedhop::testing::MakeTempDir("seedhop-webhook-reliability-");
    ASSERT_TRUE(made.ok()) << made.error().message();
    dir_ = *made;
    // Laid out like a Kubernetes secret volume: tls.crt -> ..data/tls.crt, ..data -> ..v1.
    volume_ = dir_ / "volume";
    ca_ = seedhop::testing::MakeCa("webhook-ca");
    WriteVersion("..v1", seedhop::testing::MakeLeaf(ca_, "seedhop-webhook", {"127.0.0.1"}));
    fs::create_directory_symlink("..v1", volume_ / "..data");
    fs::create_symlink("..data/tls.crt", volume_ / "tls.crt");
    fs::create_symlink("..data/tls.key", volume_ / "tls.key");

    auto config = ParseWebhookFlags({"--address=127.0.0.1", "--port=1",
                                     "--cert-file=" + (volume_ / "tls.crt").string(),
                                     "--key-file=" + (volume_ / "tls.key").string()});
    ASSERT_TRUE(config.ok()) << config.error().message();
    options_ = config->server;
    options_.port = 0;
    options_.cert_poll_interval = 50ms;

    review_ = testing::SharedJson("reference/admission/etcd-sts-update.request.json").dump();
    ASSERT_FALSE(review_.empty());
    plan_ = testing::MakePlan(kNamespace, kStatefulSet, 2, 3,
                              {{0, "10.1.0.10"}, {1, "10.1.0.11"}, {2, "10.1.0.12"}});
  }

  void TearDown() override {
    if (server_)
      server_->Shutdown();
    fs::remove_all(dir_);
  }

  void WriteVersion(const std::string& name, const seedhop::testing::CertPair& pair) {
    fs::create_directories(volume_ / name);
    ASSERT_TRUE(
        seedhop::testing::WriteFile((volume_ / name / "tls.crt").string(), pair.cert_pem).ok());
    ASSERT_TRUE(
        seedhop::testing::WriteFile((volume_ / name / "tls.key").string(), pair.key_pem).ok());
  }

  // What the kubelet does when the secret changes: a new timestamped directory, then an atomic
  // rename of a new ..data link over the old one.
  void RotateTo(const std::string& name, const seedhop::testing::CertPair& pair) {
    WriteVersion(name, pair);
    fs::create_directory_symlink(name, volume_ / "..data_tmp");
    fs::rename(volume_ / "..data_tmp", volume_ / "..data");
  }

  void StartServer() {
    webhook_metrics_ = std::make_unique<WebhookMetrics>(metrics_);
    server_ = std::make_unique<http::Server>(options_, &metrics_, &logger_);
    PlanLookup lookup = [this](const std::string& namespace_name,
                               const std::string& name) -> std::optional<plan::EtcdPlan> {
      if (namespace_name == plan_.namespace_name && name == plan_.statefulset)
        return plan_;
      return std::nullopt;
    };
    server_->Route("/mutate", [this, lookup](const http::Request& request) {
      ++in_flight_;
      if (handler_delay_.count() > 0)
        std::this_thread::sleep_for(handler_delay_);
      http::Response response = HandleMutate(request, lookup, webhook_metrics_.get());
      ++handled_;
      --in_flight_;
      return response;
    });
    server_->AddStandardRoutes();
    ASSERT_TRUE(server_->Start().ok());
  }

  std::string Url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

  http::ClientOptions Trusting(const std::string& ca_pem) const {
    http::ClientOptions options;
    options.ca_pem = ca_pem;
    return options;
  }

  // Sends one review on a fresh client; returns "" on a patched 200, else why not.
  std::string MutateOnce(const std::string& ca_pem) {
    http::ClientOptions options = Trusting(ca_pem);
    options.max_idle_per_host = 0;
    http::Client client(options);
    auto response = client.Send({"POST",
                                 Url("/mutate?timeout=10s"),
                                 {{"content-type", "application/json"}},
                                 review_,
                                 5000ms});
    if (!response.ok())
      return response.error().message();
    if (response->status != 200)
      return "status " + std::to_string(response->status);
    return testing::VerifyAdmissionResponse(json::parse(response->body, nullptr, false),
                                            "7c2e9a41-3b5d-4f8e-a1c6-9d0b2e4f6a8c",
                                            "admission.k8s.io/v1");
  }

  int Status(const std::string& path) {
    http::Client client(Trusting(ca_.cert_pem));
    auto response = client.Send({"GET", Url(path), {}, "", 5000ms});
    return response.ok() ? response->status : 0;
  }

  fs::path dir_;
  fs::path volume_;
  seedhop::testing::CertPair ca_;
  http::ServerOptions options_;
  std::string review_;
  plan::EtcdPlan plan_;
  obs::Metrics metrics_;
  obs::Logger logger_{"seedhop-webhook", obs::LogLevel::kWarn};
  std::unique_ptr<WebhookMetrics> webhook_metrics_;
  std::unique_ptr<http::Server> server_;
  std::chrono::milliseconds handler_delay_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> handled_{0};
};

// kube-apiserver keeps a pool of keep-alive connections per webhook; several API servers and
// reconnect storms can park many of them on one replica.
TEST_F(WebhookReliability, ThousandIdleTlsConnectionsDoNotStarveRequests) {
  constexpr int kIdle = 1000;
  // Both ends live in this process: 2 descriptors per connection plus the rest.
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 2 * kIdle + 256) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit.rlim_max << " is below "
                 << 2 * kIdle + 256;
  }
  if (limit.rlim_cur < 2 * kIdle + 256) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 4 * kIdle);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  StartServer();
  auto context = UnverifiedClientContext();

  // Each connection serves one request first, as a pooled apiserver connection has, so that the
  // server holds it under the keep-alive idle timeout rather than the first-request read timeout.
  std::vector<std::unique_ptr<RawTls>> idle;
  for (int i = 0; i < kIdle; ++i) {
    auto connection = RawTls::Connect(context.get(), server_->port());
    ASSERT_NE(connection, nullptr) << "connection " << i;
    ASSERT_TRUE(connection->Write(GetRequest("/healthz")));
    ASSERT_NE(connection->ReadResponse().find("HTTP/1.1 200"), std::string::npos)
        << "connection " << i;
    idle.push_back(std::move(connection));
  }

  auto started = Clock::now();
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(MutateOnce(ca_.cert_pem), "") << "request " << i;
  }
  // 50 fresh TLS connections with a full review each; generous for a loaded 2-core machine.
  EXPECT_LT(Clock::now() - started, 10s);
  EXPECT_EQ(Status("/healthz"), 200);
  EXPECT_EQ(Status("/readyz"), 200);

  // The parked connections were kept and still serve.
  for (int i : {0, kIdle / 2, kIdle - 1}) {
    ASSERT_TRUE(idle[i]->Write(GetRequest("/healthz"))) << "connection " << i;
    EXPECT_NE(idle[i]->ReadResponse().find("HTTP/1.1 200"), std::string::npos)
        << "connection " << i;
  }
  EXPECT_NE(metrics_.Serialize().find("seedhop_webhook_requests_total{operation=\"UPDATE\","
                                      "result=\"patched\"} 50"),
            std::string::npos)
      << metrics_.Serialize();
}

TEST_F(WebhookReliability, CertificateRotationUnderLoadFailsNoRequest) {
  StartServer();
  seedhop::testing::CertPair next_ca = seedhop::testing::MakeCa("webhook-ca-next");
  // Before the swap a client trusting only the new CA is refused: the check below can fail.
  ASSERT_NE(MutateOnce(next_ca.cert_pem), "");

  Load load(Trusting(ca_.cert_pem + next_ca.cert_pem), Url("/mutate?timeout=10s"), review_);
  load.Start(8, false);
  std::this_thread::sleep_for(500ms);
  int before_rotation = load.ok();
  RotateTo("..v2", seedhop::testing::MakeLeaf(next_ca, "seedhop-webhook", {"127.0.0.1"}));

  auto deadline = Clock::now() + 5s;
  std::string fresh = "not tried";
  while (Clock::now() < deadline && !(fresh = MutateOnce(next_ca.cert_pem)).empty()) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(fresh, "") << "new connections never saw the rotated certificate";
  int at_rotation = load.ok();
  std::this_thread::sleep_for(500ms);
  load.Stop();

  EXPECT_GT(before_rotation, 0);
  EXPECT_GT(load.ok(), at_rotation) << "the load stopped being served after the rotation";
  EXPECT_EQ(load.failed(), 0) << load.failures();
  // The old CA no longer verifies fresh connections.
  EXPECT_NE(MutateOnce(ca_.cert_pem), "");
}

TEST_F(WebhookReliability, ShutdownUnderLoadFinishesEveryRequestItAccepted) {
  // A slow handler keeps requests in flight when Shutdown starts; the real one takes ~100 us.
  handler_delay_ = 20ms;
  StartServer();
  Load load(Trusting(ca_.cert_pem), Url("/mutate?timeout=10s"), review_);
  load.Start(16, true);
  auto deadline = Clock::now() + 5s;
  while (Clock::now() < deadline && (load.ok() < 100 || in_flight_.load() == 0)) {
    std::this_thread::sleep_for(1ms);
  }
  int in_flight_at_shutdown = in_flight_.load();
  load.MarkShutdown();
  auto started = Clock::now();
  std::thread stopper([this] { server_->Shutdown(); });
  stopper.join();
  auto shutdown_took = Clock::now() - started;
  load.Stop();

  EXPECT_GT(in_flight_at_shutdown, 0);
  EXPECT_LT(shutdown_took, options_.shutdown_grace) << "in-flight requests were dropped";
  // Every request the server took in was answered with a patched 200; the others failed at the
  // transport (refused or closed before being handled), and every client saw that happen.
  EXPECT_EQ(load.failed(), 0) << load.failures();
  EXPECT_EQ(load.ok(), handled_.load());
  EXPECT_EQ(load.refused_after_shutdown(), 16);
  EXPECT_GE(load.ok(), 100);
}

TEST_F(WebhookReliability, StalledRequestsAreCutByTheReadTimeout) {
  options_.read_timeout = 1000ms;
  StartServer();
  auto context = UnverifiedClientContext();
  auto connected = Clock::now();

  // A body announced at 10 KiB of which only 10 bytes ever arrive.
  auto slow_body = RawTls::Connect(context.get(), server_->port());
  ASSERT_NE(slow_body, nullptr);
  ASSERT_TRUE(slow_body->Write(
      "POST /mutate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
      "content-length: 10240\r\n\r\n{\"kind\":\"A"));
  // Headers that never end (slow loris).
  auto slow_head = RawTls::Connect(context.get(), server_->port());
  ASSERT_NE(slow_head, nullptr);
  ASSERT_TRUE(slow_head->Write("POST /mutate HTTP/1.1\r\nhost: 127.0.0.1\r\n"));

  auto started = Clock::now();
  // The stalled connections do not hold up anyone else.
  EXPECT_EQ(MutateOnce(ca_.cert_pem), "");
  EXPECT_LT(Clock::now() - started, 900ms);

  std::string body_received;
  std::string head_received;
  EXPECT_TRUE(slow_body->WaitForClose(&body_received)) << "connection with a stalled body kept";
  EXPECT_TRUE(slow_head->WaitForClose(&head_received)) << "connection with stalled headers kept";
  // Cut once read_timeout has passed since they connected, not before.
  auto elapsed = Clock::now() - connected;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 3s);
  // Nothing was handled for them: a partial review never reaches the handler.
  EXPECT_EQ(handled_.load(), 1);
  EXPECT_EQ(body_received.find("HTTP/1.1 200"), std::string::npos) << body_received;
  EXPECT_EQ(Status("/healthz"), 200);
}

}  // namespace
}  // namespace seedhop::webhook
