#include "webhook/etcd_policy.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace seedhop::webhook {

namespace {

using nlohmann::json;

EtcdDecision Skip(std::string reason) {
  EtcdDecision decision;
  decision.outcome = Outcome::kSkipped;
  decision.reason = std::move(reason);
  return decision;
}

EtcdDecision Deny(std::string message) {
  EtcdDecision decision;
  decision.outcome = Outcome::kDenied;
  decision.reason = std::move(message);
  return decision;
}

void Finish(EtcdDecision& decision) {
  decision.outcome = decision.patch.empty() ? Outcome::kUnchanged : Outcome::kPatched;
}

bool LabelEquals(const json& labels, const char* key, const char* value) {
  auto it = labels.find(key);
  return it != labels.end() && it->is_string() && it->get_ref<const std::string&>() == value;
}

// Reads an optional integer member: nullopt when absent or null, an error when it is not an int32.
Result<std::optional<int64_t>> OptionalInt(const json& object, const char* key,
                                           const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return std::optional<int64_t>();
  if (!it->is_number_integer())
    return Error(ErrorCode::kInvalid, where + " must be an integer");
  // Unsigned values beyond int64 wrap in get<int64_t>(); compare in the unsigned domain first.
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return Error(ErrorCode::kInvalid, where + " is out of range");
  }
  int64_t value = it->get<int64_t>();
  if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<int32_t>::max()) {
    return Error(ErrorCode::kInvalid, where + " is out of range");
  }
  return std::optional<int64_t>(value);
}

// The JSON text of `alias` as a hostAliases entry, as json::dump writes it.
std::string AliasText(const HostAlias& alias) {
  size_t length = 32 + alias.ip.size();
  for (const std::string& hostname : alias.hostnames)
    length += hostname.size() + 3;
  std::string out;
  out.reserve(length);
  out += R"({"hostnames":[)";
  for (size_t i = 0; i < alias.hostnames.size(); ++i) {
    if (i > 0)
      out += ',';
    kube::AppendJsonString(out, alias.hostnames[i]);
  }
  out += R"(],"ip":)";
  kube::AppendJsonString(out, alias.ip);
  out += '}';
  return out;
}

// True when `entry` is the entry AliasText(alias) writes: exactly the members ip and hostnames,
// with the same values in the same order.
bool IsAlias(const json& entry, const HostAlias& alias) {
  if (entry.size() != 2)
    return false;
  auto ip = entry.find("ip");
  auto hostnames = entry.find("hostnames");
  if (ip == entry.end() || !ip->is_string() || ip->get_ref<const std::string&>() != alias.ip ||
      hostnames == entry.end() || !hostnames->is_array() ||
      hostnames->size() != alias.hostnames.size()) {
    return false;
  }
  for (size_t i = 0; i < alias.hostnames.size(); ++i) {
    const json& hostname = (*hostnames)[i];
    if (!hostname.is_string() || hostname.get_ref<const std::string&>() != alias.hostnames[i])
      return false;
  }
  return true;
}

// Wraps the JSON text `value` in one object per token of tokens[from..]:
// {t[from]: {t[from+1]: ... value}}.
std::string Nest(const std::vector<std::string>& tokens, size_t from, std::string_view value) {
  std::string out;
  for (size_t i = from; i < tokens.size(); ++i) {
    out += '{';
    kube::AppendJsonString(out, tokens[i]);
    out += ':';
  }
  out += value;
  out.append(tokens.size() - from, '}');
  return out;
}

std::string Pointer(const std::vector<std::string>& tokens, size_t count) {
  std::string pointer;
  for (size_t i = 0; i < count; ++i)
    pointer += "/" + kube::EscapePointerToken(tokens[i]);
  return pointer;
}

