#include "auditor/audit.h"

#include <algorithm>
#include <map>
#include <utility>

namespace seedhop::auditor {
namespace {

constexpr char kUnknownComponent[] = "unknown";

constexpr char kUnknownAdvice[] =
    "Find out which kube-apiserver this controller elects against; make it use the shoot's "
    "generic token kubeconfig, or stop it on the source seed before the target starts it, and add "
    "a rule for it.";

void AddUnique(std::vector<std::string>& list, const std::string& item) {
  if (!item.empty() && std::find(list.begin(), list.end(), item) == list.end()) {
    list.push_back(item);
  }
}

std::string LockText(std::string_view kind, const std::string& ns, const std::string& name) {
  return std::string(kind) + " " + ns + "/" + (name.empty() ? "(name not known)" : name);
}

// Which component an observed lock belongs to: by lock name first (the rules list lock names),
// then through the holder's workload when exactly one electing component runs in it.
std::string ComponentOf(const ObservedLock& lock, const Rules& rules,
                        const std::vector<InferredLock>& inferred) {
  if (const ComponentRule* rule = rules.MatchLock(lock.name)) {
    return rule->name;
  }
  if (lock.holder_workload) {
    std::vector<std::string> candidates;
    for (const auto& i : inferred) {
      if (i.workload == *lock.holder_workload && i.location != Location::kNone &&
          !i.component.empty()) {
        AddUnique(candidates, i.component);
      }
    }
    if (candidates.size() == 1) {
      return candidates.front();
    }
  }
  return kUnknownComponent;
}

std::string HolderText(const ObservedLock& lock) {
  if (lock.holder.form == HolderForm::kEmpty) {
    return "no holder";
  }
  if (lock.holder.form == HolderForm::kUnknownLeader) {
    return "holder " + lock.holder.raw;
  }
  return "holder pod " + lock.holder.pod + (lock.holder_present ? "" : " (gone)");
}

class BlockerSet {
 public:
  explicit BlockerSet(const Rules& rules) : rules_(rules) {}

  Blocker& For(const std::string& component) {
    Blocker& b = by_component_[component];
    if (b.component.empty()) {
      b.component = component;
      const ComponentRule* rule = rules_.Find(component);
      b.advice = rule != nullptr && !rule->advice.empty() ? rule->advice : kUnknownAdvice;
    }
    return b;
  }

  std::vector<Blocker> Take() {
    std::vector<Blocker> out;
    for (auto& [_, b] : by_component_) {
      out.push_back(std::move(b));
    }
    return out;
  }

