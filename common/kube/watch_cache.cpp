#include "common/kube/watch_cache.h"

#include <algorithm>
#include <random>

#include "common/obs/log.h"

namespace seedhop::kube {

namespace {

using nlohmann::json;

std::string MetadataField(const json& object, const char* field) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object())
    return {};
  auto value = metadata->find(field);
  return value != metadata->end() && value->is_string() ? value->get<std::string>() : std::string();
}

}  // namespace

WatchCache::WatchCache(Client* client, WatchCacheOptions options)
    : client_(client), options_(std::move(options)) {}

WatchCache::~WatchCache() {
  Stop();
}

void WatchCache::Start() {
  thread_ = std::thread([this] { Run(); });
}

void WatchCache::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

bool WatchCache::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [this] { return synced_; });
  return synced_;
}

bool WatchCache::synced() const {
  std::lock_guard lock(mutex_);
  return synced_;
}

std::optional<nlohmann::json> WatchCache::Get(std::string_view ns, std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = objects_.find(Key(ns, name));
  if (it == objects_.end())
    return std::nullopt;
  return it->second;
}

std::vector<nlohmann::json> WatchCache::List() const {
  std::lock_guard lock(mutex_);
  std::vector<json> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_)
    out.push_back(object);
  return out;
}

size_t WatchCache::size() const {
  std::lock_guard lock(mutex_);
  return objects_.size();
}

std::optional<std::chrono::steady_clock::duration> WatchCache::last_sync_age() const {
  std::lock_guard lock(mutex_);
  if (!synced_)
    return std::nullopt;
  return std::chrono::steady_clock::now() - current_at_;
}

std::string WatchCache::resource_version() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

uint64_t WatchCache::list_count() const {
  std::lock_guard lock(mutex_);
  return list_count_;
}

std::string WatchCache::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void WatchCache::MarkCurrent() {
  std::lock_guard lock(mutex_);
  current_at_ = std::chrono::steady_clock::now();
  last_error_.clear();
}

void WatchCache::RecordError(const Error& error) {
  {
    std::lock_guard lock(mutex_);
    last_error_ = error.message();
  }
  if (options_.logger != nullptr) {
    options_.logger->Warn("watch cache: list or watch failed",
                          {{"resource", options_.resource.Name()},
                           {"namespace", options_.resource.ns},
                           {"code", ErrorCodeName(error.code())},
                           {"error", error.message()}});
  }
}

void WatchCache::Notify(const std::vector<WatchEvent>& events) const {
  if (!options_.on_event)
    return;
  for (const auto& event : events)
    options_.on_event(event);
}

bool WatchCache::SleepUnlessStopped(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, delay, [this] { return stopping_; });
  return !stopping_;
}

Status WatchCache::Relist(std::vector<WatchEvent>* changes) {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  list_options.limit = options_.page_size;
  auto list = client_->ListAll(options_.resource, list_options);
  if (!list)
    return list.error();
  std::map<Key, json> fresh;
  if (auto items = list->find("items"); items != list->end() && items->is_array()) {
    for (auto& item : *items) {
      Key key(MetadataField(item, "namespace"), MetadataField(item, "name"));
      fresh.emplace(std::move(key), std::move(item));
    }
  }
  std::string version;
  if (auto metadata = list->find("metadata"); metadata != list->end() && metadata->is_object()) {
    version = metadata->value("resourceVersion", "");
  }
  if (version.empty()) {
    return Error(ErrorCode::kInternal, "list " + options_.resource.Name() + ": no resourceVersion");
  }

  std::lock_guard lock(mutex_);
  for (const auto& [key, object] : fresh) {
    auto old = objects_.find(key);
    if (old == objects_.end()) {
      changes->push_back({EventType::kAdded, object});
    } else if (MetadataField(old->second, "resourceVersion") !=
               MetadataField(object, "resourceVersion")) {
      changes->push_back({EventType::kModified, object});
    }
  }
  for (const auto& [key, object] : objects_) {
    if (!fresh.contains(key))
      changes->push_back({EventType::kDeleted, object});
  }
  objects_ = std::move(fresh);
  resource_version_ = version;
  current_at_ = std::chrono::steady_clock::now();
  ++list_count_;
  last_error_.clear();
  return OkStatus();
}

