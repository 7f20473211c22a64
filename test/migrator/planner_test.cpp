#include "migrator/planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "migrator/checker.h"

namespace seedhop::migrator {
namespace {

using Case = std::tuple<int, Addressing>;

class SafePlanTest : public testing::TestWithParam<Case> {};

std::vector<Step> MustPlan(int n, Strategy strategy, Addressing addressing) {
  auto plan = PlanMove(n, strategy, addressing);
  EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.error().message());
  return plan.ok() ? *plan : std::vector<Step>{};
}

std::string Describe(const CheckResult& r) {
  std::string out;
  for (const Violation& v : r.violations) {
    out += "step " + std::to_string(v.at.step) + " (" + v.at.what + "): " + v.message + "\n";
  }
  return out;
}

// The last plan written for `side`.
SidePlan LastPlan(const std::vector<Step>& steps, Side side) {
  SidePlan last;
  for (const Step& step : steps) {
    if (step.kind == StepKind::kSetSidePlan && step.side == side)
      last = step.plan;
  }
  return last;
}

TEST_P(SafePlanTest, KeepsTheInvariantAndEndsOnTheTarget) {
  auto [n, addressing] = GetParam();
  std::vector<Step> steps = MustPlan(n, Strategy::kSafe, addressing);
  CheckResult r = Simulate(n, addressing, steps);
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(r.routine_restart_exception.empty());
  const int w = std::max(n, kRollWidth);
  // One roll per side, each at W voters; non-HA rolls the target at 3 once the source is gone.
  EXPECT_EQ(r.restarts, n >= 3 ? 2 * w : w + 3);
  // W+1 = 6 voters at the peak, while the source slides up.
  EXPECT_EQ(r.max_voters, w + 1);
  if (n >= 3) {
    EXPECT_GE(r.min_tolerance, 1);
  } else {
    // Non-HA: the single member has no tolerance before the move, and 2 voters have none either.
    EXPECT_EQ(r.min_tolerance, 0);
  }
  EXPECT_EQ(LastPlan(steps, Side::kTarget), (SidePlan{n, 0, {}}));
  EXPECT_EQ(LastPlan(steps, Side::kSource).replicas, 0);
  for (const Step& step : steps) {
    EXPECT_FALSE(step.description.empty());
    EXPECT_FALSE(step.precondition.empty());
  }
  EXPECT_EQ(std::count_if(steps.begin(), steps.end(),
                          [](const Step& s) { return s.kind == StepKind::kSwitchDns; }),
            1);
}

TEST_P(SafePlanTest, ExposesAddressesOnlyForPerMemberAddressing) {
  auto [n, addressing] = GetParam();
  std::vector<Step> steps = MustPlan(n, Strategy::kSafe, addressing);
  auto exposes = std::count_if(steps.begin(), steps.end(),
                               [](const Step& s) { return s.kind == StepKind::kExposeMember; });
  // The target's 0..m-1 for the source's aliases, the source's W..W+m-1 for the target's.
  const int m = std::max(n, 3);
  EXPECT_EQ(exposes, addressing == Addressing::kPerMember ? 2 * m : 0);
}

// Voters per seed, recomputed independently from the step list for n=3: the peak of 6 is on the
// source alone (sliding up to ordinals 3..7), and the cross-seed phase never drops below 3.
TEST(SafePlanTest, ThreeMembersPeakOnTheSourceAndCrossAtThreeOrFour) {
  std::vector<Step> steps = MustPlan(3, Strategy::kSafe, Addressing::kGateway);
  int source = 3, target = 0;
  int peak = 0, peak_target = 0;
  int min_crossing = 100, max_crossing = 0;
  for (const Step& step : steps) {
    if (step.kind == StepKind::kPromote)
      (step.side == Side::kSource ? source : target)++;
    if (step.kind == StepKind::kRemoveMember)
      (step.side == Side::kSource ? source : target)--;
    if (source + target > peak) {
      peak = source + target;
      peak_target = target;
    }
    if (target > 0 && source > 0) {
      min_crossing = std::min(min_crossing, source + target);
      max_crossing = std::max(max_crossing, source + target);
    }
  }
  EXPECT_EQ(peak, 6);
  EXPECT_EQ(peak_target, 0);
  EXPECT_EQ(min_crossing, 3);
  EXPECT_EQ(max_crossing, 4);
  EXPECT_EQ(source, 0);
  EXPECT_EQ(target, 3);
}

INSTANTIATE_TEST_SUITE_P(AllSizes, SafePlanTest,
                         testing::Combine(testing::Values(1, 3, 5),
                                          testing::Values(Addressing::kGateway,
                                                          Addressing::kPerMember)));

class SwapPlanTest : public testing::TestWithParam<Addressing> {};

int IndexOf(const std::vector<Step>& steps, StepKind kind, int from = 0) {
  for (size_t i = from; i < steps.size(); ++i) {
    if (steps[i].kind == kind)
      return static_cast<int>(i);
  }
  return -1;
}

TEST_P(SwapPlanTest, ThreeMembersLoseToleranceAtTheFirstRemovalAndQuorumInTheRoll) {
  std::vector<Step> steps = MustPlan(3, Strategy::kSwap, GetParam());
  CheckResult r = Simulate(3, GetParam(), steps);
  ASSERT_FALSE(r.ok());
  const int removal = IndexOf(steps, StepKind::kRemoveMember);
  ASSERT_GE(removal, 0);
  EXPECT_EQ(steps[removal].ordinal, 2);
  EXPECT_EQ(r.violations.front().at.step, removal);
  EXPECT_EQ(r.violations.front().at.what, "after the step");
  EXPECT_EQ(r.violations.front().message, "failure tolerance 0 (2 voters, quorum 2)");
  // The source must then restart to learn where member 2 went, with only 2 voters left.
  EXPECT_EQ(r.min_tolerance, -1);
  EXPECT_EQ(r.min_tolerance_at.step, removal + 1);
  EXPECT_EQ(r.min_tolerance_at.what, "pod 1 restarting (source roll)");
}

TEST_P(SwapPlanTest, FiveMembersLoseToleranceInTheFirstSourceRoll) {
  std::vector<Step> steps = MustPlan(5, Strategy::kSwap, GetParam());
  CheckResult r = Simulate(5, GetParam(), steps);
  ASSERT_FALSE(r.ok());
  const int removal = IndexOf(steps, StepKind::kRemoveMember);
  ASSERT_GE(removal, 0);
  EXPECT_EQ(r.violations.front().at.step, removal + 1);
  EXPECT_EQ(r.violations.front().at.what, "pod 3 restarting (source roll)");
  EXPECT_EQ(r.min_tolerance, 0);
  EXPECT_EQ(r.min_tolerance_at.step, removal + 1);
}

TEST_P(SwapPlanTest, NonHaGrowsToThreeThenFailsLikeThree) {
  std::vector<Step> steps = MustPlan(1, Strategy::kSwap, GetParam());
  CheckResult r = Simulate(1, GetParam(), steps);
  ASSERT_FALSE(r.ok());
  const int removal = IndexOf(steps, StepKind::kRemoveMember);
  ASSERT_GE(removal, 0);
  EXPECT_EQ(r.violations.front().at.step, removal);
  EXPECT_EQ(r.min_tolerance, -1);
  EXPECT_EQ(LastPlan(steps, Side::kTarget), (SidePlan{1, 0, {}}));
}

INSTANTIATE_TEST_SUITE_P(BothAddressings, SwapPlanTest,
                         testing::Values(Addressing::kGateway, Addressing::kPerMember));

TEST(PlanMoveTest, RejectsUnsupportedSizes) {
  for (int n : {-1, 0, 2, 4, 6, 7}) {
    auto plan = PlanMove(n, Strategy::kSafe, Addressing::kGateway);
    ASSERT_FALSE(plan.ok()) << n;
    EXPECT_EQ(plan.error().code(), ErrorCode::kInvalid);
    EXPECT_NE(plan.error().message().find(std::to_string(n)), std::string::npos);
  }
}

TEST(PlanMoveTest, NamesAreStable) {
  EXPECT_STREQ(StepKindName(StepKind::kExposeMember), "expose-member");
  EXPECT_STREQ(StepKindName(StepKind::kSwitchDns), "switch-dns");
  EXPECT_STREQ(SideName(Side::kTarget), "target");
  EXPECT_EQ(Other(Side::kSource), Side::kTarget);
  EXPECT_EQ(Other(Side::kTarget), Side::kSource);
}

}  // namespace
}  // namespace seedhop::migrator
