#include "test/emulator/object_store.h"

#include <algorithm>
#include <ctime>
#include <random>

#include "common/encoding/base64.h"

namespace seedhop::emulator {

using nlohmann::json;

std::string NowRfc3339() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string NewUid() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  uint64_t high = random();
  uint64_t low = random();
  high = (high & ~0xF000ULL) | 0x4000ULL;            // version 4
  low = (low & ~(0xC0ULL << 56)) | (0x80ULL << 56);  // RFC 4122 variant
  char buffer[37];
  std::snprintf(buffer, sizeof buffer, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xFFFF),
                static_cast<unsigned>(high & 0xFFFF), static_cast<unsigned>(low >> 48),
                static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFULL));
  return buffer;
}

namespace {

std::string MetaString(const json& object, const char* field) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object())
    return {};
  auto it = meta->find(field);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : std::string();
}

json Labels(const json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object())
    return nullptr;
  auto labels = meta->find("labels");
  return labels == meta->end() ? json(nullptr) : *labels;
}

// The parts of an object that count for metadata.generation: everything but metadata and status.
bool SpecEqual(const json& a, const json& b) {
  for (const auto& [field, value] : a.items()) {
    if (field == "metadata" || field == "status")
      continue;
    auto other = b.find(field);
    if (other == b.end() || *other != value)
      return false;
  }
  for (const auto& [field, value] : b.items()) {
    if (field == "metadata" || field == "status")
      continue;
    if (!a.contains(field))
      return false;
  }
  return true;
}

bool HasFinalizers(const json& object) {
  const json& meta = object["metadata"];
  auto it = meta.find("finalizers");
  return it != meta.end() && it->is_array() && !it->empty();
}

// Opaque continue tokens: base64 of {"rv":N,"start":[namespace,name]} (kube-apiserver's are
// base64 JSON too, k8s.io/apiserver/pkg/storage/continue.go; clients must treat both as opaque).
std::string EncodeContinue(uint64_t rv, const std::pair<std::string, std::string>& key) {
  return encoding::Base64Encode(json{{"rv", rv}, {"start", {key.first, key.second}}}.dump());
}

bool DecodeContinue(const std::string& token, std::pair<std::string, std::string>* key) {
  auto raw = encoding::Base64Decode(token);
  if (!raw)
    return false;
  json parsed = json::parse(*raw, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("start") || !parsed["start"].is_array() ||
      parsed["start"].size() != 2 || !parsed["start"][0].is_string() ||
      !parsed["start"][1].is_string()) {
    return false;
  }
  *key = {parsed["start"][0].get<std::string>(), parsed["start"][1].get<std::string>()};
  return true;
}

}  // namespace

ObjectStore::ObjectStore(StoreOptions options) : options_(options) {}

Result<ObjectPtr> ObjectStore::Get(const std::string& key, const std::string& namespace_name,
                                   const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto table = tables_.find(key);
  if (table != tables_.end()) {
    auto it = table->second.find({namespace_name, name});
    if (it != table->second.end())
      return it->second;
  }
  return Error(ErrorCode::kNotFound, "not found");
}

Result<ListPage> ObjectStore::List(const std::string& key, const ListQuery& query) const {
  std::pair<std::string, std::string> start;
  bool has_start = !query.continue_token.empty();
  if (has_start && !DecodeContinue(query.continue_token, &start)) {
    return Error(ErrorCode::kBadRequest,
                 "continue key is not valid: incorrect encoded start resourceVersion (version "
                 "meta.k8s.io/v1)");
  }
  std::lock_guard lock(mutex_);
  ListPage page;
  page.resource_version = resource_version_;
  auto table_it = tables_.find(key);
  if (table_it == tables_.end())
    return page;
  const Table& table = table_it->second;
  auto it = has_start ? table.upper_bound(start)
                      : (query.namespace_name.empty()
                             ? table.begin()
                             : table.lower_bound({query.namespace_name, std::string()}));
  if (has_start && !query.namespace_name.empty() && start.first < query.namespace_name) {
    it = table.lower_bound({query.namespace_name, std::string()});
  }
  for (; it != table.end(); ++it) {
    if (!query.namespace_name.empty() && it->first.first != query.namespace_name)
      break;
    const ObjectPtr& object = it->second;
    if (!query.fields.Matches(object->namespace_name, object->name))
      continue;
    if (!query.labels.empty() && !query.labels.Matches(Labels(object->object)))
      continue;
    if (query.limit > 0 && page.items.size() == query.limit) {
      page.continue_token = EncodeContinue(
          resource_version_, {page.items.back()->namespace_name, page.items.back()->name});
      break;
    }
    page.items.push_back(object);
  }
  return page;
}

Result<ObjectPtr> ObjectStore::Commit(const std::string& key, json object, EventType type,
                                      ObjectPtr previous) {
  auto stored = std::make_shared<StoredObject>();
  uint64_t rv = resource_version_ + 1;
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  stored->json = object.dump();
  if (stored->json.size() > options_.max_object_bytes) {
    return Error(ErrorCode::kInternal, "etcdserver: request is too large");
  }
  resource_version_ = rv;
  stored->resource_version = rv;
  stored->namespace_name = MetaString(object, "namespace");
  stored->name = MetaString(object, "name");
  stored->object = std::move(object);
  ObjectPtr committed = stored;
  Table& table = tables_[key];
  if (type == EventType::kDeleted) {
    table.erase({committed->namespace_name, committed->name});
  } else {
    table[{committed->namespace_name, committed->name}] = committed;
  }
  history_.push_back(StoreEvent{type, key, committed, std::move(previous)});
  while (history_.size() > options_.history_limit) {
    history_floor_ = history_.front().object->resource_version;
    history_.pop_front();
  }
  changed_.notify_all();
  return committed;
}

