#include "migrator/roll_leader.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace seedhop::migrator {

std::optional<int> LeaderDuringRoll(const RollView& view) {
  if (view.leader < 0 || view.ordinals.empty())
    return std::nullopt;
  const int count = static_cast<int>(view.ordinals.size());
  const int replaced = std::clamp(view.replaced, 0, count);
  auto is_replaced = [&](int ordinal) {
    return replaced > 0 && ordinal >= view.ordinals[count - replaced];
  };
  if (is_replaced(view.leader))
    return std::nullopt;

  std::optional<int> replaced_first;  // up longest of the replaced: most likely caught up
  std::optional<int> replaced_last;   // of those still to be replaced
  for (int ordinal : view.healthy_voters) {
    if (std::find(view.ordinals.begin(), view.ordinals.end(), ordinal) == view.ordinals.end())
      continue;
    if (is_replaced(ordinal))
      replaced_first = std::max(replaced_first.value_or(ordinal), ordinal);
    else
      replaced_last = std::min(replaced_last.value_or(ordinal), ordinal);
  }
  if (replaced_first)
    return replaced_first;
  // Moving to another pod still to be replaced helps only when the roll reaches it later.
  if (replaced_last && *replaced_last < view.leader)
    return replaced_last;
  return std::nullopt;
}

std::vector<int> SuccessorPreference(const std::vector<Step>& steps, size_t at, int n) {
  auto index = [](Side side) { return side == Side::kSource ? 0 : 1; };
  SidePlan plans[2] = {SidePlan{n, 0, {}}, SidePlan{}};
  for (size_t i = 0; i <= at && i < steps.size(); ++i) {
    if (steps[i].kind == StepKind::kSetSidePlan)
      plans[index(steps[i].side)] = steps[i].plan;
  }
  auto valid = [](int ordinal) { return ordinal >= 0 && ordinal < kMaxOrdinals; };
  constexpr size_t kNever = std::numeric_limits<size_t>::max();
  std::vector<size_t> removed_at(kMaxOrdinals, kNever);
  std::vector<bool> kept_by_next_roll(kMaxOrdinals, false);
  bool roll_seen = false;
  for (size_t i = at + 1; i < steps.size(); ++i) {
    const Step& step = steps[i];
    if (step.kind == StepKind::kRemoveMember && valid(step.ordinal) &&
        removed_at[step.ordinal] == kNever)
      removed_at[step.ordinal] = i;
    if (step.kind != StepKind::kSetSidePlan)
      continue;
    SidePlan& before = plans[index(step.side)];
    if (RollsPods(before, step.plan) && !roll_seen) {
      roll_seen = true;
      for (int pod = step.plan.ordinals_start; pod < step.plan.ordinals_start + step.plan.replicas;
           ++pod) {
        if (valid(pod))
          kept_by_next_roll[pod] = true;
      }
    }
    before = step.plan;
  }
  std::vector<int> order(kMaxOrdinals);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (kept_by_next_roll[a] != kept_by_next_roll[b])
      return static_cast<bool>(kept_by_next_roll[a]);
    if (!kept_by_next_roll[a] && removed_at[a] != removed_at[b])
      return removed_at[a] > removed_at[b];
    return a < b;
  });
  return order;
}

}  // namespace seedhop::migrator
