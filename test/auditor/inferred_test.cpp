#include "auditor/inferred.h"

#include <gtest/gtest.h>

#include "auditor/object.h"
#include "test/auditor/fixtures.h"

namespace seedhop::auditor {
namespace {

using testing::kNamespace;
using testing::Reference;
using testing::ReferenceNamespace;

constexpr char kGeneric[] = "/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig/kubeconfig";

const InferredLock* ByContainer(const Inference& inference, const std::string& container) {
  for (const auto& l : inference.locks) {
    if (l.container == container) {
      return &l;
    }
  }
  return nullptr;
}

TEST(FlagValue, GoFlagSyntax) {
  const std::vector<std::string> args = {"./bin",         "--kubeconfig",   "/a/kubeconfig",
                                         "-namespace=x",  "--leader-elect", "--v=2",
                                         "--namespace=y", "--empty="};
  EXPECT_EQ(FlagValue(args, "--kubeconfig", false), "/a/kubeconfig");
  EXPECT_EQ(FlagValue(args, "--namespace", false), "y");  // the last one wins
  EXPECT_EQ(FlagValue(args, "--leader-elect", true), "true");
  EXPECT_EQ(FlagValue(args, "--empty", false), "");
  EXPECT_FALSE(FlagValue(args, "--leader-elect-resource-name", false).has_value());
  EXPECT_FALSE(FlagValue(args, "--v2", false).has_value());
  EXPECT_FALSE(FlagValue(args, "--kube", false).has_value());
  EXPECT_EQ(FlagValue({"--x"}, "--x", false), "");
  EXPECT_EQ(FlagValue({"--x", "--y"}, "--x", false), "");
}

TEST(ContainerArgs, CommandThenArgs) {
  const nlohmann::json c = {{"command", {"a", "b"}}, {"args", {"c", 4, "d"}}};
  EXPECT_EQ(ContainerArgs(c), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(ContainerArgs(nlohmann::json::object()).empty());
}

TEST(InferWorkload, MachineControllerManagerElectsInTheSeed) {
  const NamespaceSnapshot ns = ReferenceNamespace();
  const Inference inf = InferWorkload(Reference("seed-deployment-machine-controller-manager.json"),
                                      "Deployment", ns, DefaultRules());
  ASSERT_EQ(inf.locks.size(), 2u);
  const InferredLock* mcm = ByContainer(inf, "machine-controller-manager");
  ASSERT_NE(mcm, nullptr);
  EXPECT_EQ(mcm->component, "machine-controller-manager");
  EXPECT_EQ(mcm->location, Location::kSeed);
  EXPECT_EQ(mcm->lock_namespace, kNamespace);  // from --namespace
  EXPECT_EQ(mcm->lock_name, "machine-controller-manager");
  EXPECT_NE(mcm->evidence.find("--control-kubeconfig=inClusterConfig"), std::string::npos);
  const InferredLock* sidecar = ByContainer(inf, "machine-controller-manager-aws");
  ASSERT_NE(sidecar, nullptr);
  EXPECT_EQ(sidecar->component, "machine-controller");
  EXPECT_EQ(sidecar->location, Location::kSeed);
  EXPECT_EQ(sidecar->lock_name, "machine-controller");
  EXPECT_EQ(sidecar->workload, (WorkloadRef{"Deployment", "machine-controller-manager"}));
}

TEST(InferWorkload, KubeControllerManagerElectsInTheShoot) {
  const NamespaceSnapshot ns = ReferenceNamespace();
  const Inference inf = InferWorkload(Reference("seed-deployment-kube-controller-manager.json"),
                                      "Deployment", ns, DefaultRules());
  ASSERT_EQ(inf.locks.size(), 1u);
  const InferredLock& kcm = inf.locks[0];
  EXPECT_EQ(kcm.component, "kube-controller-manager");
  EXPECT_EQ(kcm.location, Location::kShoot);
  EXPECT_EQ(kcm.lock_namespace, "kube-system");
  EXPECT_EQ(kcm.lock_name, "kube-controller-manager");
  EXPECT_NE(kcm.evidence.find("generic-token-kubeconfig-9b8a7c6d"), std::string::npos);
}

TEST(InferWorkload, GardenerResourceManagerReadsItsComponentConfig) {
  const NamespaceSnapshot ns = ReferenceNamespace();
  const Inference inf =
      InferWorkload(testing::GardenerResourceManagerDeployment(), "Deployment", ns, DefaultRules());
  ASSERT_EQ(inf.locks.size(), 1u);
  const InferredLock& grm = inf.locks[0];
  EXPECT_EQ(grm.location, Location::kSeed) << grm.evidence;
  EXPECT_EQ(grm.lock_namespace, kNamespace);  // leaderElection.resourceNamespace
  EXPECT_EQ(grm.lock_name, "gardener-resource-manager");
  EXPECT_NE(grm.evidence.find("configmaps/gardener-resource-manager-5d1c7f2e"), std::string::npos);
  EXPECT_NE(grm.evidence.find("sourceClientConnection.kubeconfig unset"), std::string::npos);
}

TEST(InferWorkload, ComponentConfigThatPointsAtTheShootAndOneThatTurnsElectionOff) {
  NamespaceSnapshot ns = ReferenceNamespace();
  auto& cm = ns.configmaps[1];
  ASSERT_EQ(NameOf(cm), "gardener-resource-manager-5d1c7f2e");
  cm["data"]["config.yaml"] = std::string("sourceClientConnection:\n  kubeconfig: ") + kGeneric +
                              "\nleaderElection:\n  leaderElect: true\n  resourceName: grm\n  "
                              "resourceNamespace: kube-system\n";
  Inference inf =
      InferWorkload(testing::GardenerResourceManagerDeployment(), "Deployment", ns, DefaultRules());
  ASSERT_EQ(inf.locks.size(), 1u);
  EXPECT_EQ(inf.locks[0].location, Location::kShoot) << inf.locks[0].evidence;
  EXPECT_EQ(inf.locks[0].lock_name, "grm");
  EXPECT_EQ(inf.locks[0].lock_namespace, "kube-system");

  cm["data"]["config.yaml"] = "leaderElection:\n  leaderElect: false\n";
  inf =
      InferWorkload(testing::GardenerResourceManagerDeployment(), "Deployment", ns, DefaultRules());
  EXPECT_EQ(inf.locks[0].location, Location::kNone);
}

TEST(InferWorkload, MissingOrBrokenConfigFileIsUnknownNotSafe) {
  NamespaceSnapshot ns = ReferenceNamespace();
  ns.configmaps.erase(ns.configmaps.begin() + 1);
  Inference inf =
      InferWorkload(testing::GardenerResourceManagerDeployment(), "Deployment", ns, DefaultRules());
  ASSERT_EQ(inf.locks.size(), 1u);
  EXPECT_EQ(inf.locks[0].location, Location::kUnknown);
  EXPECT_NE(inf.locks[0].evidence.find("gardener-resource-manager-5d1c7f2e"), std::string::npos);

  ns = ReferenceNamespace();
  ns.configmaps[1]["data"]["config.yaml"] = "leaderElection: [";
  inf =
      InferWorkload(testing::GardenerResourceManagerDeployment(), "Deployment", ns, DefaultRules());
  EXPECT_EQ(inf.locks[0].location, Location::kUnknown);
  EXPECT_NE(inf.locks[0].evidence.find("not valid YAML"), std::string::npos);
}

TEST(InferWorkload, LeaderElectFalseMeansNoLock) {
  auto deployment = Reference("seed-deployment-machine-controller-manager.json");
  deployment["spec"]["template"]["spec"]["containers"][0]["command"].push_back(
      "--leader-elect=false");
  const Inference inf =
      InferWorkload(deployment, "Deployment", ReferenceNamespace(), DefaultRules());
  EXPECT_EQ(ByContainer(inf, "machine-controller-manager")->location, Location::kNone);
  EXPECT_EQ(ByContainer(inf, "machine-controller-manager")->evidence, "--leader-elect=false");
  EXPECT_EQ(ByContainer(inf, "machine-controller-manager-aws")->location, Location::kSeed);
}

TEST(InferWorkload, NonBooleanLeaderElectIsUnknown) {
  auto deployment = Reference("seed-deployment-kube-controller-manager.json");
  deployment["spec"]["template"]["spec"]["containers"][0]["command"].push_back(
      "--leader-elect=perhaps");
  const Inference inf =
      InferWorkload(deployment, "Deployment", ReferenceNamespace(), DefaultRules());
  EXPECT_EQ(inf.locks[0].location, Location::kUnknown);
}

TEST(InferWorkload, CsiSidecarsElectOnlyWhenAsked) {
  const nlohmann::json volumes = nlohmann::json::parse(R"([{"name": "kubeconfig", "projected":
      {"sources": [{"secret": {"name": "generic-token-kubeconfig-9b8a7c6d"}},
                   {"secret": {"name": "shoot-access-csi-provisioner"}}]}}])");
  const nlohmann::json mount = {
      {"name", "kubeconfig"},
      {"mountPath", "/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig"}};
  nlohmann::json c = {{"name", "csi-provisioner"},
                      {"args", {std::string("--kubeconfig=") + kGeneric}},
                      {"volumeMounts", {mount}}};
  Inference off = InferWorkload(testing::Deployment("csi-driver-controller", c, volumes),
                                "Deployment", ReferenceNamespace(), DefaultRules());
  EXPECT_EQ(off.locks[0].location, Location::kNone);
  c["args"].push_back("--leader-election");
  c["args"].push_back("--leader-election-namespace=kube-system");
  Inference on = InferWorkload(testing::Deployment("csi-driver-controller", c, volumes),
                               "Deployment", ReferenceNamespace(), DefaultRules());
  EXPECT_EQ(on.locks[0].location, Location::kShoot);
  EXPECT_EQ(on.locks[0].lock_namespace, "kube-system");
  EXPECT_EQ(on.locks[0].lock_name, "ebs-csi-aws-com");
}

TEST(InferWorkload, AwsRouteControllerFollowsItsTargetKubeconfig) {
  const nlohmann::json volumes = nlohmann::json::parse(R"([{"name": "kubeconfig", "projected":
      {"sources": [{"secret": {"name": "generic-token-kubeconfig-1"}}]}}])");
  const nlohmann::json c = {
      {"name", "aws-custom-route-controller"},
      {"command",
       {"/aws-custom-route-controller", "--control-kubeconfig=inClusterConfig",
        std::string("--target-kubeconfig=") + kGeneric, "--leader-election=true",
        "--leader-election-namespace=kube-system"}},
      {"volumeMounts",
       {{{"name", "kubeconfig"},
         {"mountPath", "/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig"}}}}};
  const Inference inf =
      InferWorkload(testing::Deployment("aws-custom-route-controller", c, volumes), "Deployment",
                    ReferenceNamespace(), DefaultRules());
  ASSERT_EQ(inf.locks.size(), 1u);
  EXPECT_EQ(inf.locks[0].location, Location::kShoot) << inf.locks[0].evidence;
  EXPECT_EQ(inf.locks[0].lock_name, "aws-custom-route-controller-leader-election");
}

