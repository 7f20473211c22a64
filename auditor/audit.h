// The audit: observed and inferred locks cross-checked per shoot namespace, and a verdict. A
// shoot is safe to live-migrate when no controller keeps its leader-election lock in the seed;
// otherwise each such controller would run twice (once per seed) and is listed as a blocker.
#pragma once

#include <string>
#include <vector>

#include "auditor/finding.h"
#include "auditor/inferred.h"
#include "auditor/observed.h"
#include "auditor/rules.h"
#include "auditor/snapshot.h"

namespace seedhop::auditor {

enum class Verdict {
  kSafe,        // every lock lives in the shoot (or nowhere), and everything could be read
  kBlocked,     // at least one controller would run twice
  kIncomplete,  // no blocker found, but something could not be read (RBAC, malformed record)
  kGone,        // the namespace was deleted during the audit
};

// Returns "safe", "blocked", "incomplete" or "gone".
const char* VerdictName(Verdict verdict);

// A controller that would run twice, with every reason found for it.
struct Blocker {
  std::string component;               // rule name, or "unknown" for an unclassified lock
  std::vector<std::string> workloads;  // "deployment/machine-controller-manager"
  std::vector<std::string> locks;      // "leases shoot--a--b/machine-controller-manager"
  std::vector<std::string> reasons;    // observed and inferred evidence
  std::string advice;
};

struct NamespaceAudit {
  std::string name;
  Verdict verdict = Verdict::kSafe;
  std::vector<ObservedLock> observed;
  std::vector<ExcludedLease> excluded;
  std::vector<InferredLock> inferred;
  std::vector<Blocker> blockers;  // sorted by component
  std::vector<Finding> findings;
};

struct AuditReport {
  std::string seed;
  Timestamp at;
  std::vector<NamespaceAudit> namespaces;
  std::vector<Finding> findings;  // failures outside any namespace (listing namespaces ...)
};

// True when any finding has Severity::kError (something could not be read).
bool HasError(const std::vector<Finding>& findings);

// Audits one namespace as of `now` (staleness is judged against it).
NamespaceAudit AuditNamespace(const NamespaceSnapshot& ns, const Rules& rules, Timestamp now);

// Audits every namespace of the snapshot, in its order.
AuditReport Audit(const SeedSnapshot& seed, const Rules& rules, Timestamp now);

// Audits every namespace of a packed seed, in its order, parsing one namespace's objects at a
// time and freeing them once that namespace is audited: the report Audit gives for the same
// objects unpacked.
AuditReport AuditPacked(PackedSeed seed, const Rules& rules, Timestamp now);

// Exit codes of seedhop-auditor.
inline constexpr int kExitSafe = 0;
inline constexpr int kExitBlockers = 1;
inline constexpr int kExitError = 2;  // usage or access errors

// 2 when anything could not be read (a seed-wide error, an incomplete namespace), since "safe"
// cannot be claimed then; otherwise 1 when any namespace is blocked; otherwise 0. Namespaces
// deleted during the audit count as nothing.
int ExitCode(const AuditReport& report);

}  // namespace seedhop::auditor