bool WatchCache::Apply(const WatchEvent& event) {
  std::lock_guard lock(mutex_);
  current_at_ = std::chrono::steady_clock::now();
  std::string version = MetadataField(event.object, "resourceVersion");
  if (!version.empty())
    resource_version_ = version;
  if (event.type == EventType::kBookmark)
    return false;
  Key key(MetadataField(event.object, "namespace"), MetadataField(event.object, "name"));
  if (event.type == EventType::kDeleted) {
    objects_.erase(key);
  } else {
    objects_[key] = event.object;
  }
  return true;
}

void WatchCache::Run() {
  bool need_list = true;
  bool just_listed = false;  // no watch event since the last list
  int failures = 0;
  std::mt19937_64 random{std::random_device{}()};
  auto backoff = [&]() {
    long long step = options_.min_backoff.count();
    for (int i = 1; i < failures && step < options_.max_backoff.count(); ++i)
      step *= 2;
    step = std::min<long long>(step, options_.max_backoff.count());
    std::uniform_int_distribution<long long> jitter(0, step / 2);
    return std::chrono::milliseconds(step - step / 2 + jitter(random));
  };
  auto stopping = [this] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };

  while (!stopping()) {
    if (need_list) {
      std::vector<WatchEvent> changes;
      Status listed = Relist(&changes);
      if (!listed) {
        ++failures;
        RecordError(listed.error());
        if (!SleepUnlessStopped(backoff()))
          return;
        continue;
      }
      need_list = false;
      just_listed = true;
      Notify(changes);
      // Synced only after the callback saw the list, so that WaitForSync() also means every
      // listed object has been passed on.
      std::lock_guard lock(mutex_);
      synced_ = true;
      changed_.notify_all();
    }

    WatchOptions watch;
    watch.resource_version = resource_version();
    watch.label_selector = options_.label_selector;
    watch.field_selector = options_.field_selector;
    watch.allow_bookmarks = true;
    watch.timeout_seconds = options_.watch_timeout_seconds;
    watch.idle_timeout = options_.watch_idle;
    auto watch_started = std::chrono::steady_clock::now();
    size_t received = 0;
    Status watched = client_->Watch(options_.resource, watch, [&](const WatchEvent& event) {
      ++received;
      just_listed = false;
      failures = 0;
      if (Apply(event))
        Notify({event});
      return !stopping();
    });
    if (watched && received == 0 &&
        std::chrono::steady_clock::now() - watch_started < std::chrono::seconds(1)) {
      // A server that ends every watch at once would otherwise be polled in a tight loop
      // (client-go's reflector treats this "very short watch" as an error too).
      watched = Error(ErrorCode::kUnavailable,
                      "watch " + options_.resource.Name() + ": ended at once without events");
    }
    if (watched) {
      MarkCurrent();  // the server ended the watch on time
      failures = 0;
      just_listed = false;
      continue;
    }
    switch (watched.error().code()) {
      case ErrorCode::kGone:
        // The resourceVersion was compacted away: only a new list can catch up.
        need_list = true;
        if (options_.logger != nullptr) {
          options_.logger->Info(
              "watch cache: resourceVersion expired, relisting",
              {{"resource", options_.resource.Name()}, {"namespace", options_.resource.ns}});
        }
        // Gone again straight after a list is not compaction but a confused server: back off
        // instead of listing in a loop.
        if (just_listed) {
          ++failures;
          RecordError(watched.error());
          if (!SleepUnlessStopped(backoff()))
            return;
        }
        break;
      case ErrorCode::kTimeout:
        break;  // a silent watch: re-open it from the same resourceVersion
      default:
        ++failures;
        RecordError(watched.error());
        if (!SleepUnlessStopped(backoff()))
          return;
    }
  }
}

}  // namespace seedhop::kube
