#include "webhook/plan_cache.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <mutex>

#include "common/obs/log.h"
#include "common/obs/metrics.h"

namespace seedhop::webhook {

PlanCache::PlanCache(kube::Client* client, obs::Metrics* metrics, obs::Logger* logger)
    : logger_(logger) {
  kube::WatchCacheOptions options;
  options.resource = {plan::kGroup, plan::kVersion, plan::kResource, ""};
  options.on_event = [this](const kube::WatchEvent& event) { OnEvent(event); };
  options.logger = logger;
  watch_ = std::make_unique<kube::WatchCache>(client, std::move(options));
  if (metrics == nullptr)
    return;
  plans_gauge_ = &prometheus::BuildGauge()
                      .Name("seedhop_webhook_plans")
                      .Help("Valid EtcdPlans in the webhook's cache.")
                      .Register(metrics->registry())
                      .Add({});
  invalid_counter_ = &prometheus::BuildCounter()
                          .Name("seedhop_webhook_invalid_plans_total")
                          .Help("EtcdPlan objects seen that did not parse (treated as absent).")
                          .Register(metrics->registry())
                          .Add({});
  auto& synced_gauge = prometheus::BuildGauge()
                           .Name("seedhop_webhook_plan_cache_synced")
                           .Help("1 once the plan cache has completed its first list.")
                           .Register(metrics->registry())
                           .Add({});
  auto& age_gauge = prometheus::BuildGauge()
                        .Name("seedhop_webhook_plan_cache_age_seconds")
                        .Help("Seconds since the API server last confirmed the plan cache.")
                        .Register(metrics->registry())
                        .Add({});
  metrics->AddCollectHook([this, &synced_gauge, &age_gauge] {
    synced_gauge.Set(synced() ? 1 : 0);
    auto age = watch_->last_sync_age();
    age_gauge.Set(age ? std::chrono::duration<double>(*age).count() : -1);
  });
}

PlanCache::~PlanCache() {
  Stop();
}

void PlanCache::Start() {
  watch_->Start();
}
void PlanCache::Stop() {
  watch_->Stop();
}
bool PlanCache::WaitForSync(std::chrono::milliseconds timeout) const {
  return watch_->WaitForSync(timeout);
}
bool PlanCache::synced() const {
  return watch_->synced();
}

std::optional<plan::EtcdPlan> PlanCache::Lookup(const std::string& namespace_name,
                                                const std::string& name) const {
  std::shared_lock lock(mutex_);
  auto it = plans_.find({namespace_name, name});
  if (it == plans_.end())
    return std::nullopt;
  return it->second;
}

size_t PlanCache::size() const {
  std::shared_lock lock(mutex_);
  return plans_.size();
}

void PlanCache::OnEvent(const kube::WatchEvent& event) {
  const auto& metadata = event.object.value("metadata", nlohmann::json::object());
  std::pair<std::string, std::string> key{metadata.value("namespace", ""),
                                          metadata.value("name", "")};
  std::optional<plan::EtcdPlan> parsed;
  if (event.type != kube::EventType::kDeleted) {
    auto result = plan::ParseEtcdPlan(event.object);
    if (result) {
      parsed = std::move(*result);
    } else {
      if (invalid_counter_ != nullptr)
        invalid_counter_->Increment();
      if (logger_ != nullptr) {
        logger_->Error("ignoring invalid EtcdPlan", {{"error", result.error().message()}});
      }
    }
  }
  std::unique_lock lock(mutex_);
  if (parsed) {
    plans_[key] = std::move(*parsed);
  } else {
    plans_.erase(key);
  }
  if (plans_gauge_ != nullptr)
    plans_gauge_->Set(static_cast<double>(plans_.size()));
}

}  // namespace seedhop::webhook
