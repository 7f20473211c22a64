#include "migrator/roll_leader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <string>

namespace seedhop::migrator {
namespace {

std::vector<int> Range(int first, int count) {
  std::vector<int> ordinals(count);
  std::iota(ordinals.begin(), ordinals.end(), first);
  return ordinals;
}

TEST(LeaderDuringRollTest, BeforeTheRollTheLeaderGoesToThePodReplacedLast) {
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 0, 7, Range(3, 5)}), 3);
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 0, 5, Range(3, 5)}), 3);
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 0, 3, Range(3, 5)}), std::nullopt);
}

TEST(LeaderDuringRollTest, AnUnhealthyMemberIsNeverChosen) {
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 0, 7, {4, 5, 6, 7}}), 4);
  EXPECT_EQ(LeaderDuringRoll({Range(0, 5), 2, 1, {0, 1, 2}}), 0);
  EXPECT_EQ(LeaderDuringRoll({Range(0, 5), 2, 1, {1, 2}}), std::nullopt);
}

TEST(LeaderDuringRollTest, OnceAReplacedPodIsAHealthyVoterItLeads) {
  // Pod 7 is replaced and healthy again: it leads for the rest of the roll.
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 1, 3, Range(3, 5)}), 7);
  // 7 and 6 are replaced; 7, up longer, is preferred.
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 2, 3, Range(3, 5)}), 7);
  // 7 is not healthy (yet or any more): 6 will do.
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 2, 3, {3, 4, 5, 6}}), 6);
  // The only replaced pod is still starting: stay on the pod the roll reaches last.
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 1, 3, {3, 4, 5, 6}}), std::nullopt);
}

TEST(LeaderDuringRollTest, ALeaderOnAReplacedPodOrElsewhereStays) {
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 2, 6, Range(3, 5)}), std::nullopt);
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 5, 3, Range(3, 5)}), std::nullopt);
  // The leader runs on the other seed, or no member knows one.
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 0, -1, Range(3, 5)}), std::nullopt);
  EXPECT_EQ(LeaderDuringRoll({{}, 0, 2, {2}}), std::nullopt);
}

TEST(LeaderDuringRollTest, MembersOutsideTheStatefulSetAndExcessCountsAreIgnored) {
  // Member 2 is healthy but its pod is not kept (the plan scales it away).
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 0, 5, {2, 4, 5}}), 4);
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 1, 3, {3, 4, 5, 6, 7, 9}}), 7);
  // A status that counts more updated pods than there are: all replaced.
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), 9, 3, Range(3, 5)}), std::nullopt);
  EXPECT_EQ(LeaderDuringRoll({Range(3, 5), -1, 7, Range(3, 5)}), 3);
}

// Plays a whole roll the way the StatefulSet controller runs it: pods replaced from the highest
// ordinal down, each one down while it restarts and healthy again before the next. The migrator
// decides before the roll and at every point of it; etcd follows each decision. Returns the
// moves; fails the test if a pod is replaced while its member leads.
int PlayRoll(const std::vector<int>& ordinals, int& leader) {
  const int size = static_cast<int>(ordinals.size());
  int moves = 0;
  std::vector<int> healthy = ordinals;
  auto decide = [&](int replaced) {
    if (auto next = LeaderDuringRoll({ordinals, replaced, leader, healthy})) {
      EXPECT_NE(std::find(healthy.begin(), healthy.end(), *next), healthy.end());
      leader = *next;
      ++moves;
    }
  };
  decide(0);
  for (int replaced = 1; replaced <= size; ++replaced) {
    const int pod = ordinals[size - replaced];
    EXPECT_NE(leader, pod) << "the roll replaced the leader's pod";
    healthy.erase(std::find(healthy.begin(), healthy.end(), pod));
    decide(replaced);
    healthy.push_back(pod);
    std::sort(healthy.begin(), healthy.end());
    decide(replaced);
  }
  return moves;
}

// No pod may be replaced while its member leads, whatever the size, the first ordinal or the
// leader.
TEST(LeaderDuringRollTest, NoRollEverReplacesTheLeader) {
  for (int size = 2; size <= 6; ++size) {
    for (int first : {0, 3}) {
      const std::vector<int> ordinals = Range(first, size);
      for (int initial : ordinals) {
        SCOPED_TRACE("size " + std::to_string(size) + ", first " + std::to_string(first) +
                     ", leader " + std::to_string(initial));
        int leader = initial;
        // At most two transfers: before the roll, then onto the first pod replaced.
        EXPECT_LE(PlayRoll(ordinals, leader), 2);
        EXPECT_EQ(leader, ordinals[size - 1]);
      }
    }
  }
}

std::vector<size_t> TransferSteps(const std::vector<Step>& steps) {
  std::vector<size_t> at;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind == StepKind::kTransferLeadership)
      at.push_back(i);
  }
  return at;
}

