#include "migrator/executor.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "common/etcd/client.h"
#include "common/obs/log.h"
#include "common/plan/etcd_plan.h"
#include "common/time/rfc3339.h"
#include "migrator/metrics.h"
#include "migrator/roll_leader.h"
#include "migrator/safety.h"
#include "migrator/shootstate/export.h"
#include "migrator/shootstate/import.h"

namespace seedhop::migrator {

using nlohmann::json;

namespace {

const kube::ResourceRef kNamespaces{"", "v1", "namespaces", ""};

kube::ResourceRef StatefulSets(const std::string& ns) {
  return {"apps", "v1", "statefulsets", ns};
}
kube::ResourceRef Deployments(const std::string& ns) {
  return {"apps", "v1", "deployments", ns};
}
kube::ResourceRef EtcdPlans(const std::string& ns) {
  return {plan::kGroup, plan::kVersion, plan::kResource, ns};
}
// extensions.gardener.cloud/v1alpha1 DNSRecord (gardener/gardener:pkg/apis/extensions/v1alpha1/
// types_dnsrecord.go).
kube::ResourceRef DnsRecords(const std::string& ns) {
  return {"extensions.gardener.cloud", "v1alpha1", "dnsrecords", ns};
}

Error NotYet(const std::string& message) {
  return Error(ErrorCode::kUnavailable, message);
}

int64_t IntAt(const json& object, const json::json_pointer& pointer, int64_t fallback) {
  return object.contains(pointer) && object[pointer].is_number_integer()
             ? object[pointer].get<int64_t>()
             : fallback;
}

std::string PlanSummary(const plan::EtcdPlan& p) {
  std::string summary =
      "replicas=" + std::to_string(p.replicas) + ",start=" + std::to_string(p.ordinals_start);
  for (const plan::RemoteMember& m : p.remote_members)
    summary += "," + std::to_string(m.ordinal) + "=" + m.address;
  return summary;
}

// The peers the pod template of `sts` resolves to the other seed, by ordinal: its hostAliases
// for the peer names of StatefulSet `statefulset`.
std::map<int, std::string> AliasedPeers(const json& sts, const std::string& statefulset) {
  std::map<int, std::string> aliased;
  const json::json_pointer pointer("/spec/template/spec/hostAliases");
  if (!sts.contains(pointer) || !sts[pointer].is_array())
    return aliased;
  for (const json& entry : sts[pointer]) {
    for (const json& hostname : entry.value("hostnames", json::array())) {
      if (!hostname.is_string())
        continue;
      int ordinal = MemberOrdinal(statefulset, "", hostname.get<std::string>());
      if (ordinal >= 0)
        aliased[ordinal] = entry.value("ip", "");
    }
  }
  return aliased;
}

std::map<int, std::string> PlannedPeers(const plan::EtcdPlan& plan) {
  std::map<int, std::string> wanted;
  for (const plan::RemoteMember& member : plan.remote_members)
    wanted[member.ordinal] = member.address;
  return wanted;
}

// What `sts` lacks of `plan`: its replicas, its ordinals start, or exactly the plan's remote
// members among the pod template's hostAliases for this StatefulSet's peer names. "" when it
// carries the plan.
std::string MissingFromStatefulSet(const json& sts, const plan::EtcdPlan& plan) {
  int64_t replicas = IntAt(sts, json::json_pointer("/spec/replicas"), 1);
  int64_t start = IntAt(sts, json::json_pointer("/spec/ordinals/start"), 0);
  if (replicas != plan.replicas)
    return "spec.replicas is " + std::to_string(replicas);
  if (plan.replicas > 0 && start != plan.ordinals_start)
    return "spec.ordinals.start is " + std::to_string(start);
  std::map<int, std::string> aliased = AliasedPeers(sts, plan.statefulset);
  if (aliased != PlannedPeers(plan)) {
    std::string have;
    for (const auto& [ordinal, ip] : aliased)
      have += (have.empty() ? "" : ",") + std::to_string(ordinal) + "=" + ip;
    return "its hostAliases name " + (have.empty() ? std::string("no peer") : have);
  }
  return "";
}

}  // namespace

std::string ExpandUrl(const std::string& url_template, const std::string& etcd,
                      const std::string& namespace_name, int ordinal) {
  std::string url = url_template;
  auto replace = [&url](const std::string& key, const std::string& value) {
    for (size_t at = url.find(key); at != std::string::npos; at = url.find(key, at + value.size()))
      url.replace(at, key.size(), value);
  };
  replace("{pod}", etcd + "-" + std::to_string(ordinal));
  replace("{etcd}", etcd);
  replace("{namespace}", namespace_name);
  return url;
}

Executor::Executor(SeedAccess access, MigrationSpec spec, etcd::Sessions& sessions,
                   MigratorMetrics* metrics)
    : access_(std::move(access)), spec_(std::move(spec)), sessions_(sessions), metrics_(metrics) {}

std::string Executor::PeerUrl(const std::string& etcd, int ordinal) const {
  return ExpandUrl(access_.etcd_peer_url, etcd, spec_.shoot_namespace, ordinal);
}

Result<std::vector<int>> Executor::LocalPods(const std::string& etcd) {
  auto sts = access_.seed->Get(StatefulSets(spec_.shoot_namespace), etcd);
  if (!sts.ok()) {
    if (sts.error().code() == ErrorCode::kNotFound)
      return std::vector<int>{};
    return sts.error();
  }
  int64_t start = IntAt(*sts, json::json_pointer("/spec/ordinals/start"), 0);
  int64_t replicas = IntAt(*sts, json::json_pointer("/spec/replicas"), 1);
  std::vector<int> pods;
  for (int64_t i = 0; i < replicas; ++i)
    pods.push_back(static_cast<int>(start + i));
  return pods;
}

Result<std::shared_ptr<etcd::Session>> Executor::Connect(const std::string& etcd) {
  auto pods = LocalPods(etcd);
  if (!pods.ok())
    return pods.error();
  if (pods->empty())
    return NotYet(etcd + ": no pod runs on the " + std::string(SideName(access_.role)) + " seed");
  std::map<int, std::string> endpoints;
  for (int ordinal : *pods)
    endpoints[ordinal] = ExpandUrl(access_.etcd_client_url, etcd, spec_.shoot_namespace, ordinal);
  return sessions_.For(etcd, std::move(endpoints), access_.etcd_tls);
}

EtcdView Executor::Observe(const std::string& etcd, int done) {
  EtcdView view;
  view.etcd = etcd;
  view.after_step = done;
  view.observed_at = NowRfc3339();
  auto session = Connect(etcd);
  if (!session.ok()) {
    view.problem = session.error().message();
    return view;
  }
  auto members = (*session)->client().MemberList();
  if (!members.ok()) {
    view.problem = members.error().message();
    return view;
  }
  const auto& endpoints = (*session)->endpoints();
  for (const etcd::Member& member : *members) {
    ObservedMember observed;
    observed.id = member.id;
    observed.learner = member.is_learner;
    observed.ordinal =
        MemberOrdinal(etcd, member.name, member.peer_urls.empty() ? "" : member.peer_urls[0]);
    auto endpoint = endpoints.find(observed.ordinal);
    if (endpoint != endpoints.end()) {
      observed.local = true;
      auto status = (*session)->client().Status(endpoint->second);
      etcd::MemberHealth health = etcd::AssessMember(member, status);
      observed.healthy = health.healthy;
      if (status.ok()) {
        observed.raft_index = status->raft_index;
        if (status->leader_id != 0)
          view.leader_id = status->leader_id;
      }
    }
    view.members.push_back(observed);
  }
  return view;
}

Status Executor::Attempt(const FlowStep& step) {
  switch (step.kind) {
    case FlowKind::kLabelNamespace: {
      auto held = HoldPlans();
      if (!held.ok())
        return held;
      return LabelNamespace(true);
    }
    case FlowKind::kExportState:
      return ExportState();
    case FlowKind::kImportState:
      return ImportState();
    case FlowKind::kCleanup: {
      auto deleted = DeletePlans();
      if (!deleted.ok())
        return deleted;
      return LabelNamespace(false);
    }
    case FlowKind::kEtcd:
      break;
  }
  switch (step.etcd_step.kind) {
    case StepKind::kSetSidePlan:
      return SetSidePlan(step);
    case StepKind::kAddLearner:
      return AddLearner(step);
    case StepKind::kPromote:
      return Promote(step);
    case StepKind::kTransferLeadership:
      return TransferLeadership(step);
    case StepKind::kRemoveMember:
      return RemoveMember(step);
    case StepKind::kSwitchDns:
      return SwitchDns(step);
    case StepKind::kExposeMember:
      break;
  }
  return Error(ErrorCode::kInvalid, step.Name() +
                                        ": not supported: peer addresses come from "
                                        "the LiveMigration spec");
}

Status Executor::LabelNamespace(bool on) {
  json patch = {{"metadata", {{"labels", {{kMigratingLabel, on ? json("true") : json(nullptr)}}}}}};
  auto patched =
      access_.seed->Patch(kNamespaces, spec_.shoot_namespace, kube::PatchType::kMerge, patch);
  if (!patched.ok()) {
    if (!on && patched.error().code() == ErrorCode::kNotFound)
      return OkStatus();
    return patched.error();
  }
  return OkStatus();
}

Status Executor::ExportState() {
  shootstate::ExportOptions options;
  options.seed_namespace = spec_.shoot_namespace;
  options.shoot = {spec_.name, spec_.garden_namespace};
  options.logger = access_.logger;
  auto exported = shootstate::ExportShootState(*access_.seed, *access_.garden, options);
  if (!exported.ok())
    return exported.error();
  if (access_.logger) {
    access_.logger->Info("exported ShootState",
                         {{"namespace", spec_.shoot_namespace},
                          {"secrets", std::to_string(exported->gardener_entries)},
                          {"resources", std::to_string(exported->resources)},
                          {"extensions", std::to_string(exported->extensions)},
                          {"bytes", std::to_string(exported->spec_bytes)},
                          {"parts", std::to_string(exported->parts)}});
  }
  return OkStatus();
}

Status Executor::ImportState() {
  shootstate::ImportOptions options;
  options.target_namespace = spec_.shoot_namespace;
  options.shoot = {spec_.name, spec_.garden_namespace};
  auto policy = shootstate::ParseConflictPolicy(spec_.conflict_policy);
  if (!policy.ok())
    return policy.error();
  options.policy = *policy;
  // The runner retries the whole step; one attempt only looks once.
  options.wait_timeout = std::chrono::seconds(1);
  options.poll_interval = std::chrono::milliseconds(500);
  options.logger = access_.logger;
  options.metrics = access_.metrics;
  auto report = shootstate::ImportShootState(*access_.garden, *access_.seed, options);
  if (!report.ok())
    return report.error().code() == ErrorCode::kTimeout
               ? NotYet("waiting for the ShootState: " + report.error().message())
               : report.error();
  if (size_t failed = report->Count(shootstate::Outcome::kFailed); failed > 0) {
    for (const shootstate::ObjectReport& object : report->objects) {
      if (object.outcome == shootstate::Outcome::kFailed) {
        return Error(ErrorCode::kUnavailable, "import: " + std::to_string(failed) +
                                                  " objects failed, first " + object.kind + " " +
                                                  object.name + ": " + object.detail);
      }
    }
  }
  if (access_.logger && report->Count(shootstate::Outcome::kConflict) > 0) {
    access_.logger->Warn(
        "imported ShootState with conflicts (kept the target's objects)",
        {{"namespace", spec_.shoot_namespace},
         {"conflicts", std::to_string(report->Count(shootstate::Outcome::kConflict))}});
  }
  return OkStatus();
}

Status Executor::SetSidePlan(const FlowStep& step) {
  const std::string& ns = spec_.shoot_namespace;
  std::string context = "namespace " + ns + ": statefulset " + step.etcd;
  plan::EtcdPlan desired;
  desired.namespace_name = ns;
  desired.statefulset = step.etcd;
  desired.replicas = step.etcd_step.plan.replicas;
  desired.ordinals_start = step.etcd_step.plan.ordinals_start;
  const PeerAddresses& peers = spec_.Seed(Other(access_.role)).peers.at(step.etcd);
  for (int ordinal : step.etcd_step.plan.aliased)
    desired.remote_members.push_back({ordinal, *peers.For(ordinal)});

  // The StatefulSet is etcd-druid's: on the target it appears once druid reconciles the Etcd
  // the ShootState import restored.
  auto sts = access_.seed->Get(StatefulSets(ns), step.etcd);
  if (!sts.ok()) {
    if (sts.error().code() == ErrorCode::kNotFound)
      return NotYet(context + ": waiting for etcd-druid to create the StatefulSet");
    return sts.error();
  }

  json object = plan::ToObject(desired);
  auto existing = access_.seed->Get(EtcdPlans(ns), step.etcd);
  if (existing.ok()) {
    auto current = plan::ParseEtcdPlan(*existing);
    if (!current.ok() || !(*current == desired)) {
      object["metadata"]["resourceVersion"] = (*existing)["metadata"]["resourceVersion"];
      auto updated = access_.seed->Update(EtcdPlans(ns), object);
      if (!updated.ok())
        return updated.error().Wrap(context + ": write EtcdPlan");
    }
  } else if (existing.error().code() == ErrorCode::kNotFound) {
    auto created = access_.seed->Create(EtcdPlans(ns), object);
    if (!created.ok() && created.error().code() != ErrorCode::kAlreadyExists)
      return created.error().Wrap(context + ": create EtcdPlan");
  } else {
    return existing.error();
  }

  // Any update of the StatefulSet goes through the webhook, which applies the plan. The webhook
  // reads plans from a watch-fed cache that may lag the write above by a moment, so the update is
  // repeated until the stored StatefulSet carries the plan; the annotation names the plan.
  std::string summary = PlanSummary(desired);
  std::string missing = MissingFromStatefulSet(*sts, desired);
  std::vector<int> kept;
  for (int i = 0; i < desired.replicas; ++i)
    kept.push_back(desired.ordinals_start + i);
  // New aliases change the pod template: every running pod is replaced. Leadership moves first
  // to the pod the roll reaches last.
  if (!kept.empty() && IntAt(*sts, json::json_pointer("/spec/replicas"), 1) > 0 &&
      AliasedPeers(*sts, step.etcd) != PlannedPeers(desired)) {
    if (Status ahead = LeadAheadOfRoll(step, kept, 0); !ahead.ok())
      return ahead;
  }
  if (!missing.empty()) {
    json patch = {{"metadata", {{"annotations", {{kPlanAnnotation, summary}}}}}};
    auto patched = access_.seed->Patch(StatefulSets(ns), step.etcd, kube::PatchType::kMerge, patch);
    if (!patched.ok())
      return patched.error().Wrap(context + ": apply the plan");
    sts = std::move(patched);
    missing = MissingFromStatefulSet(*sts, desired);
  }
  if (!missing.empty()) {
    return Error(ErrorCode::kUnavailable,
                 context + ": does not carry the plan (" + summary + ") yet: " + missing +
                     "; is seedhop-webhook registered for this namespace (label " +
                     kMigratingLabel + "=true)?");
  }
  const json& s = *sts;
  int64_t replicas = IntAt(s, json::json_pointer("/spec/replicas"), 1);
  int64_t generation = IntAt(s, json::json_pointer("/metadata/generation"), 0);
  int64_t observed = IntAt(s, json::json_pointer("/status/observedGeneration"), 0);
  int64_t ready = IntAt(s, json::json_pointer("/status/readyReplicas"), 0);
  int64_t updated = IntAt(s, json::json_pointer("/status/updatedReplicas"), 0);
  const json& status = s.value("status", json::object());
  std::string current_revision = status.value("currentRevision", "");
  std::string update_revision = status.value("updateRevision", "");
  if (observed == generation && current_revision != update_revision && !kept.empty()) {
    if (Status ahead = LeadAheadOfRoll(step, kept, static_cast<int>(updated)); !ahead.ok())
      return ahead;
  }
  if (observed < generation || ready != replicas || (replicas > 0 && updated != replicas) ||
      current_revision != update_revision) {
    return NotYet(context + ": rolling out: generation " + std::to_string(generation) +
                  " observed " + std::to_string(observed) + ", " + std::to_string(ready) + "/" +
                  std::to_string(replicas) + " ready, " + std::to_string(updated) + " updated");
  }
  return OkStatus();
}

namespace {

const etcd::Member* FindMember(const std::vector<etcd::Member>& members,
                               const std::string& peer_url) {
  for (const etcd::Member& member : members) {
    if (std::find(member.peer_urls.begin(), member.peer_urls.end(), peer_url) !=
        member.peer_urls.end())
      return &member;
  }
  return nullptr;
}

}  // namespace

struct Executor::MemberLookup {
  std::shared_ptr<etcd::Session> session;
  std::vector<etcd::Member> members;
  std::string peer;                      // the step's member's peer URL
  const etcd::Member* member = nullptr;  // the step's member; null when not in the cluster

