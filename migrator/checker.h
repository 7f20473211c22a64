// The invariant checker: simulates a plan (planner.h) instant by instant under the model written
// in planner.h and reports the lowest failure tolerance and every rule the plan breaks.
// Tolerance rules: for n >= 3, tolerance >= 1 at every instant (the routine-restart exception
// below aside); for n = 1, tolerance >= 0 at every instant (no planned outage) and >= 1 in its HA
// window, from the first instant with 3 voters until the source has no replicas.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "migrator/planner.h"

namespace seedhop::migrator {

// One instant of a simulation: the step being executed and what happens inside it
// ("after the step", "pod 3 restarting (source roll)", ...).
struct Instant {
  int step = -1;  // index into the plan; -1 before the first step, plan size for the end state
  std::string what;
};

struct Violation {
  Instant at;
  std::string message;
};

// What a simulation found. ok() means no violation; the routine-restart exception (one roll per
// side before the move starts, i.e. before any pod runs on the target and before any member is
// removed; tolerance 0 allowed) is reported apart.
struct CheckResult {
  bool ok() const { return violations.empty(); }

  int min_tolerance = 0;     // over every instant
  Instant min_tolerance_at;  // the first instant with min_tolerance
  std::vector<Violation> violations;
  std::vector<Instant> routine_restart_exception;  // instants excused by the exception
  int restarts = 0;                                // pod restarts caused by alias changes
  int members_added = 0;
  int max_voters = 0;
};

// A simulation that can be advanced one step at a time and copied (searches branch on it).
// The state starts as the steady source cluster: members 0..n-1 voters on the source, no aliases.
class Simulation {
 public:
  // REQUIRES: 1 <= n <= kMaxOrdinals.
  Simulation(int n, Addressing addressing);

  // Executes `step` (the plan's step number `index`), recording instants and violations.
  void Apply(int index, const Step& step);
  // Checks the end state (target holds exactly 0..n-1 with ordinals.start 0 and no aliases,
  // source replicas 0, no learner, DNS switched once) and returns the result.
  CheckResult Finish(int index) const;

  const CheckResult& result() const { return result_; }
  // Identifies the simulated cluster and seeds (members, pods, their /etc/hosts, plans, exposed
  // addresses, DNS): two simulations with the same key behave the same from here on, except for
  // the one-off rules (routine-restart exception, DNS switch already done), which the key covers.
  std::string StateKey() const;

 private:
  struct SideState {
    int start = 0;
    int replicas = 0;
    uint64_t aliases = 0;         // the plan's alias list as a bit set of ordinals
    uint64_t exposed = 0;         // ordinals with a per-member address on this side
    bool exception_used = false;  // this side already had its routine-restart chance
  };

  bool Runs(int side, int ordinal) const;
  bool Reaches(int from_side, int from, int to) const;
  // Checks the current instant; `restarting` is the pod whose restart this instant is (or -1),
  // in which case `what` is ignored and the instant reads "pod <o> restarting (<side> roll)".
  void Evaluate(int index, const char* what, int restarting, bool excused);
  void Violate(int index, const std::string& what, const std::string& message);
  void SetSidePlan(int index, const Step& step);

  int n_;
  Addressing addressing_;
  uint64_t voters_ = 0;
  uint64_t learners_ = 0;
  uint64_t removed_running_ = 0;  // removed members whose pod still runs (for one step)
  uint64_t down_ = 0;             // pods restarting at the current instant
  std::array<SideState, 2> sides_{};
  std::array<uint64_t, kMaxOrdinals> hosts_{};  // per running pod: aliases in its /etc/hosts
  bool move_started_ = false;                   // a pod ran on the target or a member was removed
  bool ha_reached_ = false;                     // the cluster had 3 voters at some instant
  int dns_switches_ = 0;
  int last_transfer_ = -1;  // ordinal whose leadership moved away in the previous step
  CheckResult result_;
};

// Simulates `steps` for steady size `n` under `addressing` and returns what it found. Also
// reports malformed steps (ordinals out of range, negative replicas) as violations.
CheckResult Simulate(int n, Addressing addressing, const std::vector<Step>& steps);

}  // namespace seedhop::migrator
