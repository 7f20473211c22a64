// kube::WatchCache against the API-server emulator: initial sync, following changes, selectors,
// relist after 410 Gone, staleness, and a prompt Stop() in every state.
#include "common/kube/watch_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/http/server.h"
#include "common/kube/kubeconfig.h"
#include "test/emulator/emulator.h"
#include "test/support/kube_objects.h"

namespace seedhop::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

const ResourceRef kConfigMaps{"", "v1", "configmaps", ""};
using seedhop::testing::kNamespaces;

json ConfigMap(const std::string& ns, const std::string& name, json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}}},
          {"data", {{"v", "1"}}}};
}

// Polls `condition` until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

// Collects the events a cache passes on, thread-safely.
class Recorder {
 public:
  std::function<void(const WatchEvent&)> Hook() {
    return [this](const WatchEvent& event) {
      std::lock_guard lock(mutex_);
      seen_.push_back(std::string(EventTypeName(event.type)) + " " +
                      event.object["metadata"]["name"].get<std::string>());
    };
  }
  std::vector<std::string> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  bool Saw(const std::string& entry) const {
    auto all = seen();
    return std::find(all.begin(), all.end(), entry) != all.end();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> seen_;
};

class WatchCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator::EmulatorOptions options;
    options.watch_history = 8;                          // small: a watch that falls behind gets 410
    options.bookmark_interval = std::chrono::hours(1);  // bookmarks would hide the 410
    emulator_ = std::make_unique<emulator::Emulator>(options);
    ASSERT_TRUE(emulator_->Start().ok());
    client_ = std::make_unique<Client>(emulator_->rest_config());
    for (const char* ns : {"ns1", "ns2"}) {
      ASSERT_TRUE(
          client_
              ->Create(kNamespaces,
                       {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}})
              .ok());
    }
  }
  void TearDown() override {
    cache_.reset();
    client_.reset();
    emulator_->Stop();
  }

  WatchCacheOptions Options(const std::string& ns) {
    WatchCacheOptions options;
    options.resource = kConfigMaps.In(ns);
    options.watch_idle = 300ms;
    options.min_backoff = 20ms;
    options.max_backoff = 100ms;
    options.on_event = recorder_.Hook();
    return options;
  }

  void Create(const std::string& ns, const std::string& name, json labels = json::object()) {
    ASSERT_TRUE(client_->Create(kConfigMaps.In(ns), ConfigMap(ns, name, std::move(labels))).ok());
  }

  std::unique_ptr<emulator::Emulator> emulator_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<WatchCache> cache_;
  Recorder recorder_;
};

TEST_F(WatchCacheTest, SyncsThenFollowsChanges) {
  Create("ns1", "b");
  Create("ns1", "a");
  Create("ns2", "other");
  cache_ = std::make_unique<WatchCache>(client_.get(), Options("ns1"));
  EXPECT_FALSE(cache_->synced());
  EXPECT_FALSE(cache_->last_sync_age().has_value());
  cache_->Start();
  ASSERT_TRUE(cache_->WaitForSync(5s));
  EXPECT_EQ(cache_->size(), 2u);
  auto listed = cache_->List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]["metadata"]["name"], "a");  // ordered by namespace and name
  EXPECT_FALSE(cache_->Get("ns2", "other").has_value());
  EXPECT_EQ(cache_->list_count(), 1u);
  EXPECT_FALSE(cache_->resource_version().empty());
  ASSERT_TRUE(cache_->last_sync_age().has_value());
  EXPECT_LT(*cache_->last_sync_age(), 2s);
  EXPECT_TRUE(recorder_.Saw("ADDED a"));
  EXPECT_TRUE(recorder_.Saw("ADDED b"));

  Create("ns1", "c");
  ASSERT_TRUE(
      client_->Patch(kConfigMaps.In("ns1"), "a", PatchType::kMerge, {{"data", {{"v", "2"}}}}).ok());
  ASSERT_TRUE(client_->Delete(kConfigMaps.In("ns1"), "b").ok());
  ASSERT_TRUE(Eventually([&] {
    auto a = cache_->Get("ns1", "a");
    return cache_->Get("ns1", "c").has_value() && !cache_->Get("ns1", "b").has_value() && a &&
           (*a)["data"]["v"] == "2";
  }));
  EXPECT_EQ(cache_->size(), 2u);
  EXPECT_TRUE(Eventually([&] { return recorder_.Saw("DELETED b"); }));
  EXPECT_TRUE(recorder_.Saw("MODIFIED a"));
  EXPECT_TRUE(recorder_.Saw("ADDED c"));
  EXPECT_TRUE(cache_->last_error().empty()) << cache_->last_error();
}

