#include "migrator/leader.h"

#include <cstdio>

#include "common/obs/log.h"
#include "common/time/rfc3339.h"

namespace seedhop::migrator {

using nlohmann::json;

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string NowMicroTime() {
  // metav1.MicroTime: RFC 3339 with microseconds.
  auto now =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  std::string seconds = FormatTimestamp(now);
  auto micros = now.time_since_epoch().count() % 1000000;
  char fraction[16];
  std::snprintf(fraction, sizeof fraction, ".%06lld", static_cast<long long>(micros));
  return seconds.substr(0, seconds.size() - 1) + fraction + "Z";
}

}  // namespace

LeaderElector::LeaderElector(kube::Client* seed, LeaderOptions options)
    : seed_(seed), options_(std::move(options)) {}

LeaderElector::~LeaderElector() {
  Stop();
}

Result<bool> LeaderElector::TryAcquireOrRenew() {
  kube::ResourceRef leases{"coordination.k8s.io", "v1", "leases", options_.namespace_name};
  std::string now = NowMicroTime();
  int64_t attempt_ms = SteadyMs();
  auto lease = seed_->Get(leases, options_.lease_name);
  json spec = {{"holderIdentity", options_.identity},
               {"leaseDurationSeconds", options_.lease_duration.count()},
               {"renewTime", now}};
  if (!lease.ok()) {
    if (lease.error().code() != ErrorCode::kNotFound)
      return lease.error();
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = 0;
    json object = {{"apiVersion", "coordination.k8s.io/v1"},
                   {"kind", "Lease"},
                   {"metadata", {{"name", options_.lease_name}}},
                   {"spec", spec}};
    auto created = seed_->Create(leases, object);
    if (!created.ok()) {
      if (created.error().code() == ErrorCode::kAlreadyExists)
        return false;
      return created.error();
    }
    renewed_at_ms_ = attempt_ms;
    return true;
  }
  const json current = (*lease).value("spec", json::object());
  std::string holder = current.value("holderIdentity", "");
  if (holder != options_.identity && !holder.empty()) {
    // Someone else holds it: take over only after its record stayed unchanged for a whole
    // lease duration, measured on this replica's clock (clocks of replicas may differ).
    std::string record = current.dump();
    auto seen = std::chrono::steady_clock::now();
    if (record != observed_record_) {
      observed_record_ = record;
      observed_at_ = seen;
      renewed_at_ms_ = 0;
      return false;
    }
    int64_t duration = current.value("leaseDurationSeconds", int64_t{15});
    if (seen - observed_at_ < std::chrono::seconds(duration)) {
      renewed_at_ms_ = 0;
      return false;
    }
  }
  json object = *lease;
  if (holder != options_.identity) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = current.value("leaseTransitions", 0) + 1;
  } else {
    spec["acquireTime"] = current.value("acquireTime", now);
    spec["leaseTransitions"] = current.value("leaseTransitions", 0);
  }
  object["spec"] = spec;
  auto updated = seed_->Update(leases, object);
  if (!updated.ok()) {
    renewed_at_ms_ = 0;
    if (updated.error().code() == ErrorCode::kConflict)
      return false;
    return updated.error();
  }
  if (holder != options_.identity && options_.logger) {
    options_.logger->Info(
        "took the leader lease",
        {{"lease", options_.namespace_name + "/" + options_.lease_name}, {"previous", holder}});
  }
  renewed_at_ms_ = attempt_ms;
  return true;
}

bool LeaderElector::IsLeader() const {
  int64_t renewed = renewed_at_ms_;
  if (renewed == 0)
    return false;
  auto margin = options_.lease_duration - options_.renew_interval;
  return SteadyMs() - renewed <
         std::chrono::duration_cast<std::chrono::milliseconds>(margin).count();
}

void LeaderElector::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      auto result = TryAcquireOrRenew();
      if (!result.ok() && options_.logger) {
        options_.logger->Warn("leader lease", {{"error", result.error().message()}});
      }
      lock.lock();
      wake_.wait_for(lock, options_.renew_interval, [this] { return stopping_; });
    }
  });
}

void LeaderElector::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

}  // namespace seedhop::migrator