TEST(ClassifyKubeconfig, EveryWayAKubeconfigCanLead) {
  const Rules rules = DefaultRules();
  const nlohmann::json pod_spec = nlohmann::json::parse(R"({"volumes": [
      {"name": "generic", "projected": {"sources": [
          {"secret": {"name": "generic-token-kubeconfig-9b8a7c6d"}},
          {"secret": {"name": "shoot-access-x"}}]}},
      {"name": "other", "secret": {"secretName": "garden-kubeconfig"}}]})");
  const nlohmann::json container = nlohmann::json::parse(R"({"volumeMounts": [
      {"name": "generic", "mountPath": "/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig"},
      {"name": "other", "mountPath": "/etc/other/"}]})");
  EXPECT_EQ(ClassifyKubeconfig("", pod_spec, container, rules).location, Location::kSeed);
  EXPECT_EQ(ClassifyKubeconfig("inClusterConfig", pod_spec, container, rules).location,
            Location::kSeed);
  EXPECT_EQ(ClassifyKubeconfig("IN-CLUSTER", pod_spec, container, rules).location, Location::kSeed);
  EXPECT_EQ(ClassifyKubeconfig(kGeneric, pod_spec, container, rules).location, Location::kShoot);
  auto other = ClassifyKubeconfig("/etc/other/kubeconfig", pod_spec, container, rules);
  EXPECT_EQ(other.location, Location::kUnknown);
  EXPECT_NE(other.evidence.find("garden-kubeconfig"), std::string::npos);
  EXPECT_EQ(ClassifyKubeconfig("/tmp/kubeconfig", pod_spec, container, rules).location,
            Location::kUnknown);
  // The well-known path without a volume to explain it still reads as the shoot.
  EXPECT_EQ(ClassifyKubeconfig(kGeneric, nlohmann::json::object(), nlohmann::json::object(), rules)
                .location,
            Location::kShoot);
  // A prefix that is not a directory boundary is not inside the mount.
  EXPECT_EQ(ClassifyKubeconfig("/etc/otherness/kubeconfig", pod_spec, container, rules).location,
            Location::kUnknown);
}

