// The whole system, end to end, with real etcd: the lab's migrations as tests. Each asserts what
// the lab promises: every acknowledged write survives, and failure tolerance never drops below 1
// during an HA migration with the safe strategy (and does with the hackathon's swap order).
#include "test/lab/lab.h"

#include <gtest/gtest.h>

#include <sstream>

namespace seedhop::lab {
namespace {

// The lab's step of the safe plan for 3 members where the target's first member is added: four
// steps (label, export, import, label) precede plan step 30 (docs/migrator.md, "The safe plan").
constexpr int kFirstCrossSeedStep = 4 + 30;

LabOptions Options(int seed_index_base) {
  LabOptions options;
  options.binary_dir = SEEDHOP_BINARY_DIR;
  options.source_dir = SEEDHOP_SOURCE_DIR;
  options.seed_index_base = seed_index_base;
  options.write_rate = 50;
  options.baseline = std::chrono::seconds(3);  // the tests do not compare latencies
  options.step_timeout_seconds = 90;
  return options;
}

LabReport MustRun(const LabOptions& options) {
  std::ostringstream progress;
  auto report = RunLab(options, progress);
  EXPECT_TRUE(report.ok()) << (report.ok() ? "" : report.error().message()) << "\n"
                           << progress.str();
  if (!report.ok())
    return {};
  EXPECT_TRUE(report->completed) << report->Summary() << "\n" << progress.str();
  EXPECT_GT(report->writes_acknowledged, 100);
  EXPECT_EQ(report->writes_lost, 0) << report->Summary();
  EXPECT_EQ(report->writes_unverified, 0) << report->Summary();
  return *report;
}

TEST(LabTest, SafeMigrationOfThreeMembersKeepsToleranceAndEveryWrite) {
  LabReport report = MustRun(Options(10));
  // The plan keeps tolerance >= 1 at every instant (migrator_checker_test proves it); here the
  // real cluster must too, in every sample the sampler took during the move.
  EXPECT_GE(report.min_failure_tolerance, 1) << report.Summary();
  EXPECT_EQ(report.samples_below_one, 0) << report.Summary();
  EXPECT_GT(report.samples, 500) << report.Summary();
  EXPECT_GT(report.steps.size(), 60u);
  // The p99 target's counts cover the move's writes (the target itself is bench/lab's to judge).
  EXPECT_GT(report.writes_during, 1000) << report.Summary();
  EXPECT_LE(report.writes_over_target_during, report.writes_during);
  // ... and every one of those slow writes is in exactly one burst.
  EXPECT_LE(report.over_target_bursts, report.writes_over_target_during);
  EXPECT_EQ(report.over_target_bursts > 0, report.writes_over_target_during > 0);
  EXPECT_LE(report.largest_over_target_burst, report.writes_over_target_during);
  // ... and each burst has one cause (none of these included).
  int64_t bursts = 0;
  int64_t burst_writes = 0;
  for (const LabReport::BurstTally& tally : report.over_target_bursts_by_cause) {
    bursts += tally.bursts;
    burst_writes += tally.writes;
  }
  EXPECT_EQ(bursts, report.over_target_bursts);
  EXPECT_EQ(burst_writes, report.writes_over_target_during);
  // Both seeds roll 5 pods once; the migrator keeps leadership ahead of each roll, so no pod is
  // deleted while its etcd leads (migrator/roll_leader.h).
  EXPECT_TRUE(report.leaders_stopped.empty()) << report.Summary();
  // Every roll passes the leader's pod: each needs at least one move (migrator/roll_leader.h).
  EXPECT_GE(report.leadership_moves, 2) << report.Summary();
}

// A non-HA shoot, with the owning migrator killed as each step starts (each the lab sees start):
// those steps are resumed by a fresh process.
TEST(LabTest, NonHaShootMovesWithItsMigratorsKilledAtEveryStep) {
  LabOptions options = Options(12);
  options.members = 1;
  options.kill_migrator_every_step = true;
  LabReport report = MustRun(options);
  // Steps that start and finish between two of the lab's polls (100 ms) escape the kill.
  EXPECT_GE(report.migrator_kills, static_cast<int>(report.steps.size()) - 10);
}

// The seeds' link cut for 10 s while the cluster has voters on both sides (2 on the source, 1 on
// the target, the target about to add its second member): the majority side keeps serving, the
// migrators wait until the other side is reachable and healthy again, and the move completes.
TEST(LabTest, MigrationWaitsOutATenSecondLinkCut) {
  LabOptions options = Options(14);
  options.cut_link_at_step = kFirstCrossSeedStep + 6;
  LabReport report = MustRun(options);
  EXPECT_EQ(report.link_cuts, 1);
  // The cut took effect: the member on the minority side lost its leader.
  EXPECT_GE(report.isolated_voters_during_cut, 1) << report.Summary();
  // The step under way may finish; none may start until the link is back.
  EXPECT_LE(report.steps_completed_during_cut, 1) << report.Summary();
}

// An etcd pod killed mid-move (a source voter while a target member already votes): its pod
// restarts it, the migrators wait until every voter is healthy again, and the move completes.
TEST(LabTest, MigrationSurvivesAnEtcdMemberKilledMidMove) {
  LabOptions options = Options(16);
  options.kill_member_at_step = kFirstCrossSeedStep + 4;
  LabReport report = MustRun(options);
  EXPECT_EQ(report.member_kills, 1);
}

// The p99 comparison's null experiment: nothing migrates, and the window after the baseline holds
// the writes of the steady time, with the counts the move's window has.
TEST(LabTest, SteadyRunMigratesNothingAndCountsTheWindowAfterTheBaseline) {
  LabOptions options = Options(20);
  options.steady = std::chrono::seconds(10);
  LabReport report = MustRun(options);
  EXPECT_TRUE(report.steady);
  EXPECT_TRUE(report.steps.empty()) << report.Summary();
  EXPECT_EQ(report.leadership_moves, 0);
  EXPECT_EQ(report.leader_changes, 0) << report.Summary();
  EXPECT_NEAR(report.total_seconds, 10, 1);
  // 50 writes/s for 10 s, give or take the writes due at the window's two edges.
  EXPECT_NEAR(static_cast<double>(report.writes_during), 500, 25) << report.Summary();
  EXPECT_LE(report.writes_over_target_during, report.writes_during);
  EXPECT_GT(report.samples, 100) << report.Summary();
  EXPECT_EQ(report.min_failure_tolerance, 1) << report.Summary();
}

TEST(LabTest, SwapStrategyDropsToleranceToZero) {
  LabOptions options = Options(18);
  options.strategy = "Swap";
  LabReport report = MustRun(options);
  EXPECT_LE(report.min_failure_tolerance, 0) << report.Summary();
  EXPECT_GT(report.samples_below_one * 100, report.samples * 5) << report.Summary();
}

}  // namespace
}  // namespace seedhop::lab