TEST_F(WatchCacheTest, LabelSelectorAcrossNamespaces) {
  Create("ns1", "yes", {{"seedhop.io/plan", "true"}});
  Create("ns2", "also", {{"seedhop.io/plan", "true"}});
  Create("ns1", "no");
  WatchCacheOptions options = Options("");
  options.label_selector = "seedhop.io/plan=true";
  cache_ = std::make_unique<WatchCache>(client_.get(), options);
  cache_->Start();
  ASSERT_TRUE(cache_->WaitForSync(5s));
  EXPECT_EQ(cache_->size(), 2u);
  EXPECT_TRUE(cache_->Get("ns2", "also").has_value());
  EXPECT_FALSE(cache_->Get("ns1", "no").has_value());
  // An object that leaves the selection is deleted from the cache.
  ASSERT_TRUE(client_
                  ->Patch(kConfigMaps.In("ns1"), "yes", PatchType::kMerge,
                          {{"metadata", {{"labels", {{"seedhop.io/plan", nullptr}}}}}})
                  .ok());
  EXPECT_TRUE(Eventually([&] { return !cache_->Get("ns1", "yes").has_value(); }));
}

TEST_F(WatchCacheTest, RelistsAfterGone) {
  Create("ns1", "a");
  cache_ = std::make_unique<WatchCache>(client_.get(), Options("ns1"));
  cache_->Start();
  ASSERT_TRUE(cache_->WaitForSync(5s));
  std::string synced_at = cache_->resource_version();
  // Writes the cache does not see (another namespace, no bookmarks) push the emulator's
  // history past the cache's resourceVersion; the next watch (re-opened after watch_idle)
  // gets 410 Gone and the cache lists again.
  for (int i = 0; i < 20; ++i)
    Create("ns2", "filler-" + std::to_string(i));
  ASSERT_TRUE(Eventually([&] { return cache_->list_count() >= 2; })) << cache_->last_error();
  EXPECT_NE(cache_->resource_version(), synced_at);
  // The cache still follows changes after relisting.
  Create("ns1", "after");
  EXPECT_TRUE(Eventually([&] { return cache_->Get("ns1", "after").has_value(); }));
  EXPECT_EQ(cache_->size(), 2u);
  EXPECT_TRUE(cache_->synced());
}

TEST_F(WatchCacheTest, StopEndsAnIdleWatchPromptly) {
  cache_ = std::make_unique<WatchCache>(client_.get(), Options("ns1"));
  cache_->Start();
  ASSERT_TRUE(cache_->WaitForSync(5s));
  std::this_thread::sleep_for(100ms);  // the watch is open and silent
  auto started = std::chrono::steady_clock::now();
  cache_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  cache_->Stop();                 // idempotent
  EXPECT_TRUE(cache_->synced());  // contents stay readable
}

// A watch that fails with a server error is re-opened after a backoff from the same
// resourceVersion, without a relist (only 410 Gone forces one).
TEST(WatchCacheScriptedTest, ReconnectsFromTheSameVersionAfterAWatchError) {
  std::mutex mutex;
  std::vector<std::string> watch_versions;
  int lists = 0;
  http::ServerOptions server_options;
  server_options.address = "127.0.0.1";
  server_options.blocking_handlers = true;
  http::Server server(server_options, nullptr, nullptr);
  server.RoutePrefix("/", [&](const http::Request& request) {
    std::lock_guard lock(mutex);
    if (request.QueryParam("watch") != "true") {
      ++lists;
      json list = {{"kind", "ConfigMapList"},
                   {"metadata", {{"resourceVersion", "10"}}},
                   {"items", {ConfigMap("ns1", "a")}}};
      return http::Response::Json(200, list.dump());
    }
    watch_versions.push_back(request.QueryParam("resourceVersion"));
    if (watch_versions.size() == 1) {
      return http::Response::Json(503,
                                  R"({"kind":"Status","reason":"ServiceUnavailable","code":503})");
    }
    http::Response response;
    response.stream = [](http::StreamWriter& writer) {
      json b = ConfigMap("ns1", "b");
      b["metadata"]["resourceVersion"] = "11";
      writer.Write(json{{"type", "ADDED"}, {"object", b}}.dump() + "\n");
      writer.WaitAlive(200);
    };
    return response;
  });
  ASSERT_TRUE(server.Start().ok());
  RestConfig config;
  config.server = "http://127.0.0.1:" + std::to_string(server.port());
  ClientOptions client_options;
  client_options.max_attempts = 1;
  Client client(config, client_options);
  WatchCacheOptions options;
  options.resource = kConfigMaps.In("ns1");
  options.min_backoff = 50ms;
  options.watch_idle = 300ms;
  WatchCache cache(&client, options);
  cache.Start();
  ASSERT_TRUE(cache.WaitForSync(5s));
  ASSERT_TRUE(Eventually([&] { return cache.Get("ns1", "b").has_value(); }));
  EXPECT_EQ(cache.resource_version(), "11");
  cache.Stop();
  server.Shutdown();
  std::lock_guard lock(mutex);
  EXPECT_EQ(lists, 1);
  ASSERT_GE(watch_versions.size(), 2u);
  EXPECT_EQ(watch_versions[0], "10");
  EXPECT_EQ(watch_versions[1], "10");
}