TEST(InferWorkload, UnknownContainers) {
  const NamespaceSnapshot ns = ReferenceNamespace();
  const nlohmann::json quiet = {{"name", "my-exporter"}, {"args", {"--port=9100"}}};
  Inference inf =
      InferWorkload(testing::Deployment("my-exporter", quiet), "Deployment", ns, DefaultRules());
  EXPECT_TRUE(inf.locks.empty());
  ASSERT_EQ(inf.findings.size(), 1u);
  EXPECT_EQ(inf.findings[0].severity, Severity::kInfo);

  const nlohmann::json electing = {
      {"name", "my-operator"}, {"args", {"--leader-elect", "--leader-election-id=my-operator"}}};
  inf =
      InferWorkload(testing::Deployment("my-operator", electing), "Deployment", ns, DefaultRules());
  ASSERT_EQ(inf.locks.size(), 1u);
  EXPECT_EQ(inf.locks[0].component, "");
  EXPECT_EQ(inf.locks[0].location, Location::kSeed);  // no kubeconfig: in-cluster
  EXPECT_EQ(inf.locks[0].lock_name, "my-operator");
  EXPECT_EQ(inf.locks[0].lock_namespace, kNamespace);
  ASSERT_EQ(inf.findings.size(), 1u);
  EXPECT_EQ(inf.findings[0].severity, Severity::kWarning);
}

