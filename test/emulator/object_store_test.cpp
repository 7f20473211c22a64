#include "test/emulator/object_store.h"

#include <gtest/gtest.h>

#include <set>

namespace seedhop::emulator {
namespace {

using nlohmann::json;

const char kKey[] = "/configmaps";

json ConfigMap(const std::string& ns, const std::string& name, json data = json::object(),
               json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"labels", labels}}},
          {"data", data}};
}

uint64_t Rv(const ObjectPtr& object) {
  return std::stoull(object->object["metadata"]["resourceVersion"].get<std::string>());
}

TEST(ObjectStoreTest, CreateSetsMetadataAndGlobalResourceVersion) {
  ObjectStore store;
  auto a = store.Create(kKey, ConfigMap("ns", "a"));
  auto b = store.Create("apps/statefulsets", ConfigMap("ns", "b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Rv(*a), 1u);
  EXPECT_EQ(Rv(*b), 2u);  // one counter across resources, like etcd's revision
  EXPECT_EQ((*a)->resource_version, 1u);
  const json& meta = (*a)->object["metadata"];
  EXPECT_EQ(meta["uid"].get<std::string>().size(), 36u);
  EXPECT_NE(meta["uid"], (*b)->object["metadata"]["uid"]);
  EXPECT_EQ(meta["generation"], 1);
  EXPECT_EQ(meta["creationTimestamp"].get<std::string>().size(), 20u);
  EXPECT_EQ((*a)->json, (*a)->object.dump());
  EXPECT_EQ(store.CurrentResourceVersion(), 2u);
  auto again = store.Create(kKey, ConfigMap("ns", "a"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store.CurrentResourceVersion(), 2u);
}

TEST(ObjectStoreTest, UpdateChecksResourceVersionAndCountsGeneration) {
  ObjectStore store;
  auto created = store.Create(kKey, ConfigMap("ns", "a", {{"k", "1"}}));
  ASSERT_TRUE(created.ok());
  json update = (*created)->object;
  update["data"]["k"] = "2";
  auto updated = store.Update(kKey, update);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ((*updated)->object["metadata"]["generation"], 2);
  EXPECT_EQ((*updated)->object["metadata"]["uid"], (*created)->object["metadata"]["uid"]);

  // `update` still carries the old resourceVersion: stale.
  update["data"]["k"] = "3";
  auto stale = store.Update(kKey, update);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code(), ErrorCode::kConflict);
  EXPECT_NE(stale.error().message().find("the object has been modified"), std::string::npos);

  // Metadata-only and status-only changes keep the generation.
  json labelled = (*updated)->object;
  labelled["metadata"]["labels"]["x"] = "y";
  labelled["status"] = {{"phase", "Ready"}};
  auto relabelled = store.Update(kKey, labelled);
  ASSERT_TRUE(relabelled.ok());
  EXPECT_EQ((*relabelled)->object["metadata"]["generation"], 2);
  EXPECT_GT(Rv(*relabelled), Rv(*updated));

  // No resourceVersion: unconditional; uid and creationTimestamp cannot be changed.
  json unconditional = (*relabelled)->object;
  unconditional["metadata"].erase("resourceVersion");
  unconditional["metadata"]["uid"] = "forged";
  unconditional["data"]["k"] = "4";
  auto forced = store.Update(kKey, unconditional);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ((*forced)->object["metadata"]["uid"], (*created)->object["metadata"]["uid"]);
  EXPECT_EQ((*forced)->object["metadata"]["generation"], 3);

  auto missing = store.Update(kKey, ConfigMap("ns", "nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(ObjectStoreTest, NoOpUpdateWritesNothing) {
  ObjectStore store;
  auto created = store.Create(kKey, ConfigMap("ns", "a", {{"k", "1"}}));
  ASSERT_TRUE(created.ok());
  auto same = store.Update(kKey, (*created)->object);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->get(), created->get());
  EXPECT_EQ(store.CurrentResourceVersion(), 1u);
  auto events = store.EventsSince(kKey, 1);
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->first.empty());
}

TEST(ObjectStoreTest, DeleteHonoursPreconditionsAndFinalizers) {
  ObjectStore store;
  json object = ConfigMap("ns", "a");
  object["metadata"]["finalizers"] = {"seedhop.io/test"};
  auto created = store.Create(kKey, object);
  ASSERT_TRUE(created.ok());
  auto wrong_uid = store.Delete(kKey, "ns", "a", "other-uid");
  ASSERT_FALSE(wrong_uid.ok());
  EXPECT_EQ(wrong_uid.error().code(), ErrorCode::kConflict);
  EXPECT_NE(wrong_uid.error().message().find("Precondition failed: UID in precondition"),
            std::string::npos);
  auto wrong_rv = store.Delete(kKey, "ns", "a", "", "999");
  ASSERT_FALSE(wrong_rv.ok());
  EXPECT_NE(wrong_rv.error().message().find("ResourceVersion in precondition: 999"),
            std::string::npos);

  auto marked = store.Delete(kKey, "ns", "a");
  ASSERT_TRUE(marked.ok());
  EXPECT_TRUE((*marked)->object["metadata"].contains("deletionTimestamp"));
  EXPECT_TRUE(store.Get(kKey, "ns", "a").ok());

  json release = (*marked)->object;
  release["metadata"]["finalizers"] = json::array();
  auto gone = store.Update(kKey, release);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(store.Get(kKey, "ns", "a").ok());
  auto events = store.EventsSince(kKey, 0);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->first.size(), 3u);
  EXPECT_EQ(events->first[2].type, EventType::kDeleted);

  auto absent = store.Delete(kKey, "ns", "a");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().code(), ErrorCode::kNotFound);
}

