// Drives the real kubectl against the emulator: the emulator is only useful if it is faithful
// enough for the tool operators actually use.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "test/emulator/emulator.h"
#include "test/support/certs.h"
#include "test/support/process.h"

namespace seedhop::emulator {
namespace {

using nlohmann::json;

const char kKubectl[] = "/usr/bin/kubectl";

struct KubectlRun {
  int exit_code;
  std::string output;
};

class KubectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kKubectl))
        << kKubectl << " is missing: install kubectl (Debian: kubernetes-client); this test "
        << "must not be skipped";
    ASSERT_TRUE(emulator_.Start().ok());
    auto made = seedhop::testing::MakeTempDir("seedhop-kubectl-");
    ASSERT_TRUE(made.ok()) << made.error().message();
    dir_ = *made;
    kubeconfig_ = dir_ / "kubeconfig";
    ASSERT_TRUE(emulator_.WriteKubeconfig(kubeconfig_).ok());
    // Keep kubectl's discovery cache away from $HOME and from other tests.
    setenv("KUBECACHEDIR", (dir_ / "cache").c_str(), 1);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  KubectlRun Kubectl(const std::string& args, const std::string& prefix = "") {
    std::string command =
        prefix + kKubectl + std::string(" --kubeconfig ") + kubeconfig_ + " " + args + " 2>&1";
    auto [code, output] = testing::RunShell(command);
    return {code, output};
  }
  std::string WriteManifest(const std::string& name, const std::string& yaml) {
    std::string path = dir_ / name;
    EXPECT_TRUE(testing::WriteFile(path, yaml).ok());
    return path;
  }
  static std::string StatefulSetYaml(int replicas) {
    return "apiVersion: apps/v1\n"
           "kind: StatefulSet\n"
           "metadata:\n"
           "  name: etcd-main\n"
           "  namespace: shoot--a--b\n"
           "  labels: {app: etcd}\n"
           "spec:\n"
           "  replicas: " +
           std::to_string(replicas) +
           "\n"
           "  serviceName: etcd-main-peer\n"
           "  selector: {matchLabels: {app: etcd}}\n"
           "  template:\n"
           "    metadata: {labels: {app: etcd}}\n"
           "    spec:\n"
           "      containers: [{name: etcd, image: 'etcd:3.5'}]\n";
  }

  Emulator emulator_{EmulatorOptions{}};
  std::filesystem::path dir_;
  std::string kubeconfig_;
};

