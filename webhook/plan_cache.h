// The webhook's view of the EtcdPlans on its seed: a watch-backed cache, parsed once per change,
// so an admission request reads memory and never calls the API server.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>

#include "common/kube/watch_cache.h"
#include "common/plan/etcd_plan.h"

namespace seedhop::obs {
class Logger;
class Metrics;
}  // namespace seedhop::obs

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace seedhop::webhook {

// Metrics (docs/metrics.md): seedhop_webhook_plans (gauge), seedhop_webhook_plan_cache_synced
// (gauge 0/1), seedhop_webhook_plan_cache_age_seconds (gauge, time since the API server last
// confirmed the cache), seedhop_webhook_invalid_plans_total (counter).
// REQUIRES: `client`, `metrics` (may be null) and `logger` (may be null) outlive the cache.
class PlanCache {
 public:
  PlanCache(kube::Client* client, obs::Metrics* metrics, obs::Logger* logger);
  ~PlanCache();

  // Starts listing and watching etcdplans in every namespace.
  void Start();
  void Stop();
  bool WaitForSync(std::chrono::milliseconds timeout) const;
  bool synced() const;

  // The valid plan for StatefulSet `name` in `namespace_name`. An EtcdPlan object that does not
  // parse is logged, counted and treated as absent (the CRD's schema keeps such objects out).
  // Thread-safe and cheap: called on every admission request.
  std::optional<plan::EtcdPlan> Lookup(const std::string& namespace_name,
                                       const std::string& name) const;
  size_t size() const;

 private:
  void OnEvent(const kube::WatchEvent& event);

  obs::Logger* logger_;
  mutable std::shared_mutex mutex_;
  std::map<std::pair<std::string, std::string>, plan::EtcdPlan> plans_;
  prometheus::Gauge* plans_gauge_ = nullptr;
  prometheus::Counter* invalid_counter_ = nullptr;
  std::unique_ptr<kube::WatchCache> watch_;
};

}  // namespace seedhop::webhook
