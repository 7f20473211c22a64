// Leader election for migrator replicas: a coordination.k8s.io/v1 Lease in the migrator's own
// seed namespace, taken and renewed with resourceVersion preconditions, the way client-go's
// leaderelection package does (k8s.io/client-go/tools/leaderelection/leaderelection.go): a holder
// renews every `renew_interval`; another replica takes the lease once `lease_duration` has passed
// since the last renewal it saw change.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/kube/client.h"
#include "common/result.h"

namespace seedhop::obs {
class Logger;
}

namespace seedhop::migrator {

struct LeaderOptions {
  std::string namespace_name;  // where the Lease lives
  std::string lease_name;      // e.g. "seedhop-migrator-source"
  std::string identity;        // this replica, e.g. its pod name
  std::chrono::seconds lease_duration{15};
  std::chrono::milliseconds renew_interval{5000};
  obs::Logger* logger = nullptr;  // may be null
};

// Thread-safe.
class LeaderElector {
 public:
  // REQUIRES: `seed` outlives the elector.
  LeaderElector(kube::Client* seed, LeaderOptions options);
  ~LeaderElector();

  // Tries once to take or renew the lease. Returns whether this replica holds it now.
  Result<bool> TryAcquireOrRenew();

  // Runs TryAcquireOrRenew every renew_interval on a thread until Stop().
  void Start();
  void Stop();

  // True while the last successful renewal is younger than lease_duration - renew_interval: a
  // replica cut off from its API server stops acting before another can take over.
  bool IsLeader() const;

 private:
  kube::Client* seed_;
  LeaderOptions options_;
  std::atomic<int64_t> renewed_at_ms_{0};  // steady clock; 0: not leading
  // The other holder's lease as last seen, and when this replica saw it change.
  std::string observed_record_;
  std::chrono::steady_clock::time_point observed_at_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace seedhop::migrator
