#include "migrator/shootstate/export.h"

#include <gtest/gtest.h>

#include "common/yaml/yaml_json.h"

namespace seedhop::migrator::shootstate {
namespace {

using nlohmann::json;

const ShootRef kShoot{"my-shoot", "garden-my-project"};

json Meta(const std::string& name) {
  return {{"name", name},
          {"namespace", "shoot--my-project--my-shoot"},
          {"uid", "3f6c-uid"},
          {"resourceVersion", "42"},
          {"generation", 3},
          {"creationTimestamp", "2026-01-01T00:00:00Z"},
          {"managedFields", json::array({{{"manager", "kubectl"}}})},
          {"ownerReferences", json::array({{{"uid", "owner-uid"}, {"name", "o"}}})}};
}

json PersistedSecret(const std::string& name) {
  json meta = Meta(name);
  meta["labels"] = {{"persist", "true"}, {"name", name}};
  return {{"apiVersion", "v1"}, {"kind", "Secret"},  {"metadata", meta},
          {"type", "Opaque"},   {"immutable", true}, {"data", {{"ca.key", "c2VjcmV0LWtleQ=="}}}};
}

json Extension(const std::string& kind, const std::string& name, json status) {
  return {{"apiVersion", kExtensionsApiVersion},
          {"kind", kind},
          {"metadata", Meta(name)},
          {"spec", {{"type", "aws"}, {"purpose", "normal"}}},
          {"status", std::move(status)}};
}

json TfState() {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", Meta("my-shoot-tfstate")},
          {"data", {{"state", "{}"}}}};
}

TEST(StripServerFields, RemovesServerSetFieldsAndStatus) {
  json object = Extension("Worker", "w", {{"state", {{"a", 1}}}});
  json stripped = StripServerFields(object);
  for (const char* field : {"uid", "resourceVersion", "generation", "creationTimestamp",
                            "managedFields", "ownerReferences", "namespace"}) {
    EXPECT_FALSE(stripped["metadata"].contains(field)) << field;
  }
  EXPECT_EQ(stripped["metadata"]["name"], "w");
  EXPECT_FALSE(stripped.contains("status"));
  EXPECT_EQ(stripped["spec"], object["spec"]);
  EXPECT_EQ(StripServerFields(object, true)["status"], object["status"]);
  EXPECT_EQ(StripServerFields(json::object()), json::object());
}

TEST(BuildShootState, MatchesUpstreamSchema) {
  std::vector<json> objects = {
      PersistedSecret("ca-etcd"),
      TfState(),
      Extension(
          "Infrastructure", "my-shoot",
          {{"state", {{"vpc", "vpc-1"}}},
           {"resources",
            {{{"name", "terraform-state"},
              {"resourceRef",
               {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "my-shoot-tfstate"}}}}}}}),
      Extension("ControlPlane", "my-shoot", {{"state", {{"x", 1}}}}),
      Extension("Network", "my-shoot", json::object()),  // nothing to keep: left out
  };
  json deleting = Extension("Worker", "my-shoot", {{"state", {{"m", 1}}}});
  deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  objects.push_back(deleting);
  json unlabelled = PersistedSecret("not-persisted");
  unlabelled["metadata"]["labels"].erase("persist");
  objects.push_back(unlabelled);