TEST(ObjectStoreTest, ListFiltersByNamespaceAndSelectors) {
  ObjectStore store;
  for (const char* ns : {"a", "b", "c"}) {
    for (const char* name : {"x", "y"}) {
      ASSERT_TRUE(store.Create(kKey, ConfigMap(ns, name, {}, {{"name", name}})).ok());
    }
  }
  ListQuery query;
  query.namespace_name = "b";
  auto page = store.List(kKey, query);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0]->namespace_name, "b");
  EXPECT_EQ(page->resource_version, 6u);

  ListQuery labelled;
  labelled.labels = LabelSelector::Parse("name=y").value();
  EXPECT_EQ(store.List(kKey, labelled)->items.size(), 3u);
  ListQuery fielded;
  fielded.fields = FieldSelector::Parse("metadata.namespace=c,metadata.name=x").value();
  auto one = store.List(kKey, fielded);
  ASSERT_EQ(one->items.size(), 1u);
  EXPECT_EQ(one->items[0]->name, "x");
  EXPECT_TRUE(store.List("/nothing", {})->items.empty());
}

TEST(ObjectStoreTest, PaginationVisitsEveryObjectOnce) {
  ObjectStore store;
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(store
                    .Create(kKey, ConfigMap(i % 2 ? "odd" : "even", "cm-" + std::to_string(i), {},
                                            {{"i", std::to_string(i % 3)}}))
                    .ok());
  }
  for (const std::string selector : {"", "i=0"}) {
    ListQuery query;
    query.limit = 4;
    query.labels = LabelSelector::Parse(selector).value();
    std::set<std::string> seen;
    int pages = 0;
    do {
      auto page = store.List(kKey, query);
      ASSERT_TRUE(page.ok());
      ASSERT_LE(page->items.size(), 4u);
      for (const auto& item : page->items) {
        EXPECT_TRUE(seen.insert(item->namespace_name + "/" + item->name).second);
      }
      query.continue_token = page->continue_token;
      ++pages;
    } while (!query.continue_token.empty());
    EXPECT_EQ(seen.size(), selector.empty() ? 25u : 9u) << selector;
    EXPECT_GE(pages, selector.empty() ? 7 : 3);
  }
  ListQuery in_namespace;
  in_namespace.namespace_name = "odd";
  in_namespace.limit = 5;
  auto first = store.List(kKey, in_namespace);
  ASSERT_EQ(first->items.size(), 5u);
  in_namespace.continue_token = first->continue_token;
  auto second = store.List(kKey, in_namespace);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->items.size() + second->items.size() + (second->continue_token.empty() ? 0 : 2),
            12u);
  for (const auto& item : second->items)
    EXPECT_EQ(item->namespace_name, "odd");
}

