#include "auditor/rules.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test/support/certs.h"

namespace seedhop::auditor {
namespace {

TEST(DefaultRules, ParseAndCoverTheResearchTable) {
  const Rules rules = DefaultRules();
  EXPECT_TRUE(rules.namespace_pattern.FullMatch("shoot--dev--aws01"));
  EXPECT_FALSE(rules.namespace_pattern.FullMatch("garden"));
  EXPECT_FALSE(rules.namespace_pattern.FullMatch("shoot--dev"));
  EXPECT_FALSE(rules.namespace_pattern.FullMatch("xshoot--dev--aws01x-"));
  // research 5: only these three live in the seed.
  for (const char* name :
       {"machine-controller-manager", "machine-controller", "gardener-resource-manager"}) {
    const ComponentRule* rule = rules.Find(name);
    ASSERT_NE(rule, nullptr) << name;
    EXPECT_EQ(rule->expected, Location::kSeed) << name;
    EXPECT_EQ(rule->lock_namespace, "$namespace") << name;
    EXPECT_FALSE(rule->advice.empty()) << name;
  }
  for (const char* name :
       {"kube-controller-manager", "kube-scheduler", "cluster-autoscaler", "vpa-recommender",
        "vpa-updater", "cloud-controller-manager", "csi-provisioner", "csi-attacher", "csi-resizer",
        "csi-snapshotter", "csi-snapshot-controller", "aws-custom-route-controller",
        "aws-ipam-controller", "aws-load-balancer-controller", "cert-controller-manager",
        "shoot-dns-service"}) {
    const ComponentRule* rule = rules.Find(name);
    ASSERT_NE(rule, nullptr) << name;
    EXPECT_EQ(rule->expected, Location::kShoot) << name;
  }
  for (const char* name : {"kube-apiserver", "etcd", "vpa-admission-controller"}) {
    const ComponentRule* rule = rules.Find(name);
    ASSERT_NE(rule, nullptr) << name;
    EXPECT_FALSE(rule->leader_election) << name;
  }
}

TEST(DefaultRules, MultiClusterBinariesElectOnTheRightClient) {
  const Rules rules = DefaultRules();
  EXPECT_EQ(rules.Find("machine-controller-manager")->kubeconfig_flags,
            std::vector<std::string>{"--control-kubeconfig"});
  EXPECT_EQ(rules.Find("aws-custom-route-controller")->kubeconfig_flags.front(),
            "--target-kubeconfig");
  EXPECT_EQ(rules.Find("cert-controller-manager")->kubeconfig_flags.front(), "--source");
  const ComponentRule* grm = rules.Find("gardener-resource-manager");
  ASSERT_TRUE(grm->config.has_value());
  EXPECT_EQ(grm->config->kubeconfig_field, "sourceClientConnection.kubeconfig");
}

TEST(DefaultRules, MatchContainersAndLocks) {
  const Rules rules = DefaultRules();
  auto container = [&](const char* workload, const char* name) {
    const ComponentRule* r = rules.MatchContainer(workload, name);
    return r == nullptr ? std::string("-") : r->name;
  };
  EXPECT_EQ(container("machine-controller-manager", "machine-controller-manager"),
            "machine-controller-manager");
  EXPECT_EQ(container("machine-controller-manager", "machine-controller-manager-aws"),
            "machine-controller");
  EXPECT_EQ(container("cloud-controller-manager", "aws-cloud-controller-manager"),
            "cloud-controller-manager");
  EXPECT_EQ(container("etcd-main", "backup-restore"), "etcd");
  EXPECT_EQ(container("x", "my-own-operator"), "-");
  auto lock = [&](const char* name) {
    const ComponentRule* r = rules.MatchLock(name);
    return r == nullptr ? std::string("-") : r->name;
  };
  EXPECT_EQ(lock("machine-controller"), "machine-controller");
  EXPECT_EQ(lock("external-attacher-leader-ebs-csi-aws-com"), "csi-attacher");
  EXPECT_EQ(lock("ebs-csi-aws-com"), "csi-provisioner");
  EXPECT_EQ(lock("legacy-controller-leader-election"), "-");
}

TEST(DefaultRules, YamlIsExposedForOperators) {
  EXPECT_NE(DefaultRulesYaml().find("namespacePattern"), std::string_view::npos);
}

TEST(Pattern, CompileErrorsAreValues) {
  EXPECT_FALSE(Pattern::Compile("(").ok());
  EXPECT_TRUE(Pattern::Compile("a|b").ok());
  EXPECT_FALSE(Pattern().FullMatch(""));
  auto p = Pattern::Compile("a.c");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->FullMatch("abc"));
  EXPECT_FALSE(p->FullMatch("abcd"));
}

TEST(ParseRules, LayersOverTheDefaults) {
  const Rules base = DefaultRules();
  auto rules = ParseRules(R"(
namespacePattern: "shoot--prod--.*"
components:
  - name: machine-controller-manager
    containers: "machine-controller-manager"
    lock: {name: mcm, namespace: kube-system}
    kubeconfigFlags: ["--target-kubeconfig"]
    expected: shoot
  - name: my-operator
    containers: "my-operator|machine-controller-manager"
    lock: {name: my-operator, namespace: $namespace}
    expected: seed
    advice: stop it first
)",
                          base);
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  EXPECT_TRUE(rules->namespace_pattern.FullMatch("shoot--prod--x"));
  EXPECT_FALSE(rules->namespace_pattern.FullMatch("shoot--dev--x"));
  EXPECT_EQ(rules->components.size(), base.components.size() + 1);
  EXPECT_EQ(rules->components.front().name, "my-operator");  // new rules win the match
  EXPECT_EQ(rules->MatchContainer("x", "machine-controller-manager")->name, "my-operator");
  EXPECT_EQ(rules->Find("machine-controller-manager")->expected, Location::kShoot);
  EXPECT_EQ(rules->Find("machine-controller-manager")->lock_name, "mcm");
  EXPECT_EQ(rules->not_locks.size(), base.not_locks.size());
}