// PeerHostAliases with each entry's ordinal, sorted by ordinal.
std::vector<std::pair<int32_t, HostAlias>> OrdinalAliases(const plan::EtcdPlan& plan) {
  std::vector<const plan::RemoteMember*> members;
  members.reserve(plan.remote_members.size());
  for (const plan::RemoteMember& member : plan.remote_members)
    members.push_back(&member);
  auto by_ordinal = [](const auto* a, const auto* b) { return a->ordinal < b->ordinal; };
  // ParseEtcdPlan sorts them already; stable_sort would allocate a buffer on every request.
  if (!std::is_sorted(members.begin(), members.end(), by_ordinal))
    std::stable_sort(members.begin(), members.end(), by_ordinal);
  std::vector<std::pair<int32_t, HostAlias>> aliases;
  aliases.reserve(members.size());
  std::optional<int32_t> previous;
  for (const plan::RemoteMember* member : members) {
    if (member->ordinal < 0 || member->ordinal == previous)
      continue;
    previous = member->ordinal;
    // Sized once: growing these strings piece by piece was most of the policy's allocations.
    constexpr std::string_view kClusterDomain = ".cluster.local";
    std::string ordinal = std::to_string(member->ordinal);
    std::string svc;
    svc.reserve(2 * plan.statefulset.size() + ordinal.size() + plan.namespace_name.size() + 12);
    svc.append(plan.statefulset).append("-").append(ordinal).append(".");
    svc.append(plan.statefulset).append("-peer.").append(plan.namespace_name).append(".svc");
    std::string long_form;
    long_form.reserve(svc.size() + kClusterDomain.size());
    long_form.append(svc).append(kClusterDomain);
    HostAlias alias{member->address, {}};
    alias.hostnames.reserve(2);
    alias.hostnames.push_back(std::move(svc));
    alias.hostnames.push_back(std::move(long_form));
    aliases.emplace_back(member->ordinal, std::move(alias));
  }
  return aliases;
}

// Reconciles the existing hostAliases list `current` with `desired` (see DecideEtcdMutation).
// Returns true when it added operations. Replaces use the original indices and come first,
// removals run from the highest index down, appends use "/-": every operation stays valid while
// the previous ones are applied.
bool ReconcileAliases(const json& current,
                      const std::vector<std::pair<int32_t, HostAlias>>& desired,
                      const plan::EtcdPlan& plan, const std::string& list_pointer,
                      kube::JsonPatch& patch) {
  // Entries are compared where they stand, against the plan's aliases: this runs on every
  // admission request, and building a json value per wanted and per existing entry cost more than
  // the rest of the decision. `desired` is sorted by ordinal, so a wanted entry is found by
  // bisection and marked claimed by its index.
  auto wanted = [&desired](int32_t ordinal) -> std::optional<size_t> {
    auto it = std::lower_bound(desired.begin(), desired.end(), ordinal,
                               [](const auto& entry, int32_t o) { return entry.first < o; });
    if (it == desired.end() || it->first != ordinal)
      return std::nullopt;
    return static_cast<size_t>(it - desired.begin());
  };
  std::vector<bool> claimed(desired.size());
  std::vector<std::pair<size_t, std::string>> replaces;
  std::vector<size_t> removes;

  for (size_t k = 0; k < current.size(); ++k) {
    const json& entry = current[k];
    if (!entry.is_object())
      continue;
    auto hostnames = entry.find("hostnames");
    if (hostnames == entry.end() || !hostnames->is_array())
      continue;
    std::optional<int32_t> first_ours;
    size_t ours = 0;
    for (const json& hostname : *hostnames) {
      std::optional<int32_t> ordinal;
      if (hostname.is_string()) {
        ordinal = PeerHostnameOrdinal(hostname.get_ref<const std::string&>(), plan.statefulset,
                                      plan.namespace_name);
      }
      if (ordinal) {
        ++ours;
        if (!first_ours)
          first_ours = ordinal;
      }
    }
    if (!first_ours)
      continue;  // not ours: kept exactly as it is

    std::optional<size_t> want = wanted(*first_ours);
    bool claimable = want && !claimed[*want];
    if (claimable && IsAlias(entry, desired[*want].second)) {
      claimed[*want] = true;
    } else if (ours < hostnames->size()) {
      // Someone else's names share the entry: keep them with their IP, drop only ours.
      json foreign = json::array();
      for (const json& hostname : *hostnames) {
        if (!hostname.is_string() || !PeerHostnameOrdinal(hostname.get_ref<const std::string&>(),
                                                          plan.statefulset, plan.namespace_name)) {
          foreign.push_back(hostname);
        }
      }
      json stripped = entry;
      stripped["hostnames"] = std::move(foreign);
      replaces.emplace_back(k, stripped.dump());
    } else if (claimable) {
      claimed[*want] = true;
      replaces.emplace_back(k, AliasText(desired[*want].second));  // stale IP or hostnames
    } else {
      removes.push_back(k);  // a duplicate, or a member that is no longer remote
    }
  }

  size_t before = patch.size();
  for (const auto& [index, value] : replaces)
    patch.Replace(list_pointer + "/" + std::to_string(index), value);
  for (auto it = removes.rbegin(); it != removes.rend(); ++it) {
    patch.Remove(list_pointer + "/" + std::to_string(*it));
  }
  for (size_t i = 0; i < desired.size(); ++i) {
    if (!claimed[i])
      patch.Add(list_pointer + "/-", AliasText(desired[i].second));
  }
  return patch.size() > before;
}

