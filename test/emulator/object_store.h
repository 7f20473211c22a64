// The emulator's "etcd": objects of every resource, one global resourceVersion counter, and a
// bounded history of changes that watches replay. Knows nothing about HTTP.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/kube/client.h"
#include "common/result.h"
#include "test/emulator/selectors.h"

namespace seedhop::emulator {

// One stored version of an object. Immutable once stored, so lists, watches and responses share
// it without copying.
struct StoredObject {
  nlohmann::json object;
  std::string json;  // object.dump(), serialised once at write time
  uint64_t resource_version = 0;
  std::string namespace_name;
  std::string name;
};
using ObjectPtr = std::shared_ptr<const StoredObject>;

// The watch event types are the client's: the wire names are the same on both ends. The store
// itself produces only added, modified and deleted; bookmarks are the watch handler's.
using kube::EventType;
using kube::EventTypeName;

struct StoreEvent {
  EventType type;
  std::string storage_key;
  ObjectPtr object;    // the new state; for kDeleted the last state, at the deletion's RV
  ObjectPtr previous;  // the state before; null for kAdded
};

struct ListQuery {
  std::string namespace_name;  // "" lists every namespace
  LabelSelector labels;
  FieldSelector fields;
  size_t limit = 0;  // 0: no limit
  std::string continue_token;
};

struct ListPage {
  std::vector<ObjectPtr> items;
  uint64_t resource_version = 0;
  std::string continue_token;  // "" on the last page
};

struct StoreOptions {
  // Changes kept for watches; a watch from an older resourceVersion gets 410 Expired.
  size_t history_limit = 10000;
  // etcd's default --max-request-bytes, 1.5 MiB (etcd server/embed/config.go
  // DefaultMaxRequestBytes); larger objects fail like etcd: "etcdserver: request is too large".
  size_t max_object_bytes = 1572864;
};

// Thread-safe.
class ObjectStore {
 public:
  explicit ObjectStore(StoreOptions options = {});

  // kNotFound when absent.
  Result<ObjectPtr> Get(const std::string& key, const std::string& namespace_name,
                        const std::string& name) const;
  // Objects ordered by (namespace, name). kBadRequest for a malformed continue token.
  Result<ListPage> List(const std::string& key, const ListQuery& query) const;

  // Stores a new object. REQUIRES: metadata.name is set. Sets uid, creationTimestamp,
  // resourceVersion and generation 1. kAlreadyExists, kInternal ("etcdserver: request is too
  // large").
  Result<ObjectPtr> Create(const std::string& key, nlohmann::json object);
  // Replaces the object named by `object`'s metadata. A non-empty metadata.resourceVersion must
  // equal the stored one (kConflict otherwise). Keeps uid and creationTimestamp, bumps generation
  // when anything but metadata and status changed. An update that changes nothing writes nothing
  // and returns the stored object. Removing the last finalizer of an object being deleted deletes
  // it. kNotFound, kConflict, kInternal.
  Result<ObjectPtr> Update(const std::string& key, nlohmann::json object);
  // Deletes the object, or only marks it (deletionTimestamp) while it has finalizers. Empty
  // preconditions are not checked; a mismatch is kConflict "Precondition failed: ...".
  Result<ObjectPtr> Delete(const std::string& key, const std::string& namespace_name,
                           const std::string& name, const std::string& precondition_uid = "",
                           const std::string& precondition_resource_version = "");
  // Deletes every object of every namespaced resource in `namespace_name` (namespace deletion).
  void DeleteNamespaceContents(const std::string& namespace_name);

  uint64_t CurrentResourceVersion() const;
  // The changes of `key` after resourceVersion `after`, oldest first, and the RV they cover up to.
  // kGone ("too old resource version: A (B)") when the history no longer reaches back to `after`.
  Result<std::pair<std::vector<StoreEvent>, uint64_t>> EventsSince(const std::string& key,
                                                                   uint64_t after) const;
  // Blocks until the resourceVersion passes `after`, `timeout` expires or Close() is called.
  void WaitForChange(uint64_t after, std::chrono::milliseconds timeout) const;
  // Wakes every waiter for good (shutdown).
  void Close();
  bool closed() const;

 private:
  using Table = std::map<std::pair<std::string, std::string>, ObjectPtr>;

  Result<ObjectPtr> Commit(const std::string& key, nlohmann::json object, EventType type,
                           ObjectPtr previous);  // REQUIRES: mutex_ held
  void RemoveLocked(const std::string& key, const ObjectPtr& current);

  const StoreOptions options_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, Table> tables_;
  uint64_t resource_version_ = 0;
  std::deque<StoreEvent> history_;
  uint64_t history_floor_ = 0;  // every change after this RV is in history_
  bool closed_ = false;
};

// RFC 3339 UTC with second precision, as metav1.Time serialises: "2026-11-23T20:19:26Z".
std::string NowRfc3339();
// A random (version 4) UUID.
std::string NewUid();

}  // namespace seedhop::emulator
