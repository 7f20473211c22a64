// Integration: two API-server emulators, "seed A + garden" and "seed B". The source exports seed
// A's shoot namespace into the garden's ShootState, the target imports it into seed B; a second
// import changes nothing. Also at 5x the object size limit, which the emulator enforces as etcd
// does.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "common/kube/client.h"
#include "common/obs/log.h"
#include "common/obs/metrics.h"
#include "migrator/shootstate/codec.h"
#include "migrator/shootstate/export.h"
#include "migrator/shootstate/import.h"
#include "test/emulator/emulator.h"
#include "test/support/kube_objects.h"
#include "test/support/process.h"

namespace seedhop::migrator::shootstate {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kSeedNs[] = "shoot--p--s";
constexpr char kGardenNs[] = "garden-p";
const ShootRef kShoot{"s", kGardenNs};

using seedhop::testing::kCrds;
using seedhop::testing::kNamespaces;
const kube::ResourceRef kInfras{"extensions.gardener.cloud", "v1alpha1", "infrastructures",
                                kSeedNs};

kube::ResourceRef Secrets(const std::string& ns) {
  return {"", "v1", "secrets", ns};
}
kube::ResourceRef ConfigMaps(const std::string& ns) {
  return {"", "v1", "configmaps", ns};
}

json Secret(const std::string& name, const std::string& value, bool persist) {
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", name}}},
                 {"type", "Opaque"},
                 {"data", {{"value", Base64Encode(value)}}}};
  if (persist)
    secret["metadata"]["labels"] = {{"persist", "true"}, {"name", name}};
  return secret;
}

std::string RandomText(size_t n, uint32_t seed) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::mt19937 rng(seed);
  std::string out(n, 'x');
  for (auto& c : out)
    c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return out;
}

class StateCopy : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(a_.Start().ok());
    ASSERT_TRUE(b_.Start().ok());
    seed_a_ = Connect(a_);
    seed_b_ = Connect(b_);
    garden_ = Connect(a_);
    Must(garden_->Create(kCrds, seedhop::testing::PreservingCrd("core.gardener.cloud", "v1beta1",
                                                                "ShootState", "shootstates")));
    for (kube::Client* seed : {seed_a_.get(), seed_b_.get()}) {
      Must(seed->Create(kCrds,
                        seedhop::testing::PreservingCrd("extensions.gardener.cloud", "v1alpha1",
                                                        "Infrastructure", "infrastructures")));
    }
    Must(garden_->Create(kNamespaces, seedhop::testing::NamespaceObject(kGardenNs)));
    Must(seed_a_->Create(kNamespaces, seedhop::testing::NamespaceObject(kSeedNs)));
  }

  void TearDown() override {
    a_.Stop();
    b_.Stop();
  }

  static std::unique_ptr<kube::Client> Connect(emulator::Emulator& emulator) {
    kube::ClientOptions options;
    options.max_attempts = 1;
    return std::make_unique<kube::Client>(emulator.rest_config(), options);
  }

  static void Must(const Result<json>& result) {
    ASSERT_TRUE(result.ok()) << result.error().message();
  }

  // Seed A: persisted and unpersisted secrets, an Infrastructure with state and a referenced
  // ConfigMap.
  void PopulateSeedA() {
    Must(seed_a_->Create(Secrets(kSeedNs), Secret("ca-etcd", "ca-key-material", true)));
    Must(seed_a_->Create(Secrets(kSeedNs), Secret("kube-apiserver", "tls-key-material", true)));
    Must(seed_a_->Create(Secrets(kSeedNs), Secret("temporary", "not-for-copy", false)));
    Must(seed_a_->Create(ConfigMaps(kSeedNs), {{"apiVersion", "v1"},
                                               {"kind", "ConfigMap"},
                                               {"metadata", {{"name", "s-tfstate"}}},
                                               {"data", {{"state", "{\"vpc\":\"vpc-1\"}"}}}}));
    Must(seed_a_->Create(kInfras, {{"apiVersion", "extensions.gardener.cloud/v1alpha1"},
                                   {"kind", "Infrastructure"},
                                   {"metadata", {{"name", "s"}}},
                                   {"spec", {{"type", "aws"}}}}));
    Must(seed_a_->Patch(
        kInfras, "s", kube::PatchType::kMerge,
        {{"status",
          {{"state", {{"vpcID", "vpc-1"}}},
           {"resources",
            {{{"name", "terraform-state"},
              {"resourceRef",
               {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "s-tfstate"}}}}}}}}},
        "status"));
  }

  ExportOptions Export() const {
    ExportOptions options;
    options.seed_namespace = kSeedNs;
    options.shoot = kShoot;
    return options;
  }

  ImportOptions Import() const {
    ImportOptions options;
    options.target_namespace = kSeedNs;
    options.shoot = kShoot;
    options.wait_timeout = 5s;
    options.poll_interval = 50ms;
    return options;
  }

  emulator::Emulator a_{emulator::EmulatorOptions{}};
  emulator::Emulator b_{emulator::EmulatorOptions{}};
  std::unique_ptr<kube::Client> seed_a_, seed_b_, garden_;
};

