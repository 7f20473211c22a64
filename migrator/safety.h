// The etcd checks before each step, as pure functions over the two sides' views. Seeds cannot
// reach each other's etcd client ports, so each migrator observes only the members whose pods run
// on its seed and publishes that view in its LiveMigration status; a step may start only when the
// merged view shows every voter healthy, a leader, and (for a promotion) a started learner.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "migrator/flow.h"
#include "migrator/live_migration.h"

namespace seedhop::migrator {

// Returns the ordinal of member `name` ("etcd-main-3") or of its peer URL
// ("https://etcd-main-3.etcd-main-peer.ns.svc:2380") for StatefulSet `etcd`; -1 when neither is
// one of that StatefulSet's pods.
int MemberOrdinal(const std::string& etcd, const std::string& name, const std::string& peer_url);

// The cluster as both sides see it together.
struct MergedView {
  std::vector<ObservedMember> members;  // health taken from the side where each pod runs
  uint64_t leader_id = 0;
  int voters = 0;
  int learners = 0;
  int healthy_voters = 0;
  int failure_tolerance = 0;          // healthy_voters - (voters / 2 + 1)
  std::vector<std::string> problems;  // why a member's health is unknown or bad
};

// Merges `local` (this side's view, may be absent when no pod runs here) with `remote` (the other
// side's published view, may be absent). `remote` counts only when it was observed after `done`
// steps were complete and is at most `max_age` old at `now`. A member whose health neither view
// can vouch for is unhealthy, with a problem saying why.
// Errors: kUnavailable when neither view lists the members.
Result<MergedView> MergeViews(const std::optional<EtcdView>& local,
                              const std::optional<EtcdView>& remote, int done,
                              std::chrono::system_clock::time_point now,
                              std::chrono::seconds max_age);

// OK when `step` may start on `view`: a known leader and every voter healthy. The error
// (kUnavailable, worth waiting for) says which member is the problem.
Status ReadyForStep(const FlowStep& step, const MergedView& view);

}  // namespace seedhop::migrator
