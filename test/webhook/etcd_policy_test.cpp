#include "webhook/etcd_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test/webhook/fixtures.h"

namespace seedhop::webhook {
namespace {

using nlohmann::json;
using plan::EtcdPlan;
using testing::Apply;
using testing::MakePlan;
using testing::MustDecode;
using testing::ReviewFor;
using testing::SharedJson;
using testing::SharedYamlAsJson;

constexpr char kNs[] = "shoot--garden--local";
constexpr char kAdmission[] = "reference/admission/";

AdmissionRequest Reference(const std::string& file) {
  return MustDecode(SharedJson(std::string(kAdmission) + file));
}

// Target side mid-migration: 3 local members from ordinal 3, the source's 0..2 are remote.
EtcdPlan TargetPlan() {
  return MakePlan(kNs, "etcd-main", 3, 3, {{0, "10.0.0.10"}, {1, "10.0.0.11"}, {2, "10.0.0.12"}});
}

json Alias(const std::string& ip, std::vector<std::string> hostnames) {
  return {{"ip", ip}, {"hostnames", hostnames}};
}

json PeerAlias(const std::string& sts, const std::string& ns, int ordinal, const std::string& ip) {
  std::string svc = sts + "-" + std::to_string(ordinal) + "." + sts + "-peer." + ns + ".svc";
  return Alias(ip, {svc, svc + ".cluster.local"});
}

std::vector<std::string> FieldNames(const EtcdDecision& decision) {
  std::vector<std::string> names;
  for (PatchedField field : decision.patched_fields)
    names.push_back(PatchedFieldName(field));
  return names;
}

// Applies the decision and asks again with the patched object: the answer must be "unchanged".
void ExpectFixedPoint(const AdmissionRequest& request, const EtcdPlan& plan) {
  EtcdDecision first = DecideEtcdMutation(request, &plan);
  ASSERT_NE(first.outcome, Outcome::kDenied) << first.reason;
  EXPECT_EQ(json::parse(first.patch.text()).dump(), first.patch.text())
      << "the patch is written as json::dump writes it";
  AdmissionRequest again = request;
  ASSERT_NO_THROW(again.object = Apply(request.object, first)) << first.patch.text();
  EtcdDecision second = DecideEtcdMutation(again, &plan);
  EXPECT_TRUE(second.patch.empty()) << second.patch.text();
  if (first.outcome == Outcome::kPatched || first.outcome == Outcome::kUnchanged) {
    EXPECT_EQ(second.outcome, Outcome::kUnchanged);
  }
}

TEST(PeerHostnameTest, RecognisesBothFormsForAnyOrdinal) {
  EXPECT_EQ(PeerHostnameOrdinal("etcd-main-0.etcd-main-peer.ns.svc", "etcd-main", "ns"), 0);
  EXPECT_EQ(
      PeerHostnameOrdinal("etcd-main-17.etcd-main-peer.ns.svc.cluster.local", "etcd-main", "ns"),
      17);
  EXPECT_FALSE(PeerHostnameOrdinal("etcd-main-local", "etcd-main", "ns"));
  EXPECT_FALSE(PeerHostnameOrdinal("etcd-main-0.etcd-main-peer.other.svc", "etcd-main", "ns"));
  EXPECT_FALSE(PeerHostnameOrdinal("etcd-main-0.etcd-main-peer.ns.svc.example", "etcd-main", "ns"));
  EXPECT_FALSE(PeerHostnameOrdinal("etcd-main-.etcd-main-peer.ns.svc", "etcd-main", "ns"));
  EXPECT_FALSE(
      PeerHostnameOrdinal("etcd-main-99999999999.etcd-main-peer.ns.svc", "etcd-main", "ns"));
  // A StatefulSet whose name extends ours is someone else's.
  EXPECT_FALSE(
      PeerHostnameOrdinal("etcd-main-migrate-0.etcd-main-migrate-peer.ns.svc", "etcd-main", "ns"));
  EXPECT_FALSE(PeerHostnameOrdinal("etcd-events-0.etcd-events-peer.ns.svc", "etcd-main", "ns"));
  EXPECT_FALSE(PeerHostnameOrdinal("x", "", "ns"));
}

TEST(PeerHostAliasesTest, OneEntryPerRemoteMemberSortedByOrdinal) {
  EtcdPlan plan = MakePlan("ns", "etcd-main", 3, 0, {{4, "10.0.0.4"}, {3, "fd00::3"}});
  std::vector<HostAlias> aliases = PeerHostAliases(plan);
  ASSERT_EQ(aliases.size(), 2u);
  EXPECT_EQ(aliases[0], (HostAlias{"fd00::3",
                                   {"etcd-main-3.etcd-main-peer.ns.svc",
                                    "etcd-main-3.etcd-main-peer.ns.svc.cluster.local"}}));
  EXPECT_EQ(aliases[1].ip, "10.0.0.4");
  EXPECT_EQ(aliases[1].hostnames[0], "etcd-main-4.etcd-main-peer.ns.svc");
}

TEST(IsEtcdStatefulSetTest, CurrentAndLegacyLabels) {
  json druid = SharedYamlAsJson("reference/gardener/etcd-main-sts.druid.synth.yaml");
  json legacy = SharedYamlAsJson("seed/examples/sts-etcd.yaml");
  EXPECT_TRUE(IsEtcdStatefulSet(druid));
  EXPECT_TRUE(IsEtcdStatefulSet(legacy));
  EXPECT_FALSE(IsEtcdStatefulSet(json::object()));
  EXPECT_FALSE(IsEtcdStatefulSet(json::array()));
  json only_managed = druid;
  only_managed["metadata"]["labels"].erase(kLabelComponent);
  EXPECT_FALSE(IsEtcdStatefulSet(only_managed));
  json wrong_value = druid;
  wrong_value["metadata"]["labels"][kLabelManagedBy] = "helm";
  EXPECT_FALSE(IsEtcdStatefulSet(wrong_value));
  json not_string = legacy;
  not_string["metadata"]["labels"]["app"] = 1;
  EXPECT_FALSE(IsEtcdStatefulSet(not_string));
  json labels_list = legacy;
  labels_list["metadata"]["labels"] = json::array();
  EXPECT_FALSE(IsEtcdStatefulSet(labels_list));
}

TEST(DecideTest, CreateAppendsAliasesAndSetsOrdinals) {
  AdmissionRequest request = Reference("etcd-sts-create.request.json");
  EtcdPlan plan = TargetPlan();
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  ASSERT_EQ(decision.outcome, Outcome::kPatched) << decision.reason;
  EXPECT_EQ(FieldNames(decision), (std::vector<std::string>{"ordinals", "hostAliases"}));
  EXPECT_EQ(json::parse(decision.patch.text()), json::parse(R"([
              {"op":"add","path":"/spec/ordinals","value":{"start":3}},
              {"op":"add","path":"/spec/template/spec/hostAliases/-","value":
                {"ip":"10.0.0.10","hostnames":["etcd-main-0.etcd-main-peer.shoot--garden--local.svc",
                  "etcd-main-0.etcd-main-peer.shoot--garden--local.svc.cluster.local"]}},
              {"op":"add","path":"/spec/template/spec/hostAliases/-","value":
                {"ip":"10.0.0.11","hostnames":["etcd-main-1.etcd-main-peer.shoot--garden--local.svc",
                  "etcd-main-1.etcd-main-peer.shoot--garden--local.svc.cluster.local"]}},
              {"op":"add","path":"/spec/template/spec/hostAliases/-","value":
                {"ip":"10.0.0.12","hostnames":["etcd-main-2.etcd-main-peer.shoot--garden--local.svc",
                  "etcd-main-2.etcd-main-peer.shoot--garden--local.svc.cluster.local"]}}
            ])"));
  json patched = Apply(request.object, decision);
  EXPECT_EQ(patched["spec"]["ordinals"]["start"], 3);
  EXPECT_EQ(patched["spec"]["replicas"], 3);
  const json& aliases = patched["spec"]["template"]["spec"]["hostAliases"];
  ASSERT_EQ(aliases.size(), 4u);
  EXPECT_EQ(aliases[0], Alias("127.0.0.1", {"etcd-main-local"})) << "druid's entry stays first";
  EXPECT_TRUE(decision.warnings.empty());
  ExpectFixedPoint(request, plan);
}

TEST(DecideTest, UpdateSetsReplicas) {
  AdmissionRequest request = Reference("etcd-sts-update.request.json");
  EtcdPlan plan = TargetPlan();
  plan.replicas = 1;
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  ASSERT_EQ(decision.outcome, Outcome::kPatched);
  EXPECT_EQ(FieldNames(decision),
            (std::vector<std::string>{"replicas", "ordinals", "hostAliases"}));
  EXPECT_EQ(json::parse(decision.patch.text())[0],
            (json{{"op", "replace"}, {"path", "/spec/replicas"}, {"value", 1}}));
  EXPECT_EQ(Apply(request.object, decision)["spec"]["replicas"], 1);
  ExpectFixedPoint(request, plan);
}

TEST(DecideTest, DryRunGetsTheIdenticalAnswer) {
  AdmissionRequest dry = Reference("etcd-sts-update-dryrun.request.json");
  ASSERT_TRUE(dry.dry_run);
  AdmissionRequest wet = dry;
  wet.dry_run = false;
  EtcdPlan plan = TargetPlan();
  EtcdDecision a = DecideEtcdMutation(dry, &plan);
  EtcdDecision b = DecideEtcdMutation(wet, &plan);
  EXPECT_EQ(a.outcome, Outcome::kPatched);
  EXPECT_EQ(a.patch.text(), b.patch.text());
  EXPECT_EQ(a.patched_fields, b.patched_fields);
}

TEST(DecideTest, DeleteAndConnectAreSkipped) {
  AdmissionRequest request = Reference("etcd-sts-delete.request.json");
  EtcdPlan plan = TargetPlan();
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  EXPECT_EQ(decision.outcome, Outcome::kSkipped);
  EXPECT_EQ(decision.reason, "operation");
  EXPECT_TRUE(decision.patch.empty());
  request.operation = Operation::kConnect;
  EXPECT_EQ(DecideEtcdMutation(request, &plan).outcome, Outcome::kSkipped);
}

TEST(DecideTest, NoPlanIsSkipped) {
  for (const char* file : {"etcd-sts-create.request.json", "etcd-sts-update.request.json",
                           "etcd-sts-scale-subresource-update.request.json"}) {
    EtcdDecision decision = DecideEtcdMutation(Reference(file), nullptr);
    EXPECT_EQ(decision.outcome, Outcome::kSkipped) << file;
    EXPECT_EQ(decision.reason, "no_plan");
  }
}

TEST(DecideTest, PlanForAnotherObjectIsSkipped) {
  AdmissionRequest request = Reference("etcd-sts-update.request.json");
  EtcdPlan other = TargetPlan();
  other.statefulset = "etcd-events";
  EXPECT_EQ(DecideEtcdMutation(request, &other).reason, "plan_mismatch");
  other = TargetPlan();
  other.namespace_name = "shoot--x--y";
  EXPECT_EQ(DecideEtcdMutation(request, &other).reason, "plan_mismatch");
}

// Found by the fuzzer: no name in the request nor in the object.
TEST(DecideTest, NamelessObjectIsNeverPatched) {
  AdmissionRequest request = Reference("etcd-sts-update.request.json");
  request.name.clear();
  request.object["metadata"].erase("name");
  EtcdPlan nameless = TargetPlan();
  nameless.statefulset.clear();
  EXPECT_EQ(DecideEtcdMutation(request, &nameless).reason, "plan_mismatch");
  EtcdPlan plan = TargetPlan();
  EXPECT_EQ(DecideEtcdMutation(request, &plan).reason, "plan_mismatch");
}

TEST(PeerHostAliasesTest, DropsNegativeAndRepeatedOrdinals) {
  EtcdPlan plan =
      MakePlan("ns", "etcd-main", 3, 0, {{1, "10.0.0.1"}, {-1, "10.0.0.9"}, {1, "10.0.0.2"}});
  std::vector<HostAlias> aliases = PeerHostAliases(plan);
  ASSERT_EQ(aliases.size(), 1u);
  EXPECT_EQ(aliases[0].ip, "10.0.0.1");
}

TEST(DecideTest, NonEtcdAndOtherResourcesAreSkipped) {
  EtcdPlan plan = TargetPlan();
  AdmissionRequest request = Reference("etcd-sts-update.request.json");
  AdmissionRequest unlabelled = request;
  unlabelled.object["metadata"]["labels"] = {{"app", "nginx"}};
  EXPECT_EQ(DecideEtcdMutation(unlabelled, &plan).reason, "not_etcd");
  AdmissionRequest deployment = request;
  deployment.resource.resource = "deployments";
  EXPECT_EQ(DecideEtcdMutation(deployment, &plan).reason, "not_statefulset");
  AdmissionRequest status = request;
  status.sub_resource = "status";
  EXPECT_EQ(DecideEtcdMutation(status, &plan).reason, "subresource");
  AdmissionRequest docs_scale = Reference("k8s-docs-scale-subresource-update.request.json");
  EtcdPlan docs_plan = MakePlan("my-namespace", "my-deployment", 3, 0, {});
  EXPECT_EQ(DecideEtcdMutation(docs_scale, &docs_plan).reason, "not_statefulset")
      << "a Deployment's /scale is not ours";
}

TEST(DecideTest, HibernationIsNeverOverridden) {
  AdmissionRequest request = Reference("etcd-sts-update.request.json");
  request.object["spec"]["replicas"] = 0;
  EtcdPlan plan = TargetPlan();
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  EXPECT_EQ(decision.outcome, Outcome::kSkipped);
  EXPECT_EQ(decision.reason, "hibernated");
  EXPECT_TRUE(decision.patch.empty());
  // With a plan of 0 replicas, 0 is the plan satisfied: the rest of the plan still applies.
  EtcdPlan zero = TargetPlan();
  zero.replicas = 0;
  EtcdDecision held = DecideEtcdMutation(request, &zero);
  EXPECT_EQ(held.outcome, Outcome::kPatched);
  EXPECT_EQ(FieldNames(held), (std::vector<std::string>{"ordinals", "hostAliases"}));
}

TEST(DecideTest, PlanWithZeroReplicasHoldsTheSideEmpty) {
  AdmissionRequest request = Reference("etcd-sts-create.request.json");
  EtcdPlan plan = MakePlan(kNs, "etcd-main", 0, 0, {{0, "10.0.0.10"}});
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  ASSERT_EQ(decision.outcome, Outcome::kPatched);
  EXPECT_EQ(Apply(request.object, decision)["spec"]["replicas"], 0);
  ExpectFixedPoint(request, plan);
}

TEST(DecideTest, ScaleIsHeldAtThePlannedReplicas) {
  AdmissionRequest request = Reference("etcd-sts-scale-subresource-update.request.json");
  EtcdPlan plan = TargetPlan();
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  ASSERT_EQ(decision.outcome, Outcome::kPatched) << decision.reason;
  EXPECT_EQ(json::parse(decision.patch.text()),
            json::parse(R"([{"op":"replace","path":"/spec/replicas","value":3}])"));
  EXPECT_EQ(FieldNames(decision), (std::vector<std::string>{"replicas"}));
  ASSERT_EQ(decision.warnings.size(), 1u);
  EXPECT_NE(decision.warnings[0].find("requested 5"), std::string::npos);
  ExpectFixedPoint(request, plan);

  AdmissionRequest same = request;
  same.object["spec"]["replicas"] = 3;
  EXPECT_EQ(DecideEtcdMutation(same, &plan).outcome, Outcome::kUnchanged);

  EtcdPlan empty_side = TargetPlan();
  empty_side.replicas = 0;
  EtcdDecision hold_empty = DecideEtcdMutation(request, &empty_side);
  EXPECT_EQ(Apply(request.object, hold_empty)["spec"]["replicas"], 0);
}

TEST(DecideTest, ScaleToZeroPassesUnchanged) {
  AdmissionRequest request = Reference("etcd-sts-scale-subresource-update.request.json");
  EtcdPlan plan = TargetPlan();
  // autoscaling/v1 ScaleSpec.replicas is omitempty: a scale to 0 arrives without the field.
  AdmissionRequest omitted = request;
  omitted.object["spec"].erase("replicas");
  EXPECT_EQ(DecideEtcdMutation(omitted, &plan).reason, "scale_to_zero");
  AdmissionRequest explicit_zero = request;
  explicit_zero.object["spec"]["replicas"] = 0;
  EXPECT_EQ(DecideEtcdMutation(explicit_zero, &plan).reason, "scale_to_zero");
  AdmissionRequest no_spec = request;
  no_spec.object.erase("spec");
  EXPECT_EQ(DecideEtcdMutation(no_spec, &plan).reason, "scale_to_zero");
  EtcdPlan zero = TargetPlan();
  zero.replicas = 0;
  EXPECT_EQ(DecideEtcdMutation(omitted, &zero).outcome, Outcome::kUnchanged)
      << "a plan holding the side at 0 agrees with a scale to 0";
}

TEST(DecideTest, DruidCurrentShape) {
  json object = SharedYamlAsJson("reference/gardener/etcd-main-sts.druid.synth.yaml");
  const std::string ns = object["metadata"]["namespace"];
  AdmissionRequest request = MustDecode(ReviewFor(object, "CREATE"));
  EtcdPlan plan = MakePlan(ns, "etcd-main", 2, 0, {{2, "192.0.2.7"}});
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  ASSERT_EQ(decision.outcome, Outcome::kPatched) << decision.reason;
  EXPECT_EQ(FieldNames(decision), (std::vector<std::string>{"replicas", "hostAliases"}))
      << "start 0 needs no spec.ordinals";
  json patched = Apply(object, decision);
  EXPECT_FALSE(patched["spec"].contains("ordinals"));
  EXPECT_EQ(patched["spec"]["template"]["spec"]["hostAliases"],
            json::array({Alias("127.0.0.1", {"etcd-main-local"}),
                         PeerAlias("etcd-main", ns, 2, "192.0.2.7")}));
  ExpectFixedPoint(request, plan);
}

TEST(DecideTest, HackathonLegacyShapeKeepsEveryEntry) {
  json object = SharedYamlAsJson("seed/examples/sts-etcd.yaml");
  const std::string ns = object["metadata"]["namespace"];
  const std::string sts = object["metadata"]["name"];  // etcd-main-migrate
  json before = object["spec"]["template"]["spec"]["hostAliases"];
  ASSERT_EQ(before.size(), 6u);
  AdmissionRequest request = MustDecode(ReviewFor(object));
  EtcdPlan plan = MakePlan(ns, sts, 1, 3, {{0, "45.129.45.65"}, {1, "45.129.44.102"}});
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  ASSERT_EQ(decision.outcome, Outcome::kPatched) << decision.reason;
  json after = Apply(object, decision)["spec"]["template"]["spec"]["hostAliases"];
  ASSERT_EQ(after.size(), 8u);
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_EQ(after[i], before[i]) << i;
  EXPECT_EQ(after[6], PeerAlias(sts, ns, 0, "45.129.45.65"));
  EXPECT_EQ(after[7], PeerAlias(sts, ns, 1, "45.129.44.102"));
  ExpectFixedPoint(request, plan);
}

// The hackathon object as if it were etcd-main's: its hand-made entries name our peer hostnames
// (cluster.local first, and etcd-main-99 twice with two IPs).
TEST(DecideTest, HackathonEntriesAdoptedByThePlan) {
  json object = SharedYamlAsJson("seed/examples/sts-etcd.yaml");
  object["metadata"]["name"] = "etcd-main";
  const std::string ns = object["metadata"]["namespace"];
  AdmissionRequest request = MustDecode(ReviewFor(object));
  EtcdPlan plan =
      MakePlan(ns, "etcd-main", 1, 3, {{0, "45.129.45.65"}, {1, "10.9.9.9"}, {2, "45.129.41.181"}});
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  ASSERT_EQ(decision.outcome, Outcome::kPatched) << decision.reason;
  json after = Apply(object, decision)["spec"]["template"]["spec"]["hostAliases"];
  EXPECT_EQ(after, json::array({Alias("127.0.0.1", {"etcd-main-local"}),
                                PeerAlias("etcd-main", ns, 0, "45.129.45.65"),
                                PeerAlias("etcd-main", ns, 1, "10.9.9.9"),
                                PeerAlias("etcd-main", ns, 2, "45.129.41.181")}))
      << after.dump(1);
  ExpectFixedPoint(request, plan);
}

json UpdateWithAliases(json aliases) {
  json review = SharedJson(std::string(kAdmission) + "etcd-sts-update.request.json");
  review["request"]["object"]["spec"]["template"]["spec"]["hostAliases"] = std::move(aliases);
  return review;
}

// ParseEtcdPlan sorts the members, but the policy must not depend on it: each wanted entry is
// matched by its own ordinal.
TEST(DecideTest, CorrectEntriesAreNotDuplicatedWhateverThePlanOrder) {
  EtcdPlan shuffled =
      MakePlan(kNs, "etcd-main", 3, 3, {{2, "10.0.0.12"}, {0, "10.0.0.10"}, {1, "10.0.0.11"}});
  for (const EtcdPlan& plan : {TargetPlan(), shuffled}) {
    json aliases = json::array(
        {Alias("127.0.0.1", {"etcd-main-local"}), PeerAlias("etcd-main", kNs, 0, "10.0.0.10"),
         PeerAlias("etcd-main", kNs, 1, "10.0.0.11"), PeerAlias("etcd-main", kNs, 2, "10.0.0.12")});
    AdmissionRequest request = MustDecode(UpdateWithAliases(aliases));
    request.object["spec"]["ordinals"] = {{"start", 3}};
    EtcdDecision decision = DecideEtcdMutation(request, &plan);
    EXPECT_EQ(decision.outcome, Outcome::kUnchanged) << decision.patch.text();
    request.object["spec"]["template"]["spec"]["hostAliases"] = json::array();
    ExpectFixedPoint(request, plan);
  }
}

TEST(DecideTest, StaleIpIsFixedInPlace) {
  EtcdPlan plan = TargetPlan();
  json aliases = json::array(
      {Alias("127.0.0.1", {"etcd-main-local"}), PeerAlias("etcd-main", kNs, 1, "10.0.0.99"),
       Alias("192.0.2.1", {"registry.local"}), PeerAlias("etcd-main", kNs, 0, "10.0.0.10")});
  AdmissionRequest request = MustDecode(UpdateWithAliases(aliases));
  request.object["spec"]["ordinals"] = {{"start", 3}};
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  ASSERT_EQ(decision.outcome, Outcome::kPatched);
  EXPECT_EQ(json::parse(decision.patch.text()),
            json::array({{{"op", "replace"},
                          {"path", "/spec/template/spec/hostAliases/1"},
                          {"value", PeerAlias("etcd-main", kNs, 1, "10.0.0.11")}},
                         {{"op", "add"},
                          {"path", "/spec/template/spec/hostAliases/-"},
                          {"value", PeerAlias("etcd-main", kNs, 2, "10.0.0.12")}}}));
  ExpectFixedPoint(request, plan);
}

TEST(DecideTest, DuplicatesAndFormerRemoteMembersAreDropped) {
  EtcdPlan plan = MakePlan(kNs, "etcd-main", 3, 0, {{3, "10.0.0.13"}});
  json aliases = json::array({PeerAlias("etcd-main", kNs, 3, "10.0.0.13"),
                              Alias("127.0.0.1", {"etcd-main-local"}),
                              PeerAlias("etcd-main", kNs, 0, "10.0.0.10"),    // now local
                              PeerAlias("etcd-main", kNs, 3, "10.0.0.13"),    // duplicate
                              PeerAlias("etcd-main", kNs, 1, "10.0.0.11")});  // now local
  AdmissionRequest request = MustDecode(UpdateWithAliases(aliases));
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  ASSERT_EQ(decision.outcome, Outcome::kPatched);
  json after = Apply(request.object, decision)["spec"]["template"]["spec"]["hostAliases"];
  EXPECT_EQ(after, json::array({PeerAlias("etcd-main", kNs, 3, "10.0.0.13"),
                                Alias("127.0.0.1", {"etcd-main-local"})}));
  // Removals run from the highest index down so each index is still valid when applied.
  const json& ops = json::parse(decision.patch.text());
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0]["path"], "/spec/template/spec/hostAliases/4");
  EXPECT_EQ(ops[2]["path"], "/spec/template/spec/hostAliases/2");
  ExpectFixedPoint(request, plan);
}

