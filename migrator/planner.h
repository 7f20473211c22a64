// The etcd step planner: how an etcd cluster moves from the source seed to the target seed with
// etcd-druid's StatefulSet, `spec.ordinals.start` and webhook-injected `hostAliases` only.
//
// Model (checker.h simulates exactly this):
// - A cluster of steady size n (1, 3 or 5) runs on the source seed as StatefulSet `<etcd>`
//   (ordinals 0..n-1). The target seed has a StatefulSet of the same name. Each seed's migrator
//   controls only its own StatefulSet, through the seed-local EtcdPlan (common/plan/etcd_plan.h):
//   replicas, ordinals start, and the ordinals whose peer names its pods resolve to the other seed
//   (`<etcd>-<i>.<etcd>-peer.<ns>.svc[.cluster.local]` -> the other seed's address for member i).
// - Pod `<etcd>-<i>` is the identity of etcd member i; it runs on at most one seed at a time.
// - Kubelet writes /etc/hosts once, at pod start. Changing a side's alias list rolls every pod of
//   that side, one at a time, highest ordinal first; a restarting pod is unavailable.
// - Name resolution is /etc/hosts first (glibc's and Go's default order, `hosts: files dns`):
//   a pod reaches member m through its alias when it has one (then only if m runs on the other
//   seed) and through its own seed's cluster DNS otherwise (then only if m runs on its seed).
//   A stale alias therefore hides a member that has come to the pod's own seed.
// - Membership: a member is added as a learner (no vote), its pod starts after the add, and it is
//   promoted once caught up; etcd allows one learner at a time (etcd-backup-restore,
//   pkg/member/member_control.go, handles ErrGRPCTooManyLearners). A member leaves by leadership
//   transfer, member remove, then deletion of its pod.
// - Failure tolerance = healthy mutually reachable voters - quorum(voters), quorum(v) = v/2+1.
//
// Addressing decides what an alias points at:
// - kGateway: every member on a seed is reached through that seed's one gateway address (istio
//   SNI passthrough on 2380, as in the hackathon's ../shared/seed/examples/istio.yaml). The address
//   exists before the move, so any ordinal may be aliased at any time; the gateway routes whatever
//   member arrives later.
// - kPerMember: member i on a seed is reached through its own LoadBalancer Service on that seed
//   (selector statefulset.kubernetes.io/pod-name, as in ../shared/seed/examples/lb.yaml). Its
//   address only exists once the migrator has created it (kExposeMember), so an alias for i can be
//   written only after i is exposed on the other seed. The plan exposes every ordinal it will alias
//   before the roll that needs it, so both modes cost the same restarts; per-member costs one
//   LoadBalancer per exposed (seed, ordinal) and waiting for their addresses.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace seedhop::migrator {

// kSafe: the plan that keeps failure tolerance >= 1 (see PlanMove). kSwap: the hackathon's order
// (source n -> n-1 while target 0 -> 1 with ordinals.start=n-1, ...), unsafe, kept for comparison.
enum class Strategy { kSafe, kSwap };
enum class Side { kSource, kTarget };
enum class Addressing { kPerMember, kGateway };

// Ordinals a plan may use are 0..kMaxOrdinals-1.
inline constexpr int kMaxOrdinals = 32;

enum class StepKind {
  kExposeMember,        // create member `ordinal`'s peer address on `side` (kPerMember only)
  kSetSidePlan,         // write `side`'s EtcdPlan: `plan` (replicas, ordinals start, aliases)
  kAddLearner,          // etcd member add --learner for `ordinal`; its pod will run on `side`
  kPromote,             // etcd member promote `ordinal`
  kTransferLeadership,  // move leadership away from `ordinal` if it leads (etcdctl move-leader)
  kRemoveMember,        // etcd member remove `ordinal`
  kSwitchDns,           // point the shoot's DNSRecords at the target seed's ingress
};

// What one side's EtcdPlan says about its StatefulSet.
struct SidePlan {
  int replicas = 0;
  int ordinals_start = 0;
  std::vector<int> aliased;  // ordinals resolved to the other seed, ascending, unique

  bool operator==(const SidePlan&) const = default;
};

// True when writing `after` over `before` restarts that side's running pods: the alias list
// changes while pods run before and after (kubelet writes /etc/hosts only at pod start).
bool RollsPods(const SidePlan& before, const SidePlan& after);

// One step of a move. `side`, `ordinal` and `plan` are meaningful as the kind says above.
struct Step {
  StepKind kind = StepKind::kSetSidePlan;
  Side side = Side::kSource;
  int ordinal = -1;
  SidePlan plan;
  std::string description;   // for people: what the step does
  std::string precondition;  // what must hold before the next step starts

  bool operator==(const Step&) const = default;
};

// Returns "expose-member", "set-side-plan", ... (stable; used in status output and metrics).
const char* StepKindName(StepKind kind);
// Returns "source" or "target".
const char* SideName(Side side);
Side Other(Side side);

// The roll width: voters needed so that one restarting pod still leaves tolerance >= 1.
inline constexpr int kRollWidth = 5;

// Returns the steps that move a cluster of steady size `n` from the source seed (ordinals 0..n-1,
// no aliases) to the target seed (ordinals 0..n-1, ordinals.start 0, no aliases), leaving the
// source at 0 replicas.
// kSafe, with m = max(n, 3) (n=1 first grows to 3 on the source) and W = max(m, kRollWidth):
//   1. slide the source up to ordinals m..m+W-1 (join at the top, leave at the bottom; peak W+1
//      voters); removing the last of 0..m-1 carries the source's one roll, at W voters, after
//      which its pods alias 0..m-1 to the target;
//   2. shrink the source to its top m members W..W+m-1;
//   3. m times: member m-1-i joins the target (its pods alias W..W+m-1 to the source), then the
//      source's lowest member leaves; the DNS switch comes once the target holds the quorum;
//   4. grow the target to W (ordinals m..W-1), roll it once at W voters to drop every alias, and
//      shrink it to 0..n-1. For n=1 the target rolls at 3 voters: its HA window (see checker.h)
//      ended when the source emptied.
// HA plans restart exactly 2W pods, one roll per side: the fewest possible without the routine-
// restart exception, since the source's first roll happens while every member is on the source
// and the target's last roll once every member is on the target, each needing >= 5 voters.
// test/migrator/search_test.cpp confirms by exhaustive search that for n=3 no accepted plan within
// ordinals 0..7 has fewer restarts or fewer steps.
// kSwap: n=1 first grows the source to 3; then for k = size-1 .. 0 the source gives member k up
// (rolling its remaining pods to alias k) and the target takes it (rolling its pods to drop the
// alias for k); n=1 shrinks the target back to one member at the end.
// Errors: kInvalid unless n is 1, 3 or 5.
Result<std::vector<Step>> PlanMove(int n, Strategy strategy, Addressing addressing);

}  // namespace seedhop::migrator
