// A finding: something the audit noticed about one item (a lock, a workload, a list call) that an
// operator should read. Findings never stop an audit; they are collected and reported.
#pragma once

#include <string>

namespace seedhop::auditor {

enum class Severity {
  kInfo,     // context, e.g. a container that matches no rule and shows no leader election
  kWarning,  // needs a look: legacy lock format, stale leftover lock, observed/inferred disagree
  kError,    // the audit of this item is incomplete: a list was forbidden, a record is malformed
};

// Returns "info", "warning" or "error".
const char* SeverityName(Severity severity);

struct Finding {
  Severity severity;
  std::string subject;  // what it is about, e.g. "configmaps/legacy-controller-leader-election"
  std::string message;

  bool operator==(const Finding&) const = default;
};

}  // namespace seedhop::auditor