EtcdDecision DecideScale(const AdmissionRequest& request, const plan::EtcdPlan& plan) {
  if (request.kind.kind != "Scale")
    return Skip("not_statefulset");
  const json& object = request.object;
  auto spec = object.find("spec");
  if (spec != object.end() && !spec->is_null() && !spec->is_object()) {
    return Deny("Scale " + request.namespace_name + "/" + request.name +
                ": spec must be an object");
  }
  // autoscaling/v1 ScaleSpec.replicas is `omitempty` (kubernetes/api autoscaling/v1/types.go):
  // a scale to 0 arrives without the field.
  std::optional<int64_t> replicas;
  if (spec != object.end() && spec->is_object()) {
    auto read = OptionalInt(*spec, "replicas", "spec.replicas");
    if (!read) {
      return Deny("Scale " + request.namespace_name + "/" + request.name + ": " +
                  read.error().message());
    }
    replicas = *read;
  }
  int64_t requested = replicas.value_or(0);
  // A scale to 0 is hibernation or an operator's emergency stop: it always passes. (Unless the
  // plan holds this side at 0 anyway; then it simply agrees with the plan.)
  if (requested == 0 && plan.replicas != 0)
    return Skip("scale_to_zero");

  EtcdDecision decision;
  if (requested != plan.replicas) {
    decision.patch.Replace(kube::JsonPointer({"spec", "replicas"}), std::to_string(plan.replicas));
    decision.patched_fields.push_back(PatchedField::kReplicas);
    decision.warnings.push_back(
        "seedhop: EtcdPlan " + plan.namespace_name + "/" + plan.statefulset +
        " holds replicas at " + std::to_string(plan.replicas) +
        " during a live migration; requested " + std::to_string(requested) + " was not applied");
  }
  Finish(decision);
  return decision;
}

