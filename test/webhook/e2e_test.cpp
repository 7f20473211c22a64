// End to end: the emulator calls seedhop-webhook's real wiring (plan cache over a watch, /mutate
// over HTTPS) through the real MutatingWebhookConfiguration from manifests/, and stores what
// etcd-druid writes as the webhook mutated it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/encoding/base64.h"
#include "common/http/server.h"
#include "common/kube/client.h"
#include "test/emulator/emulator.h"
#include "test/support/certs.h"
#include "test/support/kube_objects.h"
#include "test/support/repo_manifest.h"
#include "test/webhook/fixtures.h"
#include "webhook/admission_review.h"
#include "webhook/app.h"

namespace seedhop::webhook {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr char kNamespace[] = "shoot--my-project--my-shoot";

using seedhop::testing::kNamespaces;
const kube::ResourceRef kStatefulSets{"apps", "v1", "statefulsets", kNamespace};
const kube::ResourceRef kPlans{"seedhop.io", "v1alpha1", "etcdplans", kNamespace};
using seedhop::testing::kCrds;
const kube::ResourceRef kWebhookConfigs{"admissionregistration.k8s.io", "v1",
                                        "mutatingwebhookconfigurations", ""};

class WebhookEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emulator_.Start().ok());
    client_ = std::make_unique<kube::Client>(emulator_.rest_config());

    ASSERT_TRUE(
        client_->Create(kCrds, seedhop::testing::RepoManifest("manifests/crds/etcdplans.yaml"))
            .ok());
    StartWebhook();
    RegisterWebhook();
    json ns = {
        {"apiVersion", "v1"},
        {"kind", "Namespace"},
        {"metadata", {{"name", kNamespace}, {"labels", {{"seedhop.io/migrating", "true"}}}}}};
    ASSERT_TRUE(client_->Create(kNamespaces, ns).ok());
  }

  void TearDown() override {
    if (server_)
      server_->Shutdown();
    if (cache_)
      cache_->Stop();
    emulator_.Stop();
    fs::remove_all(dir_);
  }

  void StartWebhook() {
    auto made = seedhop::testing::MakeTempDir("seedhop-webhook-e2e-");
    ASSERT_TRUE(made.ok()) << made.error().message();
    dir_ = *made;
    ca_ = seedhop::testing::MakeCa("webhook-ca");
    auto leaf = seedhop::testing::MakeLeaf(ca_, "seedhop-webhook", {"127.0.0.1"});
    ASSERT_TRUE(seedhop::testing::WriteFile((dir_ / "tls.crt").string(), leaf.cert_pem).ok());
    ASSERT_TRUE(seedhop::testing::WriteFile((dir_ / "tls.key").string(), leaf.key_pem).ok());
    auto config = ParseWebhookFlags({"--address=127.0.0.1", "--port=1",
                                     "--cert-file=" + (dir_ / "tls.crt").string(),
                                     "--key-file=" + (dir_ / "tls.key").string()});
    ASSERT_TRUE(config.ok()) << config.error().message();
    config->server.port = 0;
    cache_ = std::make_unique<PlanCache>(client_.get(), &metrics_, nullptr);
    cache_->Start();
    ASSERT_TRUE(cache_->WaitForSync(10s));
    webhook_metrics_ = std::make_unique<WebhookMetrics>(metrics_);
    server_ = std::make_unique<http::Server>(config->server, &metrics_, nullptr);
    server_->Route("/mutate", MakeMutateHandler(*cache_, webhook_metrics_.get()));
    server_->AddStandardRoutes();
    ASSERT_TRUE(server_->Start().ok());
  }

  // The shipped configuration, pointed at this process instead of the in-cluster Service.
  void RegisterWebhook() {
    json configuration =
        seedhop::testing::RepoManifest("manifests/webhook/mutatingwebhookconfiguration.yaml");
    ASSERT_TRUE(configuration.contains("webhooks"));
    for (auto& hook : configuration["webhooks"]) {
      hook["clientConfig"] = {
          {"url", "https://127.0.0.1:" + std::to_string(server_->port()) + "/mutate"},
          {"caBundle", encoding::Base64Encode(ca_.cert_pem)}};
    }
    auto created = client_->Create(kWebhookConfigs, configuration);
    ASSERT_TRUE(created.ok()) << created.error().message();
  }

  void CreatePlan(int replicas, int start, const std::vector<std::pair<int, std::string>>& remote) {
    plan::EtcdPlan plan{kNamespace, "etcd-main", replicas, start, {}};
    for (const auto& [ordinal, address] : remote)
      plan.remote_members.push_back({ordinal, address});
    ASSERT_TRUE(client_->Create(kPlans, plan::ToObject(plan)).ok());
    for (int i = 0; i < 200 && !cache_->Lookup(kNamespace, "etcd-main"); ++i) {
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(cache_->Lookup(kNamespace, "etcd-main").has_value());
  }

  static json DruidStatefulSet() {
    json sts = testing::SharedYamlAsJson("reference/gardener/etcd-main-sts.druid.synth.yaml");
    sts["metadata"].erase("ownerReferences");
    sts.erase("status");
    return sts;
  }

  static std::vector<std::string> AliasIps(const json& sts) {
    std::vector<std::string> ips;
    for (const auto& alias : sts["spec"]["template"]["spec"].value("hostAliases", json::array())) {
      ips.push_back(alias["ip"]);
    }
    return ips;
  }

  emulator::Emulator emulator_{emulator::EmulatorOptions{}};
  std::unique_ptr<kube::Client> client_;
  obs::Metrics metrics_;
  std::unique_ptr<PlanCache> cache_;
  std::unique_ptr<WebhookMetrics> webhook_metrics_;
  std::unique_ptr<http::Server> server_;
  seedhop::testing::CertPair ca_;
  fs::path dir_;
};

