// The whole migration as one ordered list of steps, each owned by one side, and the pure decision
// of what a side does next given both sides' status. Steps run strictly one after another: a side
// executes step k only when it owns k and every earlier step is done, as either side recorded.
//
// The flow: label the source namespace (routes its etcd StatefulSets through seedhop-webhook),
// export the ShootState (source), import it (target), label the target namespace, then for every
// etcd in spec order the planner's steps (planner.h), and finally the target's cleanup (its
// EtcdPlans go, its namespace label goes). The source keeps its EtcdPlan (replicas 0) and label
// until Gardener deletes the source namespace: without them etcd-druid would start the old
// members again.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "migrator/live_migration.h"
#include "migrator/planner.h"

namespace seedhop::migrator {

enum class FlowKind { kLabelNamespace, kExportState, kImportState, kEtcd, kCleanup };

struct FlowStep {
  FlowKind kind = FlowKind::kEtcd;
  Side owner = Side::kSource;  // the side whose migrator executes the step
  std::string etcd;            // kEtcd: which etcd
  Step etcd_step;              // kEtcd: the planner's step
  // kEtcd: the ordinals whose pods run on the owner's seed before the step (for reaching etcd).
  std::vector<int> local_pods;
  // kEtcd transfer-leadership and remove-member: who should take over leadership from the step's
  // member, best first (SuccessorPreference, migrator/roll_leader.h).
  std::vector<int> successors;

  // "label-namespace", "export-state", ..., or the planner's kind for kEtcd steps.
  std::string KindName() const;
  // For people and the history: "etcd-main: add-learner 5 (source)".
  std::string Name() const;
};

// Builds the flow for `spec`. Planner steps are owned as follows: set-side-plan and expose-member
// by the side whose StatefulSet changes; switch-dns by the target; transfer-leadership by the side
// that runs the member (etcd accepts a transfer only from the leader); the other member operations
// (add-learner, promote, remove-member) by the source while it runs a voter other than the member
// concerned, else by the target (seeds cannot reach each other's etcd client ports, so the owner
// must hold a voter). Only the last etcd keeps its switch-dns step. Errors: an etcd size the
// planner rejects, or an alias the plan needs whose address the spec does not give
// ("spec.target.peerAddresses: etcd-main: no address for member 1").
Result<std::vector<FlowStep>> BuildFlow(const MigrationSpec& spec);

// A digest of the flow's step names: a side refuses to go on when the flow it started with and
// the current spec's flow differ (the spec was edited mid-migration).
std::string FlowFingerprint(const std::vector<FlowStep>& flow);

// Index of the first etcd step: before it, a migration can be aborted; from it on, it cannot
// (the point of no return), since members have started to move.
int PointOfNoReturn(const std::vector<FlowStep>& flow);

enum class ActionKind {
  kExecute,  // run flow[step]
  kWait,     // the other side owns flow[step]
  kHalted,   // this side halted; waits for spec.resumeRequest to rise
  kAbort,    // abort requested and still allowed: undo this side's seed changes
  kAborted,  // already aborted
  kDone,     // every step done
};

struct Action {
  ActionKind kind = ActionKind::kWait;
  int step = 0;  // kExecute, kWait: the step concerned
  std::string reason;
};

// Decides what `role` does next. The number of completed steps is the larger of the two sides'
// counts (each side records only what it did or observed). A side whose phase is Halted stays
// halted until spec.resume_request exceeds its observed_resume_request.
Action NextAction(const std::vector<FlowStep>& flow, const MigrationSpec& spec, Side role,
                  const SideStatus& mine, const SideStatus& theirs);

}  // namespace seedhop::migrator
