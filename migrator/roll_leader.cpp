#include "migrator/roll_leader.h"

#include <algorithm>

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

}  // namespace seedhop::migrator
