#include "migrator/flow.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>

#include "migrator/roll_leader.h"

namespace seedhop::migrator {

std::string FlowStep::KindName() const {
  switch (kind) {
    case FlowKind::kLabelNamespace:
      return "label-namespace";
    case FlowKind::kExportState:
      return "export-state";
    case FlowKind::kImportState:
      return "import-state";
    case FlowKind::kEtcd:
      return StepKindName(etcd_step.kind);
    case FlowKind::kCleanup:
      return "cleanup";
  }
  return "unknown";
}

std::string FlowStep::Name() const {
  std::string name = kind == FlowKind::kEtcd ? etcd + ": " + KindName() : KindName();
  if (kind == FlowKind::kEtcd) {
    const Step& s = etcd_step;
    if (s.kind == StepKind::kSetSidePlan) {
      name += " replicas=" + std::to_string(s.plan.replicas) +
              " start=" + std::to_string(s.plan.ordinals_start) + " aliases=";
      if (s.plan.aliased.empty())
        name += "none";
      for (size_t i = 0; i < s.plan.aliased.size(); ++i)
        name += (i ? "," : "") + std::to_string(s.plan.aliased[i]);
    } else if (s.kind != StepKind::kSwitchDns) {
      name += " " + std::to_string(s.ordinal);
    }
  }
  return name + " (" + SideName(owner) + ")";
}

namespace {

// Tracks where members run and which side's pods are up, step by step, to assign owners.
struct Cluster {
  std::set<int> voters[2];
  std::set<int> learners[2];
  SidePlan plans[2];

  static int Index(Side side) { return side == Side::kSource ? 0 : 1; }

  bool HasVoterOtherThan(Side side, int ordinal) const {
    const auto& v = voters[Index(side)];
    return std::any_of(v.begin(), v.end(), [&](int o) { return o != ordinal; });
  }

  Side MemberSide(int ordinal) const {
    return voters[1].count(ordinal) || learners[1].count(ordinal) ? Side::kTarget : Side::kSource;
  }

  std::vector<int> Pods(Side side) const {
    std::vector<int> pods;
    const SidePlan& p = plans[Index(side)];
    for (int i = 0; i < p.replicas; ++i)
      pods.push_back(p.ordinals_start + i);
    return pods;
  }

