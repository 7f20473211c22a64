#include "auditor/observed.h"

#include <cctype>
#include <chrono>
#include <map>

#include "auditor/object.h"

namespace seedhop::auditor {
namespace {

Result<std::optional<Timestamp>> TimeField(const nlohmann::json& record, std::string_view key) {
  const nlohmann::json* v = Find(record, {key});
  if (v == nullptr || v->is_null()) {
    return std::optional<Timestamp>();
  }
  if (!v->is_string()) {
    return Error(ErrorCode::kInvalid, std::string(key) + ": not a string");
  }
  auto t = ParseTimestamp(v->get<std::string>());
  if (!t) {
    return Error(ErrorCode::kInvalid,
                 std::string(key) + ": not an RFC 3339 time: \"" + v->get<std::string>() + "\"");
  }
  return std::optional<Timestamp>(*t);
}

Result<std::optional<int64_t>> IntField(const nlohmann::json& record, std::string_view key) {
  const nlohmann::json* v = Find(record, {key});
  if (v == nullptr || v->is_null()) {
    return std::optional<int64_t>();
  }
  if (!v->is_number_integer()) {
    return Error(ErrorCode::kInvalid, std::string(key) + ": not an integer");
  }
  return std::optional<int64_t>(v->get<int64_t>());
}

// Reads the fields both record shapes share; `transitions_key` is the one that differs.
Result<LeaderRecord> ReadRecord(const nlohmann::json& record, std::string_view transitions_key) {
  if (!record.is_object()) {
    return Error(ErrorCode::kInvalid, "record is not a JSON object");
  }
  LeaderRecord out;
  if (const nlohmann::json* h = Find(record, {"holderIdentity"}); h != nullptr && !h->is_null()) {
    if (!h->is_string()) {
      return Error(ErrorCode::kInvalid, "holderIdentity: not a string");
    }
    out.holder = h->get<std::string>();
  }
  auto duration = IntField(record, "leaseDurationSeconds");
  if (!duration.ok()) {
    return duration.error();
  }
  out.lease_duration_seconds = *duration;
  auto transitions = IntField(record, transitions_key);
  if (!transitions.ok()) {
    return transitions.error();
  }
  out.transitions = *transitions;
  auto acquire = TimeField(record, "acquireTime");
  if (!acquire.ok()) {
    return acquire.error();
  }
  out.acquire_time = *acquire;
  auto renew = TimeField(record, "renewTime");
  if (!renew.ok()) {
    return renew.error();
  }
  out.renew_time = *renew;
  return out;
}

// A Deployment pod is "<deployment>-<rs hash>-<5 chars>", a StatefulSet pod "<sts>-<ordinal>".
bool IsDeploymentPodSuffix(std::string_view rest) {
  const auto dash = rest.find('-');
  return dash != std::string_view::npos && dash > 0 && dash + 1 < rest.size() &&
         rest.find('-', dash + 1) == std::string_view::npos;
}

bool IsOrdinal(std::string_view rest) {
  if (rest.empty()) {
    return false;
  }
  for (char c : rest) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

void ConsiderWorkloads(std::string_view pod, const std::vector<nlohmann::json>& workloads,
                       const char* kind, bool (*suffix_ok)(std::string_view),
                       std::optional<WorkloadRef>& best) {
  for (const auto& w : workloads) {
    const std::string name = NameOf(w);
    if (name.empty() || pod.size() <= name.size() + 1 || pod.substr(0, name.size()) != name ||
        pod[name.size()] != '-' || !suffix_ok(pod.substr(name.size() + 1))) {
      continue;
    }
    if (!best || best->name.size() < name.size()) {
      best = WorkloadRef{kind, name};
    }
  }
}

const nlohmann::json* FindPod(const NamespaceSnapshot& ns, std::string_view name) {
  for (const auto& pod : ns.pods) {
    if (NameOf(pod) == name) {
      return &pod;
    }
  }
  return nullptr;
}

// Builds the lock from a parsed record and ties it to its holder.
ObservedLock MakeLock(LockKind kind, const std::string& ns_name, const std::string& name,
                      LeaderRecord record, const NamespaceSnapshot& ns, Timestamp now) {
  ObservedLock lock;
  lock.kind = kind;
  lock.namespace_name = ns_name;
  lock.name = name;
  lock.holder = ParseHolderIdentity(record.holder);
  lock.stale = IsStale(record, now);
  lock.record = std::move(record);
  if (lock.holder.pod.empty()) {
    return lock;
  }
  if (const nlohmann::json* pod = FindPod(ns, lock.holder.pod)) {
    const std::string phase = StringAt(*pod, {"status", "phase"});
    lock.holder_present = phase != "Succeeded" && phase != "Failed";
    lock.holder_workload = OwningWorkload(*pod);
  } else {
    lock.holder_workload = WorkloadForPodName(lock.holder.pod, ns);
  }
  return lock;
}

bool LabelsMatch(const nlohmann::json& object, const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : labels) {
    if (StringAt(object, {"metadata", "labels", key}) != value) {
      return false;
    }
  }
  return true;
}

}  // namespace

const char* LockKindName(LockKind kind) {
  switch (kind) {
    case LockKind::kLease:
      return "leases";
    case LockKind::kConfigMap:
      return "configmaps";
    case LockKind::kEndpoints:
      return "endpoints";
  }
  return "leases";
}

HolderIdentity ParseHolderIdentity(std::string_view identity) {
  HolderIdentity out;
  out.raw = std::string(identity);
  if (identity.empty()) {
    out.form = HolderForm::kEmpty;
    return out;
  }
  if (identity == kUnknownLeader) {
    out.form = HolderForm::kUnknownLeader;
    return out;
  }
  const auto underscore = identity.find('_');
  if (underscore == std::string_view::npos) {
    out.form = HolderForm::kPodName;
    out.pod = std::string(identity);
  } else {
    out.form = HolderForm::kPodWithId;
    out.pod = std::string(identity.substr(0, underscore));
  }
  return out;
}

std::string WorkloadText(const WorkloadRef& ref) {
  std::string kind = ref.kind;
  for (char& c : kind) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return kind + "/" + ref.name;
}

std::optional<WorkloadRef> OwningWorkload(const nlohmann::json& pod) {
  const nlohmann::json* owners = Find(pod, {"metadata", "ownerReferences"});
  if (owners == nullptr || !owners->is_array()) {
    return std::nullopt;
  }
  const nlohmann::json* controller = nullptr;
  for (const auto& o : *owners) {
    const nlohmann::json* c = Find(o, {"controller"});
    if (c != nullptr && c->is_boolean() && c->get<bool>()) {
      controller = &o;
    }
  }
  if (controller == nullptr && !owners->empty()) {
    controller = &owners->front();
  }
  if (controller == nullptr) {
    return std::nullopt;
  }
  WorkloadRef ref{StringAt(*controller, {"kind"}), StringAt(*controller, {"name"})};
  if (ref.kind != "ReplicaSet") {
    return ref;
  }
  // Deployment controller names ReplicaSets "<deployment>-<pod-template-hash>".
  const std::string hash = StringAt(pod, {"metadata", "labels", "pod-template-hash"});
  const std::string suffix = "-" + hash;
  if (!hash.empty() && ref.name.size() > suffix.size() &&
      ref.name.compare(ref.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return WorkloadRef{"Deployment", ref.name.substr(0, ref.name.size() - suffix.size())};
  }
  return ref;
}

std::optional<WorkloadRef> WorkloadForPodName(std::string_view pod, const NamespaceSnapshot& ns) {
  std::optional<WorkloadRef> best;
  ConsiderWorkloads(pod, ns.deployments, "Deployment", IsDeploymentPodSuffix, best);
  ConsiderWorkloads(pod, ns.statefulsets, "StatefulSet", IsOrdinal, best);
  return best;
}

Result<LeaderRecord> LeaseRecord(const nlohmann::json& lease) {
  const nlohmann::json* spec = Find(lease, {"spec"});
  if (spec == nullptr || spec->is_null()) {
    return LeaderRecord{};
  }
  return ReadRecord(*spec, "leaseTransitions");
}

Result<LeaderRecord> ParseLeaderAnnotation(std::string_view text) {
  nlohmann::json record = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded()) {
    return Error(ErrorCode::kInvalid, "annotation is not valid JSON");
  }
  return ReadRecord(record, "leaderTransitions");
}

bool IsStale(const LeaderRecord& record, Timestamp now) {
  const std::optional<Timestamp>& last =
      record.renew_time ? record.renew_time : record.acquire_time;
  if (!last) {
    return true;
  }
  const int64_t duration = record.lease_duration_seconds.value_or(kDefaultLeaseDurationSeconds);
  return *last + std::chrono::seconds(duration) < now;
}

std::optional<std::string> NotALock(const nlohmann::json& lease, const Rules& rules) {
  const std::string name = NameOf(lease);
  const std::string holder = StringAt(lease, {"spec", "holderIdentity"});
  for (const auto& rule : rules.not_locks) {
    if ((!rule.lease_name || rule.lease_name->FullMatch(name)) &&
        (!rule.holder || rule.holder->FullMatch(holder)) && LabelsMatch(lease, rule.labels)) {
      return rule.name;
    }
  }
  return std::nullopt;
}

Observation ObserveLocks(const NamespaceSnapshot& ns, const Rules& rules, Timestamp now) {
  Observation out;
  for (const auto& lease : ns.leases) {
    const std::string name = NameOf(lease);
    if (auto reason = NotALock(lease, rules)) {
      out.excluded.push_back(ExcludedLease{name, *reason});
      continue;
    }
    auto record = LeaseRecord(lease);
    if (!record.ok()) {
      out.findings.push_back(Finding{Severity::kError, std::string("leases/") + name,
                                     "malformed lease spec: " + record.error().message()});
      continue;
    }
    out.locks.push_back(MakeLock(LockKind::kLease, ns.name, name, std::move(*record), ns, now));
  }
  const std::pair<LockKind, const std::vector<nlohmann::json>*> legacy[] = {
      {LockKind::kConfigMap, &ns.configmaps}, {LockKind::kEndpoints, &ns.endpoints}};
  for (const auto& [kind, objects] : legacy) {
    for (const auto& object : *objects) {
      const nlohmann::json* annotation =
          Find(object, {"metadata", "annotations", kLeaderAnnotation});
      if (annotation == nullptr) {
        continue;
      }
      const std::string name = NameOf(object);
      const std::string subject = std::string(LockKindName(kind)) + "/" + name;
      if (!annotation->is_string()) {
        out.findings.push_back(
            Finding{Severity::kError, subject, "malformed leader annotation: not a string"});
        continue;
      }
      auto record = ParseLeaderAnnotation(annotation->get<std::string>());
      if (!record.ok()) {
        out.findings.push_back(Finding{Severity::kError, subject,
                                       "malformed leader annotation: " + record.error().message()});
        continue;
      }
      out.locks.push_back(MakeLock(kind, ns.name, name, std::move(*record), ns, now));
    }
  }
  return out;
}

}  // namespace seedhop::auditor