Result<ObjectPtr> ObjectStore::Create(const std::string& key, json object) {
  std::lock_guard lock(mutex_);
  json& meta = object["metadata"];
  std::string ns = meta.value("namespace", "");
  std::string name = meta.value("name", "");
  Table& table = tables_[key];
  if (table.count({ns, name}))
    return Error(ErrorCode::kAlreadyExists, "already exists");
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = NowRfc3339();
  meta["generation"] = 1;
  meta.erase("deletionTimestamp");
  meta.erase("deletionGracePeriodSeconds");
  return Commit(key, std::move(object), EventType::kAdded, nullptr);
}

Result<ObjectPtr> ObjectStore::Update(const std::string& key, json object) {
  std::lock_guard lock(mutex_);
  json& meta = object["metadata"];
  std::string ns = meta.value("namespace", "");
  std::string name = meta.value("name", "");
  Table& table = tables_[key];
  auto it = table.find({ns, name});
  if (it == table.end())
    return Error(ErrorCode::kNotFound, "not found");
  ObjectPtr current = it->second;
  std::string wanted_rv = meta.value("resourceVersion", "");
  if (!wanted_rv.empty() && wanted_rv != std::to_string(current->resource_version)) {
    return Error(ErrorCode::kConflict,
                 "the object has been modified; please apply your changes to the latest version "
                 "and try again");
  }
  const json& old_meta = current->object["metadata"];
  for (const char* field :
       {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"}) {
    if (old_meta.contains(field)) {
      meta[field] = old_meta[field];
    } else {
      meta.erase(field);
    }
  }
  int64_t generation = old_meta.value("generation", int64_t{1});
  meta["generation"] = SpecEqual(current->object, object) ? generation : generation + 1;
  meta["resourceVersion"] = old_meta["resourceVersion"];
  if (object == current->object)
    return current;
  if (meta.contains("deletionTimestamp") && !HasFinalizers(object)) {
    return Commit(key, std::move(object), EventType::kDeleted, current);
  }
  return Commit(key, std::move(object), EventType::kModified, current);
}

Result<ObjectPtr> ObjectStore::Delete(const std::string& key, const std::string& namespace_name,
                                      const std::string& name, const std::string& precondition_uid,
                                      const std::string& precondition_resource_version) {
  std::lock_guard lock(mutex_);
  Table& table = tables_[key];
  auto it = table.find({namespace_name, name});
  if (it == table.end())
    return Error(ErrorCode::kNotFound, "not found");
  ObjectPtr current = it->second;
  // Wording: k8s.io/apiserver/pkg/storage/interfaces.go Preconditions.Check.
  std::string uid = current->object["metadata"].value("uid", "");
  if (!precondition_uid.empty() && precondition_uid != uid) {
    return Error(ErrorCode::kConflict, "Precondition failed: UID in precondition: " +
                                           precondition_uid + ", UID in object meta: " + uid);
  }
  std::string rv = std::to_string(current->resource_version);
  if (!precondition_resource_version.empty() && precondition_resource_version != rv) {
    return Error(ErrorCode::kConflict, "Precondition failed: ResourceVersion in precondition: " +
                                           precondition_resource_version +
                                           ", ResourceVersion in object meta: " + rv);
  }
  json object = current->object;
  if (HasFinalizers(object)) {
    if (object["metadata"].contains("deletionTimestamp"))
      return current;
    object["metadata"]["deletionTimestamp"] = NowRfc3339();
    object["metadata"]["deletionGracePeriodSeconds"] = 0;
    return Commit(key, std::move(object), EventType::kModified, current);
  }
  return Commit(key, std::move(object), EventType::kDeleted, current);
}

void ObjectStore::DeleteNamespaceContents(const std::string& namespace_name) {
  std::lock_guard lock(mutex_);
  for (auto& [key, table] : tables_) {
    std::vector<ObjectPtr> doomed;
    for (auto it = table.lower_bound({namespace_name, std::string()});
         it != table.end() && it->first.first == namespace_name; ++it) {
      doomed.push_back(it->second);
    }
    for (const ObjectPtr& object : doomed) {
      // Deleting namespace contents cannot grow an object, so the size check cannot fail.
      (void)Commit(key, object->object, EventType::kDeleted, object);
    }
  }
}

uint64_t ObjectStore::CurrentResourceVersion() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

Result<std::pair<std::vector<StoreEvent>, uint64_t>> ObjectStore::EventsSince(
    const std::string& key, uint64_t after) const {
  std::lock_guard lock(mutex_);
  if (after < history_floor_) {
    // Wording: k8s.io/apiserver/pkg/storage/cacher/watch_cache.go.
    return Error(ErrorCode::kGone, "too old resource version: " + std::to_string(after) + " (" +
                                       std::to_string(history_floor_) + ")");
  }
  auto first = std::upper_bound(
      history_.begin(), history_.end(), after,
      [](uint64_t rv, const StoreEvent& event) { return rv < event.object->resource_version; });
  std::vector<StoreEvent> events;
  for (auto it = first; it != history_.end(); ++it) {
    if (it->storage_key == key)
      events.push_back(*it);
  }
  return std::make_pair(std::move(events), std::max(after, resource_version_));
}

void ObjectStore::WaitForChange(uint64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return closed_ || resource_version_ > after; });
}

void ObjectStore::Close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

bool ObjectStore::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

}  // namespace seedhop::emulator