TEST_F(StateCopy, ExportImportThenSecondImportChangesNothing) {
  PopulateSeedA();
  // gardenlet has already created the extension object on the target, without status.
  Must(seed_b_->Create(kNamespaces, seedhop::testing::NamespaceObject(kSeedNs)));
  Must(seed_b_->Create(kInfras, {{"apiVersion", "extensions.gardener.cloud/v1alpha1"},
                                 {"kind", "Infrastructure"},
                                 {"metadata", {{"name", "s"}}},
                                 {"spec", {{"type", "aws"}}}}));

  auto exported = ExportShootState(*seed_a_, *garden_, Export());
  ASSERT_TRUE(exported.ok()) << exported.error().message();
  EXPECT_EQ(exported->gardener_entries, 2u);
  EXPECT_EQ(exported->extensions, 1u);
  EXPECT_EQ(exported->resources, 1u);
  EXPECT_EQ(exported->parts, 0u);

  auto stored = garden_->Get(ShootStateResource(kGardenNs), "s");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)["spec"]["gardener"][0]["name"], "ca-etcd");
  EXPECT_EQ((*stored)["spec"]["gardener"][0]["type"], "secret");
  EXPECT_FALSE((*stored)["spec"]["resources"][0]["data"]["metadata"].contains("uid"));

  obs::Metrics metrics;
  ImportOptions with_metrics = Import();
  with_metrics.metrics = &metrics;
  auto first = ImportShootState(*garden_, *seed_b_, with_metrics);
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(first->Count(Outcome::kCreated), 3u) << first->ToJson().dump();  // 2 secrets + cm
  EXPECT_EQ(first->Count(Outcome::kUpdated), 1u) << first->ToJson().dump();  // infra status
  EXPECT_EQ(first->Count(Outcome::kFailed), 0u);
  EXPECT_GT(first->bytes_copied, 0u);

  auto copied = seed_b_->Get(Secrets(kSeedNs), "ca-etcd");
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ((*copied)["data"]["value"], Base64Encode("ca-key-material"));
  EXPECT_EQ((*copied)["metadata"]["labels"]["persist"], "true");
  EXPECT_FALSE(seed_b_->Get(Secrets(kSeedNs), "temporary").ok());
  auto infra = seed_b_->Get(kInfras, "s");
  ASSERT_TRUE(infra.ok());
  EXPECT_EQ((*infra)["status"]["state"]["vpcID"], "vpc-1");
  EXPECT_EQ((*infra)["spec"]["type"], "aws");

  auto before = seed_b_->List(Secrets(kSeedNs));
  ASSERT_TRUE(before.ok());
  auto second = ImportShootState(*garden_, *seed_b_, with_metrics);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(second->Count(Outcome::kUnchanged), second->objects.size()) << second->ToJson().dump();
  EXPECT_EQ(second->bytes_copied, 0u);
  auto after = seed_b_->List(Secrets(kSeedNs));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)["metadata"]["resourceVersion"], (*before)["metadata"]["resourceVersion"]);

  const std::string exposition = metrics.Serialize();
  EXPECT_NE(exposition.find("seedhop_migrator_shootstate_objects_total{outcome=\"created\"} 3"),
            std::string::npos)
      << exposition;
  EXPECT_NE(exposition.find("seedhop_migrator_shootstate_bytes_copied_total " +
                            std::to_string(first->bytes_copied)),
            std::string::npos)
      << exposition;
  EXPECT_EQ(exposition.find("ca-key-material"), std::string::npos);
}