TEST_F(KubectlTest, CrudAndWatchWithRealKubectl) {
  KubectlRun ns = Kubectl("create namespace shoot--a--b");
  ASSERT_EQ(ns.exit_code, 0) << ns.output;
  EXPECT_EQ(ns.output, "namespace/shoot--a--b created\n");

  std::string manifest = WriteManifest("sts.yaml", StatefulSetYaml(3));
  KubectlRun create = Kubectl("create -f " + manifest);
  ASSERT_EQ(create.exit_code, 0) << create.output;
  EXPECT_EQ(create.output, "statefulset.apps/etcd-main created\n");
  KubectlRun duplicate = Kubectl("create -f " + manifest);
  EXPECT_NE(duplicate.exit_code, 0);
  EXPECT_NE(duplicate.output.find("Error from server (AlreadyExists)"), std::string::npos)
      << duplicate.output;

  KubectlRun table = Kubectl("-n shoot--a--b get sts");
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_EQ(table.output.rfind("NAME        AGE\netcd-main   ", 0), 0u) << table.output;
  KubectlRun all = Kubectl("get statefulsets -A");
  EXPECT_EQ(all.output.rfind("NAMESPACE     NAME        AGE\nshoot--a--b   etcd-main   ", 0), 0u)
      << all.output;

  KubectlRun as_json = Kubectl("-n shoot--a--b get sts etcd-main -o json");
  ASSERT_EQ(as_json.exit_code, 0) << as_json.output;
  json object = json::parse(as_json.output);
  EXPECT_EQ(object["spec"]["replicas"], 3);
  EXPECT_EQ(object["metadata"]["generation"], 1);

  KubectlRun replace = Kubectl("replace -f " + WriteManifest("sts5.yaml", StatefulSetYaml(5)));
  ASSERT_EQ(replace.exit_code, 0) << replace.output;
  EXPECT_EQ(replace.output, "statefulset.apps/etcd-main replaced\n");

  KubectlRun merge = Kubectl(
      "-n shoot--a--b patch sts etcd-main --type merge -p "
      "'{\"spec\":{\"ordinals\":{\"start\":3}}}'");
  ASSERT_EQ(merge.exit_code, 0) << merge.output;
  EXPECT_EQ(merge.output, "statefulset.apps/etcd-main patched\n");
  KubectlRun json_patch = Kubectl(
      "-n shoot--a--b patch sts etcd-main --type json "
      "-p '[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2}]'");
  ASSERT_EQ(json_patch.exit_code, 0) << json_patch.output;
  KubectlRun scale = Kubectl("-n shoot--a--b scale sts etcd-main --replicas=4");
  ASSERT_EQ(scale.exit_code, 0) << scale.output;
  KubectlRun fields = Kubectl(
      "-n shoot--a--b get sts etcd-main -o "
      "jsonpath='{.spec.replicas},{.spec.ordinals.start},{.metadata.generation}'");
  EXPECT_EQ(fields.output, "4,3,5") << fields.output;

  // get -w sees a write made while it watches.
  auto watch = std::async(std::launch::async, [&] {
    return Kubectl("-n shoot--a--b get configmaps -w", "timeout 5 ");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  KubectlRun cm = Kubectl("-n shoot--a--b create configmap watched --from-literal=a=b");
  ASSERT_EQ(cm.exit_code, 0) << cm.output;
  KubectlRun watched = watch.get();
  EXPECT_EQ(watched.exit_code, 124) << watched.output;  // ended by timeout, not by an error
  EXPECT_NE(watched.output.find("watched"), std::string::npos) << watched.output;

  KubectlRun remove = Kubectl("-n shoot--a--b delete sts etcd-main");
  ASSERT_EQ(remove.exit_code, 0) << remove.output;
  EXPECT_EQ(remove.output, "statefulset.apps \"etcd-main\" deleted\n");
  KubectlRun gone = Kubectl("-n shoot--a--b get sts etcd-main");
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_EQ(gone.output,
            "Error from server (NotFound): statefulsets.apps \"etcd-main\" not found\n");
}

TEST_F(KubectlTest, CustomResourcesAndSelectors) {
  std::string crd =
      WriteManifest("crd.yaml",
                    "apiVersion: apiextensions.k8s.io/v1\n"
                    "kind: CustomResourceDefinition\n"
                    "metadata: {name: etcdplans.seedhop.io}\n"
                    "spec:\n"
                    "  group: seedhop.io\n"
                    "  scope: Namespaced\n"
                    "  names: {plural: etcdplans, singular: etcdplan, kind: EtcdPlan}\n"
                    "  versions:\n"
                    "  - name: v1alpha1\n"
                    "    served: true\n"
                    "    storage: true\n"
                    "    schema: {openAPIV3Schema: {type: object, "
                    "x-kubernetes-preserve-unknown-fields: true}}\n"
                    "    subresources: {status: {}}\n");
  ASSERT_EQ(Kubectl("apply -f " + crd).exit_code, 0);
  ASSERT_EQ(Kubectl("create namespace garden").exit_code, 0);
  std::string plan = WriteManifest("plan.yaml",
                                   "apiVersion: seedhop.io/v1alpha1\n"
                                   "kind: EtcdPlan\n"
                                   "metadata: {name: etcd-main, namespace: garden, "
                                   "labels: {role: main}}\n"
                                   "spec: {replicas: 3}\n");
  KubectlRun created = Kubectl("create -f " + plan);
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_EQ(created.output, "etcdplan.seedhop.io/etcd-main created\n");
  KubectlRun listed = Kubectl("-n garden get etcdplans -l role=main -o name");
  EXPECT_EQ(listed.output, "etcdplan.seedhop.io/etcd-main\n");
  KubectlRun none = Kubectl("-n garden get etcdplans -l role!=main -o name");
  EXPECT_EQ(none.exit_code, 0) << none.output;
  EXPECT_EQ(none.output, "");
}

}  // namespace
}  // namespace seedhop::emulator