// After 410 Gone the relist's differences reach on_event: what changed or vanished while the
// watch was down comes as MODIFIED/ADDED/DELETED, the unchanged object not at all.
TEST(WatchCacheScriptedTest, RelistPassesOnTheDifferences) {
  std::mutex mutex;
  int lists = 0;
  http::ServerOptions server_options;
  server_options.address = "127.0.0.1";
  server_options.blocking_handlers = true;
  http::Server server(server_options, nullptr, nullptr);
  auto versioned = [](const std::string& name, const std::string& version) {
    json object = ConfigMap("ns1", name);
    object["metadata"]["resourceVersion"] = version;
    return object;
  };
  server.RoutePrefix("/", [&](const http::Request& request) {
    std::lock_guard lock(mutex);
    if (request.QueryParam("watch") != "true") {
      ++lists;
      json list = {{"kind", "ConfigMapList"}, {"metadata", {{"resourceVersion", "10"}}}};
      list["items"] = {versioned("a", "1"), versioned("b", "2"), versioned("same", "3")};
      if (lists > 1) {
        list["metadata"]["resourceVersion"] = "20";
        list["items"] = {versioned("a", "15"), versioned("c", "16"), versioned("same", "3")};
      }
      return http::Response::Json(200, list.dump());
    }
    if (request.QueryParam("resourceVersion") == "10") {
      return http::Response::Json(
          410, R"({"kind":"Status","reason":"Expired","code":410,"message":"too old"})");
    }
    http::Response response;
    response.stream = [](http::StreamWriter& writer) { writer.WaitAlive(200); };
    return response;
  });
  ASSERT_TRUE(server.Start().ok());
  RestConfig config;
  config.server = "http://127.0.0.1:" + std::to_string(server.port());
  Client client(config);
  Recorder recorder;
  WatchCacheOptions options;
  options.resource = kConfigMaps.In("ns1");
  options.min_backoff = 20ms;
  options.watch_idle = 300ms;
  options.on_event = recorder.Hook();
  WatchCache cache(&client, options);
  cache.Start();
  ASSERT_TRUE(Eventually([&] { return cache.list_count() >= 2; })) << cache.last_error();
  cache.Stop();
  server.Shutdown();
  EXPECT_EQ(cache.resource_version(), "20");
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.Get("ns1", "b").has_value());
  EXPECT_EQ((*cache.Get("ns1", "a"))["metadata"]["resourceVersion"], "15");
  auto seen = recorder.seen();
  ASSERT_GE(seen.size(), 3u);  // the first list's three ADDEDs
  std::vector<std::string> after_relist(seen.begin() + 3, seen.end());
  std::sort(after_relist.begin(), after_relist.end());
  EXPECT_EQ(after_relist, (std::vector<std::string>{"ADDED c", "DELETED b", "MODIFIED a"}));
}

// A server that answers 410 to every watch, even right after a list, gets backoff, not a
// list loop.
TEST(WatchCacheScriptedTest, GoneRightAfterEveryListBacksOff) {
  std::atomic<int> lists{0};
  http::ServerOptions server_options;
  server_options.address = "127.0.0.1";
  server_options.blocking_handlers = true;
  http::Server server(server_options, nullptr, nullptr);
  server.RoutePrefix("/", [&](const http::Request& request) {
    if (request.QueryParam("watch") != "true") {
      ++lists;
      return http::Response::Json(200, R"({"metadata":{"resourceVersion":"10"},"items":[]})");
    }
    return http::Response::Json(
        410, R"({"kind":"Status","reason":"Expired","code":410,"message":"too old"})");
  });
  ASSERT_TRUE(server.Start().ok());
  RestConfig config;
  config.server = "http://127.0.0.1:" + std::to_string(server.port());
  Client client(config);
  WatchCacheOptions options;
  options.resource = kConfigMaps.In("ns1");
  options.min_backoff = 100ms;
  options.max_backoff = 100ms;
  WatchCache cache(&client, options);
  cache.Start();
  std::this_thread::sleep_for(1s);
  cache.Stop();
  server.Shutdown();
  EXPECT_GE(lists.load(), 2);
  // About 10 with a 100 ms backoff (jitter shortens some waits); a relist loop without backoff
  // makes hundreds in a second. The bound is loose because CI machines are shared and noisy.
  EXPECT_LE(lists.load(), 40);
  EXPECT_NE(cache.last_error().find("too old"), std::string::npos) << cache.last_error();
}

TEST(WatchCacheUnreachableTest, ReportsErrorsGrowsStaleAndStopsAtOnce) {
  RestConfig config;
  config.server = "http://127.0.0.1:1";  // nothing listens on port 1
  ClientOptions client_options;
  client_options.max_attempts = 1;
  Client client(config, client_options);
  WatchCacheOptions options;
  options.resource = kConfigMaps;
  options.min_backoff = 5s;  // Stop() must not wait for this
  WatchCache cache(&client, options);
  cache.Start();
  EXPECT_FALSE(cache.WaitForSync(300ms));
  EXPECT_FALSE(cache.synced());
  EXPECT_FALSE(cache.last_sync_age().has_value());
  EXPECT_TRUE(Eventually([&] { return !cache.last_error().empty(); }));
  EXPECT_NE(cache.last_error().find("list configmaps"), std::string::npos) << cache.last_error();
  auto started = std::chrono::steady_clock::now();
  cache.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

}  // namespace
}  // namespace seedhop::kube