TEST(DecideTest, ForeignHostnamesSharingAnEntryAreKept) {
  EtcdPlan plan = MakePlan(kNs, "etcd-main", 3, 0, {{3, "10.0.0.13"}});
  json shared =
      Alias("10.0.0.50", {"etcd-main-3.etcd-main-peer.shoot--garden--local.svc", "backup.example"});
  AdmissionRequest request = MustDecode(UpdateWithAliases(json::array({shared})));
  EtcdDecision decision = DecideEtcdMutation(request, &plan);
  json after = Apply(request.object, decision)["spec"]["template"]["spec"]["hostAliases"];
  EXPECT_EQ(after, json::array({Alias("10.0.0.50", {"backup.example"}),
                                PeerAlias("etcd-main", kNs, 3, "10.0.0.13")}));
  ExpectFixedPoint(request, plan);
}

TEST(DecideTest, MissingListsAndLevelsAreAddedNotReplaced) {
  EtcdPlan plan = TargetPlan();
  AdmissionRequest base = Reference("etcd-sts-update.request.json");
  base.object["spec"]["ordinals"] = {{"start", 3}};

  AdmissionRequest no_list = base;
  no_list.object["spec"]["template"]["spec"].erase("hostAliases");
  EtcdDecision decision = DecideEtcdMutation(no_list, &plan);
  ASSERT_EQ(decision.patch.size(), 1u);
  EXPECT_EQ(json::parse(decision.patch.text())[0]["op"], "add");
  EXPECT_EQ(json::parse(decision.patch.text())[0]["path"], "/spec/template/spec/hostAliases");
  EXPECT_EQ(Apply(no_list.object, decision)["spec"]["template"]["spec"]["hostAliases"].size(), 3u);
  ExpectFixedPoint(no_list, plan);

  AdmissionRequest null_list = base;
  null_list.object["spec"]["template"]["spec"]["hostAliases"] = nullptr;
  ExpectFixedPoint(null_list, plan);

  AdmissionRequest no_template = base;
  no_template.object["spec"].erase("template");
  decision = DecideEtcdMutation(no_template, &plan);
  ASSERT_EQ(decision.patch.size(), 1u);
  EXPECT_EQ(json::parse(decision.patch.text())[0]["path"], "/spec/template");
  ExpectFixedPoint(no_template, plan);

  AdmissionRequest no_members = no_list;
  EtcdPlan local_only = MakePlan(kNs, "etcd-main", 3, 3, {});
  EXPECT_EQ(DecideEtcdMutation(no_members, &local_only).outcome, Outcome::kUnchanged);

  AdmissionRequest no_replicas = base;
  no_replicas.object["spec"].erase("replicas");
  decision = DecideEtcdMutation(no_replicas, &plan);
  EXPECT_EQ(json::parse(decision.patch.text())[0],
            (json{{"op", "add"}, {"path", "/spec/replicas"}, {"value", 3}}));
  ExpectFixedPoint(no_replicas, plan);
}

