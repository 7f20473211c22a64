// The process's Prometheus registry and its text exposition. Served by the http::Server at
// /metrics, so there is no second HTTP stack (prometheus-cpp's pull exposer is not used).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace seedhop::obs {

// Metric names follow `seedhop_<component>_<what>_<unit>` (docs/metrics.md lists every one).
class Metrics {
 public:
  Metrics();

  prometheus::Registry& registry() { return *registry_; }

  // Returns the text exposition format (version 0.0.4) of everything registered, after running
  // the collect hooks.
  std::string Serialize() const;

  // Adds `hook`, run before every Serialize(): for gauges computed at scrape time, such as a
  // cache's age. Hooks run on the scraping thread and must be quick and thread-safe.
  void AddCollectHook(std::function<void()> hook);

  // Latency buckets for request handling, in seconds: 0.5 ms .. 10 s.
  static std::vector<double> LatencyBuckets();
  // Buckets for long operations such as migration steps, in seconds: 1 s .. 1 h.
  static std::vector<double> StepBuckets();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex hooks_mutex_;
  std::vector<std::function<void()>> hooks_;
};

}  // namespace seedhop::obs
