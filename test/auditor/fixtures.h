// Test inputs for the auditor: the reference objects of shared/reference/leases/ and builders for
// the objects those files leave out (pods, the GRM Deployment), all in namespace
// shoot--dev--aws01 as the reference README states.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "auditor/snapshot.h"

namespace seedhop::auditor::testing {

inline constexpr char kNamespace[] = "shoot--dev--aws01";

// Reads shared/reference/leases/<file> as JSON. Fails the calling test (ADD_FAILURE) and returns
// null when it cannot.
nlohmann::json Reference(const std::string& file);

// Every reference file name in shared/reference/leases/ ending in ".json".
std::vector<std::string> ReferenceFiles();

// An instant a few seconds after the reference leases were last renewed: they are all fresh.
Timestamp ReferenceNow();

// A Running pod named `name` owned by ReplicaSet `<deployment>-<hash>` (hash = the label).
nlohmann::json DeploymentPod(const std::string& deployment, const std::string& hash,
                             const std::string& suffix);

// A Deployment with one container (name, args) and optional volumes/mounts.
nlohmann::json Deployment(const std::string& name, const nlohmann::json& container,
                          const nlohmann::json& volumes = nlohmann::json::array());

// A Lease in kNamespace with the given holder, renewed at `renew` for `duration` seconds.
nlohmann::json Lease(const std::string& name, const std::string& holder, const std::string& renew,
                     int duration = 15);

// The shoot-level gardener-resource-manager Deployment, mounting the reference ConfigMap
// gardener-resource-manager-5d1c7f2e at /etc/gardener-resource-manager-config.
nlohmann::json GardenerResourceManagerDeployment();

// The reference namespace: the LeaseList, the legacy ConfigMap lock, the GRM ConfigMap, the MCM
// and KCM Deployments, the GRM Deployment above, and the pods that hold the locks.
NamespaceSnapshot ReferenceNamespace();

}  // namespace seedhop::auditor::testing