TEST(ObjectStoreTest, RejectsMalformedContinueTokens) {
  ObjectStore store;
  for (const char* token : {"!!!", "bm90LWpzb24=", "eyJydiI6MX0="}) {
    ListQuery query;
    query.continue_token = token;
    auto page = store.List(kKey, query);
    ASSERT_FALSE(page.ok()) << token;
    EXPECT_EQ(page.error().code(), ErrorCode::kBadRequest);
  }
}

TEST(ObjectStoreTest, EventsSinceReplaysAndExpires) {
  ObjectStore store(StoreOptions{.history_limit = 3});
  auto a = store.Create(kKey, ConfigMap("ns", "a"));
  ASSERT_TRUE(store.Create("/secrets", ConfigMap("ns", "s")).ok());
  json changed = (*a)->object;
  changed["data"]["k"] = "v";
  ASSERT_TRUE(store.Update(kKey, changed).ok());
  auto events = store.EventsSince(kKey, 0);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->first.size(), 2u);
  EXPECT_EQ(events->first[0].type, EventType::kAdded);
  EXPECT_EQ(events->first[1].type, EventType::kModified);
  EXPECT_EQ(events->first[1].previous->resource_version, 1u);
  EXPECT_EQ(events->second, 3u);

  ASSERT_TRUE(store.Delete(kKey, "ns", "a").ok());  // pushes event 1 out of the window
  auto expired = store.EventsSince(kKey, 0);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code(), ErrorCode::kGone);
  EXPECT_EQ(expired.error().message(), "too old resource version: 0 (1)");
  auto recent = store.EventsSince(kKey, 1);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->first.size(), 2u);
  EXPECT_EQ(recent->first[1].type, EventType::kDeleted);
  EXPECT_EQ(recent->first[1].object->resource_version, 4u);
}

TEST(ObjectStoreTest, WaitForChangeWakesOnWriteAndClose) {
  ObjectStore store;
  auto start = std::chrono::steady_clock::now();
  store.WaitForChange(0, std::chrono::milliseconds(50));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
  ASSERT_TRUE(store.Create(kKey, ConfigMap("ns", "a")).ok());
  start = std::chrono::steady_clock::now();
  store.WaitForChange(0, std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  store.Close();
  EXPECT_TRUE(store.closed());
  start = std::chrono::steady_clock::now();
  store.WaitForChange(1, std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(ObjectStoreTest, RejectsObjectsOverTheEtcdLimit) {
  ObjectStore store(StoreOptions{.max_object_bytes = 1024});
  auto big = store.Create(kKey, ConfigMap("ns", "big", {{"k", std::string(2000, 'x')}}));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), ErrorCode::kInternal);
  EXPECT_EQ(big.error().message(), "etcdserver: request is too large");
  EXPECT_FALSE(store.Get(kKey, "ns", "big").ok());
  EXPECT_EQ(store.CurrentResourceVersion(), 0u);
}

TEST(ObjectStoreTest, DeleteNamespaceContentsSpansResources) {
  ObjectStore store;
  ASSERT_TRUE(store.Create(kKey, ConfigMap("doomed", "a")).ok());
  ASSERT_TRUE(store.Create("/secrets", ConfigMap("doomed", "b")).ok());
  ASSERT_TRUE(store.Create(kKey, ConfigMap("kept", "c")).ok());
  store.DeleteNamespaceContents("doomed");
  EXPECT_FALSE(store.Get(kKey, "doomed", "a").ok());
  EXPECT_FALSE(store.Get("/secrets", "doomed", "b").ok());
  EXPECT_TRUE(store.Get(kKey, "kept", "c").ok());
}

}  // namespace
}  // namespace seedhop::emulator
