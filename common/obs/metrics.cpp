#include "common/obs/metrics.h"

#include <prometheus/text_serializer.h>

namespace seedhop::obs {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}

void Metrics::AddCollectHook(std::function<void()> hook) {
  std::lock_guard lock(hooks_mutex_);
  hooks_.push_back(std::move(hook));
}

std::string Metrics::Serialize() const {
  {
    std::lock_guard lock(hooks_mutex_);
    for (const auto& hook : hooks_)
      hook();
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::vector<double> Metrics::LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> Metrics::StepBuckets() {
  return {1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
}

}  // namespace seedhop::obs