EtcdDecision DecideStatefulSet(const AdmissionRequest& request, const plan::EtcdPlan& plan) {
  const json& object = request.object;
  std::string where = "StatefulSet " + plan.namespace_name + "/" + plan.statefulset;
  auto spec = object.find("spec");
  if (spec == object.end() || !spec->is_object())
    return Deny(where + ": spec must be an object");

  auto replicas = OptionalInt(*spec, "replicas", "spec.replicas");
  if (!replicas)
    return Deny(where + ": " + replicas.error().message());
  // Hibernation scales etcd to 0; a migration never overrides it. (When the plan itself holds
  // this side at 0, a 0 is the plan satisfied, not hibernation, and the rest still applies.)
  if (replicas->has_value() && **replicas == 0 && plan.replicas != 0)
    return Skip("hibernated");

  EtcdDecision decision;
  if (!replicas->has_value()) {
    decision.patch.Add(kube::JsonPointer({"spec", "replicas"}), std::to_string(plan.replicas));
    decision.patched_fields.push_back(PatchedField::kReplicas);
  } else if (**replicas != plan.replicas) {
    decision.patch.Replace(kube::JsonPointer({"spec", "replicas"}), std::to_string(plan.replicas));
    decision.patched_fields.push_back(PatchedField::kReplicas);
  }

  // An absent spec.ordinals means start 0, so a plan starting at 0 needs nothing there.
  auto ordinals = spec->find("ordinals");
  if (ordinals == spec->end() || ordinals->is_null()) {
    if (plan.ordinals_start != 0) {
      decision.patch.Add(kube::JsonPointer({"spec", "ordinals"}),
                         R"({"start":)" + std::to_string(plan.ordinals_start) + "}");
      decision.patched_fields.push_back(PatchedField::kOrdinals);
    }
  } else {
    if (!ordinals->is_object())
      return Deny(where + ": spec.ordinals must be an object");
    auto start = OptionalInt(*ordinals, "start", "spec.ordinals.start");
    if (!start)
      return Deny(where + ": " + start.error().message());
    if (start->value_or(0) != plan.ordinals_start) {
      std::string pointer = kube::JsonPointer({"spec", "ordinals", "start"});
      std::string start_text = std::to_string(plan.ordinals_start);
      if (start->has_value()) {
        decision.patch.Replace(pointer, start_text);
      } else {
        decision.patch.Add(pointer, start_text);
      }
      decision.patched_fields.push_back(PatchedField::kOrdinals);
    }
  }

  std::vector<std::pair<int32_t, HostAlias>> desired = OrdinalAliases(plan);
  // Walk spec.template.spec.hostAliases; the first missing level gets one "add" with the rest.
  const std::vector<std::string> tokens = {"spec", "template", "spec", "hostAliases"};
  const json* node = &object;
  for (size_t i = 0; i < tokens.size(); ++i) {
    auto next = node->find(tokens[i]);
    if (next == node->end() || next->is_null()) {
      if (!desired.empty()) {
        std::string list = "[";
        for (const auto& entry : desired) {
          if (list.size() > 1)
            list += ',';
          list += AliasText(entry.second);
        }
        list += ']';
        decision.patch.Add(Pointer(tokens, i + 1), Nest(tokens, i + 1, list));
        decision.patched_fields.push_back(PatchedField::kHostAliases);
      }
      break;
    }
    bool last = i + 1 == tokens.size();
    if (last ? !next->is_array() : !next->is_object()) {
      return Deny(where + ": " + Pointer(tokens, i + 1) + " must be " +
                  (last ? "a list" : "an object"));
    }
    if (last && ReconcileAliases(*next, desired, plan, Pointer(tokens, i + 1), decision.patch)) {
      decision.patched_fields.push_back(PatchedField::kHostAliases);
    }
    node = &*next;
  }
  Finish(decision);
  return decision;
}

constexpr JsonFilter kLabelFilters[] = {
    {kLabelManagedBy, true}, {kLabelComponent, true}, {kLegacyLabelApp, true}};
constexpr JsonFilter kMetadataFilters[] = {{"name", true}, {"labels", false, kLabelFilters}};
constexpr JsonFilter kPodSpecFilters[] = {{"hostAliases", true}};
constexpr JsonFilter kTemplateFilters[] = {{"spec", false, kPodSpecFilters}};
constexpr JsonFilter kSpecFilters[] = {
    {"replicas", true}, {"ordinals", true}, {"template", false, kTemplateFilters}};
constexpr JsonFilter kObjectFilters[] = {{"metadata", false, kMetadataFilters},
                                         {"spec", false, kSpecFilters}};

}  // namespace

constexpr JsonFilter kEtcdObjectFilter{"object", false, kObjectFilters};

