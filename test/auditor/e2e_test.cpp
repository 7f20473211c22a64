// End to end against the project's API-server emulator: several shoot namespaces loaded through
// the kube client, fetched and audited like a real seed; then the seedhop-auditor binary itself.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "auditor/fetch.h"
#include "auditor/report.h"
#include "common/kube/client.h"
#include "common/kube/kubeconfig.h"
#include "test/auditor/fixtures.h"
#include "test/emulator/emulator.h"
#include "test/support/certs.h"
#include "test/support/kube_objects.h"
#include "test/support/process.h"

namespace seedhop::auditor {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using seedhop::testing::kNamespaces;

kube::ResourceRef RefFor(const json& object) {
  const std::string kind = object.value("kind", "");
  if (kind == "Lease") {
    return {"coordination.k8s.io", "v1", "leases", ""};
  }
  if (kind == "Deployment") {
    return {"apps", "v1", "deployments", ""};
  }
  if (kind == "Pod") {
    return {"", "v1", "pods", ""};
  }
  if (kind == "Endpoints") {
    return {"", "v1", "endpoints", ""};
  }
  return {"", "v1", "configmaps", ""};
}

class AuditorEmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator_ = std::make_unique<emulator::Emulator>(emulator::EmulatorOptions{});
    ASSERT_TRUE(emulator_->Start().ok());
    auto made = seedhop::testing::MakeTempDir("seedhop-auditor-e2e-");
    ASSERT_TRUE(made.ok()) << made.error().message();
    dir_ = *made;
    kubeconfig_ = (dir_ / "kubeconfig").string();
    ASSERT_TRUE(emulator_->WriteKubeconfig(kubeconfig_).ok());
    auto config = kube::LoadKubeconfig(kubeconfig_);
    ASSERT_TRUE(config.ok()) << config.error().message();
    client_ = std::make_unique<kube::Client>(*config);
  }
  void TearDown() override {
    client_.reset();
    emulator_->Stop();
    fs::remove_all(dir_);
  }

  void CreateNamespace(const std::string& name) {
    ASSERT_TRUE(
        client_
            ->Create(kNamespaces,
                     {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}})
            .ok());
  }

  // Creates `object` in `ns`, without the server-owned fields the reference files carry.
  void Put(const std::string& ns, json object) {
    object["metadata"]["namespace"] = ns;
    for (const char* key : {"uid", "resourceVersion", "creationTimestamp"}) {
      object["metadata"].erase(key);
    }
    if (!object.contains("kind")) {
      object["kind"] = "Pod";
      object["apiVersion"] = "v1";
    }
    auto created = client_->Create(RefFor(object).In(ns), object);
    ASSERT_TRUE(created.ok()) << created.error().message();
  }

  void LoadShoot(const std::string& ns, bool with_seed_locks) {
    CreateNamespace(ns);
    Put(ns, testing::Reference("seed-deployment-kube-controller-manager.json"));
    Put(ns, testing::Reference("seed-lease-etcd-member-NOT-a-lock.json"));
    Put(ns, testing::DeploymentPod("kube-controller-manager", "5f7d9c8b46", "7xqzt"));
    if (!with_seed_locks) {
      return;
    }
    const json list = testing::Reference("seed-namespace-leaselist.json");
    for (const auto& lease : list["items"]) {
      if (lease["metadata"]["name"] != "etcd-main-0") {
        json fresh = lease;
        fresh["spec"]["renewTime"] = FormatMicro(std::chrono::system_clock::now());
        Put(ns, fresh);
      }
    }
    Put(ns, testing::Reference("legacy-configmap-lock.json"));
    Put(ns, testing::Reference("seed-configmap-gardener-resource-manager.json"));
    Put(ns, testing::Reference("seed-deployment-machine-controller-manager.json"));
    Put(ns, testing::GardenerResourceManagerDeployment());
    Put(ns, testing::DeploymentPod("machine-controller-manager", "6c8b9d7f5d", "k2p9x"));
    Put(ns, testing::DeploymentPod("gardener-resource-manager", "7c9d8f6b5", "q8wzn"));
  }

  static std::string FormatMicro(std::chrono::system_clock::time_point t) {
    const auto micros = std::chrono::time_point_cast<std::chrono::microseconds>(t);
    const std::string whole = FormatTimestamp(micros);  // ...Z
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06lld",
                  static_cast<long long>(micros.time_since_epoch().count() % 1000000));
    return whole.substr(0, whole.size() - 1) + frac + "Z";
  }

  std::unique_ptr<emulator::Emulator> emulator_;
  std::unique_ptr<kube::Client> client_;
  fs::path dir_;
  std::string kubeconfig_;
};

Timestamp Now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

