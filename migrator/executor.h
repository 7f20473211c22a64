// Carries out one flow step on this side's seed: every step is idempotent and is attempted
// repeatedly until it reports done, so a migrator that dies anywhere inside a step finishes it
// after a restart by attempting it again. An attempt returns OK when the step is complete and an
// error saying what it waits for otherwise (kUnavailable: not yet; other codes: a real failure,
// still retried until the step's timeout).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/etcd/sessions.h"
#include "common/http/client.h"
#include "common/kube/client.h"
#include "common/result.h"
#include "migrator/flow.h"
#include "migrator/live_migration.h"

namespace seedhop::obs {
class Logger;
class Metrics;
}  // namespace seedhop::obs

namespace seedhop::migrator {

class MigratorMetrics;

// The annotation the migrator writes on a StatefulSet after changing its EtcdPlan: the update
// sends the StatefulSet through seedhop-webhook, which applies the plan.
inline constexpr char kPlanAnnotation[] = "seedhop.io/etcd-plan";
// The annotation on a DNSRecord recording when the migrator switched it, so the TTL wait survives
// a restart.
inline constexpr char kDnsSwitchedAnnotation[] = "seedhop.io/switched-at";

// What one migrator reaches: the garden, its own seed, and its seed's etcd pods.
struct SeedAccess {
  Side role = Side::kSource;
  kube::Client* garden = nullptr;
  kube::Client* seed = nullptr;
  // URLs of a pod's etcd client and peer ports; "{pod}", "{etcd}" and "{namespace}" are replaced
  // (etcd-druid's pods advertise https://<pod>.<etcd>-peer.<namespace>.svc:2379 and :2380,
  // etcd-druid internal/component/statefulset/builder.go).
  std::string etcd_client_url = "https://{pod}.{etcd}-peer.{namespace}.svc:2379";
  std::string etcd_peer_url = "https://{pod}.{etcd}-peer.{namespace}.svc:2380";
  http::ClientOptions etcd_tls;     // CA and client certificate for etcd
  obs::Logger* logger = nullptr;    // may be null
  obs::Metrics* metrics = nullptr;  // may be null
};

// Replaces "{pod}", "{etcd}" and "{namespace}" in `url_template`.
std::string ExpandUrl(const std::string& url_template, const std::string& etcd,
                      const std::string& namespace_name, int ordinal);

class Executor {
 public:
  // REQUIRES: `access`'s clients, `sessions` and `metrics` (may be null) outlive the executor.
  Executor(SeedAccess access, MigrationSpec spec, etcd::Sessions& sessions,
           MigratorMetrics* metrics = nullptr);

  // Attempts `step` (owned by this side) once. `done` is the number of completed steps.
  Status Attempt(const FlowStep& step);

  // This side's view of etcd `etcd`: the member list and the health of the members whose pods
  // run on this seed (from the StatefulSet's current ordinals and replicas). A view without local
  // pods has no members and says so in `problem`.
  EtcdView Observe(const std::string& etcd, int done);

  // Undoes this side's seed changes before the point of no return: the namespace label and any
  // EtcdPlan. Idempotent.
  Status Abort();

 private:
  Status LabelNamespace(bool on);
  Status ExportState();
  Status ImportState();
  Status SetSidePlan(const FlowStep& step);
  // Keeps etcd leadership off the pods a roll of `step`'s StatefulSet is about to replace
  // (migrator/roll_leader.h). `kept`: the pods the plan keeps, ascending; the highest `replaced`
  // of them run the new template already. kUnavailable after starting a move; OK when leadership
  // may stay or could not be moved (logged: the roll goes ahead regardless).
  Status LeadAheadOfRoll(const FlowStep& step, std::vector<int> kept, int replaced);
  Status AddLearner(const FlowStep& step);
  Status Promote(const FlowStep& step);
  Status TransferLeadership(const FlowStep& step);
  Status RemoveMember(const FlowStep& step);
  Status SwitchDns(const FlowStep& step);
  // Writes each etcd's EtcdPlan before the namespace is labelled, unless one exists: the steady
  // shape on the source, 0 replicas on the target, so that etcd-druid can never start a second,
  // separate cluster on the target before its members are added one by one.
  Status HoldPlans();
  Status DeletePlans();

  // An etcd session over this seed's pods, the member list, and the step's member in it.
  struct MemberLookup;
  Result<MemberLookup> LookUp(const FlowStep& step);
  // The ordinals of the pods of StatefulSet `etcd` on this seed (empty when it does not exist).
  Result<std::vector<int>> LocalPods(const std::string& etcd);
  // An etcd client over this seed's pods of `etcd`; kUnavailable when none runs here.
  Result<std::shared_ptr<etcd::Session>> Connect(const std::string& etcd);
  std::string PeerUrl(const std::string& etcd, int ordinal) const;

  SeedAccess access_;
  MigrationSpec spec_;
  // This side's etcd sessions, kept from pass to pass by the run loop.
  etcd::Sessions& sessions_;
  MigratorMetrics* metrics_;
};

}  // namespace seedhop::migrator
