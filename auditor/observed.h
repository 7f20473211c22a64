// Observed locks: the leader-election locks that exist in a seed namespace (Leases, and legacy
// ConfigMap/Endpoints locks carrying the control-plane.alpha.kubernetes.io/leader annotation),
// each tied to the pod and workload that holds it. Every lock found here lives in the seed.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auditor/finding.h"
#include "auditor/rules.h"
#include "auditor/snapshot.h"
#include "common/result.h"

namespace seedhop::auditor {

// client-go's placeholder holder of a deprecated MultiLock (resourcelock/multilock.go).
inline constexpr char kUnknownLeader[] = "leaderelection.k8s.io/unknown";

enum class LockKind { kLease, kConfigMap, kEndpoints };

// Returns "leases", "configmaps" or "endpoints" (the resource, as client-go names lock types).
const char* LockKindName(LockKind kind);

// How a holderIdentity is written (research 1.5).
enum class HolderForm {
  kEmpty,          // released or never held
  kPodWithId,      // "<pod>_<uuid>": KCM, scheduler, controller-runtime ...
  kPodName,        // "<pod>": MCM, cluster-autoscaler, CSI sidecars (sanitized hostname)
  kUnknownLeader,  // kUnknownLeader
};

struct HolderIdentity {
  std::string raw;
  HolderForm form = HolderForm::kEmpty;
  std::string pod;  // the pod name the identity names; empty for kEmpty/kUnknownLeader
};

// Splits a holderIdentity on the first '_': the prefix is the pod name (pod hostname = pod name).
HolderIdentity ParseHolderIdentity(std::string_view identity);

// A Deployment or StatefulSet (or, when the chain cannot be followed, the pod's direct owner).
struct WorkloadRef {
  std::string kind;  // "Deployment", "StatefulSet", ...
  std::string name;

  bool operator==(const WorkloadRef&) const = default;
};

// Returns "deployment/<name>"-style text for reports.
std::string WorkloadText(const WorkloadRef& ref);

// The workload owning `pod`: its controller ReplicaSet mapped to the Deployment (the ReplicaSet
// name minus "-<pod-template-hash>"), or its StatefulSet. nullopt for a pod without an owner.
std::optional<WorkloadRef> OwningWorkload(const nlohmann::json& pod);

// The Deployment/StatefulSet in `ns` whose pods are named like `pod` ("<deploy>-<rs hash>-<id>",
// "<sts>-<ordinal>"), for holders whose pod is gone. The longest matching name wins.
std::optional<WorkloadRef> WorkloadForPodName(std::string_view pod, const NamespaceSnapshot& ns);

// A leader-election record, from a Lease spec or a legacy annotation.
struct LeaderRecord {
  std::string holder;
  std::optional<int64_t> lease_duration_seconds;
  std::optional<Timestamp> acquire_time;
  std::optional<Timestamp> renew_time;
  std::optional<int64_t> transitions;  // leaseTransitions (Lease) / leaderTransitions (legacy)
};

// Parses a Lease's spec. Errors name the bad field; a Lease without spec is an empty record.
Result<LeaderRecord> LeaseRecord(const nlohmann::json& lease);

// Parses the legacy annotation's JSON record (RFC 3339 seconds, "leaderTransitions").
Result<LeaderRecord> ParseLeaderAnnotation(std::string_view text);

// The duration client-go uses when a record carries none (component-base defaults, 15s).
inline constexpr int64_t kDefaultLeaseDurationSeconds = 15;

// True when the holder let the lock expire: renewTime (or acquireTime) + leaseDurationSeconds is
// before `now`, or the record has no time at all.
bool IsStale(const LeaderRecord& record, Timestamp now);

struct ObservedLock {
  LockKind kind = LockKind::kLease;
  std::string namespace_name;
  std::string name;
  LeaderRecord record;
  HolderIdentity holder;
  bool holder_present = false;  // the named pod exists in the namespace and is not finished
  std::optional<WorkloadRef> holder_workload;  // from the pod, or guessed from its name if gone
  bool stale = false;
  std::string component;  // filled in by the audit: the rule it belongs to, or "unknown"
};

// A Lease left out because a NotLockRule matched.
struct ExcludedLease {
  std::string name;
  std::string reason;  // the rule's name
};

struct Observation {
  std::vector<ObservedLock> locks;
  std::vector<ExcludedLease> excluded;
  std::vector<Finding> findings;  // malformed records, unreadable objects
};

// Returns the name of the first rule that says `lease` is not a lock, or nullopt.
std::optional<std::string> NotALock(const nlohmann::json& lease, const Rules& rules);

// Finds every lock in `ns` and ties it to its holder. A malformed record becomes a finding, the
// other objects are still read.
Observation ObserveLocks(const NamespaceSnapshot& ns, const Rules& rules, Timestamp now);

}  // namespace seedhop::auditor