TEST_F(AuditorEmulatorTest, SeveralShootsFetchedAndAudited) {
  LoadShoot("shoot--dev--aws01", true);
  LoadShoot("shoot--dev--safe", false);
  LoadShoot("shoot--prod--blocked", true);
  CreateNamespace("garden");
  Put("garden", testing::Lease("gardenlet-leader-election", "gardenlet-0_x",
                               FormatMicro(std::chrono::system_clock::now())));

  const Rules rules = DefaultRules();
  std::vector<std::string> progress;
  FetchOptions options;
  options.namespace_pattern = rules.namespace_pattern;
  options.page_size = 2;  // exercise pagination
  options.progress = [&](std::string_view line) { progress.emplace_back(line); };
  const PackedSeed seed = FetchSnapshot(*client_, options);
  ASSERT_TRUE(seed.errors.empty()) << seed.errors[0].message();
  ASSERT_EQ(seed.namespaces.size(), 3u);
  EXPECT_FALSE(progress.empty());

  const AuditReport report = AuditPacked(seed, rules, Now());
  std::map<std::string, Verdict> verdicts;
  for (const auto& ns : report.namespaces) {
    verdicts[ns.name] = ns.verdict;
  }
  EXPECT_EQ(verdicts["shoot--dev--aws01"], Verdict::kBlocked);
  EXPECT_EQ(verdicts["shoot--dev--safe"], Verdict::kSafe);
  EXPECT_EQ(verdicts["shoot--prod--blocked"], Verdict::kBlocked);
  EXPECT_EQ(ExitCode(report), kExitBlockers);
  for (const auto& ns : report.namespaces) {
    if (ns.verdict == Verdict::kBlocked) {
      EXPECT_EQ(ns.blockers.size(), 3u) << ns.name;
      EXPECT_EQ(ns.observed.size(), 4u) << ns.name;  // trimmed objects keep what counts
    }
  }

  FetchOptions one;
  one.single_namespace = "shoot--dev--safe";
  const PackedSeed single = FetchSnapshot(*client_, one);
  ASSERT_EQ(single.namespaces.size(), 1u);
  EXPECT_EQ(AuditNamespace(Unpack(single.namespaces[0]), rules, Now()).verdict, Verdict::kSafe);

  FetchOptions missing;
  missing.single_namespace = "shoot--dev--nope";
  const PackedSeed none = FetchSnapshot(*client_, missing);
  ASSERT_EQ(none.errors.size(), 1u);
  EXPECT_EQ(none.errors[0].code(), ErrorCode::kNotFound);
  EXPECT_EQ(ExitCode(AuditPacked(none, rules, Now())), kExitError);
}

// Objects of one namespace that straddle list pages are audited as if every list came in one page.
TEST_F(AuditorEmulatorTest, PageBoundariesDoNotChangeTheReport) {
  LoadShoot("shoot--dev--aws01", true);
  LoadShoot("shoot--dev--safe", false);
  LoadShoot("shoot--prod--blocked", true);
  const Rules rules = DefaultRules();
  const Timestamp now = Now();
  FetchOptions options;
  options.namespace_pattern = rules.namespace_pattern;
  options.page_size = 500;
  const json whole = ReportToJson(AuditPacked(FetchSnapshot(*client_, options), rules, now));
  ASSERT_EQ(whole["summary"]["blocked"], 2) << whole.dump(2);
  for (int64_t page_size : {1, 3, 7}) {
    options.page_size = page_size;
    EXPECT_EQ(ReportToJson(AuditPacked(FetchSnapshot(*client_, options), rules, now)), whole)
        << "page size " << page_size;
  }
}

// Runs the binary with `args`; returns its exit code and stdout.
std::pair<int, std::string> RunBinary(const std::string& args) {
  return seedhop::testing::RunShell(std::string(SEEDHOP_BINARY_DIR) + "/auditor/seedhop-auditor " +
                                    args + " 2>/dev/null");
}

TEST_F(AuditorEmulatorTest, BinaryExitCodesAndOutput) {
  LoadShoot("shoot--dev--aws01", true);
  LoadShoot("shoot--dev--safe", false);
  auto [code, out] = RunBinary("-o json --kubeconfig " + kubeconfig_);
  EXPECT_EQ(code, kExitBlockers) << out;
  const json report = json::parse(out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << out;
  EXPECT_EQ(report["summary"]["blocked"], 1);
  EXPECT_EQ(report["summary"]["safe"], 1);

  std::tie(code, out) = RunBinary("-n shoot--dev--safe --kubeconfig " + kubeconfig_);
  EXPECT_EQ(code, kExitSafe) << out;
  EXPECT_NE(out.find("shoot--dev--safe"), std::string::npos);

  std::tie(code, out) =
      RunBinary("-o markdown --namespace-pattern 'shoot--dev--.*' --kubeconfig " + kubeconfig_);
  EXPECT_EQ(code, kExitBlockers);
  EXPECT_NE(out.find("| `shoot--dev--aws01` | blocked |"), std::string::npos) << out;

  std::tie(code, out) = RunBinary("-o xml");
  EXPECT_EQ(code, kExitError);
  std::tie(code, out) = RunBinary("--kubeconfig " + (dir_ / "absent").string());
  EXPECT_EQ(code, kExitError);
  const std::string bad_rules = (dir_ / "rules.yaml").string();
  std::FILE* f = std::fopen(bad_rules.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("components: 1\n", f);
  std::fclose(f);
  std::tie(code, out) = RunBinary("--rules " + bad_rules + " --kubeconfig " + kubeconfig_);
  EXPECT_EQ(code, kExitError);
}

}  // namespace
}  // namespace seedhop::auditor
