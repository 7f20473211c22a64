#include "migrator/checker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "migrator/planner.h"

namespace seedhop::migrator {
namespace {

std::vector<Step> SafePlan(int n, Addressing addressing) {
  auto plan = PlanMove(n, Strategy::kSafe, addressing);
  EXPECT_TRUE(plan.ok());
  return plan.ok() ? *plan : std::vector<Step>{};
}

bool Mentions(const CheckResult& r, const std::string& text) {
  return std::any_of(r.violations.begin(), r.violations.end(),
                     [&](const Violation& v) { return v.message.find(text) != std::string::npos; });
}

int Find(const std::vector<Step>& steps, StepKind kind, int ordinal) {
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind == kind && steps[i].ordinal == ordinal)
      return static_cast<int>(i);
  }
  return -1;
}

using Case = std::tuple<int, Addressing>;
class MutationTest : public testing::TestWithParam<Case> {};

// Dropping any single step of a safe plan must be caught.
TEST_P(MutationTest, DroppingAnyStepIsCaught) {
  auto [n, addressing] = GetParam();
  std::vector<Step> steps = SafePlan(n, addressing);
  ASSERT_TRUE(Simulate(n, addressing, steps).ok());
  for (size_t i = 0; i < steps.size(); ++i) {
    std::vector<Step> mutated = steps;
    mutated.erase(mutated.begin() + static_cast<long>(i));
    EXPECT_FALSE(Simulate(n, addressing, mutated).ok())
        << "dropping step " << i << " (" << StepKindName(steps[i].kind) << ") went unnoticed";
  }
}

// Whether swapping adjacent steps `a` and `b` cannot matter: an address exposure commutes with
// every step except a plan that aliases the exposed member on the other side.
bool Commute(const Step& a, const Step& b) {
  auto exposure_free = [](const Step& expose, const Step& other) {
    if (expose.kind != StepKind::kExposeMember)
      return false;
    if (other.kind != StepKind::kSetSidePlan || other.side == expose.side)
      return true;
    const auto& aliased = other.plan.aliased;
    return std::find(aliased.begin(), aliased.end(), expose.ordinal) == aliased.end();
  };
  return exposure_free(a, b) || exposure_free(b, a);
}

// Swapping any two adjacent steps must be caught (as a violation, or as a use of the
// routine-restart exception the original plan did without), unless they commute.
TEST_P(MutationTest, SwappingAdjacentStepsIsCaught) {
  auto [n, addressing] = GetParam();
  std::vector<Step> steps = SafePlan(n, addressing);
  int checked = 0;
  for (size_t i = 0; i + 1 < steps.size(); ++i) {
    if (Commute(steps[i], steps[i + 1]))
      continue;
    std::vector<Step> mutated = steps;
    std::swap(mutated[i], mutated[i + 1]);
    CheckResult r = Simulate(n, addressing, mutated);
    ++checked;
    EXPECT_TRUE(!r.ok() || !r.routine_restart_exception.empty())
        << "swapping steps " << i << " (" << StepKindName(steps[i].kind) << ") and " << i + 1
        << " (" << StepKindName(steps[i + 1].kind) << ") went unnoticed";
  }
  EXPECT_GT(checked, static_cast<int>(steps.size()) / 2);
}

INSTANTIATE_TEST_SUITE_P(AllSizes, MutationTest,
                         testing::Combine(testing::Values(1, 3, 5),
                                          testing::Values(Addressing::kGateway,
                                                          Addressing::kPerMember)));

TEST(CheckerTest, EmptyPlanFailsOnTheEndState) {
  CheckResult r = Simulate(3, Addressing::kGateway, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.min_tolerance, 1);
  EXPECT_EQ(r.min_tolerance_at.step, -1);
  EXPECT_EQ(r.violations.front().at.what, "end state");
  EXPECT_TRUE(Mentions(r, "source still has replicas"));
  EXPECT_TRUE(Mentions(r, "DNS switched 0 times"));
}