 private:
  const Rules& rules_;
  std::map<std::string, Blocker> by_component_;  // sorted by component name
};

void CheckObserved(const NamespaceSnapshot& ns, const Rules& rules, NamespaceAudit& audit,
                   BlockerSet& blockers) {
  std::map<std::string, std::vector<std::string>> locks_by_component;
  for (auto& lock : audit.observed) {
    const std::string component = ComponentOf(lock, rules, audit.inferred);
    lock.component = component;
    const std::string subject = std::string(LockKindName(lock.kind)) + "/" + lock.name;
    const std::string text = LockText(LockKindName(lock.kind), lock.namespace_name, lock.name);
    if (component != kUnknownComponent) {
      locks_by_component[component].push_back(subject);
    }
    if (lock.kind != LockKind::kLease) {
      audit.findings.push_back(Finding{
          Severity::kWarning, subject,
          "legacy " + std::string(LockKindName(lock.kind)) +
              " lock (client-go removed this lock type in 1.24; a hybrid lock writes a Lease "
              "too): " +
              HolderText(lock)});
    }
    if (lock.holder.form == HolderForm::kEmpty || lock.holder.form == HolderForm::kUnknownLeader) {
      audit.findings.push_back(Finding{Severity::kInfo, subject,
                                       "lock exists in the seed but nobody holds it; whoever "
                                       "takes it next takes it in this seed only"});
      continue;
    }
    if (lock.stale && !lock.holder_present) {
      audit.findings.push_back(Finding{
          Severity::kWarning, subject,
          "stale lock left behind: " + HolderText(lock) + ", last renewed " +
              (lock.record.renew_time ? FormatTimestamp(*lock.record.renew_time) : "never") +
              "; delete it once its component is gone"});
      continue;
    }
    if (!lock.holder_present) {
      audit.findings.push_back(Finding{
          Severity::kWarning, subject,
          "holder " + lock.holder.pod + " is not a pod in " + ns.name +
              " but the lock is fresh: held from another seed, or a pod that just went away"});
    } else if (lock.stale) {
      audit.findings.push_back(Finding{Severity::kWarning, subject,
                                       "stale lock: its holder pod exists but stopped renewing"});
    }
    if (component == kUnknownComponent) {
      audit.findings.push_back(Finding{
          Severity::kWarning, subject,
          "lock matches no component rule" +
              (lock.holder_workload ? " (held by " + WorkloadText(*lock.holder_workload) + ")"
                                    : std::string())});
    }
    Blocker& b = blockers.For(component);
    if (lock.holder_workload) {
      AddUnique(b.workloads, WorkloadText(*lock.holder_workload));
    }
    AddUnique(b.locks, text);
    AddUnique(b.reasons, "observed: " + text + " lives in the seed, " + HolderText(lock));
  }
  for (const auto& [component, locks] : locks_by_component) {
    if (locks.size() > 1) {
      std::string list;
      for (const auto& l : locks) {
        list += (list.empty() ? "" : ", ") + l;
      }
      audit.findings.push_back(Finding{Severity::kWarning, component,
                                       "holds " + std::to_string(locks.size()) +
                                           " locks in the seed: " + list +
                                           " (hybrid lock, or a renamed lock left behind)"});
    }
  }
}

// True when the seed holds a lock that is `lock` (same namespace/name) or belongs to its
// component, leaving out stale leftovers whose holder is gone.
bool ObservedInSeed(const NamespaceAudit& audit, const InferredLock& lock) {
  for (const auto& o : audit.observed) {
    if (o.stale && !o.holder_present) {
      continue;
    }
    if ((!lock.lock_name.empty() && o.namespace_name == lock.lock_namespace &&
         o.name == lock.lock_name) ||
        (!lock.component.empty() && o.component == lock.component)) {
      return true;
    }
  }
  return false;
}

void CheckInferred(const NamespaceSnapshot& ns, const Rules& rules, NamespaceAudit& audit,
                   BlockerSet& blockers, bool leases_listed) {
  for (const auto& lock : audit.inferred) {
    const std::string workload = WorkloadText(lock.workload);
    const std::string subject = workload + " container " + lock.container;
    const std::string component = lock.component.empty() ? kUnknownComponent : lock.component;
    const ComponentRule* rule = rules.Find(lock.component);
    const Location expected = rule != nullptr ? rule->expected : Location::kUnknown;
    if (expected != Location::kUnknown && lock.location != Location::kUnknown &&
        lock.location != expected) {
      audit.findings.push_back(
          Finding{lock.location == Location::kSeed ? Severity::kWarning : Severity::kInfo, subject,
                  std::string("differs from the rules: expected ") + LocationName(expected) +
                      ", found " + LocationName(lock.location) + " (" + lock.evidence + ")"});
    }
    const bool observed_in_seed = ObservedInSeed(audit, lock);
    if (lock.location == Location::kShoot && observed_in_seed) {
      audit.findings.push_back(
          Finding{Severity::kWarning, subject,
                  "disagreement: its flags point leader election at the shoot (" + lock.evidence +
                      "), but the seed holds a lock for " + component});
    }
    if (lock.location == Location::kSeed) {
      const std::string text = LockText("leases", lock.lock_namespace, lock.lock_name);
      Blocker& b = blockers.For(component);
      AddUnique(b.workloads, workload);
      AddUnique(b.locks, text);
      AddUnique(b.reasons,
                "inferred: container " + lock.container + " elects in the seed: " + lock.evidence);
      if (lock.replicas == 0) {
        AddUnique(b.reasons, workload + " has 0 replicas now; it blocks once it is scaled up");
      }
      if (lock.lock_namespace != ns.name) {
        audit.findings.push_back(Finding{Severity::kWarning, subject,
                                         "its seed lock lives in namespace " + lock.lock_namespace +
                                             ", which this audit does not list: check it there"});
      } else if (leases_listed && !lock.lock_name.empty() && !observed_in_seed &&
                 lock.replicas > 0) {
        audit.findings.push_back(
            Finding{Severity::kWarning, subject,
                    "disagreement: its flags point leader election at the seed, but no lock " +
                        lock.lock_namespace + "/" + lock.lock_name +
                        " exists there (not elected yet, or the lock name differs)"});
      }
    } else if (lock.location == Location::kUnknown) {
      Blocker& b = blockers.For(component);
      AddUnique(b.workloads, workload);
      AddUnique(b.reasons, "unknown: cannot tell where container " + lock.container +
                               " elects: " + lock.evidence);
    }
  }
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kSafe:
      return "safe";
    case Verdict::kBlocked:
      return "blocked";
    case Verdict::kIncomplete:
      return "incomplete";
    case Verdict::kGone:
      return "gone";
  }
  return "incomplete";
}

NamespaceAudit AuditNamespace(const NamespaceSnapshot& ns, const Rules& rules, Timestamp now) {
  NamespaceAudit audit;
  audit.name = ns.name;
  if (ns.gone) {
    audit.verdict = Verdict::kGone;
    audit.findings.push_back(
        Finding{Severity::kInfo, "namespaces/" + ns.name, "deleted during the audit"});
    return audit;
  }
  bool leases_listed = true;
  for (const auto& e : ns.errors) {
    leases_listed = leases_listed && e.resource != "leases";
    audit.findings.push_back(Finding{Severity::kError, e.resource,
                                     "cannot list " + e.resource + " (" +
                                         ErrorCodeName(e.error.code()) +
                                         "): " + e.error.message()});
  }
  Observation observation = ObserveLocks(ns, rules, now);
  audit.observed = std::move(observation.locks);
  audit.excluded = std::move(observation.excluded);
  Inference inference = InferLocks(ns, rules);
  audit.inferred = std::move(inference.locks);
  std::move(observation.findings.begin(), observation.findings.end(),
            std::back_inserter(audit.findings));
  std::move(inference.findings.begin(), inference.findings.end(),
            std::back_inserter(audit.findings));

  BlockerSet blockers(rules);
  CheckObserved(ns, rules, audit, blockers);
  CheckInferred(ns, rules, audit, blockers, leases_listed);
  audit.blockers = blockers.Take();

  audit.verdict = !audit.blockers.empty()    ? Verdict::kBlocked
                  : HasError(audit.findings) ? Verdict::kIncomplete
                                             : Verdict::kSafe;
  return audit;
}

AuditReport Audit(const SeedSnapshot& seed, const Rules& rules, Timestamp now) {
  AuditReport report;
  report.seed = seed.seed;
  report.at = now;
  for (const auto& e : seed.errors) {
    report.findings.push_back(Finding{Severity::kError, "seed", e.message()});
  }
  for (const auto& ns : seed.namespaces) {
    report.namespaces.push_back(AuditNamespace(ns, rules, now));
  }
  return report;
}

AuditReport AuditPacked(PackedSeed seed, const Rules& rules, Timestamp now) {
  AuditReport report = Audit(SeedSnapshot{.errors = std::move(seed.errors)}, rules, now);
  for (auto& ns : seed.namespaces) {
    report.namespaces.push_back(AuditNamespace(Unpack(ns), rules, now));
    // The report grows into the memory the audited namespaces free.
    ns.objects = {};
  }
  return report;
}

bool HasError(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == Severity::kError; });
}

int ExitCode(const AuditReport& report) {
  bool blocked = false;
  bool incomplete = HasError(report.findings);
  for (const auto& ns : report.namespaces) {
    blocked = blocked || ns.verdict == Verdict::kBlocked;
    incomplete = incomplete || (ns.verdict != Verdict::kGone && HasError(ns.findings));
  }
  if (incomplete) {
    return kExitError;
  }
  return blocked ? kExitBlockers : kExitSafe;
}

}  // namespace seedhop::auditor
