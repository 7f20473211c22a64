#include "migrator/flow.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/time/rfc3339.h"
#include "migrator/live_migration.h"
#include "migrator/safety.h"
#include "migrator/status_view.h"

namespace seedhop::migrator {
namespace {

using nlohmann::json;

json Object(int main_replicas = 3) {
  json peers_source = json::array({{{"etcd", "etcd-main"}, {"gateway", "10.1.0.1"}},
                                   {{"etcd", "etcd-events"}, {"gateway", "10.1.0.2"}}});
  json target_members = json::array();
  for (int o = 0; o < 10; ++o)
    target_members.push_back({{"ordinal", o}, {"address", "10.2.0." + std::to_string(10 + o)}});
  json peers_target = json::array({{{"etcd", "etcd-main"}, {"members", target_members}},
                                   {{"etcd", "etcd-events"}, {"gateway", "10.2.0.2"}}});
  return {{"apiVersion", "seedhop.io/v1alpha1"},
          {"kind", "LiveMigration"},
          {"metadata", {{"name", "a"}, {"namespace", "garden-dev"}}},
          {"spec",
           {{"shootNamespace", "shoot--dev--a"},
            {"source", {{"seed", "eu1"}, {"peerAddresses", peers_source}}},
            {"target",
             {{"seed", "eu2"}, {"peerAddresses", peers_target}, {"ingressAddress", "10.2.9.9"}}},
            {"etcds", json::array({{{"name", "etcd-events"}, {"replicas", 3}},
                                   {{"name", "etcd-main"}, {"replicas", main_replicas}}})},
            {"dns", {{"records", json::array({"a-internal"})}, {"maxWaitSeconds", 0}}}}}};
}

MigrationSpec MustParse(const json& object) {
  auto spec = ParseMigrationSpec(object);
  EXPECT_TRUE(spec.ok()) << (spec.ok() ? "" : spec.error().message());
  return spec.ok() ? *spec : MigrationSpec{};
}

std::vector<FlowStep> MustFlow(const MigrationSpec& spec) {
  auto flow = BuildFlow(spec);
  EXPECT_TRUE(flow.ok()) << (flow.ok() ? "" : flow.error().message());
  return flow.ok() ? *flow : std::vector<FlowStep>{};
}

TEST(ParseMigrationSpecTest, ReadsEverySection) {
  MigrationSpec spec = MustParse(Object());
  EXPECT_EQ(spec.name, "a");
  EXPECT_EQ(spec.garden_namespace, "garden-dev");
  EXPECT_EQ(spec.shoot_namespace, "shoot--dev--a");
  EXPECT_EQ(spec.source.peers.at("etcd-main").For(7), "10.1.0.1");
  EXPECT_EQ(spec.target.peers.at("etcd-main").For(2), "10.2.0.12");
  EXPECT_EQ(spec.target.peers.at("etcd-main").For(11), std::nullopt);
  ASSERT_EQ(spec.etcds.size(), 2u);
  EXPECT_EQ(spec.etcds[1].name, "etcd-main");
  EXPECT_EQ(spec.dns_records, std::vector<std::string>{"a-internal"});
  EXPECT_EQ(spec.dns_max_wait_seconds, 0);
  EXPECT_EQ(spec.strategy, Strategy::kSafe);
  EXPECT_EQ(spec.step_timeout_seconds, 600);
}

TEST(ParseMigrationSpecTest, ErrorsNameTheObjectAndField) {
  struct Case {
    std::function<void(json&)> edit;
    std::string message;
  };
  std::vector<Case> cases = {
      {[](json& o) { o["spec"]["etcds"][1]["replicas"] = 4; },
       "livemigration garden-dev/a: spec.etcds[1].replicas: must be 1, 3 or 5"},
      {[](json& o) { o["spec"].erase("shootNamespace"); },
       "livemigration garden-dev/a: spec.shootNamespace: required"},
      {[](json& o) { o["spec"]["target"]["seed"] = "eu1"; },
       "livemigration garden-dev/a: spec.target.seed: must differ from spec.source.seed"},
      {[](json& o) { o["spec"]["source"]["peerAddresses"][0]["gateway"] = "gw.example.com"; },
       "livemigration garden-dev/a: spec.source.peerAddresses[0].gateway: not an IP address: "
       "gw.example.com"},
      {[](json& o) { o["spec"]["source"]["peerAddresses"].erase(1); },
       "livemigration garden-dev/a: spec.source.peerAddresses: no entry for etcd etcd-events"},
      {[](json& o) { o["spec"]["strategy"] = "Swap"; },
       "livemigration garden-dev/a: spec.strategy: Swap drops etcd failure tolerance to 0 (see "
       "docs/migrator.md); set spec.allowUnsafeStrategy: true to use it anyway"},
      {[](json& o) { o["spec"]["target"].erase("ingressAddress"); },
       "livemigration garden-dev/a: spec.target.ingressAddress: required when spec.dns.records "
       "is set"},
      {[](json& o) { o["kind"] = "Shoot"; },
       "livemigration garden-dev/a: kind: must be LiveMigration"},
  };
  for (const Case& c : cases) {
    json object = Object();
    c.edit(object);
    auto spec = ParseMigrationSpec(object);
    ASSERT_FALSE(spec.ok()) << c.message;
    EXPECT_EQ(spec.error().message(), c.message);
  }
}

TEST(BuildFlowTest, CopiesStateThenMovesEachEtcdThenCleansUp) {
  MigrationSpec spec = MustParse(Object());
  std::vector<FlowStep> flow = MustFlow(spec);
  ASSERT_GT(flow.size(), 100u);
  EXPECT_EQ(flow[0].Name(), "label-namespace (source)");
  EXPECT_EQ(flow[1].Name(), "export-state (source)");
  EXPECT_EQ(flow[2].Name(), "import-state (target)");
  EXPECT_EQ(flow[3].Name(), "label-namespace (target)");
  EXPECT_EQ(flow.back().Name(), "cleanup (target)");
  EXPECT_EQ(PointOfNoReturn(flow), 4);
  // etcd-events moves completely before etcd-main, and only etcd-main switches DNS.
  int dns = 0;
  std::string previous = "etcd-events";
  for (size_t i = 4; i + 1 < flow.size(); ++i) {
    ASSERT_EQ(flow[i].kind, FlowKind::kEtcd);
    if (flow[i].etcd != previous) {
      EXPECT_EQ(previous, "etcd-events");
      previous = flow[i].etcd;
    }
    if (flow[i].etcd_step.kind == StepKind::kSwitchDns) {
      ++dns;
      EXPECT_EQ(flow[i].etcd, "etcd-main");
      EXPECT_EQ(flow[i].owner, Side::kTarget);
    }
  }
  EXPECT_EQ(dns, 1);
}

// The owner of a member operation must run a voter other than the member concerned: it reaches
// etcd only through its own seed's pods. A leadership transfer goes to the side that runs the
// member, since etcd accepts it only from the leader.
TEST(BuildFlowTest, MemberOperationsGoToASideThatCanReachThem) {
  for (int n : {1, 3, 5}) {
    MigrationSpec spec = MustParse(Object(n));
    std::vector<FlowStep> flow = MustFlow(spec);
    std::set<int> voters[2];
    std::string etcd;
    int target_owned = 0;
    for (const FlowStep& step : flow) {
      if (step.kind != FlowKind::kEtcd)
        continue;
      if (step.etcd != etcd) {
        etcd = step.etcd;
        int size = etcd == "etcd-main" ? n : 3;
        voters[0].clear();
        voters[1].clear();
        for (int o = 0; o < size; ++o)
          voters[0].insert(o);
      }
      const Step& s = step.etcd_step;
      int owner = step.owner == Side::kSource ? 0 : 1;
      switch (s.kind) {
        case StepKind::kTransferLeadership:
          // Sent to the leader, so only the side running the member can act.
          EXPECT_TRUE(voters[owner].count(s.ordinal)) << "n=" << n << " " << step.Name();
          break;
        case StepKind::kAddLearner:
        case StepKind::kPromote:
        case StepKind::kRemoveMember: {
          std::set<int> others = voters[owner];
          others.erase(s.ordinal);
          EXPECT_FALSE(others.empty()) << "n=" << n << " " << step.Name();
          target_owned += owner;
          break;
        }
        default:
          break;
      }
      // Steps that may move leadership carry where it should go (SuccessorPreference); a voter
      // other than the step's member is among them.
      if (s.kind == StepKind::kTransferLeadership || s.kind == StepKind::kRemoveMember) {
        EXPECT_TRUE(std::any_of(
            step.successors.begin(), step.successors.end(),
            [&](int o) { return o != s.ordinal && (voters[0].count(o) || voters[1].count(o)); }))
            << "n=" << n << " " << step.Name();
      } else {
        EXPECT_TRUE(step.successors.empty()) << "n=" << n << " " << step.Name();
      }
      if (s.kind == StepKind::kPromote)
        voters[s.side == Side::kSource ? 0 : 1].insert(s.ordinal);
      if (s.kind == StepKind::kRemoveMember) {
        voters[0].erase(s.ordinal);
        voters[1].erase(s.ordinal);
      }
    }
    EXPECT_GT(target_owned, 0) << "n=" << n << ": the target finishes the move";
  }
}

TEST(BuildFlowTest, NamesTheMissingAddressOfAnAliasedMember) {
  json object = Object();
  object["spec"]["target"]["peerAddresses"][0]["members"].erase(1);
  MigrationSpec spec = MustParse(object);
  auto flow = BuildFlow(spec);
  ASSERT_FALSE(flow.ok());
  EXPECT_NE(flow.error().message().find(
                "spec.target.peerAddresses: etcd-main: no address for member 1, which step"),
            std::string::npos)
      << flow.error().message();
}

TEST(BuildFlowTest, FingerprintChangesWithThePlan) {
  std::string three = FlowFingerprint(MustFlow(MustParse(Object(3))));
  EXPECT_EQ(three, FlowFingerprint(MustFlow(MustParse(Object(3)))));
  EXPECT_NE(three, FlowFingerprint(MustFlow(MustParse(Object(5)))));
}

class NextActionTest : public testing::Test {
 protected:
  MigrationSpec spec_ = MustParse(Object());
  std::vector<FlowStep> flow_ = MustFlow(spec_);
};

TEST_F(NextActionTest, TheOwnerExecutesAndTheOtherWaits) {
  SideStatus source, target;
  Action s = NextAction(flow_, spec_, Side::kSource, source, target);
  Action t = NextAction(flow_, spec_, Side::kTarget, target, source);
  EXPECT_EQ(s.kind, ActionKind::kExecute);
  EXPECT_EQ(s.step, 0);
  EXPECT_EQ(t.kind, ActionKind::kWait);
  EXPECT_EQ(t.reason, "waiting for the source migrator to finish step 0: label-namespace (source)");

  source.completed_steps = 2;  // the source exported; the target imports next
  EXPECT_EQ(NextAction(flow_, spec_, Side::kTarget, target, source).kind, ActionKind::kExecute);
  EXPECT_EQ(NextAction(flow_, spec_, Side::kSource, source, target).kind, ActionKind::kWait);
}

TEST_F(NextActionTest, WalkingTheFlowEndsDoneOnBothSides) {
  SideStatus sides[2];
  int executed = 0;
  for (int guard = 0; guard < 1000; ++guard) {
    Action a[2] = {NextAction(flow_, spec_, Side::kSource, sides[0], sides[1]),
                   NextAction(flow_, spec_, Side::kTarget, sides[1], sides[0])};
    if (a[0].kind == ActionKind::kDone && a[1].kind == ActionKind::kDone)
      break;
    int executing = a[0].kind == ActionKind::kExecute ? 0 : 1;
    ASSERT_EQ(a[executing].kind, ActionKind::kExecute) << "nobody can act at step " << a[0].step;
    ASSERT_NE(a[1 - executing].kind, ActionKind::kExecute) << "both act at " << a[0].step;
    sides[executing].completed_steps = a[executing].step + 1;
    ++executed;
  }
  EXPECT_EQ(executed, static_cast<int>(flow_.size()));
}

TEST_F(NextActionTest, HaltedStaysHaltedUntilResumeRises) {
  SideStatus source, target;
  source.phase = Phase::kHalted;
  source.current_step = 0;
  source.message = "boom";
  EXPECT_EQ(NextAction(flow_, spec_, Side::kSource, source, target).kind, ActionKind::kHalted);
  Action waiting = NextAction(flow_, spec_, Side::kTarget, target, source);
  EXPECT_EQ(waiting.kind, ActionKind::kWait);
  EXPECT_NE(waiting.reason.find("(it is halted: boom)"), std::string::npos);
  spec_.resume_request = 1;
  EXPECT_EQ(NextAction(flow_, spec_, Side::kSource, source, target).kind, ActionKind::kExecute);
  source.observed_resume_request = 1;
  EXPECT_EQ(NextAction(flow_, spec_, Side::kSource, source, target).kind, ActionKind::kHalted);
}

TEST_F(NextActionTest, AbortOnlyBeforeThePointOfNoReturn) {
  spec_.abort_requested = true;
  SideStatus source, target;
  source.completed_steps = 3;
  EXPECT_EQ(NextAction(flow_, spec_, Side::kTarget, target, source).kind, ActionKind::kAbort);
  source.completed_steps = PointOfNoReturn(flow_) + 1;
  EXPECT_EQ(NextAction(flow_, spec_, Side::kSource, source, target).kind, ActionKind::kExecute);
  target.phase = Phase::kAborted;
  EXPECT_EQ(NextAction(flow_, spec_, Side::kTarget, target, source).kind, ActionKind::kAborted);
}

TEST(MemberOrdinalTest, ReadsNamesAndPeerUrls) {
  EXPECT_EQ(MemberOrdinal("etcd-main", "etcd-main-3", ""), 3);
  EXPECT_EQ(MemberOrdinal("etcd-main", "", "https://etcd-main-12.etcd-main-peer.ns.svc:2380"), 12);
  EXPECT_EQ(MemberOrdinal("etcd-main", "etcd-main-x", ""), -1);
  EXPECT_EQ(MemberOrdinal("etcd-main", "etcd-events-1", ""), -1);
  EXPECT_EQ(MemberOrdinal("etcd-main", "", "https://etcd-main-1.other.ns.svc:2380"), -1);
  EXPECT_EQ(MemberOrdinal("etcd-main", "etcd-main-1x", ""), -1);
}

EtcdView View(std::vector<ObservedMember> members, int after_step, const std::string& at) {
  EtcdView view;
  view.etcd = "etcd-main";
  view.after_step = after_step;
  view.observed_at = at;
  view.leader_id = 1;
  view.members = std::move(members);
  return view;
}

TEST(MergeViewsTest, TakesHealthFromTheSideWherePodsRun) {
  auto now = *ParseTimestamp("2026-11-23T10:00:10Z");
  // Members 1, 2 run on the source, 3 on the target; the source lists all three.
  EtcdView local = View(
      {{1, 0, false, true, true, 0}, {2, 1, false, true, true, 0}, {3, 2, false, false, false, 0}},
      7, "2026-11-23T10:00:09Z");
  EtcdView remote = View({{1, 0, false, false, false, 0},
                          {2, 1, false, false, false, 0},
                          {3, 2, false, true, true, 0}},
                         7, "2026-11-23T10:00:05Z");
  auto merged = MergeViews(local, remote, 7, now, std::chrono::seconds(30));
  ASSERT_TRUE(merged.ok()) << merged.error().message();
  EXPECT_EQ(merged->voters, 3);
  EXPECT_EQ(merged->healthy_voters, 3);
  EXPECT_EQ(merged->failure_tolerance, 1);
  FlowStep step;
  EXPECT_TRUE(ReadyForStep(step, *merged).ok());

  // A remote view from before the last step, or too old, vouches for nothing.
  for (auto [after, at] : {std::pair{6, "2026-11-23T10:00:09Z"}, {7, "2026-11-23T09:59:00Z"}}) {
    EtcdView old = remote;
    old.after_step = after;
    old.observed_at = at;
    auto stale = MergeViews(local, old, 7, now, std::chrono::seconds(30));
    ASSERT_TRUE(stale.ok());
    EXPECT_EQ(stale->healthy_voters, 2);
    EXPECT_EQ(stale->failure_tolerance, 0);
    Status ready = ReadyForStep(step, *stale);
    ASSERT_FALSE(ready.ok());
    EXPECT_EQ(ready.error().code(), ErrorCode::kUnavailable);
    EXPECT_NE(ready.error().message().find("2 of 3 voters healthy: member 2 runs on neither"),
              std::string::npos)
        << ready.error().message();
  }

  // An unhealthy local member blocks the step and is named.
  local.members[1].healthy = false;
  auto sick = MergeViews(local, remote, 7, now, std::chrono::seconds(30));
  ASSERT_TRUE(sick.ok());
  Status ready = ReadyForStep(step, *sick);
  ASSERT_FALSE(ready.ok());
  EXPECT_NE(ready.error().message().find("member 1 is not healthy"), std::string::npos);
}

TEST(MergeViewsTest, WithoutLocalPodsTheRemoteViewDecides) {
  auto now = *ParseTimestamp("2026-11-23T10:00:10Z");
  EtcdView local;
  local.etcd = "etcd-main";
  local.problem = "no pod runs here";
  EtcdView remote = View(
      {{1, 0, false, true, true, 0}, {2, 1, false, true, true, 0}, {3, 2, true, true, false, 0}}, 3,
      "2026-11-23T10:00:09Z");
  auto merged = MergeViews(local, remote, 3, now, std::chrono::seconds(30));
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->voters, 2);
  EXPECT_EQ(merged->learners, 1);
  EXPECT_EQ(merged->failure_tolerance, 0);
  auto none = MergeViews(local, std::nullopt, 3, now, std::chrono::seconds(30));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message(),
            "no view of the member list: here: no pod runs here; the other side has published "
            "no view");
}

