// Inferred locks: where each Deployment/StatefulSet container's leader election points, read from
// its flags, its mounted kubeconfigs and component-config files, and the per-binary rules. This
// catches seed locks before they exist (a component not started yet, scaled to 0, hibernated).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auditor/finding.h"
#include "auditor/observed.h"
#include "auditor/rules.h"
#include "auditor/snapshot.h"

namespace seedhop::auditor {

// The container's command followed by its args, as the kubelet would run them.
std::vector<std::string> ContainerArgs(const nlohmann::json& container);

// Returns the value of `flag` ("--kubeconfig") in `args`: "--flag=value", or "--flag value" for a
// non-boolean flag. A bare boolean flag reads as "true" (Go's flag package needs "=" for
// booleans). nullopt when absent; the last occurrence wins, as with Go's flag package.
std::optional<std::string> FlagValue(const std::vector<std::string>& args, std::string_view flag,
                                     bool boolean);

// Where a kubeconfig value leads, and why the auditor thinks so.
struct KubeconfigTarget {
  Location location = Location::kUnknown;
  std::string evidence;
};

// Classifies a kubeconfig flag value for `container` in `pod_spec`: an in-cluster value => seed;
// a file on a volume projecting a generic token kubeconfig secret => shoot; a known shoot path
// with no volume to explain it => shoot; any other file => unknown.
KubeconfigTarget ClassifyKubeconfig(std::string_view value, const nlohmann::json& pod_spec,
                                    const nlohmann::json& container, const Rules& rules);

struct InferredLock {
  WorkloadRef workload;
  std::string container;
  std::string component;  // the matching rule's name; empty when no rule matched
  Location location = Location::kUnknown;
  std::string lock_namespace;
  std::string lock_name;  // empty when the rules do not know it
  std::string evidence;   // the flag, mount or config field the verdict rests on
  int64_t replicas = 1;
};

struct Inference {
  std::vector<InferredLock> locks;
  std::vector<Finding> findings;
};

// Infers the lock of every container of one Deployment/StatefulSet (`kind` names which).
// Containers whose rule says "no leader election" are reported with Location::kNone.
Inference InferWorkload(const nlohmann::json& workload, std::string_view kind,
                        const NamespaceSnapshot& ns, const Rules& rules);

// InferWorkload over every Deployment and StatefulSet of `ns`.
Inference InferLocks(const NamespaceSnapshot& ns, const Rules& rules);

}  // namespace seedhop::auditor