TEST_F(StateCopy, ConflictPolicyKeepReportsAndOverwriteReplaces) {
  PopulateSeedA();
  Must(seed_b_->Create(kNamespaces, seedhop::testing::NamespaceObject(kSeedNs)));
  Must(seed_b_->Create(Secrets(kSeedNs), Secret("ca-etcd", "a-different-key", true)));
  ASSERT_TRUE(ExportShootState(*seed_a_, *garden_, Export()).ok());

  auto kept = ImportShootState(*garden_, *seed_b_, Import());
  ASSERT_TRUE(kept.ok()) << kept.error().message();
  EXPECT_EQ(kept->Count(Outcome::kConflict), 1u) << kept->ToJson().dump();
  EXPECT_EQ((*seed_b_->Get(Secrets(kSeedNs), "ca-etcd"))["data"]["value"],
            Base64Encode("a-different-key"));

  ImportOptions overwrite = Import();
  overwrite.policy = ConflictPolicy::kOverwrite;
  auto replaced = ImportShootState(*garden_, *seed_b_, overwrite);
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->Count(Outcome::kUpdated), 1u) << replaced->ToJson().dump();
  EXPECT_EQ(replaced->Count(Outcome::kConflict), 0u);
  EXPECT_EQ((*seed_b_->Get(Secrets(kSeedNs), "ca-etcd"))["data"]["value"],
            Base64Encode("ca-key-material"));
}

TEST_F(StateCopy, FiveTimesTheObjectLimitIsSplitAndReassembled) {
  // Incompressible data: compression alone cannot make it fit.
  const size_t total = 5 * kDefaultMaxObjectBytes;
  const size_t per_secret = 256 * 1024;
  size_t count = 0;
  for (size_t bytes = 0; bytes < total; bytes += per_secret, ++count) {
    Must(seed_a_->Create(Secrets(kSeedNs), Secret("big-" + std::to_string(count),
                                                  RandomText(per_secret, count), true)));
  }
  // One object over the limit is what the emulator refuses, as etcd does.
  json whole = Secret("too-big", RandomText(total, 99), true);
  auto refused = garden_->Create(Secrets(kGardenNs), whole);
  ASSERT_FALSE(refused.ok());

  auto exported = ExportShootState(*seed_a_, *garden_, Export());
  ASSERT_TRUE(exported.ok()) << exported.error().message();
  EXPECT_GE(exported->parts, 5u);
  EXPECT_GT(exported->spec_bytes, total);

  auto imported = ImportShootState(*garden_, *seed_b_, Import());
  ASSERT_TRUE(imported.ok()) << imported.error().message();
  // The secrets and the namespace, which seed B did not have.
  EXPECT_EQ(imported->Count(Outcome::kCreated), count + 1) << imported->ToJson()["counts"].dump();
  EXPECT_EQ(imported->objects.front().kind, "Namespace");
  EXPECT_EQ(imported->objects.front().outcome, Outcome::kCreated);
  EXPECT_GT(imported->bytes_copied, total);
  for (size_t i = 0; i < count; i += 7) {
    auto secret = seed_b_->Get(Secrets(kSeedNs), "big-" + std::to_string(i));
    ASSERT_TRUE(secret.ok()) << i;
    EXPECT_EQ((*secret)["data"]["value"], Base64Encode(RandomText(per_secret, i))) << i;
  }

  // A smaller export afterwards leaves no stale parts behind, and still imports.
  for (size_t i = 1; i < count; ++i)
    ASSERT_TRUE(seed_a_->Delete(Secrets(kSeedNs), "big-" + std::to_string(i)).ok());
  exported = ExportShootState(*seed_a_, *garden_, Export());
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(exported->parts, 0u);
  kube::ListOptions parts;
  parts.label_selector = std::string(kPartOfLabel) + "=s";
  EXPECT_TRUE((*garden_->List(ConfigMaps(kGardenNs), parts))["items"].empty());
  auto again = ImportShootState(*garden_, *seed_b_, Import());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Count(Outcome::kUnchanged), again->objects.size());
}

