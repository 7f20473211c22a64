// The process's Prometheus registry and its text exposition. Served by the http::Server at
// /metrics, so there is no second HTTP stack (prometheus-cpp's pull exposer is not used).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

namespace seedhop::obs {

// Metric names follow `seedhop_<component>_<what>_<unit>` (docs/metrics.md lists every one).
class Metrics {
 public:
  Metrics();

  prometheus::Registry& registry() { return *registry_; }

  // Returns the text exposition format (version 0.0.4) of everything registered.
  std::string Serialize() const;

  // Latency buckets for request handling, in seconds: 0.5 ms .. 10 s.
  static std::vector<double> LatencyBuckets();
  // Buckets for long operations such as migration steps, in seconds: 1 s .. 1 h.
  static std::vector<double> StepBuckets();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
};

}  // namespace seedhop::obs
