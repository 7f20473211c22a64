// Renders every kustomization under manifests/ with real `kubectl kustomize` and checks what an
// operator would apply: every object valid against the Kubernetes OpenAPI v3 schemas and the CRD
// schemas (strictly, unknown fields included), least-privilege RBAC, locked-down containers, and
// alerts that link a runbook section that exists.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/yaml/yaml_json.h"
#include "test/monitoring/openapi_validator.h"
#include "test/support/certs.h"
#include "test/support/process.h"

namespace seedhop::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRoot = SEEDHOP_SOURCE_DIR;
const fs::path kSharedOpenApi = fs::path(SEEDHOP_SHARED_DIR) / "reference" / "openapi";
const fs::path kVendored = kRoot / "test" / "monitoring" / "schemas";

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every directory under manifests/ holding a kustomization.yaml, relative to the repository.
std::vector<std::string> Kustomizations() {
  std::vector<std::string> dirs;
  for (const auto& entry : fs::recursive_directory_iterator(kRoot / "manifests")) {
    if (entry.path().filename() == "kustomization.yaml")
      dirs.push_back(fs::relative(entry.path().parent_path(), kRoot).string());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

struct Rendered {
  std::string dir;     // "manifests/webhook"
  std::string origin;  // "manifests/webhook: Deployment seedhop-system/seedhop-webhook"
  json object;
};

std::string Describe(const std::string& dir, const json& object) {
  const json& meta = object.value("metadata", json::object());
  const std::string ns = meta.value("namespace", "");
  return dir + ": " + object.value("kind", "?") + " " + (ns.empty() ? "" : ns + "/") +
         meta.value("name", "?");
}

class ManifestsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    validator_ = new OpenApiValidator();
    std::vector<fs::path> documents;
    for (const fs::path& dir : {kSharedOpenApi, kVendored}) {
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".json")
          documents.push_back(entry.path());
      }
    }
    for (const auto& path : documents) {
      const Status added = validator_->AddOpenApiDocument(json::parse(ReadText(path)), path);
      ASSERT_TRUE(added.ok()) << added.error().message();
    }
    // Our CRDs and the third-party ones the manifests use (vendored, see schemas/README.md).
    std::vector<fs::path> crd_files;
    for (const fs::path& dir : {kRoot / "manifests" / "crds", kVendored}) {
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".yaml" && entry.path().filename() != "kustomization.yaml")
          crd_files.push_back(entry.path());
      }
    }
    for (const auto& path : crd_files) {
      auto crds = yaml::ReadDocuments(path);
      ASSERT_TRUE(crds.ok()) << crds.error().message();
      for (const auto& crd : *crds) {
        const Status added = validator_->AddCrd(crd);
        ASSERT_TRUE(added.ok()) << path << ": " << added.error().message();
      }
    }
    rendered_ = new std::vector<Rendered>();
    for (const auto& dir : Kustomizations()) {
      auto [code, out] = RunShell("kubectl kustomize " + (kRoot / dir).string() + " 2>&1");
      ASSERT_EQ(code, 0) << "kubectl kustomize " << dir << ":\n" << out;
      auto objects = yaml::ParseDocuments(out, dir);
      ASSERT_TRUE(objects.ok()) << objects.error().message();
      ASSERT_FALSE(objects->empty()) << dir << " renders nothing";
      for (auto& object : *objects)
        rendered_->push_back({dir, Describe(dir, object), std::move(object)});
    }
  }
  static void TearDownTestSuite() {
    delete validator_;
    delete rendered_;
  }

  static OpenApiValidator* validator_;
  static std::vector<Rendered>* rendered_;
};

OpenApiValidator* ManifestsTest::validator_ = nullptr;
std::vector<Rendered>* ManifestsTest::rendered_ = nullptr;

TEST_F(ManifestsTest, EveryKustomizationRenders) {
  const auto dirs = Kustomizations();
  for (const char* expected : {"manifests/crds", "manifests/webhook", "manifests/auditor",
                               "manifests/monitoring", "manifests/overlays/source-seed",
                               "manifests/overlays/target-seed", "manifests/overlays/garden"}) {
    EXPECT_NE(std::find(dirs.begin(), dirs.end(), expected), dirs.end()) << expected;
  }
  EXPECT_GT(rendered_->size(), 20u);
}