  void Apply(const Step& step) {
    switch (step.kind) {
      case StepKind::kSetSidePlan:
        plans[Index(step.side)] = step.plan;
        break;
      case StepKind::kAddLearner:
        learners[Index(step.side)].insert(step.ordinal);
        break;
      case StepKind::kPromote: {
        int side = Index(MemberSide(step.ordinal));
        learners[side].erase(step.ordinal);
        voters[side].insert(step.ordinal);
        break;
      }
      case StepKind::kRemoveMember:
        for (int side : {0, 1}) {
          voters[side].erase(step.ordinal);
          learners[side].erase(step.ordinal);
        }
        break;
      default:
        break;
    }
  }
};

FlowStep Simple(FlowKind kind, Side owner) {
  FlowStep step;
  step.kind = kind;
  step.owner = owner;
  return step;
}

}  // namespace

Result<std::vector<FlowStep>> BuildFlow(const MigrationSpec& spec) {
  std::vector<FlowStep> flow;
  flow.push_back(Simple(FlowKind::kLabelNamespace, Side::kSource));
  flow.push_back(Simple(FlowKind::kExportState, Side::kSource));
  flow.push_back(Simple(FlowKind::kImportState, Side::kTarget));
  flow.push_back(Simple(FlowKind::kLabelNamespace, Side::kTarget));
  for (size_t e = 0; e < spec.etcds.size(); ++e) {
    const EtcdSpec& etcd = spec.etcds[e];
    // Addresses come from the spec, so they exist before the move: the planner's gateway mode
    // (no expose-member steps) fits both one gateway and pre-created per-member addresses.
    auto steps = PlanMove(etcd.replicas, spec.strategy, Addressing::kGateway);
    if (!steps.ok())
      return steps.error().Wrap("etcd " + etcd.name);
    Cluster cluster;
    cluster.plans[0] = SidePlan{etcd.replicas, 0, {}};
    for (int o = 0; o < etcd.replicas; ++o)
      cluster.voters[0].insert(o);
    bool last = e + 1 == spec.etcds.size();
    for (size_t i = 0; i < steps->size(); ++i) {
      const Step& step = (*steps)[i];
      if (step.kind == StepKind::kSwitchDns && !last)
        continue;
      FlowStep f;
      f.kind = FlowKind::kEtcd;
      f.etcd = etcd.name;
      f.etcd_step = step;
      switch (step.kind) {
        case StepKind::kSetSidePlan: {
          f.owner = step.side;
          const SeedSpec& other = spec.Seed(Other(step.side));
          for (int ordinal : step.plan.aliased) {
            if (!other.peers.at(etcd.name).For(ordinal)) {
              return Error(ErrorCode::kInvalid,
                           std::string("spec.") + SideName(Other(step.side)) + ".peerAddresses: " +
                               etcd.name + ": no address for member " + std::to_string(ordinal) +
                               ", which step " + std::to_string(flow.size()) + " aliases");
            }
          }
          break;
        }
        case StepKind::kExposeMember:
          f.owner = step.side;
          break;
        case StepKind::kSwitchDns:
          f.owner = Side::kTarget;
          break;
        case StepKind::kTransferLeadership:
          // etcd takes a leadership transfer only from the leader itself, so the side that runs
          // the member (the leader, if the transfer is needed) acts.
          f.owner = cluster.MemberSide(step.ordinal);
          break;
        default:
          f.owner = cluster.HasVoterOtherThan(Side::kSource, step.ordinal) ? Side::kSource
                                                                           : Side::kTarget;
          break;
      }
      f.local_pods = cluster.Pods(f.owner);
      if (step.kind == StepKind::kTransferLeadership || step.kind == StepKind::kRemoveMember)
        f.successors = SuccessorPreference(*steps, i, etcd.replicas);
      cluster.Apply(step);
      flow.push_back(std::move(f));
    }
  }
  flow.push_back(Simple(FlowKind::kCleanup, Side::kTarget));
  return flow;
}

std::string FlowFingerprint(const std::vector<FlowStep>& flow) {
  std::string names;
  for (const FlowStep& step : flow)
    names += step.Name() + "\n";
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(names.data(), names.size(), digest.data(), &length, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < 8 && i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

int PointOfNoReturn(const std::vector<FlowStep>& flow) {
  for (size_t i = 0; i < flow.size(); ++i) {
    if (flow[i].kind == FlowKind::kEtcd)
      return static_cast<int>(i);
  }
  return static_cast<int>(flow.size());
}

Action NextAction(const std::vector<FlowStep>& flow, const MigrationSpec& spec, Side role,
                  const SideStatus& mine, const SideStatus& theirs) {
  int done = std::max(mine.completed_steps, theirs.completed_steps);
  int total = static_cast<int>(flow.size());
  if (mine.phase == Phase::kAborted)
    return {ActionKind::kAborted, done, "aborted"};
  if (spec.abort_requested && done < PointOfNoReturn(flow))
    return {ActionKind::kAbort, done, "abort requested before any etcd member moved"};
  if (mine.phase == Phase::kHalted && spec.resume_request <= mine.observed_resume_request)
    return {ActionKind::kHalted, mine.current_step, mine.message};
  if (done >= total)
    return {ActionKind::kDone, total, "every step is done"};
  const FlowStep& next = flow[done];
  if (next.owner == role)
    return {ActionKind::kExecute, done, next.Name()};
  std::string reason = "waiting for the " + std::string(SideName(next.owner)) +
                       " migrator to finish step " + std::to_string(done) + ": " + next.Name();
  if (theirs.phase == Phase::kHalted)
    reason += " (it is halted: " + theirs.message + ")";
  return {ActionKind::kWait, done, reason};
}

}  // namespace seedhop::migrator
