// seedhop-migrator: moves a shoot's control plane between seeds; see docs/migrator.md.
#include <cstdio>
#include <string>
#include <vector>

#include "migrator/app.h"

int main(int argc, char** argv) {
  using namespace seedhop::migrator;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(Usage().c_str(), stderr);
    return 2;
  }
  std::string command = args.front();
  args.erase(args.begin());
  if (command == "run")
    return RunCommand(args);
  if (command == "status")
    return StatusCommand(args);
  if (command == "resume")
    return ResumeCommand(args);
  if (command == "abort")
    return AbortCommand(args);
  std::fputs(Usage().c_str(), command == "help" || command == "--help" ? stdout : stderr);
  return command == "help" || command == "--help" ? 0 : 2;
}