TEST(InferWorkload, ComponentsWithoutLeaderElection) {
  const nlohmann::json c = {{"name", "kube-apiserver"}, {"command", {"kube-apiserver"}}};
  const Inference inf = InferWorkload(testing::Deployment("kube-apiserver", c), "Deployment",
                                      ReferenceNamespace(), DefaultRules());
  ASSERT_EQ(inf.locks.size(), 1u);
  EXPECT_EQ(inf.locks[0].location, Location::kNone);
}

TEST(InferWorkload, BrokenWorkloadIsAFinding) {
  const Inference inf = InferWorkload({{"metadata", {{"name", "weird"}}}}, "StatefulSet",
                                      ReferenceNamespace(), DefaultRules());
  EXPECT_TRUE(inf.locks.empty());
  ASSERT_EQ(inf.findings.size(), 1u);
  EXPECT_EQ(inf.findings[0].severity, Severity::kError);
  EXPECT_EQ(inf.findings[0].subject, "statefulset/weird");
}

TEST(InferLocks, ReferenceNamespace) {
  const Inference inf = InferLocks(ReferenceNamespace(), DefaultRules());
  int seed = 0;
  int shoot = 0;
  for (const auto& l : inf.locks) {
    seed += l.location == Location::kSeed;
    shoot += l.location == Location::kShoot;
  }
  EXPECT_EQ(seed, 3);   // MCM, its provider sidecar, GRM
  EXPECT_EQ(shoot, 1);  // KCM
}

}  // namespace
}  // namespace seedhop::auditor