  etcd::Client& client() { return session->client(); }
};

Result<Executor::MemberLookup> Executor::LookUp(const FlowStep& step) {
  auto session = Connect(step.etcd);
  if (!session.ok())
    return session.error();
  MemberLookup found;
  found.session = std::move(session).value();
  found.peer = PeerUrl(step.etcd, step.etcd_step.ordinal);
  auto members = found.client().MemberList();
  if (!members.ok())
    return members.error();
  found.members = std::move(members).value();
  found.member = FindMember(found.members, found.peer);
  return found;
}

Status Executor::LeadAheadOfRoll(const FlowStep& step, std::vector<int> kept, int replaced) {
  EtcdView view = Observe(step.etcd, 0);
  if (!view.problem.empty())
    return OkStatus();  // nothing to act on; the roll's own wait reports the problem
  RollView roll{std::move(kept), replaced};
  for (const ObservedMember& member : view.members) {
    if (!member.local)
      continue;
    if (member.id == view.leader_id)
      roll.leader = member.ordinal;
    if (member.healthy && !member.learner)
      roll.healthy_voters.push_back(member.ordinal);
  }
  std::sort(roll.healthy_voters.begin(), roll.healthy_voters.end());
  std::optional<int> successor = LeaderDuringRoll(roll);
  if (!successor)
    return OkStatus();
  auto member = std::find_if(view.members.begin(), view.members.end(),
                             [&](const ObservedMember& m) { return m.ordinal == *successor; });
  auto session = Connect(step.etcd);
  if (!session.ok())
    return session.error();
  std::string move = step.etcd + ": move leadership from member " + std::to_string(roll.leader) +
                     " to " + std::to_string(*successor) + " ahead of the roll";
  if (access_.logger) {
    access_.logger->Info("moving etcd leadership ahead of a roll",
                         {{"namespace", spec_.shoot_namespace},
                          {"etcd", step.etcd},
                          {"from", std::to_string(roll.leader)},
                          {"to", std::to_string(*successor)}});
  }
  // A transfer that fails (the successor still catching up) never holds the step up: the roll
  // goes ahead, so a miss costs only the stall the move tries to avoid. The next attempt decides
  // again.
  auto moved = (*session)->client().MoveLeader(member->id);
  if (metrics_)
    metrics_->CountLeadershipMove(access_.role, moved.ok());
  if (!moved.ok()) {
    if (access_.logger) {
      access_.logger->Warn(
          "cannot move etcd leadership ahead of a roll",
          {{"namespace", spec_.shoot_namespace}, {"error", moved.error().Wrap(move).message()}});
    }
    return OkStatus();
  }
  // Patching waits for the next attempt, which sees whether the successor leads now.
  return NotYet(move);
}

Status Executor::AddLearner(const FlowStep& step) {
  // Looks the member up first: an earlier attempt may have been applied even if its answer was
  // lost.
  auto found = LookUp(step);
  if (!found.ok())
    return found.error();
  if (found->member != nullptr)
    return OkStatus();
  auto added = found->client().MemberAdd({found->peer}, /*learner=*/true);
  if (!added.ok())
    return added.error().Wrap(step.etcd + ": add learner " + found->peer);
  return OkStatus();
}

Status Executor::Promote(const FlowStep& step) {
  auto found = LookUp(step);
  if (!found.ok())
    return found.error();
  const etcd::Member* member = found->member;
  auto& client = found->client();
  if (member == nullptr)
    return Error(ErrorCode::kNotFound, step.etcd + ": no member with peer URL " + found->peer);
  if (!member->is_learner)
    return OkStatus();
  if (member->name.empty())
    return NotYet(step.etcd + ": learner " + found->peer + " has not started yet");
  auto promoted = client.MemberPromote(member->id);
  if (!promoted.ok()) {
    if (etcd::IsLearnerNotReady(promoted.error()))
      return NotYet(step.etcd + ": learner " + member->name + " is catching up");
    return promoted.error().Wrap(step.etcd + ": promote " + member->name);
  }
  return OkStatus();
}

Status Executor::TransferLeadership(const FlowStep& step) {
  auto found = LookUp(step);
  if (!found.ok())
    return found.error();
  const etcd::Member* member = found->member;
  auto& client = found->client();
  if (member == nullptr)
    return OkStatus();
  // The leader as this side's members see it. The successor: a healthy voter on this side when
  // there is one, else a voter on the other side (the pre-step check found every voter healthy);
  // among those, the one the plan prefers (step.successors), so that later transfer steps find
  // leadership already where it stays.
  uint64_t leader = 0;
  std::map<int, uint64_t> here;   // ordinal -> member ID
  std::map<int, uint64_t> there;  // every other voter, by ordinal (-1: not one of this etcd's pods)
  for (const auto& [ordinal, endpoint] : found->session->endpoints()) {
    auto status = client.Status(endpoint);
    if (!status.ok() || !status->errors.empty())
      continue;
    if (status->leader_id != 0)
      leader = status->leader_id;
    if (!status->is_learner && status->member_id != member->id)
      here.emplace(ordinal, status->member_id);
  }
  for (const etcd::Member& other : found->members) {
    if (!other.is_learner && other.id != member->id) {
      there.emplace(MemberOrdinal(step.etcd, other.name,
                                  other.peer_urls.empty() ? "" : other.peer_urls.front()),
                    other.id);
    }
  }
  const std::map<int, uint64_t>& candidates = here.empty() ? there : here;
  uint64_t successor = candidates.empty() ? 0 : candidates.begin()->second;
  for (int ordinal : step.successors) {
    if (auto it = candidates.find(ordinal); it != candidates.end()) {
      successor = it->second;
      break;
    }
  }
  if (leader == 0)
    return NotYet(step.etcd + ": no member here knows a leader");
  if (leader != member->id)
    return OkStatus();
  if (successor == 0)
    return NotYet(step.etcd + ": no other voter to take over leadership");
  auto moved = client.MoveLeader(successor);
  if (!moved.ok())
    return moved.error().Wrap(step.etcd + ": move leadership away from " + member->name);
  return NotYet(step.etcd + ": leadership moving away from " + member->name);
}

Status Executor::RemoveMember(const FlowStep& step) {
  auto found = LookUp(step);
  if (!found.ok())
    return found.error();
  const etcd::Member* member = found->member;
  auto& client = found->client();
  if (member == nullptr)
    return OkStatus();
  // Never remove the leader: that costs an election and a write stall. The step before moved
  // leadership away; if it came back, wait for the transfer step's work to be redone.
  for (const auto& [ordinal, endpoint] : found->session->endpoints()) {
    auto status = client.Status(endpoint);
    if (status.ok() && status->leader_id == member->id) {
      auto moved = TransferLeadership(step);
      return moved.ok() ? NotYet(step.etcd + ": " + member->name + " leads again") : moved.error();
    }
  }
  auto removed = client.MemberRemove(member->id);
  if (!removed.ok() && removed.error().code() != ErrorCode::kNotFound)
    return removed.error().Wrap(step.etcd + ": remove member " + member->name);
  return OkStatus();
}

Status Executor::SwitchDns(const FlowStep& step) {
  const std::string& ns = spec_.shoot_namespace;
  // The target must hold the quorum of the cluster: its members alone keep the API alive.
  auto session = Connect(step.etcd);
  if (!session.ok())
    return session.error();
  auto members = (*session)->client().MemberList();
  if (!members.ok())
    return members.error();
  int voters = 0;
  int here = 0;
  for (const etcd::Member& member : *members) {
    if (member.is_learner)
      continue;
    ++voters;
    int ordinal =
        MemberOrdinal(step.etcd, member.name, member.peer_urls.empty() ? "" : member.peer_urls[0]);
    if ((*session)->endpoints().count(ordinal))
      ++here;
  }
  if (here < voters / 2 + 1) {
    return NotYet(step.etcd + ": the target holds " + std::to_string(here) + " of " +
                  std::to_string(voters) + " voters, not a quorum");
  }
  auto apiserver = access_.seed->Get(Deployments(ns), "kube-apiserver");
  if (!apiserver.ok()) {
    return apiserver.error().code() == ErrorCode::kNotFound
               ? NotYet("namespace " + ns + ": waiting for the kube-apiserver Deployment")
               : apiserver.error();
  }
  if (IntAt(*apiserver, json::json_pointer("/status/readyReplicas"), 0) < 1)
    return NotYet("namespace " + ns + ": waiting for a ready kube-apiserver");

  auto now = std::chrono::system_clock::now();
  std::chrono::seconds longest_wait{0};
  for (const std::string& name : spec_.dns_records) {
    std::string context = "namespace " + ns + ": dnsrecord " + name;
    auto record = access_.seed->Get(DnsRecords(ns), name);
    if (!record.ok())
      return record.error().Wrap(context);
    const json& annotations = (*record)["metadata"].value("annotations", json::object());
    std::string switched = annotations.value(kDnsSwitchedAnnotation, "");
    json values = (*record)["spec"].value("values", json::array());
    if (switched.empty() || values != json::array({spec_.target.ingress_address})) {
      switched = NowRfc3339();
      json patch = {{"metadata", {{"annotations", {{kDnsSwitchedAnnotation, switched}}}}},
                    {"spec", {{"values", json::array({spec_.target.ingress_address})}}}};
      auto patched = access_.seed->Patch(DnsRecords(ns), name, kube::PatchType::kMerge, patch);
      if (!patched.ok())
        return patched.error().Wrap(context + ": switch values");
    }
    // Resolvers may hold the old address for one TTL (DNSRecord spec.ttl, default 120 s).
    std::chrono::seconds wait{IntAt(*record, json::json_pointer("/spec/ttl"), 120)};
    if (spec_.dns_max_wait_seconds >= 0)
      wait = std::min(wait, std::chrono::seconds(spec_.dns_max_wait_seconds));
    auto at = ParseTimestamp(switched);
    if (at) {
      auto remaining = std::chrono::duration_cast<std::chrono::seconds>(*at + wait - now);
      longest_wait = std::max(longest_wait, remaining);
    }
  }
  if (longest_wait.count() > 0)
    return NotYet("waiting " + std::to_string(longest_wait.count()) +
                  "s more for the old DNS answers to expire");
  return OkStatus();
}

Status Executor::HoldPlans() {
  for (const EtcdSpec& etcd : spec_.etcds) {
    plan::EtcdPlan hold;
    hold.namespace_name = spec_.shoot_namespace;
    hold.statefulset = etcd.name;
    hold.replicas = access_.role == Side::kSource ? etcd.replicas : 0;
    auto created = access_.seed->Create(EtcdPlans(spec_.shoot_namespace), plan::ToObject(hold));
    if (!created.ok() && created.error().code() != ErrorCode::kAlreadyExists)
      return created.error().Wrap("namespace " + spec_.shoot_namespace + ": create EtcdPlan " +
                                  etcd.name);
  }
  return OkStatus();
}

Status Executor::DeletePlans() {
  for (const EtcdSpec& etcd : spec_.etcds) {
    auto deleted = access_.seed->Delete(EtcdPlans(spec_.shoot_namespace), etcd.name);
    if (!deleted.ok() && deleted.error().code() != ErrorCode::kNotFound)
      return deleted.error().Wrap("namespace " + spec_.shoot_namespace + ": delete EtcdPlan " +
                                  etcd.name);
  }
  return OkStatus();
}

Status Executor::Abort() {
  auto deleted = DeletePlans();
  if (!deleted.ok())
    return deleted;
  return LabelNamespace(false);
}

}  // namespace seedhop::migrator
