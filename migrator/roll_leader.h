// Where etcd leadership should be while a StatefulSet rolls its pods. A roll (a pod template
// change, such as new hostAliases) replaces pods one at a time from the highest ordinal down
// (kubernetes pkg/controller/statefulset/stateful_set_control.go, updateStatefulSet). A leader
// whose pod is replaced hands leadership over while it stops, and the writes that followers
// forwarded to it meanwhile are dropped without an answer: their clients wait out a timeout
// (2 s stalls in the lab, docs/lab.md). Moving leadership first costs only a transfer, whose
// refused writes clients retry at once.
#pragma once

#include <optional>
#include <vector>

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

}  // namespace seedhop::migrator
