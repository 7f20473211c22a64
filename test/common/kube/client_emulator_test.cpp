// kube::Client against the project's API-server emulator over HTTPS, configured through the
// kubeconfig the emulator writes: CRUD with typed errors, optimistic concurrency, pagination,
// selectors and watches.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/kube/client.h"
#include "common/kube/json_patch.h"
#include "common/kube/kubeconfig.h"
#include "test/emulator/emulator.h"
#include "test/support/certs.h"
#include "test/support/kube_objects.h"

namespace seedhop::kube {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const ResourceRef kConfigMaps{"", "v1", "configmaps", ""};
using seedhop::testing::kNamespaces;

json ConfigMap(const std::string& ns, const std::string& name, json data = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"data", std::move(data)}};
}

std::string VersionOf(const json& object) {
  return object["metadata"]["resourceVersion"].get<std::string>();
}

// One emulator per test, reached through its kubeconfig like a real cluster.
class EmulatorClientTest : public ::testing::Test {
 protected:
  void SetUp() override { StartEmulator({}); }
  void TearDown() override {
    client_.reset();
    if (emulator_)
      emulator_->Stop();
    fs::remove_all(dir_);
  }

  void StartEmulator(emulator::EmulatorOptions options) {
    client_.reset();  // its idle keep-alive connections would hold up the server's shutdown
    if (emulator_)
      emulator_->Stop();
    emulator_ = std::make_unique<emulator::Emulator>(options);
    ASSERT_TRUE(emulator_->Start().ok());
    if (!dir_.empty())
      fs::remove_all(dir_);  // a restart's previous kubeconfig
    auto made = seedhop::testing::MakeTempDir("seedhop-kube-emu-");
    ASSERT_TRUE(made.ok()) << made.error().message();
    dir_ = *made;
    std::string path = (dir_ / "kubeconfig").string();
    ASSERT_TRUE(emulator_->WriteKubeconfig(path).ok());
    auto config = LoadKubeconfig(path);
    ASSERT_TRUE(config.ok()) << config.error().message();
    ClientOptions client_options;
    client_options.initial_backoff = std::chrono::milliseconds(5);
    client_ = std::make_unique<Client>(*config, client_options);
    ASSERT_TRUE(
        client_
            ->Create(kNamespaces,
                     {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ns1"}}}})
            .ok());
  }

  std::unique_ptr<emulator::Emulator> emulator_;
  std::unique_ptr<Client> client_;
  fs::path dir_;
};

TEST_F(EmulatorClientTest, CrudWithTypedErrors) {
  const ResourceRef cms = kConfigMaps.In("ns1");
  auto created = client_->Create(cms, ConfigMap("ns1", "a", {{"k", "1"}}));
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_FALSE(VersionOf(*created).empty());
  EXPECT_TRUE((*created)["metadata"].contains("uid"));

  auto again = client_->Create(cms, ConfigMap("ns1", "a"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(again.error().message().rfind("create configmaps ns1/a: ", 0), 0u)
      << again.error().message();

  auto got = client_->Get(cms, "a");
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_EQ((*got)["data"]["k"], "1");

  // Optimistic concurrency: an update from the current version wins, a stale one conflicts.
  json fresh = *got;
  fresh["data"]["k"] = "2";
  auto updated = client_->Update(cms, fresh);
  ASSERT_TRUE(updated.ok()) << updated.error().message();
  EXPECT_NE(VersionOf(*updated), VersionOf(*got));
  json stale = *got;
  stale["data"]["k"] = "3";
  auto conflict = client_->Update(cms, stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(conflict.error().message().rfind("update configmaps ns1/a: ", 0), 0u);

  auto merged = client_->Patch(cms, "a", PatchType::kMerge, {{"data", {{"m", "x"}}}});
  ASSERT_TRUE(merged.ok()) << merged.error().message();
  EXPECT_EQ((*merged)["data"]["m"], "x");
  EXPECT_EQ((*merged)["data"]["k"], "2");

  JsonPatch patch;
  patch.Add(JsonPointer({"data", "a/b~c"}), R"("escaped")");
  auto patched = client_->Patch(cms, "a", PatchType::kJsonPatch, json::parse(patch.text()));
  ASSERT_TRUE(patched.ok()) << patched.error().message();
  EXPECT_EQ((*patched)["data"]["a/b~c"], "escaped");

  JsonPatch failing;
  failing.Test("/data/k", R"("not-the-value")");
  auto test_failed = client_->Patch(cms, "a", PatchType::kJsonPatch, json::parse(failing.text()));
  ASSERT_FALSE(test_failed.ok());
  EXPECT_NE(test_failed.error().code(), ErrorCode::kUnavailable);

  Status stale_delete = client_->Delete(cms, "a", {VersionOf(*got), ""});
  ASSERT_FALSE(stale_delete.ok());
  EXPECT_EQ(stale_delete.error().code(), ErrorCode::kConflict);
  ASSERT_TRUE(client_->Delete(cms, "a", {VersionOf(*patched), ""}).ok());

  auto missing = client_->Get(cms, "a");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("get configmaps ns1/a: configmaps \"a\" not found"),
            std::string::npos)
      << missing.error().message();
  Status missing_delete = client_->Delete(cms, "a");
  ASSERT_FALSE(missing_delete.ok());
  EXPECT_EQ(missing_delete.error().code(), ErrorCode::kNotFound);
}

TEST_F(EmulatorClientTest, ClusterScopedAndUnknownNamespace) {
  auto ns = client_->Get(kNamespaces, "ns1");
  ASSERT_TRUE(ns.ok()) << ns.error().message();
  EXPECT_EQ((*ns)["metadata"]["name"], "ns1");
  auto orphan = client_->Create(kConfigMaps.In("nope"), ConfigMap("nope", "a"));
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.error().code(), ErrorCode::kNotFound);
}

TEST_F(EmulatorClientTest, WrongTokenIsUnauthorized) {
  RestConfig config = client_->config();
  config.token = "wrong";
  config.token_file.clear();
  Client stranger(config);
  auto result = stranger.Get(kNamespaces, "ns1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kUnauthorized);
  EXPECT_EQ(result.error().message().find("wrong"), std::string::npos);
}

TEST_F(EmulatorClientTest, PaginationOverMoreThanOnePage) {
  const ResourceRef cms = kConfigMaps.In("ns1");
  const int kCount = 1100;
  for (int i = 0; i < kCount; ++i) {
    json cm = ConfigMap("ns1", "cm-" + std::to_string(i));
    if (i % 2 == 0)
      cm["metadata"]["labels"] = {{"parity", "even"}};
    ASSERT_TRUE(client_->Create(cms, cm).ok()) << i;
  }
  ListOptions first;
  first.limit = 500;
  auto page = client_->List(cms, first);
  ASSERT_TRUE(page.ok()) << page.error().message();
  EXPECT_EQ((*page)["items"].size(), 500u);
  EXPECT_FALSE((*page)["metadata"].value("continue", "").empty());

  int pages = 0;
  std::set<std::string> names;
  Status walked = client_->ListPages(cms, first, [&](json& p) {
    ++pages;
    for (const auto& item : p["items"])
      names.insert(item["metadata"]["name"].get<std::string>());
    return true;
  });
  ASSERT_TRUE(walked.ok()) << walked.error().message();
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.size(), static_cast<size_t>(kCount));

  ListOptions even;
  even.label_selector = "parity=even";
  even.limit = 100;
  auto evens = client_->ListAll(cms, even);
  ASSERT_TRUE(evens.ok()) << evens.error().message();
  EXPECT_EQ((*evens)["items"].size(), static_cast<size_t>(kCount / 2));
  EXPECT_FALSE((*evens)["metadata"].value("resourceVersion", "").empty());

  ListOptions by_name;
  by_name.field_selector = "metadata.name=cm-7";
  auto one = client_->ListAll(cms, by_name);
  ASSERT_TRUE(one.ok()) << one.error().message();
  ASSERT_EQ((*one)["items"].size(), 1u);
  EXPECT_EQ((*one)["items"][0]["metadata"]["name"], "cm-7");
}

TEST_F(EmulatorClientTest, WatchFromAResourceVersion) {
  const ResourceRef cms = kConfigMaps.In("ns1");
  auto a = client_->Create(cms, ConfigMap("ns1", "a"));
  ASSERT_TRUE(a.ok());
  std::string from = VersionOf(*a);
  ASSERT_TRUE(client_->Create(cms, ConfigMap("ns1", "b")).ok());
  ASSERT_TRUE(client_->Patch(cms, "a", PatchType::kMerge, {{"data", {{"x", "y"}}}}).ok());
  ASSERT_TRUE(client_->Delete(cms, "b").ok());

  std::vector<std::string> seen;
  WatchOptions options;
  options.resource_version = from;
  Status status = client_->Watch(cms, options, [&](const WatchEvent& event) {
    if (event.type == EventType::kBookmark)
      return true;
    seen.push_back(std::string(EventTypeName(event.type)) + " " +
                   event.object["metadata"]["name"].get<std::string>());
    return seen.size() < 3;
  });
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED b", "MODIFIED a", "DELETED b"}));
}

TEST_F(EmulatorClientTest, WatchFromACompactedVersionIsGone) {
  emulator::EmulatorOptions options;
  options.watch_history = 5;
  StartEmulator(options);
  const ResourceRef cms = kConfigMaps.In("ns1");
  auto first = client_->Create(cms, ConfigMap("ns1", "first"));
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(client_->Create(cms, ConfigMap("ns1", "n" + std::to_string(i))).ok());
  WatchOptions watch;
  watch.resource_version = VersionOf(*first);
  int events = 0;
  Status status = client_->Watch(cms, watch, [&](const WatchEvent&) {
    ++events;
    return true;
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kGone) << status.error().message();
  EXPECT_EQ(events, 0);
}

}  // namespace
}  // namespace seedhop::kube