TEST(DecideTest, OrdinalsVariants) {
  AdmissionRequest base = Reference("etcd-sts-update.request.json");
  EtcdPlan start0 = MakePlan(kNs, "etcd-main", 3, 0, {});
  EtcdPlan start5 = MakePlan(kNs, "etcd-main", 3, 5, {});

  EXPECT_EQ(DecideEtcdMutation(base, &start0).outcome, Outcome::kUnchanged);

  AdmissionRequest at2 = base;
  at2.object["spec"]["ordinals"] = {{"start", 2}};
  EtcdDecision back_to_0 = DecideEtcdMutation(at2, &start0);
  EXPECT_EQ(json::parse(back_to_0.patch.text()),
            json::parse(R"([{"op":"replace","path":"/spec/ordinals/start","value":0}])"));
  ExpectFixedPoint(at2, start5);

  AdmissionRequest empty_ordinals = base;
  empty_ordinals.object["spec"]["ordinals"] = json::object();
  EXPECT_EQ(DecideEtcdMutation(empty_ordinals, &start0).outcome, Outcome::kUnchanged);
  EtcdDecision add_start = DecideEtcdMutation(empty_ordinals, &start5);
  EXPECT_EQ(json::parse(add_start.patch.text()),
            json::parse(R"([{"op":"add","path":"/spec/ordinals/start","value":5}])"));
  ExpectFixedPoint(empty_ordinals, start5);
}