TEST(SuccessorPreferenceTest, TheSafePlanHandsLeadershipToWhereItsNextRollNeedsIt) {
  auto steps = PlanMove(3, Strategy::kSafe, Addressing::kGateway);
  ASSERT_TRUE(steps.ok()) << steps.error().message();
  const std::vector<size_t> transfers = TransferSteps(*steps);
  ASSERT_GE(transfers.size(), 4u);
  // The source slides to 3..7 and rolls there: the first transfers hand over to 3, which that
  // roll reaches last.
  EXPECT_EQ(SuccessorPreference(*steps, transfers[0], 3).front(), 3);
  EXPECT_EQ(SuccessorPreference(*steps, transfers[1], 3).front(), 3);
  // Once the target has rolled, nothing rolls again: the members it keeps (0..2) come first.
  const std::vector<int> last = SuccessorPreference(*steps, transfers.back(), 3);
  EXPECT_EQ(std::vector<int>(last.begin(), last.begin() + 3), Range(0, 3));
  EXPECT_EQ(last.size(), static_cast<size_t>(kMaxOrdinals));
}

// Where a transfer step hands leadership to: the voter `preference` ranks first, or without a
// preference the lowest ordinal (the executor's rule before SuccessorPreference).
int Successor(const std::set<int>& voters, int from, const std::vector<int>& preference) {
  for (int ordinal : preference) {
    if (ordinal != from && voters.count(ordinal))
      return ordinal;
  }
  for (int ordinal : voters) {
    if (ordinal != from)
      return ordinal;
  }
  return -1;
}

// Plays a whole plan for every first leader: membership changes, transfer steps and rolls (with
// LeaderDuringRoll), and returns the leadership moves each first leader costs.
std::vector<int> PlayPlan(int n, bool by_preference) {
  auto steps = PlanMove(n, Strategy::kSafe, Addressing::kGateway);
  EXPECT_TRUE(steps.ok());
  if (!steps.ok())
    return {};
  std::vector<int> moves_by_first_leader;
  for (int first = 0; first < n; ++first) {
    SCOPED_TRACE("n " + std::to_string(n) + ", first leader " + std::to_string(first));
    std::set<int> voters;
    for (int o = 0; o < n; ++o)
      voters.insert(o);
    SidePlan plans[2] = {SidePlan{n, 0, {}}, SidePlan{}};
    int leader = first;
    int moves = 0;
    int transfers_since_roll = 0;
    for (size_t i = 0; i < steps->size(); ++i) {
      const Step& step = (*steps)[i];
      switch (step.kind) {
        case StepKind::kPromote:
          voters.insert(step.ordinal);
          break;
        case StepKind::kRemoveMember:
          EXPECT_NE(leader, step.ordinal) << "step " << i << " removes the leader";
          voters.erase(step.ordinal);
          break;
        case StepKind::kTransferLeadership:
          if (leader == step.ordinal) {
            leader =
                Successor(voters, leader,
                          by_preference ? SuccessorPreference(*steps, i, n) : std::vector<int>{});
            ++moves;
            ++transfers_since_roll;
          }
          break;
        case StepKind::kSetSidePlan: {
          SidePlan& before = plans[step.side == Side::kSource ? 0 : 1];
          if (RollsPods(before, step.plan)) {
            moves += PlayRoll(Range(step.plan.ordinals_start, step.plan.replicas), leader);
            transfers_since_roll = 0;
          }
          before = step.plan;
          break;
        }
        default:
          break;
      }
      // A leader handed over by preference is not moved again before a roll needs it.
      if (by_preference) {
        EXPECT_LE(transfers_since_roll, 1) << "at step " << i;
      }
    }
    moves_by_first_leader.push_back(moves);
  }
  return moves_by_first_leader;
}

TEST(SuccessorPreferenceTest, EverySafePlanMovesLeadershipLessThanTheLowestOrdinalRule) {
  for (int n : {1, 3, 5}) {
    SCOPED_TRACE("n " + std::to_string(n));
    const std::vector<int> preferred = PlayPlan(n, true);
    const std::vector<int> lowest = PlayPlan(n, false);
    ASSERT_EQ(preferred.size(), static_cast<size_t>(n));
    ASSERT_EQ(lowest.size(), static_cast<size_t>(n));
    for (int first = 0; first < n; ++first)
      EXPECT_LE(preferred[first], lowest[first]) << "first leader " << first;
    if (n > 1) {
      EXPECT_LT(std::accumulate(preferred.begin(), preferred.end(), 0),
                std::accumulate(lowest.begin(), lowest.end(), 0));
    }
  }
}

}  // namespace
}  // namespace seedhop::migrator
