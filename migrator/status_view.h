// `seedhop-migrator status`: the flow with what is done, running, waiting and why, for people.
// Pure: renders what the LiveMigration says.
#pragma once

#include <string>
#include <vector>

#include "migrator/flow.h"
#include "migrator/live_migration.h"

namespace seedhop::migrator {

// One line per step ("  12 done     etcd-main: promote 5 (source)"), a marker on the step in
// progress with its message, then each side's phase and message and, for a halted side, how to
// resume or abort.
std::string RenderStatus(const MigrationSpec& spec, const std::vector<FlowStep>& flow,
                         const SideStatus& source, const SideStatus& target);

}  // namespace seedhop::migrator
