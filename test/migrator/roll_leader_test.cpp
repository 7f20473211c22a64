#include "migrator/roll_leader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

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

// Plays whole rolls the way the StatefulSet controller runs them: pods replaced from the highest
// ordinal down, each one down while it restarts and healthy again before the next. The migrator
// decides before the roll and at every point of it; etcd follows each decision. No pod may be
// replaced while its member leads, whatever the size, the first ordinal or the leader.
TEST(LeaderDuringRollTest, NoRollEverReplacesTheLeader) {
  for (int size = 2; size <= 6; ++size) {
    for (int first : {0, 3}) {
      const std::vector<int> ordinals = Range(first, size);
      for (int initial : ordinals) {
        SCOPED_TRACE("size " + std::to_string(size) + ", first " + std::to_string(first) +
                     ", leader " + std::to_string(initial));
        int leader = initial;
        int moves = 0;
        std::vector<int> healthy = ordinals;
        auto decide = [&](int replaced) {
          if (auto next = LeaderDuringRoll({ordinals, replaced, leader, healthy})) {
            ASSERT_NE(std::find(healthy.begin(), healthy.end(), *next), healthy.end());
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
        // At most two transfers: before the roll, then onto the first pod replaced.
        EXPECT_LE(moves, 2);
        EXPECT_EQ(leader, ordinals[size - 1]);
      }
    }
  }
}

}  // namespace
}  // namespace seedhop::migrator