bool IsEtcdStatefulSet(const json& object) {
  if (!object.is_object())
    return false;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object())
    return false;
  auto labels = metadata->find("labels");
  if (labels == metadata->end() || !labels->is_object())
    return false;
  return (LabelEquals(*labels, kLabelManagedBy, kLabelManagedByValue) &&
          LabelEquals(*labels, kLabelComponent, kLabelComponentValue)) ||
         LabelEquals(*labels, kLegacyLabelApp, kLegacyLabelAppValue);
}

std::vector<HostAlias> PeerHostAliases(const plan::EtcdPlan& plan) {
  std::vector<HostAlias> aliases;
  for (auto& [ordinal, alias] : OrdinalAliases(plan))
    aliases.push_back(std::move(alias));
  return aliases;
}

std::optional<int32_t> PeerHostnameOrdinal(std::string_view hostname, std::string_view sts,
                                           std::string_view ns) {
  if (sts.empty() || hostname.size() <= sts.size() + 1 || !hostname.starts_with(sts) ||
      hostname[sts.size()] != '-') {
    return std::nullopt;
  }
  std::string_view rest = hostname.substr(sts.size() + 1);
  size_t digits = 0;
  int64_t ordinal = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
    ordinal = ordinal * 10 + (rest[digits] - '0');
    if (ordinal > std::numeric_limits<int32_t>::max())
      return std::nullopt;
    ++digits;
  }
  if (digits == 0)
    return std::nullopt;
  // The tail must be ".<sts>-peer.<ns>.svc", optionally followed by ".cluster.local"; compared
  // piece by piece because this runs for every hostname of every request.
  std::string_view tail = rest.substr(digits);
  for (std::string_view piece :
       {std::string_view("."), sts, std::string_view("-peer."), ns, std::string_view(".svc")}) {
    if (!tail.starts_with(piece))
      return std::nullopt;
    tail.remove_prefix(piece.size());
  }
  if (tail.empty() || tail == ".cluster.local")
    return static_cast<int32_t>(ordinal);
  return std::nullopt;
}

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPatched:
      return "patched";
    case Outcome::kUnchanged:
      return "unchanged";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kDenied:
      return "denied";
  }
  return "unknown";
}

const char* PatchedFieldName(PatchedField field) {
  switch (field) {
    case PatchedField::kReplicas:
      return "replicas";
    case PatchedField::kOrdinals:
      return "ordinals";
    case PatchedField::kHostAliases:
      return "hostAliases";
  }
  return "unknown";
}

EtcdDecision DecideEtcdMutation(const AdmissionRequest& request, const plan::EtcdPlan* plan) {
  if (request.operation == Operation::kDelete || request.operation == Operation::kConnect) {
    return Skip("operation");
  }
  if (plan == nullptr)
    return Skip("no_plan");
  if (!request.object.is_object())
    return Deny("request.object is required");
  if (request.resource.group != "apps" || request.resource.resource != "statefulsets") {
    return Skip("not_statefulset");
  }
  // Found by the fuzzer: with no name anywhere, the aliases would name "-0.-peer.<ns>.svc",
  // which no later request recognises as ours, so each call would append them again.
  if (plan->namespace_name.empty() || plan->statefulset.empty() ||
      plan->namespace_name != request.namespace_name || plan->statefulset != ObjectName(request)) {
    return Skip("plan_mismatch");
  }
  // A Scale has no labels to check: the plan's existence under this name is what selects it.
  if (request.sub_resource == "scale")
    return DecideScale(request, *plan);
  if (!request.sub_resource.empty())
    return Skip("subresource");
  if (request.kind.group != "apps" || request.kind.kind != "StatefulSet") {
    return Skip("not_statefulset");
  }
  if (!IsEtcdStatefulSet(request.object))
    return Skip("not_etcd");
  return DecideStatefulSet(request, *plan);
}

AdmissionResponse ToAdmissionResponse(const AdmissionRequest& request, EtcdDecision decision) {
  if (decision.outcome == Outcome::kDenied)
    return Denied(request, 400, std::move(decision.reason));
  AdmissionResponse response = Patched(request, decision.patch.Release());
  response.warnings = std::move(decision.warnings);
  return response;
}

}  // namespace seedhop::webhook
