#include "test/auditor/fixtures.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace seedhop::auditor::testing {
namespace {

std::filesystem::path LeasesDir() {
  return std::filesystem::path(SEEDHOP_SHARED_DIR) / "reference" / "leases";
}

}  // namespace

nlohmann::json Reference(const std::string& file) {
  std::ifstream in(LeasesDir() / file);
  if (!in) {
    ADD_FAILURE() << "cannot read reference file " << (LeasesDir() / file);
    return nullptr;
  }
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "reference file " << file << " is not JSON";
    return nullptr;
  }
  return j;
}

std::vector<std::string> ReferenceFiles() {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(LeasesDir())) {
    if (entry.path().extension() == ".json") {
      out.push_back(entry.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Timestamp ReferenceNow() {
  return *ParseTimestamp("2026-08-21T10:15:05Z");
}

nlohmann::json DeploymentPod(const std::string& deployment, const std::string& hash,
                             const std::string& suffix) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", deployment + "-" + hash + "-" + suffix},
            {"namespace", kNamespace},
            {"labels", {{"pod-template-hash", hash}}},
            {"ownerReferences",
             {{{"apiVersion", "apps/v1"},
               {"kind", "ReplicaSet"},
               {"name", deployment + "-" + hash},
               {"controller", true}}}}}},
          {"status", {{"phase", "Running"}}}};
}

nlohmann::json Deployment(const std::string& name, const nlohmann::json& container,
                          const nlohmann::json& volumes) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", kNamespace}}},
          {"spec",
           {{"replicas", 1},
            {"template", {{"spec", {{"containers", {container}}, {"volumes", volumes}}}}}}}};
}

nlohmann::json Lease(const std::string& name, const std::string& holder, const std::string& renew,
                     int duration) {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", name}, {"namespace", kNamespace}}},
          {"spec",
           {{"holderIdentity", holder},
            {"leaseDurationSeconds", duration},
            {"acquireTime", renew},
            {"renewTime", renew}}}};
}

nlohmann::json GardenerResourceManagerDeployment() {
  // Flag and mount per gardener/gardener pkg/component/gardener/resourcemanager/resource_manager.go
  // (config at /etc/gardener-resource-manager-config/config.yaml).
  const nlohmann::json container = {
      {"name", "gardener-resource-manager"},
      {"args", {"--config=/etc/gardener-resource-manager-config/config.yaml"}},
      {"volumeMounts",
       {{{"name", "config"}, {"mountPath", "/etc/gardener-resource-manager-config"}},
        {{"name", "kubeconfig"},
         {"mountPath", "/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig"}}}}};
  const nlohmann::json volumes = nlohmann::json::parse(R"([
    {"name": "config", "configMap": {"name": "gardener-resource-manager-5d1c7f2e"}},
    {"name": "kubeconfig", "projected": {"sources": [
      {"secret": {"name": "generic-token-kubeconfig-9b8a7c6d"}},
      {"secret": {"name": "shoot-access-gardener-resource-manager"}}]}}])");
  return Deployment("gardener-resource-manager", container, volumes);
}

NamespaceSnapshot ReferenceNamespace() {
  NamespaceSnapshot ns;
  ns.name = kNamespace;
  const nlohmann::json list = Reference("seed-namespace-leaselist.json");
  for (const auto& item : list["items"]) {
    ns.leases.push_back(item);
  }
  ns.configmaps.push_back(Reference("legacy-configmap-lock.json"));
  ns.configmaps.push_back(Reference("seed-configmap-gardener-resource-manager.json"));
  ns.deployments.push_back(Reference("seed-deployment-machine-controller-manager.json"));
  ns.deployments.push_back(Reference("seed-deployment-kube-controller-manager.json"));
  ns.deployments.push_back(GardenerResourceManagerDeployment());
  ns.pods.push_back(DeploymentPod("machine-controller-manager", "6c8b9d7f5d", "k2p9x"));
  ns.pods.push_back(DeploymentPod("gardener-resource-manager", "7c9d8f6b5", "q8wzn"));
  ns.pods.push_back(DeploymentPod("kube-controller-manager", "5f7d9c8b46", "7xqzt"));
  return ns;
}

}  // namespace seedhop::auditor::testing
