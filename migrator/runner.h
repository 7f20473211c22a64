// The migrator's control loop for one LiveMigration: read the object, decide (flow.h), check etcd
// (safety.h), attempt the step (executor.h), record. Every step is recorded in this side's status
// before it runs and after it completes, so a migrator killed anywhere resumes where it was; a
// step that still fails after spec.stepTimeoutSeconds halts this side until an operator resumes
// or aborts it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "common/result.h"
#include "migrator/executor.h"

namespace seedhop::migrator {

class MigratorMetrics;

struct RunnerOptions {
  SeedAccess access;      // access.role: the side this process plays
  std::string seed_name;  // must equal spec.<role>.seed for the process to act
  std::string identity;   // written as status.<side>.holder
  std::chrono::milliseconds poll_interval{1000};
  // The other side's etcd view counts only while younger than this.
  std::chrono::seconds view_max_age{30};
  // This side republishes an unchanged etcd view this often, to keep it fresh for the other.
  std::chrono::seconds view_refresh{10};
  // Returns false while another replica leads; may be empty (always leading).
  std::function<bool()> is_leader;
  MigratorMetrics* metrics = nullptr;  // may be null
};

// Runs LiveMigration `garden_namespace/name` as `options.access.role` until it is done or aborted
// (OkStatus), the object is deleted (OkStatus), it does not concern this seed (kInvalid), or
// `stop` becomes true (OkStatus).
Status RunMigration(const RunnerOptions& options, const std::string& garden_namespace,
                    const std::string& name, const std::atomic<bool>& stop);

// The garden resource of LiveMigrations (seedhop.io/v1alpha1), in `garden_namespace` ("" for
// all namespaces).
kube::ResourceRef LiveMigrations(const std::string& garden_namespace);

// Replaces status.<role> of LiveMigration `garden_namespace/name` with `status`, re-reading and
// retrying when the object changed meanwhile (the other side writes its own half). Returns the
// object as stored.
Result<nlohmann::json> WriteSideStatus(kube::Client& garden, const std::string& garden_namespace,
                                       const std::string& name, Side role,
                                       const SideStatus& status);

}  // namespace seedhop::migrator
