#include "migrator/status_view.h"

#include <algorithm>
#include <cstdio>

namespace seedhop::migrator {

namespace {

const HistoryEntry* LastEntry(const SideStatus& status, int step) {
  for (auto it = status.history.rbegin(); it != status.history.rend(); ++it) {
    if (it->step == step && it->result != "Resumed")
      return &*it;
  }
  return nullptr;
}

std::string SideLine(const char* side, const SideStatus& status) {
  std::string line = std::string(side) + ": " + PhaseName(status.phase);
  if (!status.holder.empty())
    line += " (" + status.holder + ")";
  if (!status.message.empty())
    line += ": " + status.message;
  return line + "\n";
}

}  // namespace

std::string RenderStatus(const MigrationSpec& spec, const std::vector<FlowStep>& flow,
                         const SideStatus& source, const SideStatus& target) {
  int done = std::max(source.completed_steps, target.completed_steps);
  std::string out = "LiveMigration " + spec.garden_namespace + "/" + spec.name + ": " +
                    spec.shoot_namespace + " from " + spec.source.seed + " to " + spec.target.seed +
                    ", " + std::to_string(done) + "/" + std::to_string(flow.size()) +
                    " steps done\n";
  int no_return = PointOfNoReturn(flow);
  for (size_t i = 0; i < flow.size(); ++i) {
    int k = static_cast<int>(i);
    const FlowStep& step = flow[i];
    const SideStatus& owner = step.owner == Side::kSource ? source : target;
    std::string state = "pending";
    std::string note;
    if (k < done) {
      state = "done";
    } else if (k == done) {
      state = owner.phase == Phase::kHalted ? "HALTED"
              : owner.current_step == k     ? "running"
                                            : "next";
      if (owner.current_step == k && !owner.message.empty())
        note = "  <- " + owner.message;
    }
    std::string timing;
    if (const HistoryEntry* entry = LastEntry(owner, k); entry && k < done) {
      timing = "  " + entry->started + " .. " + entry->finished;
    }
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "%4d %-8s ", k, state.c_str());
    out += prefix + step.Name() + timing + note + "\n";
    if (k + 1 == no_return)
      out += "     ---- point of no return: abort is possible only above this line ----\n";
  }
  out += SideLine("source", source);
  out += SideLine("target", target);
  if (source.phase == Phase::kHalted || target.phase == Phase::kHalted) {
    out += "A side is halted. Fix the cause, then: seedhop-migrator resume -n " +
           spec.garden_namespace + " " + spec.name + "\n";
    if (done < no_return)
      out += "or roll back: seedhop-migrator abort -n " + spec.garden_namespace + " " + spec.name +
             "\n";
  }
  return out;
}

}  // namespace seedhop::migrator
