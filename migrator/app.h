// seedhop-migrator's commands, wired from flags: `run` (the controller on one seed), and the
// operator's `status`, `resume` and `abort` against the garden. main.cpp only dispatches.
#pragma once

#include <string>
#include <vector>

namespace seedhop::migrator {

// Each returns the process exit code: 0 success, 1 failure, 2 usage or configuration error.
// Output goes to stdout, errors to stderr.
int RunCommand(const std::vector<std::string>& args);
int StatusCommand(const std::vector<std::string>& args);
int ResumeCommand(const std::vector<std::string>& args);
int AbortCommand(const std::vector<std::string>& args);

// The top-level usage text.
std::string Usage();

}  // namespace seedhop::migrator