  auto state = BuildShootState(objects, DefaultCopyRules(), kShoot, "2026-07-20T10:00:00Z");
  ASSERT_TRUE(state.ok()) << state.error().message();
  EXPECT_EQ((*state)["apiVersion"], "core.gardener.cloud/v1beta1");
  EXPECT_EQ((*state)["kind"], "ShootState");
  EXPECT_EQ((*state)["metadata"]["name"], "my-shoot");
  EXPECT_EQ((*state)["metadata"]["namespace"], "garden-my-project");
  EXPECT_EQ((*state)["metadata"]["annotations"]["gardener.cloud/timestamp"],
            "2026-07-20T10:00:00Z");
  const json& spec = (*state)["spec"];
  ASSERT_EQ(spec["gardener"].size(), 1u);
  EXPECT_EQ(spec["gardener"][0], json({{"name", "ca-etcd"},
                                       {"type", "secret"},
                                       {"labels", {{"persist", "true"}, {"name", "ca-etcd"}}},
                                       {"data",
                                        {{"data", {{"ca.key", "c2VjcmV0LWtleQ=="}}},
                                         {"immutable", true},
                                         {"type", "Opaque"}}}}));
  ASSERT_EQ(spec["extensions"].size(), 2u);
  EXPECT_EQ(spec["extensions"][0]["kind"], "ControlPlane");
  EXPECT_EQ(spec["extensions"][0]["purpose"], "normal");
  EXPECT_FALSE(spec["extensions"][0].contains("resources"));
  EXPECT_EQ(spec["extensions"][1]["kind"], "Infrastructure");
  EXPECT_EQ(spec["extensions"][1]["state"], json({{"vpc", "vpc-1"}}));
  ASSERT_EQ(spec["resources"].size(), 1u);
  EXPECT_EQ(spec["resources"][0]["kind"], "ConfigMap");
  EXPECT_EQ(spec["resources"][0]["name"], "my-shoot-tfstate");
  EXPECT_EQ(spec["resources"][0]["data"], StripServerFields(TfState()));

  // Same input in another order: byte-equal output.
  std::reverse(objects.begin(), objects.end());
  auto again = BuildShootState(objects, DefaultCopyRules(), kShoot, "2026-07-20T10:00:00Z");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->dump(), state->dump());
}

TEST(BuildShootState, ShapeAgreesWithSynthesizedReference) {
  auto docs = yaml::ReadDocuments(std::string(SEEDHOP_SHARED_DIR) +
                                  "/reference/gardener/shootstate.synth.yaml");
  ASSERT_TRUE(docs.ok()) << docs.error().message();
  const json& reference = docs->front();
  auto state = BuildShootState({PersistedSecret("ca-etcd")}, DefaultCopyRules(), kShoot, "t");
  ASSERT_TRUE(state.ok());
  const json& mine = (*state)["spec"]["gardener"][0];
  const json& theirs = reference["spec"]["gardener"][0];
  for (const auto& [key, value] : theirs.items())
    EXPECT_TRUE(mine.contains(key)) << key;
  for (const auto& [key, value] : theirs["data"].items())
    EXPECT_TRUE(mine["data"].contains(key)) << key;
}

TEST(BuildShootState, CustomRuleSelectsOtherKindsIntoResources) {
  auto rules = ParseCopyRules({{"rules",
                                {{{"name", "cms"},
                                  {"apiVersion", "v1"},
                                  {"kind", "ConfigMap"},
                                  {"namePattern", ".*-tfstate"}}}}});
  ASSERT_TRUE(rules.ok());
  json other = TfState();
  other["metadata"]["name"] = "unrelated";
  auto state = BuildShootState({TfState(), other, PersistedSecret("s")}, *rules, kShoot, "t");
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE((*state)["spec"].contains("gardener"));  // the custom rules replace the defaults
  ASSERT_EQ((*state)["spec"]["resources"].size(), 1u);
  EXPECT_EQ((*state)["spec"]["resources"][0]["name"], "my-shoot-tfstate");
}

TEST(BuildShootState, MissingReferenceIsAnError) {
  json infra = Extension(
      "Infrastructure", "my-shoot",
      {{"resources",
        {{{"name", "tf"},
          {"resourceRef", {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "gone"}}}}}}});
  auto state = BuildShootState({infra}, DefaultCopyRules(), kShoot, "t");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(state.error().message().find("Infrastructure my-shoot: status.resources[0]: "
                                         "ConfigMap gone not found"),
            std::string::npos)
      << state.error().message();
}

TEST(BuildShootState, BadStatusResourcesIsAnError) {
  auto state = BuildShootState({Extension("Worker", "w", {{"resources", "x"}})}, DefaultCopyRules(),
                               kShoot, "t");
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.error().message().find("status.resources"), std::string::npos);
}

TEST(BuildShootState, EmptyNamespaceGivesEmptySpec) {
  auto state = BuildShootState({}, DefaultCopyRules(), kShoot, "t");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ((*state)["spec"], json::object());
}

}  // namespace
}  // namespace seedhop::migrator::shootstate
