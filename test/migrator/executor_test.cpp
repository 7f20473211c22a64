// The executor's etcd side against a real 3-member etcd cluster, whose members are named as
// etcd-druid names the pods of StatefulSet etcd-main, and an API-server emulator as the seed: what
// a set-side-plan step that rolls the StatefulSet does about etcd leadership, when etcd takes the
// move and when it refuses it. The whole migration is covered by test/lab.
#include "migrator/executor.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <thread>

#include "common/etcd/client.h"
#include "common/obs/log.h"
#include "common/obs/metrics.h"
#include "migrator/metrics.h"
#include "test/emulator/emulator.h"
#include "test/support/etcd_cluster.h"
#include "test/support/etcd_pod_front.h"
#include "test/support/exposition.h"
#include "test/support/kube_objects.h"
#include "test/support/process.h"
#include "test/support/repo_manifest.h"

namespace seedhop::migrator {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kShootNs[] = "shoot--dev--a";
constexpr char kEtcd[] = "etcd-main";
using seedhop::testing::kCrds;
using seedhop::testing::kNamespaces;
const kube::ResourceRef kStatefulSets{"apps", "v1", "statefulsets", kShootNs};

// etcd-druid's StatefulSet for a 3-member etcd-main before any plan: ordinals 0..2, no aliases.
json StatefulSet() {
  json labels = {{"app.kubernetes.io/name", kEtcd}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", {{"name", kEtcd}, {"namespace", kShootNs}}},
          {"spec",
           {{"replicas", 3},
            {"serviceName", std::string(kEtcd) + "-peer"},
            {"selector", {{"matchLabels", labels}}},
            {"template",
             {{"metadata", {{"labels", labels}}},
              {"spec", {{"containers", {{{"name", "etcd"}, {"image", "etcd"}}}}}}}}}}};
}

// The source's set-side-plan that first aliases a name to the target: the pod template changes,
// so the StatefulSet will replace all three pods, highest ordinal first.
FlowStep AliasingStep() {
  FlowStep step;
  step.kind = FlowKind::kEtcd;
  step.owner = Side::kSource;
  step.etcd = kEtcd;
  step.etcd_step.kind = StepKind::kSetSidePlan;
  step.etcd_step.side = Side::kSource;
  step.etcd_step.plan.replicas = 3;
  step.etcd_step.plan.ordinals_start = 0;
  step.etcd_step.plan.aliased = {3};
  step.local_pods = {0, 1, 2};
  return step;
}

MigrationSpec Spec() {
  json object = seedhop::testing::LiveMigrationObject(
      {.garden_namespace = "garden-dev", .name = "a", .shoot_namespace = kShootNs, .etcd = kEtcd});
  auto spec = ParseMigrationSpec(object);
  EXPECT_TRUE(spec.ok()) << spec.error().message();
  return spec.ok() ? *spec : MigrationSpec{};
}

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emulator_.Start().ok());
    seed_ = std::make_unique<kube::Client>(emulator_.rest_config(), kube::ClientOptions{});
    for (auto [ref, object] :
         {std::pair{kCrds, seedhop::testing::RepoManifest("manifests/crds/etcdplans.yaml")},
          {kNamespaces, seedhop::testing::NamespaceObject(kShootNs)},
          {kStatefulSets, StatefulSet()}}) {
      auto created = seed_->Create(ref, object);
      ASSERT_TRUE(created.ok()) << created.error().message();
    }

    seedhop::testing::EtcdClusterOptions options;
    options.name_prefix = std::string(kEtcd) + "-";
    auto cluster = seedhop::testing::EtcdCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.error().message();
    cluster_ = std::move(cluster).value();
    std::map<std::string, std::string> members;
    for (int i = 0; i < cluster_->size(); ++i)
      members[cluster_->Name(i)] = cluster_->ClientUrl(i);
    front_ = std::make_unique<seedhop::testing::EtcdPodFront>(members);
    ASSERT_TRUE(front_->Start().ok());

    // The roll reaches pod 2 first: a leader there is what the step must move.
    etcd_ = std::make_unique<etcd::Client>(cluster_->RunningClientUrls(), http::ClientOptions{});
    ASSERT_TRUE(etcd_->MoveLeader(MemberId(2)).ok());
    ASSERT_TRUE(WaitForLeader(2));

    log_ = std::tmpfile();
    ASSERT_NE(log_, nullptr);
    logger_ = std::make_unique<obs::Logger>("seedhop-migrator", obs::LogLevel::kInfo, log_);
    SeedAccess access;
    access.role = Side::kSource;
    access.seed = seed_.get();
    access.etcd_client_url = front_->UrlTemplate();
    access.logger = logger_.get();
    executor_ = std::make_unique<Executor>(access, Spec(), sessions_, &migrator_metrics_);
  }

  void TearDown() override {
    executor_.reset();
    logger_.reset();
    if (log_)
      std::fclose(log_);
    emulator_.Stop();
  }

  // Member id of pod `ordinal`, from its own status.
  uint64_t MemberId(int ordinal) {
    auto status = etcd_->Status(cluster_->ClientUrl(ordinal));
    EXPECT_TRUE(status.ok()) << status.error().message();
    return status.ok() ? status->member_id : 0;
  }

  // The ordinal of the member every member names as leader; -1 while they disagree or know none.
  int LeaderOrdinal() {
    uint64_t leader = 0;
    std::map<uint64_t, int> ordinals;
    for (int i = 0; i < cluster_->size(); ++i) {
      auto status = etcd_->Status(cluster_->ClientUrl(i));
      if (!status.ok() || status->leader_id == 0 || (leader != 0 && status->leader_id != leader))
        return -1;
      leader = status->leader_id;
      ordinals[status->member_id] = i;
    }
    auto found = ordinals.find(leader);
    return found == ordinals.end() ? -1 : found->second;
  }

  // Waits up to 5 s until every member names member `ordinal` as leader.
  bool WaitForLeader(int ordinal) {
    for (int i = 0; i < 50; ++i) {
      if (LeaderOrdinal() == ordinal)
        return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  // Leadership moves the migrator counted with `outcome` ("moved" or "failed"); a series never
  // counted is absent here (the run loop creates both at 0, runtime_test checks that).
  double Moves(const std::string& outcome) {
    return seedhop::testing::SampleValue(metrics_.Serialize(),
                                         "seedhop_migrator_etcd_leadership_moves_total{outcome=\"" +
                                             outcome + "\",role=\"source\"}")
        .value_or(0);
  }

  std::string PlanAnnotation() {
    auto sts = seed_->Get(kStatefulSets, kEtcd);
    EXPECT_TRUE(sts.ok());
    return sts.ok()
               ? (*sts)["metadata"].value("annotations", json::object()).value(kPlanAnnotation, "")
               : "";
  }

  emulator::Emulator emulator_{emulator::EmulatorOptions{}};
  std::unique_ptr<kube::Client> seed_;
  std::unique_ptr<seedhop::testing::EtcdCluster> cluster_;
  std::unique_ptr<seedhop::testing::EtcdPodFront> front_;
  std::unique_ptr<etcd::Client> etcd_;
  std::FILE* log_ = nullptr;
  std::unique_ptr<obs::Logger> logger_;
  obs::Metrics metrics_;
  MigratorMetrics migrator_metrics_{metrics_};
  etcd::Sessions sessions_;
  std::unique_ptr<Executor> executor_;
};

TEST_F(ExecutorTest, MovesLeadershipToThePodTheRollReachesLastBeforeItPatches) {
  Status attempt = executor_->Attempt(AliasingStep());

  ASSERT_FALSE(attempt.ok());
  EXPECT_EQ(attempt.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(attempt.error().message().find(
                "etcd-main: move leadership from member 2 to 0 ahead of the roll"),
            std::string::npos)
      << attempt.error().message();
  EXPECT_EQ(front_->LeaderTransfers(), 1);
  EXPECT_EQ(Moves("moved"), 1);
  EXPECT_EQ(Moves("failed"), 0);
  // The patch waits for the next attempt, which sees whether the move took.
  EXPECT_EQ(PlanAnnotation(), "");
  EXPECT_TRUE(WaitForLeader(0));
}

TEST_F(ExecutorTest, ALeadershipMoveEtcdRefusesIsLoggedAndCountedAndDoesNotHoldTheRollUp) {
  front_->RefuseLeaderTransfers(true);

  Status attempt = executor_->Attempt(AliasingStep());

  // Past the move: the StatefulSet is patched, and the step now waits for seedhop-webhook (not
  // running here) to apply the plan, not for leadership.
  ASSERT_FALSE(attempt.ok());
  EXPECT_NE(attempt.error().message().find("does not carry the plan"), std::string::npos)
      << attempt.error().message();
  EXPECT_NE(PlanAnnotation(), "");
  EXPECT_EQ(front_->LeaderTransfers(), 1);
  EXPECT_EQ(Moves("moved"), 0);
  EXPECT_EQ(Moves("failed"), 1);
  const std::string log = seedhop::testing::WrittenSoFar(log_);
  EXPECT_NE(log.find("cannot move etcd leadership ahead of a roll"), std::string::npos) << log;
  // The warning says where and why, in etcd's own words.
  EXPECT_NE(log.find(kShootNs), std::string::npos) << log;
  EXPECT_NE(log.find("move leadership from member 2 to 0 ahead of the roll"), std::string::npos)
      << log;
  EXPECT_NE(log.find("bad leader transferee"), std::string::npos) << log;
  EXPECT_EQ(LeaderOrdinal(), 2);
}

}  // namespace
}  // namespace seedhop::migrator