TEST_F(WebhookEndToEnd, StoredStatefulSetCarriesThePlanAndSurvivesDruidRewrites) {
  CreatePlan(2, 3, {{0, "10.1.0.10"}, {1, "10.1.0.11"}, {2, "10.1.0.12"}});
  auto created = client_->Create(kStatefulSets, DruidStatefulSet());
  ASSERT_TRUE(created.ok()) << created.error().message();

  auto stored = client_->Get(kStatefulSets, "etcd-main");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)["spec"]["replicas"], 2);
  EXPECT_EQ((*stored)["spec"]["ordinals"]["start"], 3);
  EXPECT_EQ(AliasIps(*stored),
            (std::vector<std::string>{"127.0.0.1", "10.1.0.10", "10.1.0.11", "10.1.0.12"}));
  const json& first_remote = (*stored)["spec"]["template"]["spec"]["hostAliases"][1];
  EXPECT_EQ(first_remote["hostnames"],
            (json{"etcd-main-0.etcd-main-peer.shoot--my-project--my-shoot.svc",
                  "etcd-main-0.etcd-main-peer.shoot--my-project--my-shoot.svc.cluster.local"}));
  int64_t generation = (*stored)["metadata"]["generation"];

  // etcd-druid's next reconcile writes its own shape again; the webhook puts the plan back and
  // the stored object does not change, so no rollout starts.
  json rewrite = DruidStatefulSet();
  rewrite["metadata"]["resourceVersion"] = (*stored)["metadata"]["resourceVersion"];
  auto updated = client_->Update(kStatefulSets, rewrite);
  ASSERT_TRUE(updated.ok()) << updated.error().message();
  EXPECT_EQ((*updated)["metadata"]["generation"], generation);
  EXPECT_EQ((*updated)["spec"]["template"], (*stored)["spec"]["template"]);

  // kubectl scale cannot undo the plan.
  auto scaled = client_->Patch(kStatefulSets, "etcd-main", kube::PatchType::kMerge,
                               {{"spec", {{"replicas", 5}}}}, "scale");
  ASSERT_TRUE(scaled.ok()) << scaled.error().message();
  EXPECT_EQ((*client_->Get(kStatefulSets, "etcd-main"))["spec"]["replicas"], 2);

  EXPECT_NE(metrics_.Serialize().find("seedhop_webhook_plans 1"), std::string::npos);
}

TEST_F(WebhookEndToEnd, WithoutAPlanTheStatefulSetIsStoredAsWritten) {
  json sts = DruidStatefulSet();
  auto created = client_->Create(kStatefulSets, sts);
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto stored = client_->Get(kStatefulSets, "etcd-main");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)["spec"]["replicas"], sts["spec"]["replicas"]);
  EXPECT_FALSE((*stored)["spec"].contains("ordinals"));
  EXPECT_EQ(AliasIps(*stored), (std::vector<std::string>{"127.0.0.1"}));
}

TEST_F(WebhookEndToEnd, AStoppedWebhookBlocksEtcdWritesInsteadOfDroppingThePlan) {
  CreatePlan(3, 0, {{3, "10.1.0.13"}});
  server_->Shutdown();
  auto created = client_->Create(kStatefulSets, DruidStatefulSet());
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message().find("etcd.seedhop.io"), std::string::npos)
      << created.error().message();
}

}  // namespace
}  // namespace seedhop::webhook