TEST(MergeViewsTest, NoLeaderIsNotReady) {
  auto now = *ParseTimestamp("2026-11-23T10:00:10Z");
  EtcdView local = View({{1, 0, false, true, true, 0}}, 0, "2026-11-23T10:00:10Z");
  local.leader_id = 0;
  auto merged = MergeViews(local, std::nullopt, 0, now, std::chrono::seconds(30));
  ASSERT_TRUE(merged.ok());
  Status ready = ReadyForStep(FlowStep{}, *merged);
  ASSERT_FALSE(ready.ok());
  EXPECT_NE(ready.error().message().find("the cluster reports no leader"), std::string::npos);
}

TEST(SideStatusTest, RoundTripsThroughJson) {
  SideStatus status;
  status.phase = Phase::kHalted;
  status.completed_steps = 12;
  status.current_step = 12;
  status.step_started = "2026-11-23T10:00:00Z";
  status.message = "halted";
  status.flow_fingerprint = "abcd";
  status.observed_resume_request = 2;
  status.holder = "migrator-0";
  EtcdView view =
      View({{18446744073709551615ull, 3, true, true, false, 42}}, 12, "2026-11-23T10:00:01Z");
  view.problem = "partial";
  status.etcd.push_back(view);
  status.history.push_back({12, "x", "2026-11-23T10:00:00Z", "", "Running", ""});
  json object = {{"status", {{"target", ToJson(status)}}}};
  auto back = ParseSideStatus(object, Side::kTarget);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(ToJson(*back), ToJson(status));
  EXPECT_EQ(back->etcd[0].members[0].id, 18446744073709551615ull);
  auto absent = ParseSideStatus(object, Side::kSource);
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->phase, Phase::kPending);
}

TEST(RenderStatusTest, MarksDoneRunningAndHaltedSteps) {
  MigrationSpec spec = MustParse(Object());
  std::vector<FlowStep> flow = MustFlow(spec);
  SideStatus source, target;
  source.completed_steps = 2;
  target.phase = Phase::kHalted;
  target.current_step = 2;
  target.message = "halted after 600s: waiting for the ShootState";
  std::string text = RenderStatus(spec, flow, source, target);
  EXPECT_NE(text.find("   1 done     export-state (source)"), std::string::npos) << text;
  EXPECT_NE(text.find("   2 HALTED   import-state (target)  <- halted after 600s"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("---- point of no return"), std::string::npos);
  EXPECT_NE(text.find("seedhop-migrator resume -n garden-dev a"), std::string::npos);
  EXPECT_NE(text.find("seedhop-migrator abort -n garden-dev a"), std::string::npos);
}

}  // namespace
}  // namespace seedhop::migrator