TEST(CheckerTest, RoutineRestartBeforeTheMoveIsFlaggedNotViolated) {
  // Roll the source at 3 voters first (tolerance 0) with an alias for 9, a name no plan step
  // runs, and keep that alias in every later source plan: valid, with the exception flagged.
  std::vector<Step> steps = SafePlan(3, Addressing::kGateway);
  for (Step& step : steps) {
    if (step.kind == StepKind::kSetSidePlan && step.side == Side::kSource) {
      step.plan.aliased.push_back(9);
    }
  }
  Step early;
  early.kind = StepKind::kSetSidePlan;
  early.plan = {3, 0, {9}};
  steps.insert(steps.begin(), early);
  CheckResult r = Simulate(3, Addressing::kGateway, steps);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.violations.front().message);
  EXPECT_EQ(r.routine_restart_exception.size(), 3u);
  EXPECT_EQ(r.min_tolerance, 0);
  EXPECT_EQ(r.min_tolerance_at.step, 0);
  EXPECT_EQ(r.min_tolerance_at.what, "pod 2 restarting (source roll)");
  EXPECT_EQ(r.restarts, 13);

  // A second routine roll on the same side is not excused.
  Step again = early;
  again.plan.aliased = {8};
  steps.insert(steps.begin(), again);
  CheckResult twice = Simulate(3, Addressing::kGateway, steps);
  EXPECT_FALSE(twice.ok());
  EXPECT_TRUE(Mentions(twice, "failure tolerance 0"));
}

TEST(CheckerTest, StaleAliasHidesAMemberThatArrivesLocally) {
  // The target's pods also alias 3 and 4 (harmless while the source is down to 5..7): when 3
  // joins the target, the pods started with "3 -> source" cannot reach it (/etc/hosts wins).
  std::vector<Step> steps = SafePlan(3, Addressing::kGateway);
  const std::vector<int> crossing = {5, 6, 7};
  int changed = 0;
  for (Step& step : steps) {
    if (step.kind == StepKind::kSetSidePlan && step.side == Side::kTarget &&
        step.plan.aliased == crossing) {
      step.plan.aliased = {3, 4, 5, 6, 7};
      ++changed;
    }
  }
  ASSERT_GT(changed, 0);
  CheckResult r = Simulate(3, Addressing::kGateway, steps);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Mentions(r, "cannot reach member 3 on the target"));
}

TEST(CheckerTest, PromotingALearnerWithoutItsPodIsCaught) {
  std::vector<Step> steps = SafePlan(3, Addressing::kGateway);
  int add = Find(steps, StepKind::kAddLearner, 5);
  ASSERT_GE(add, 0);
  steps.erase(steps.begin() + add + 1);  // the target plan that would start pod 5
  CheckResult r = Simulate(3, Addressing::kGateway, steps);
  EXPECT_TRUE(Mentions(r, "learner 5 promoted before catching up"));
}

TEST(CheckerTest, TwoLearnersAtOnceAreCaught) {
  std::vector<Step> steps = SafePlan(3, Addressing::kGateway);
  int add = Find(steps, StepKind::kAddLearner, 4);
  ASSERT_GE(add, 0);
  Step second = steps[add];
  second.ordinal = 7;
  steps.insert(steps.begin() + add + 1, second);
  CheckResult r = Simulate(3, Addressing::kGateway, steps);
  EXPECT_TRUE(Mentions(r, "a second learner"));
}

TEST(CheckerTest, OnePodNameOnBothSeedsIsCaught) {
  Step target;
  target.kind = StepKind::kSetSidePlan;
  target.side = Side::kTarget;
  target.plan = {1, 2, {0, 1}};
  CheckResult r = Simulate(3, Addressing::kGateway, {target});
  EXPECT_TRUE(Mentions(r, "pod 2 would run on both seeds at once"));
}

TEST(CheckerTest, RemovingWithoutLeadershipTransferIsCaught) {
  Step remove;
  remove.kind = StepKind::kRemoveMember;
  remove.ordinal = 2;
  CheckResult r = Simulate(3, Addressing::kGateway, {remove});
  EXPECT_TRUE(Mentions(r, "removed without moving leadership away first"));
  EXPECT_TRUE(Mentions(r, "failure tolerance 0"));
}

