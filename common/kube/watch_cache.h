// A watch-backed, read-only cache of one resource (optionally one namespace and selector): a
// background thread lists, then watches from the list's resourceVersion, relists when the server
// answers 410 Gone, and reconnects with backoff after errors. Reads never call the API server,
// which is what lets the webhook answer admission requests from memory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/kube/client.h"

namespace seedhop::obs {
class Logger;
}

namespace seedhop::kube {

struct WatchCacheOptions {
  ResourceRef resource;  // resource.ns empty: every namespace
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;                       // list page size
  std::chrono::milliseconds min_backoff{200};    // after a failed list or watch, doubling...
  std::chrono::milliseconds max_backoff{30000};  // ...up to this, with jitter
  // A watch that receives nothing (not even a bookmark) for this long is re-opened from the last
  // resourceVersion. It also bounds how long Stop() waits: http::Client cannot be interrupted.
  std::chrono::milliseconds watch_idle{5000};
  // Server-side end of each watch, as client-go's reflector does (5-10 minutes there).
  int watch_timeout_seconds = 300;
  // Called on the cache's thread after each change is applied, including the differences a
  // relist finds (objects gone while the watch was down come as kDeleted with their last known
  // state). Must not block for long and must not call Stop(). May be empty.
  std::function<void(const WatchEvent&)> on_event;
  obs::Logger* logger = nullptr;  // may be null; must outlive the cache
};

// Thread-safe reads. REQUIRES: `client` outlives the cache.
class WatchCache {
 public:
  WatchCache(Client* client, WatchCacheOptions options);
  // Stops the background thread.
  ~WatchCache();
  WatchCache(const WatchCache&) = delete;
  WatchCache& operator=(const WatchCache&) = delete;

  // Starts listing and watching on a background thread. REQUIRES: called at most once.
  void Start();
  // Ends the background thread and returns once it has ended: at once while it waits to retry,
  // otherwise after the current request (a silent watch takes up to watch_idle). Idempotent. The
  // contents stay readable.
  void Stop();

  // Blocks until the first list has completed or `timeout` passes. Returns synced().
  bool WaitForSync(std::chrono::milliseconds timeout) const;
  // True once a list has completed and on_event has seen its objects; stays true through later
  // reconnects and relists.
  bool synced() const;

  // The object `name` in namespace `ns` ("" for cluster-scoped resources), if cached.
  std::optional<nlohmann::json> Get(std::string_view ns, std::string_view name) const;
  // Every cached object, ordered by namespace and name.
  std::vector<nlohmann::json> List() const;
  size_t size() const;

  // Time since the server last confirmed the cache was current (a completed list, an event, a
  // bookmark, or a watch the server ended cleanly); nullopt before the first list. Grows while
  // the API server is unreachable: export it as a staleness gauge.
  std::optional<std::chrono::steady_clock::duration> last_sync_age() const;
  // The resourceVersion the cache is current at ("" before the first list).
  std::string resource_version() const;
  // How many lists have completed (1 after the first sync; more after 410 Gone).
  uint64_t list_count() const;
  // The last list or watch failure ("" when the last attempt succeeded), for status pages.
  std::string last_error() const;

 private:
  using Key = std::pair<std::string, std::string>;  // namespace, name

  void Run();
  // Lists everything and replaces the contents; returns the differences as events.
  Status Relist(std::vector<WatchEvent>* changes);
  // Applies one watch event under the lock. Returns false for events to not pass on (bookmarks).
  bool Apply(const WatchEvent& event);
  void MarkCurrent();
  void RecordError(const Error& error);
  void Notify(const std::vector<WatchEvent>& events) const;
  // Sleeps up to `delay` unless Stop() is called. Returns false when stopping.
  bool SleepUnlessStopped(std::chrono::milliseconds delay);

  Client* const client_;
  const WatchCacheOptions options_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;  // synced or stopping
  std::map<Key, nlohmann::json> objects_;
  std::string resource_version_;
  bool synced_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point current_at_{};
  uint64_t list_count_ = 0;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace seedhop::kube