TEST_F(ManifestsTest, EveryObjectMatchesItsSchema) {
  for (const auto& [dir, origin, object] : *rendered_) {
    const std::string api_version = object.value("apiVersion", "");
    const std::string kind = object.value("kind", "");
    if (!validator_->Knows(api_version, kind)) {
      ADD_FAILURE() << origin << ": no schema for " << api_version << " " << kind;
      continue;
    }
    for (const auto& error : validator_->Validate(object))
      ADD_FAILURE() << origin << ": " << error;
  }
}

// The validator must be able to say no, or the test above proves nothing.
TEST_F(ManifestsTest, ValidatorRejectsWhatKubeApiserverRejects) {
  const json deployment = json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
    "spec": {"replicas": "2", "selector": {"matchLabels": {"a": "b"}}, "template": {
      "metadata": {"labels": {"a": "b"}},
      "spec": {"containers": [{"image": "i", "securityContext": {"runAsUser": 1},
                               "ports": [{"containerPort": 80, "protocl": "TCP"}]}]}}}})");
  const auto errors = validator_->Validate(deployment);
  const std::set<std::string> got(errors.begin(), errors.end());
  EXPECT_TRUE(got.contains("spec.replicas: want integer, got string"))
      << ::testing::PrintToString(errors);
  EXPECT_TRUE(got.contains("spec.template.spec.containers[0].name: required"));
  EXPECT_TRUE(got.contains("spec.template.spec.containers[0].ports[0].protocl: unknown field"));

  const json plan = json::parse(R"({
    "apiVersion": "seedhop.io/v1alpha1", "kind": "EtcdPlan",
    "metadata": {"name": "etcd-main", "namespace": "shoot--a--b", "lables": {}},
    "spec": {"replicas": -1, "remoteMembers": [{"ordinal": 0, "address": "etcd.example"}]}})");
  const auto plan_errors = validator_->Validate(plan);
  const std::set<std::string> plan_got(plan_errors.begin(), plan_errors.end());
  EXPECT_TRUE(plan_got.contains("spec.replicas: below the minimum 0"))
      << ::testing::PrintToString(plan_errors);
  EXPECT_TRUE(plan_got.contains(
      "spec.remoteMembers[0].address: \"etcd.example\" does not match \"^[0-9A-Fa-f:.]+$\""));
  EXPECT_TRUE(plan_got.contains("metadata.lables: unknown field"));

  const json rule = json::parse(R"({
    "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "r"},
    "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "for": "5 minutes"}]}]}})");
  const auto rule_errors = validator_->Validate(rule);
  EXPECT_EQ(rule_errors.size(), 2u) << ::testing::PrintToString(rule_errors);  // expr, for
}

// No wildcards, no aggregation, and bindings only to roles the same kustomization defines, so
// every permission granted is spelled out in manifests/ (never cluster-admin, admin or edit).
TEST_F(ManifestsTest, RbacIsLeastPrivilege) {
  std::set<std::pair<std::string, std::string>> defined;  // (dir, "Kind/name")
  for (const auto& [dir, origin, object] : *rendered_) {
    const std::string kind = object.value("kind", "");
    if (kind != "ClusterRole" && kind != "Role")
      continue;
    defined.insert({dir, kind + "/" + object["metadata"].value("name", "")});
    EXPECT_FALSE(object.contains("aggregationRule")) << origin;
    for (const auto& rule : object.value("rules", json::array())) {
      for (const char* field : {"apiGroups", "resources", "verbs", "resourceNames"}) {
        for (const auto& item : rule.value(field, json::array())) {
          EXPECT_EQ(item.get<std::string>().find('*'), std::string::npos)
              << origin << ": " << field << " " << item;
        }
      }
      EXPECT_FALSE(rule.contains("nonResourceURLs")) << origin;
    }
  }
  size_t bindings = 0;
  for (const auto& [dir, origin, object] : *rendered_) {
    const std::string kind = object.value("kind", "");
    if (kind != "ClusterRoleBinding" && kind != "RoleBinding")
      continue;
    ++bindings;
    const json& ref = object.at("roleRef");
    EXPECT_TRUE(defined.contains({dir, ref.value("kind", "") + "/" + ref.value("name", "")}))
        << origin << " binds " << ref.dump() << ", which " << dir << " does not define";
  }
  EXPECT_GE(bindings, 2u);
}

