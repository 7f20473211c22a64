// Where etcd leadership should be while a StatefulSet rolls its pods, and where it goes when a
// step moves it away from a member. A roll (a pod template
// change, such as new hostAliases) replaces pods one at a time from the highest ordinal down
// (kubernetes pkg/controller/statefulset/stateful_set_control.go, updateStatefulSet). A leader
// whose pod is replaced hands leadership over while it stops, and the writes that followers
// forwarded to it meanwhile are dropped without an answer: their clients wait out a timeout
// (2 s stalls in the lab, docs/lab.md). Moving leadership first costs only a transfer, whose
// refused writes clients retry at once.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "migrator/planner.h"

namespace seedhop::migrator {

// One StatefulSet's pods and members during (or just before) a roll, on the seed that runs it.
struct RollView {
  std::vector<int> ordinals;  // the pods the StatefulSet keeps, ascending
  // Pods already running the new template: the highest `replaced` of `ordinals` (0 before the
  // roll starts).
  int replaced = 0;
  int leader = -1;                  // the leading member's ordinal when its pod runs here, else -1
  std::vector<int> healthy_voters;  // ordinals of the healthy voting members in `ordinals`
};

// Returns the ordinal to move leadership to so that the roll never replaces the leader's pod:
// the first-replaced pod that is a healthy voter again, or, while none is, the healthy voter
// replaced last (the lowest ordinal). nullopt when leadership can stay where it is. Pure.
std::optional<int> LeaderDuringRoll(const RollView& view);

// Who should take over leadership when step `at` of `steps` (a plan for a cluster of steady
// size `n`, planner.h) moves it away from a member: every ordinal below kMaxOrdinals, best
// first. First those the plan's next roll keeps, lowest first: the roll reaches that pod last,
// so it needs no move before it starts. Then the others, those the rest of the plan keeps
// longest first (never removed: longest), lower ordinals first among equals. A leader chosen so
// is not moved again by a later transfer step before a roll needs it elsewhere. Pure.
std::vector<int> SuccessorPreference(const std::vector<Step>& steps, size_t at, int n);

}  // namespace seedhop::migrator