TEST(ParseRules, ReplaceDefaultsStartsEmpty) {
  auto rules = ParseRules(R"(
replaceDefaults: true
namespacePattern: "cp-.*"
notLocks:
  - name: heartbeat
    leaseName: "hb-.*"
)",
                          DefaultRules());
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  EXPECT_TRUE(rules->components.empty());
  ASSERT_EQ(rules->not_locks.size(), 1u);
  EXPECT_TRUE(rules->leader_elect_flags.empty());
}

TEST(ParseRules, EmptyDocumentKeepsTheBase) {
  auto rules = ParseRules("", DefaultRules());
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(rules->components.size(), DefaultRules().components.size());
}

struct BadRules {
  const char* yaml;
  const char* field;  // what the one error must name
};

class InvalidRules : public ::testing::TestWithParam<BadRules> {};

TEST_P(InvalidRules, OneClearErrorNamingTheField) {
  auto rules = ParseRules(GetParam().yaml, DefaultRules());
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.error().code(), ErrorCode::kInvalid);
  EXPECT_NE(rules.error().message().find(GetParam().field), std::string::npos)
      << rules.error().message();
  EXPECT_EQ(rules.error().message().rfind("rules", 0), 0u) << rules.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Fields, InvalidRules,
    ::testing::Values(
        BadRules{"namespacePattern: \"(\"", "namespacePattern"},
        BadRules{"namespacePattern: [a]", "namespacePattern"},
        BadRules{"nameSpacePattern: x", "nameSpacePattern: unknown field"},
        BadRules{"components: {}", "components: must be a list"},
        BadRules{"components:\n  - containers: x\n    lock: {namespace: a}", "components[0].name"},
        BadRules{"components:\n  - name: a\n    lock: {namespace: a}", "components[0].containers"},
        BadRules{"components:\n  - name: a\n    containers: \"[\"\n    lock: {namespace: a}",
                 "components[0].containers"},
        BadRules{"components:\n  - name: a\n    containers: a\n    locks: [ok, \"(\"]\n"
                 "    lock: {namespace: a}",
                 "components[0].locks[1]"},
        BadRules{"components:\n  - name: a\n    containers: a\n    expected: moon\n"
                 "    lock: {namespace: a}",
                 "components[0].expected"},
        BadRules{"components:\n  - name: a\n    containers: a\n    leaderElection: maybe\n"
                 "    lock: {namespace: a}",
                 "components[0].leaderElection"},
        BadRules{"components:\n  - name: a\n    containers: a", "components[0].lock.namespace"},
        BadRules{"components:\n  - name: a\n    containers: a\n    lock: {namespace: a}\n"
                 "    config: {kubeconfigField: x}",
                 "components[0].config.flag"},
        BadRules{"components:\n  - name: a\n    containers: a\n    lock: {namespace: a}\n"
                 "  - name: a\n    containers: b\n    lock: {namespace: a}",
                 "components[1].name: duplicate"},
        BadRules{"notLocks:\n  - name: x", "notLocks[0]: needs at least one"},
        BadRules{"notLocks:\n  - name: x\n    labels: [a]", "notLocks[0].labels"},
        BadRules{"leaderElectFlags: --x", "leaderElectFlags: must be a list"},
        BadRules{"replaceDefaults: true\ncomponents: []", "namespacePattern: is required"},
        BadRules{"a: [", "not valid YAML"},
        BadRules{"- just\n- a list", "(top level): must be a mapping"}));

TEST(LoadRulesFile, ReadsAFileAndNamesItInErrors) {
  auto made = seedhop::testing::MakeTempDir("seedhop-auditor-rules-");
  ASSERT_TRUE(made.ok()) << made.error().message();
  const std::filesystem::path dir = *made;
  const auto good = dir / "good.yaml";
  std::ofstream(good) << "namespacePattern: \"cp--.*\"\n";
  auto rules = LoadRulesFile(good.string());
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  EXPECT_TRUE(rules->namespace_pattern.FullMatch("cp--a"));
  EXPECT_FALSE(rules->components.empty());

  const auto bad = dir / "bad.yaml";
  std::ofstream(bad) << "components: 3\n";
  auto broken = LoadRulesFile(bad.string());
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find(bad.string()), std::string::npos);
  EXPECT_NE(broken.error().message().find("components"), std::string::npos);

  auto missing = LoadRulesFile((dir / "absent.yaml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(Location, NamesRoundTrip) {
  for (Location l : {Location::kShoot, Location::kSeed, Location::kNone, Location::kUnknown}) {
    EXPECT_EQ(ParseLocation(LocationName(l)), l);
  }
  EXPECT_FALSE(ParseLocation("Seed").has_value());
}

}  // namespace
}  // namespace seedhop::auditor
