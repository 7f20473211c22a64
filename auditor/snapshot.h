// What the auditor reads from a seed, as plain data: the objects of each shoot namespace as the
// API server returned them (JSON), plus the lists that failed. The fetching lives elsewhere, so
// every decision in the auditor is a pure function of a snapshot and the rules.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auditor/rules.h"
#include "common/result.h"
#include "common/time/rfc3339.h"

namespace seedhop::auditor {

// The legacy record annotation (client-go tools/leaderelection/resourcelock/interface.go
// LeaderElectionRecordAnnotationKey).
inline constexpr char kLeaderAnnotation[] = "control-plane.alpha.kubernetes.io/leader";

// A list call that failed for one resource type ("leases", "deployments" ...), e.g. RBAC.
struct FetchError {
  std::string resource;
  Error error;
};

// One namespace's objects. Each vector holds the `items` of the matching list call.
struct NamespaceSnapshot {
  std::string name;
  std::vector<nlohmann::json> leases;
  std::vector<nlohmann::json> configmaps;
  std::vector<nlohmann::json> endpoints;
  std::vector<nlohmann::json> deployments;
  std::vector<nlohmann::json> statefulsets;
  std::vector<nlohmann::json> pods;
  std::vector<FetchError> errors;
  bool gone = false;  // the namespace was deleted while it was being read
};

// A whole seed: the namespaces chosen for the audit, and failures that are not per namespace.
struct SeedSnapshot {
  std::string seed;  // a display name (kubeconfig context), may be empty
  std::vector<NamespaceSnapshot> namespaces;
  std::vector<Error> errors;  // e.g. listing namespaces was forbidden
};

// One of NamespaceSnapshot's object lists (&NamespaceSnapshot::leases, ...).
using ObjectList = std::vector<nlohmann::json> NamespaceSnapshot::*;

// A namespace's trimmed objects, each serialized as MessagePack: how the fetcher holds a whole
// seed until it audits it namespace by namespace. Parsed nlohmann::json trees take three times
// the memory (232 MiB against 70 MiB in use after fetching the 2,000 bench namespaces).
struct PackedNamespace {
  NamespaceSnapshot snapshot;  // name, errors and gone; its object lists stay empty
  std::vector<std::pair<ObjectList, std::string>> objects;  // in the order packed
};

// The namespaces chosen for the audit, packed, and failures that are not per namespace.
struct PackedSeed {
  std::vector<PackedNamespace> namespaces;
  std::vector<Error> errors;
};

// Appends `object` to `list` of `ns`, serialized.
// REQUIRES: `list` is not null.
void Pack(PackedNamespace& ns, ObjectList list, const nlohmann::json& object);

// Returns ns.snapshot with every packed object parsed back into its list, in the order packed.
NamespaceSnapshot Unpack(const PackedNamespace& ns);

using seedhop::FormatTimestamp;
using seedhop::ParseTimestamp;
using seedhop::Timestamp;

// The objects reduced to the fields the audit reads, so that a seed with thousands of shoot
// namespaces fits in memory. Auditing trimmed objects gives the same report as the originals.
// Pods keep metadata name/labels/ownerReferences and status.phase.
nlohmann::json TrimPod(const nlohmann::json& pod);
// Deployments/StatefulSets keep metadata name, spec.replicas and, per container, name, command,
// args and volumeMounts, plus the pod's volumes.
nlohmann::json TrimWorkload(const nlohmann::json& workload);
// Leases keep metadata name/labels and spec. Other objects (ConfigMaps, Endpoints) keep metadata
// name and the leader annotation, and `data` only when `keep_data`.
nlohmann::json TrimLease(const nlohmann::json& lease);
nlohmann::json TrimLockCarrier(const nlohmann::json& object, bool keep_data);

// True when `object` carries the legacy leader-election annotation.
bool HasLeaderAnnotation(const nlohmann::json& object);

// Names of the ConfigMaps a Deployment/StatefulSet's pod template mounts (plain or projected):
// the only ConfigMaps whose data the audit may read (component configs).
std::vector<std::string> MountedConfigMaps(const nlohmann::json& workload);

// Returns the names that fully match `pattern` (the rules' namespace pattern), in input order,
// so a fetcher can filter before it lists anything inside a namespace.
std::vector<std::string> SelectNamespaces(const std::vector<std::string>& names,
                                          const Pattern& pattern);

}  // namespace seedhop::auditor
