#include "migrator/shootstate/copy_rules.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test/support/certs.h"

namespace seedhop::migrator::shootstate {
namespace {

using nlohmann::json;

json Secret(const std::string& name, json labels) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", name}, {"labels", std::move(labels)}}}};
}

TEST(LabelSelector, ParsesAndMatchesEqualityForms) {
  auto selector = ParseLabelSelector("persist=true, tier==a,!legacy,owner,env!=prod");
  ASSERT_TRUE(selector.ok()) << selector.error().message();
  EXPECT_EQ(selector->requirements.size(), 5u);
  EXPECT_TRUE(selector->Matches({{"persist", "true"}, {"tier", "a"}, {"owner", "x"}}));
  EXPECT_FALSE(selector->Matches({{"persist", "false"}, {"tier", "a"}, {"owner", "x"}}));
  EXPECT_FALSE(selector->Matches({{"persist", "true"}, {"tier", "a"}}));  // owner missing
  EXPECT_FALSE(
      selector->Matches({{"persist", "true"}, {"tier", "a"}, {"owner", "x"}, {"legacy", ""}}));
  EXPECT_FALSE(
      selector->Matches({{"persist", "true"}, {"tier", "a"}, {"owner", "x"}, {"env", "prod"}}));
  EXPECT_FALSE(selector->Matches(json()));
}

TEST(LabelSelector, EmptySelectsEverything) {
  auto selector = ParseLabelSelector("  ");
  ASSERT_TRUE(selector.ok());
  EXPECT_TRUE(selector->Matches(json()));
}

TEST(LabelSelector, RejectsMalformedRequirements) {
  for (const char* bad : {"a in (b,c)", "=x", "a=b=c", "persist=true,", "-a=b",
                          "a="
                          "x y"}) {
    auto selector = ParseLabelSelector(bad);
    EXPECT_FALSE(selector.ok()) << bad;
  }
}

TEST(PluralOf, FollowsKubernetesGenerators) {
  EXPECT_EQ(PluralOf("Secret"), "secrets");
  EXPECT_EQ(PluralOf("BackupEntry"), "backupentries");
  EXPECT_EQ(PluralOf("DNSRecord"), "dnsrecords");
  EXPECT_EQ(PluralOf("Ingress"), "ingresses");
  EXPECT_EQ(PluralOf("Gateway"), "gateways");
  EXPECT_EQ(PluralOf("OperatingSystemConfig"), "operatingsystemconfigs");
}

TEST(DefaultCopyRules, SelectPersistedSecretsAndUpstreamExtensionKinds) {
  CopyRules rules = DefaultCopyRules();
  ASSERT_EQ(rules.rules.size(), 1u);
  EXPECT_TRUE(rules.rules[0].Matches(Secret("ca-etcd", {{"persist", "true"}})));
  EXPECT_FALSE(rules.rules[0].Matches(Secret("ca-etcd", {{"persist", "false"}})));
  EXPECT_FALSE(rules.rules[0].Matches(Secret("ca-etcd", json())));
  json cm = Secret("x", {{"persist", "true"}});
  cm["kind"] = "ConfigMap";
  EXPECT_FALSE(rules.rules[0].Matches(cm));
  EXPECT_EQ(rules.extension_kinds.size(), 9u);
  EXPECT_EQ(std::count(rules.extension_kinds.begin(), rules.extension_kinds.end(), "BackupEntry"),
            0);
}

TEST(ParseCopyRules, ParsesRulesWithPatternAndKeepsDefaultKinds) {
  json doc = {{"rules",
               {{{"name", "tfstate"},
                 {"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"labelSelector", "app=terraform"},
                 {"namePattern", ".*-tfstate"}}}}};
  auto rules = ParseCopyRules(doc);
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  ASSERT_EQ(rules->rules.size(), 1u);
  const CopyRule& rule = rules->rules[0];
  EXPECT_EQ(rule.resource, "configmaps");
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "infra-tfstate"}, {"labels", {{"app", "terraform"}}}}}};
  EXPECT_TRUE(rule.Matches(cm));
  cm["metadata"]["name"] = "infra-tfstate-old";  // the pattern is anchored at both ends
  EXPECT_FALSE(rule.Matches(cm));
  EXPECT_EQ(rules->extension_kinds, DefaultCopyRules().extension_kinds);
}

TEST(ParseCopyRules, ErrorsNameTheField) {
  struct Case {
    json doc;
    std::string want;
  };
  const json ok_rule = {{"name", "a"}, {"apiVersion", "v1"}, {"kind", "Secret"}};
  std::vector<Case> cases = {
      {json::array(), "rules document: must be a mapping"},
      {{{"rulez", json::array()}}, "rulez: unknown field"},
      {{{"rules", "x"}}, "rules: must be a list"},
      {{{"rules", {json{{"apiVersion", "v1"}, {"kind", "Secret"}}}}}, "rules[0].name: required"},
      {{{"rules", {ok_rule, json{{"name", "b"}, {"kind", "Secret"}}}}},
       "rules[1].apiVersion: required"},
      {{{"rules", {json{{"name", "a"}, {"apiVersion", "v1"}, {"kind", 3}}}}},
       "rules[0].kind: must be a string"},
      {{{"rules", {json{{"name", "a"}, {"apiVersion", "v1"}, {"kind", "Secret"}, {"x", 1}}}}},
       "rules[0].x: unknown field"},
      {{{"rules",
         {json{{"name", "a"}, {"apiVersion", "v1"}, {"kind", "Secret"}, {"namePattern", "(a"}}}}},
       "rules[0].namePattern: invalid RE2"},
      {{{"rules",
         {json{{"name", "a"},
               {"apiVersion", "v1"},
               {"kind", "Secret"},
               {"labelSelector", "a in (b)"}}}}},
       "rules[0].labelSelector"},
      {{{"rules", {ok_rule, ok_rule}}}, "rules[1].name: duplicate \"a\""},
      {{{"extensionKinds", {"Worker", ""}}}, "extensionKinds[1]: must be a non-empty string"},
  };
  for (const auto& c : cases) {
    auto rules = ParseCopyRules(c.doc);
    ASSERT_FALSE(rules.ok()) << c.doc.dump();
    EXPECT_NE(rules.error().message().find(c.want), std::string::npos)
        << rules.error().message() << " (want " << c.want << ")";
    EXPECT_EQ(rules.error().code(), ErrorCode::kInvalid);
  }
}

TEST(ReadCopyRules, ReadsYamlAndNamesTheFileOnError) {
  auto dir = seedhop::testing::MakeTempDir("seedhop-copy-rules-");
  ASSERT_TRUE(dir.ok()) << dir.error().message();
  const std::string path = *dir + "/copy-rules.yaml";
  {
    std::ofstream out(path);
    out << "rules:\n- name: s\n  apiVersion: v1\n  kind: Secret\n  labelSelector: persist=true\n"
           "extensionKinds: [Worker]\n";
  }
  auto rules = ReadCopyRules(path);
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  EXPECT_EQ(rules->extension_kinds, std::vector<std::string>{"Worker"});
  {
    std::ofstream out(path);
    out << "rules:\n- name: s\n  kind: Secret\n";
  }
  rules = ReadCopyRules(path);
  ASSERT_FALSE(rules.ok());
  EXPECT_NE(rules.error().message().find(path), std::string::npos);
  EXPECT_NE(rules.error().message().find("rules[0].apiVersion"), std::string::npos);
  std::filesystem::remove_all(*dir);
}

}  // namespace
}  // namespace seedhop::migrator::shootstate