TEST_F(StateCopy, CorruptPartFailsTheImport) {
  for (size_t i = 0; i < 8; ++i) {
    Must(seed_a_->Create(Secrets(kSeedNs),
                         Secret("big-" + std::to_string(i), RandomText(512 * 1024, i), true)));
  }
  auto exported = ExportShootState(*seed_a_, *garden_, Export());
  ASSERT_TRUE(exported.ok()) << exported.error().message();
  ASSERT_GE(exported->parts, 2u);
  auto part = garden_->Get(ConfigMaps(kGardenNs), PartName("s", 1));
  ASSERT_TRUE(part.ok());
  std::string bytes = *Base64Decode((*part)["binaryData"]["part"].get<std::string>());
  bytes[10] ^= 0x20;
  (*part)["binaryData"]["part"] = Base64Encode(bytes);
  Must(garden_->Update(ConfigMaps(kGardenNs), *part));

  auto imported = ImportShootState(*garden_, *seed_b_, Import());
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.error().message().find("part 2 of"), std::string::npos)
      << imported.error().message();
  EXPECT_NE(imported.error().message().find("sha256 mismatch"), std::string::npos);
}

TEST_F(StateCopy, MissingShootStateTimesOut) {
  ImportOptions options = Import();
  options.wait_timeout = 300ms;
  auto imported = ImportShootState(*garden_, *seed_b_, options);
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(imported.error().message().find("shootstate garden-p/s"), std::string::npos);
}

TEST_F(StateCopy, FailedSecretNeverShowsItsValue) {
  // A Secret the target cannot store (over etcd's limit): its import fails.
  const std::string value = "TOPSECRET-" + RandomText(2 * 1024 * 1024, 7);
  // No seed could hold it either, so the ShootState is written by hand, as an exporter would.
  json state = {{"apiVersion", "core.gardener.cloud/v1beta1"},
                {"kind", "ShootState"},
                {"metadata", {{"name", "s"}, {"namespace", kGardenNs}}},
                {"spec",
                 {{"gardener",
                   {{{"name", "huge"},
                     {"type", "secret"},
                     {"labels", {{"persist", "true"}}},
                     {"data", {{"data", {{"value", Base64Encode(value)}}}}}}}}}}};
  auto packed = Pack(state, kDefaultMaxObjectBytes);
  ASSERT_TRUE(packed.ok());
  for (const auto& part : packed->parts)
    Must(garden_->Create(ConfigMaps(kGardenNs), part));
  Must(garden_->Create(ShootStateResource(kGardenNs), packed->shoot_state));

  FILE* log_file = std::tmpfile();
  ASSERT_NE(log_file, nullptr);
  obs::Logger logger("shootstate", obs::LogLevel::kDebug, log_file);
  ImportOptions options = Import();
  options.logger = &logger;
  auto imported = ImportShootState(*garden_, *seed_b_, options);
  ASSERT_TRUE(imported.ok()) << imported.error().message();
  ASSERT_EQ(imported->Count(Outcome::kFailed), 1u) << imported->ToJson().dump();

  const std::string logs = seedhop::testing::WrittenSoFar(log_file);
  std::fclose(log_file);

  const std::string report = imported->ToJson().dump();
  const std::string encoded_prefix = Base64Encode(value).substr(0, 40);
  for (const std::string& text : {report, logs}) {
    EXPECT_EQ(text.find("TOPSECRET"), std::string::npos);
    EXPECT_EQ(text.find(value.substr(10, 40)), std::string::npos);
    EXPECT_EQ(text.find(encoded_prefix), std::string::npos);
  }
  EXPECT_NE(logs.find("\"outcome\":\"failed\""), std::string::npos) << logs;
  EXPECT_NE(report.find("huge"), std::string::npos);
}

}  // namespace
}  // namespace seedhop::migrator::shootstate