TEST(CheckerTest, PerMemberAliasNeedsAnAddress) {
  std::vector<Step> steps = SafePlan(3, Addressing::kPerMember);
  int expose = -1;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind == StepKind::kExposeMember && steps[i].side == Side::kTarget) {
      expose = static_cast<int>(i);
      break;
    }
  }
  ASSERT_GE(expose, 0);
  const Step exposure = steps[expose];
  steps.erase(steps.begin() + expose);
  CheckResult r = Simulate(3, Addressing::kPerMember, steps);
  EXPECT_TRUE(Mentions(r, "before the target seed has an address for it"));
  // The gateway plan has no exposures; one inserted is a malformed plan for that addressing.
  std::vector<Step> gateway = SafePlan(3, Addressing::kGateway);
  gateway.insert(gateway.begin(), exposure);
  EXPECT_TRUE(Mentions(Simulate(3, Addressing::kGateway, gateway),
                       "gateway addressing has no per-member addresses"));
}

TEST(CheckerTest, DnsRules) {
  std::vector<Step> steps = SafePlan(3, Addressing::kGateway);
  int dns = -1;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind == StepKind::kSwitchDns)
      dns = static_cast<int>(i);
  }
  ASSERT_GE(dns, 0);
  std::vector<Step> early = steps;
  std::rotate(early.begin() + 7, early.begin() + dns, early.begin() + dns + 1);
  EXPECT_TRUE(Mentions(Simulate(3, Addressing::kGateway, early),
                       "DNS switched before the target holds the quorum"));
  std::vector<Step> twice = steps;
  twice.push_back(steps[dns]);
  CheckResult r = Simulate(3, Addressing::kGateway, twice);
  EXPECT_TRUE(Mentions(r, "DNS switched more than once"));
  EXPECT_TRUE(Mentions(r, "after the source's last member left"));
}

TEST(CheckerTest, MalformedStepsAreViolations) {
  Step bad_ordinal;
  bad_ordinal.kind = StepKind::kPromote;
  bad_ordinal.ordinal = kMaxOrdinals;
  EXPECT_TRUE(Mentions(Simulate(3, Addressing::kGateway, {bad_ordinal}), "out of range"));
  bad_ordinal.ordinal = -1;
  EXPECT_TRUE(Mentions(Simulate(3, Addressing::kGateway, {bad_ordinal}), "out of range"));
  Step bad_plan;
  bad_plan.kind = StepKind::kSetSidePlan;
  bad_plan.plan = {-1, 0, {}};
  EXPECT_TRUE(Mentions(Simulate(3, Addressing::kGateway, {bad_plan}), "out of range"));
  bad_plan.plan = {3, kMaxOrdinals - 1, {}};
  EXPECT_TRUE(Mentions(Simulate(3, Addressing::kGateway, {bad_plan}), "out of range"));
  bad_plan.plan = {3, 0, {5, 5}};
  EXPECT_TRUE(Mentions(Simulate(3, Addressing::kGateway, {bad_plan}), "repeated"));
  bad_plan.plan = {3, 0, {40}};
  EXPECT_TRUE(Mentions(Simulate(3, Addressing::kGateway, {bad_plan}), "out of range"));
  EXPECT_TRUE(Mentions(Simulate(0, Addressing::kGateway, {}), "steady size 0 out of range"));
  EXPECT_TRUE(Mentions(Simulate(kMaxOrdinals + 1, Addressing::kGateway, {}), "out of range"));
}

TEST(CheckerTest, DeletingAVoterPodIsCaught) {
  Step shrink;
  shrink.kind = StepKind::kSetSidePlan;
  shrink.plan = {2, 0, {}};
  CheckResult r = Simulate(3, Addressing::kGateway, {shrink});
  EXPECT_TRUE(Mentions(r, "voter 2 has no pod"));
  EXPECT_EQ(r.min_tolerance, 0);
}

}  // namespace
}  // namespace seedhop::migrator
