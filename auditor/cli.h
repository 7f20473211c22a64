// seedhop-auditor's command line, parsed into plain options by a pure function (main.cpp only
// wires them to the kube client, the audit and the output).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auditor/report.h"
#include "common/result.h"

namespace seedhop::auditor {

enum class Command {
  kAudit,  // one audit, report on stdout, exit code per ExitCode()
  kServe,  // re-audit every interval, export gauges on /metrics
  kRules,  // print the built-in rules
  kHelp,
};

struct CliOptions {
  Command command = Command::kAudit;
  Format format = Format::kTable;
  std::string single_namespace;   // -n
  std::string namespace_pattern;  // empty: the rules' pattern
  std::string rules_file;         // empty: built-in rules only
  std::string kubeconfig;         // empty: $KUBECONFIG/~/.kube/config, or in-cluster in a pod
  std::string context;
  std::chrono::seconds interval{600};
  std::string listen_address = "0.0.0.0";
  uint16_t listen_port = 8080;
  std::string log_level = "info";
};

// The usage text printed by --help and after a usage error.
const char* Usage();

// Parses "30s", "10m", "1h" (a whole number and one unit). nullopt otherwise or when <= 0.
std::optional<std::chrono::seconds> ParseInterval(std::string_view text);

// Parses argv[1..]: an optional command (serve, rules) then flags, as "--flag=value",
// "--flag value", "-o value" or "-ovalue". Errors name the flag.
Result<CliOptions> ParseCommandLine(const std::vector<std::string>& args);

}  // namespace seedhop::auditor