TEST(DecideTest, MalformedObjectsAreDenied) {
  EtcdPlan plan = TargetPlan();
  AdmissionRequest base = Reference("etcd-sts-update.request.json");
  std::vector<std::pair<std::string, std::function<void(json&)>>> edits = {
      {"spec must be an object", [](json& o) { o["spec"] = "x"; }},
      {"spec must be an object", [](json& o) { o.erase("spec"); }},
      {"spec.replicas must be an integer", [](json& o) { o["spec"]["replicas"] = "3"; }},
      {"spec.replicas is out of range", [](json& o) { o["spec"]["replicas"] = 1LL << 40; }},
      {"spec.replicas is out of range",
       [](json& o) { o["spec"]["replicas"] = 18446744073709551615ULL; }},
      {"spec.ordinals must be an object", [](json& o) { o["spec"]["ordinals"] = 3; }},
      {"spec.ordinals.start must be an integer",
       [](json& o) {
         o["spec"]["ordinals"] = {{"start", 1.5}};
       }},
      {"/spec/template must be an object", [](json& o) { o["spec"]["template"] = json::array(); }},
      {"/spec/template/spec/hostAliases must be a list",
       [](json& o) { o["spec"]["template"]["spec"]["hostAliases"] = json::object(); }},
  };
  for (const auto& [message, edit] : edits) {
    AdmissionRequest request = base;
    edit(request.object);
    EtcdDecision decision = DecideEtcdMutation(request, &plan);
    EXPECT_EQ(decision.outcome, Outcome::kDenied) << message;
    EXPECT_NE(decision.reason.find(message), std::string::npos) << decision.reason;
    EXPECT_NE(decision.reason.find("StatefulSet shoot--garden--local/etcd-main"),
              std::string::npos);
    AdmissionResponse response = ToAdmissionResponse(request, decision);
    EXPECT_FALSE(response.allowed);
    EXPECT_EQ(response.status_code, 400);
    EXPECT_EQ(response.patch, "[]");
  }
  AdmissionRequest scale = Reference("etcd-sts-scale-subresource-update.request.json");
  scale.object["spec"]["replicas"] = json::array();
  EXPECT_EQ(DecideEtcdMutation(scale, &plan).outcome, Outcome::kDenied);
  scale.object["spec"] = 7;
  EXPECT_EQ(DecideEtcdMutation(scale, &plan).outcome, Outcome::kDenied);
}