// The pod template of a workload, or null for other kinds.
const json* PodSpec(const json& object) {
  const std::string kind = object.value("kind", "");
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" || kind == "Job")
    return &object.at("spec").at("template").at("spec");
  if (kind == "CronJob")
    return &object.at("spec").at("jobTemplate").at("spec").at("template").at("spec");
  return nullptr;
}

TEST_F(ManifestsTest, ContainersRunLockedDown) {
  size_t containers = 0;
  for (const auto& [dir, origin, object] : *rendered_) {
    if (const json* pod = PodSpec(object); pod != nullptr) {
      const bool pod_non_root =
          pod->value("securityContext", json::object()).value("runAsNonRoot", false);
      for (const char* list : {"initContainers", "containers"}) {
        for (const auto& container : pod->value(list, json::array())) {
          ++containers;
          const std::string where = origin + " container " + container.value("name", "");
          const json context = container.value("securityContext", json::object());
          EXPECT_TRUE(pod_non_root || context.value("runAsNonRoot", false)) << where;
          EXPECT_TRUE(context.value("readOnlyRootFilesystem", false)) << where;
          EXPECT_FALSE(context.value("allowPrivilegeEscalation", true)) << where;
          EXPECT_FALSE(context.value("privileged", false)) << where;
          EXPECT_EQ(context.value("capabilities", json::object()).value("drop", json::array()),
                    json::array({"ALL"}))
              << where;
        }
      }
    }
  }
  EXPECT_GE(containers, 3u);
}

TEST_F(ManifestsTest, EveryAlertLinksAnExistingRunbookSection) {
  std::set<std::string> anchors;
  std::istringstream runbook(ReadText(kRoot / "docs" / "runbook.md"));
  for (std::string line; std::getline(runbook, line);) {
    if (line.starts_with("## ")) {
      std::string anchor = line.substr(3);
      std::transform(anchor.begin(), anchor.end(), anchor.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      anchors.insert(anchor);
    }
  }
  auto rules = yaml::ReadDocuments(kRoot / "manifests" / "monitoring" / "prometheusrule.yaml");
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  size_t alerts = 0;
  for (const auto& group : rules->at(0)["spec"]["groups"]) {
    for (const auto& rule : group["rules"]) {
      const std::string alert = rule.value("alert", "");
      ++alerts;
      const json annotations = rule.value("annotations", json::object());
      EXPECT_FALSE(annotations.value("summary", "").empty()) << alert;
      EXPECT_FALSE(annotations.value("description", "").empty()) << alert;
      EXPECT_FALSE(rule.value("labels", json::object()).value("severity", "").empty()) << alert;
      const std::string url = annotations.value("runbook_url", "");
      const auto hash = url.find("/docs/runbook.md#");
      ASSERT_NE(hash, std::string::npos) << alert << ": runbook_url " << url;
      EXPECT_TRUE(anchors.contains(url.substr(url.find('#') + 1)))
          << alert << ": docs/runbook.md has no section for " << url;
    }
  }
  EXPECT_GE(alerts, 10u);
}

// What only synthetic series can show: alerts about series that are missing or stuck.
TEST_F(ManifestsTest, PromtoolUnitTestsOfTheAlertsPass) {
  auto rules = yaml::ReadDocuments(kRoot / "manifests" / "monitoring" / "prometheusrule.yaml");
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  auto made = seedhop::testing::MakeTempDir("seedhop-alerts-");
  ASSERT_TRUE(made.ok()) << made.error().message();
  const fs::path dir = *made;
  std::ofstream(dir / "rules.json") << rules->at(0)["spec"].dump();  // JSON is YAML to promtool
  fs::copy_file(kRoot / "test" / "monitoring" / "alerts_test.yaml", dir / "alerts_test.yaml",
                fs::copy_options::overwrite_existing);
  auto [code, out] =
      RunShell("cd " + dir.string() + " && promtool test rules alerts_test.yaml 2>&1");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("SUCCESS"), std::string::npos) << out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace seedhop::testing