TEST(DecideTest, StableAcrossMemberOrderAndRepeats) {
  AdmissionRequest request = Reference("etcd-sts-create.request.json");
  EtcdPlan sorted = TargetPlan();
  EtcdPlan shuffled = sorted;
  std::swap(shuffled.remote_members[0], shuffled.remote_members[2]);
  std::string first = DecideEtcdMutation(request, &sorted).patch.text();
  EXPECT_EQ(DecideEtcdMutation(request, &shuffled).patch.text(), first);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(DecideEtcdMutation(request, &sorted).patch.text(), first);
  }
}

// Every path the policy emits is a well-formed RFC 6901 pointer whose parent exists in the
// object as sent (so no "replace"/"add" can fail with a missing path).
TEST(DecideTest, EveryPathIsAValidPointerIntoTheObject) {
  std::vector<EtcdPlan> plans = {TargetPlan(), MakePlan(kNs, "etcd-main", 0, 0, {}),
                                 MakePlan(kNs, "etcd-main", 5, 2, {{7, "fd00::7"}})};
  for (const char* file :
       {"etcd-sts-create.request.json", "etcd-sts-update.request.json",
        "etcd-sts-update-dryrun.request.json", "etcd-sts-scale-subresource-update.request.json"}) {
    AdmissionRequest request = Reference(file);
    for (const EtcdPlan& plan : plans) {
      EtcdDecision decision = DecideEtcdMutation(request, &plan);
      for (const json& op : json::parse(decision.patch.text())) {
        std::string path = op["path"];
        json::json_pointer pointer(path);
        ASSERT_TRUE(request.object.contains(pointer.parent_pointer())) << file << " " << path;
        if (op["op"] == "replace" || op["op"] == "remove") {
          EXPECT_TRUE(request.object.contains(pointer)) << file << " " << path;
        }
      }
      ExpectFixedPoint(request, plan);
    }
  }
}

TEST(DecideTest, LabelKeysWithSlashesAreReadLiterally) {
  // "app.kubernetes.io/component" is a map key, not a path: a label "app.kubernetes.io" holding
  // an object must not be mistaken for it.
  AdmissionRequest request = Reference("etcd-sts-update.request.json");
  json& labels = request.object["metadata"]["labels"];
  labels.erase(kLabelComponent);
  labels["app.kubernetes.io"] = {{"component", "etcd-statefulset"}};
  EtcdPlan plan = TargetPlan();
  EXPECT_EQ(DecideEtcdMutation(request, &plan).reason, "not_etcd");
}

}  // namespace
}  // namespace seedhop::webhook
