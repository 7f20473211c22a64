// The local lab: a live migration of a real etcd cluster between two emulated seeds, end to end.
// Three seedhop-emulator processes (garden, source seed, target seed), seedhop-webhook on each
// seed registered through the shipped MutatingWebhookConfiguration, a SeedRunner per seed playing
// kubelet and etcd-backup-restore with one real etcd per pod, an etcd-druid stand-in that rewrites
// the etcd StatefulSet in druid's shape every second, and both seedhop-migrator processes. A
// writer writes throughout and every acknowledged write is read back at the end; a sampler
// records the cluster every 50 ms. docs/lab.md says what is faithful and what is not.
#pragma once

#include <array>
#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "common/result.h"
#include "test/lab/traffic.h"

namespace seedhop::lab {

struct LabOptions {
  int members = 3;                // the shoot's etcd size: 1, 3 or 5
  std::string strategy = "Safe";  // or "Swap" (the hackathon's order; drops tolerance to 0)
  int write_rate = 100;           // writes per second
  // Writes before the migration starts, whose latency is the baseline of the move's. At 100/s,
  // 10 s gives 1,000 samples, so that p99 is not decided by a handful of writes.
  std::chrono::seconds baseline{10};
  std::string work_dir;    // "": a fresh directory under /tmp, removed on success
  std::string binary_dir;  // where seedhop-emulator, -webhook, -migrator were built
  std::string source_dir;  // the repository (manifests)
  // Faults. -1: none.
  int kill_migrator_at_step = -1;         // SIGKILL the step's owner when it starts that step
  bool kill_migrator_every_step = false;  // ... at every step boundary
  int kill_member_at_step = -1;           // SIGKILL one running etcd pod when that step starts
  int cut_link_at_step = -1;  // cut the link between the seeds' peer ports when that step starts
  std::chrono::seconds cut_link_for{10};  // ... and heal it this long after
  int step_timeout_seconds = 120;
  std::chrono::seconds deadline{600};  // the whole migration
  bool verbose = false;                // print pod events too
  // The lab's seeds take runner seed indexes seed_index_base and seed_index_base + 1 (their pods'
  // loopback blocks): labs with different bases can run at once.
  int seed_index_base = 0;
  // The etcd pods' nice value (RunnerOptions::etcd_nice): 0 runs etcd at the writer's priority.
  int etcd_nice = 0;
  // Above 0: a steady run, the null experiment of the p99 comparison. Nothing migrates; the writes
  // of this long after the baseline stand in for the move's, so the report shows what this
  // machine's own noise makes of the comparison.
  std::chrono::seconds steady{0};
};

struct StepReport {
  int index = 0;
  std::string name;
  double seconds = 0;  // as the lab saw it, from its start to its completion
  // p99 latency of the writes started while it ran (0: none); where a latency tail comes from.
  double p99_write_ms = 0;
  // Writes started while it ran that took longer than twice the baseline p99, the p99 target's
  // line. Unlike p99_write_ms, this adds up across steps of any length: where the target is lost.
  int64_t writes_over_target = 0;
  int64_t writes = 0;  // acknowledged writes started while it ran
};

struct LabReport {
  bool completed = false;  // both migrators reached Done (a steady run: its window ended)
  // A steady run (LabOptions::steady): no steps; "during the move" is the window after the
  // baseline.
  bool steady = false;
  std::string failure;  // why not, when !completed
  double total_seconds = 0;
  std::vector<StepReport> steps;
  int64_t writes_attempted = 0;
  int64_t writes_acknowledged = 0;
  int64_t writes_lost = 0;        // must be 0
  int64_t writes_unverified = 0;  // acknowledged, but the cluster did not answer when read back
  std::vector<std::string> lost_keys;
  double longest_stall_ms = 0;           // during the etcd move
  std::string longest_stall_at;          // the step in progress when it began
  std::vector<std::string> slow_writes;  // the first few writes slower than 500 ms, and why
  double longest_stall_at_seconds = 0;
  double p99_before_ms = 0;  // write latency before the migration started
  double p99_during_ms = 0;  // during the etcd move
  // The p99 target (p99_during_ms <= 2 x p99_before_ms) holds when no more than about 1% of the
  // move's writes take longer than 2 x p99_before_ms.
  int64_t writes_during = 0;              // acknowledged writes started during the etcd move
  int64_t writes_over_target_during = 0;  // ... that took longer than 2 x p99_before_ms
  // Those writes in bursts (FindSlowBursts, due at most 100 ms apart): many short bursts are
  // single events of the move, such as a pod restart or a membership change; few long ones, a
  // cluster that cannot keep up.
  int64_t over_target_bursts = 0;
  int64_t largest_over_target_burst = 0;  // writes
  double longest_over_target_burst_ms = 0;
  // ... and what each followed (CauseOf), indexed by BurstCause.
  struct BurstTally {
    int64_t bursts = 0;
    int64_t writes = 0;
  };
  std::array<BurstTally, kBurstCauses> over_target_bursts_by_cause{};
  // Share of the machine's CPU time spent busy (BusyPercent) in the same two windows: a p99
  // that grows while the machine has no CPU to spare is co-location, not the migration.
  double cpu_busy_before_percent = 0;
  double cpu_busy_during_percent = 0;
  int min_failure_tolerance = 0;  // lowest sampled during the move
  int64_t samples = 0;            // cluster samples taken during the move
  int64_t samples_below_one = 0;  // ... that showed failure tolerance below 1
  std::string min_tolerance_at;   // the step in progress when it was first seen
  double min_tolerance_at_seconds = 0;
  int migrator_kills = 0;
  int member_kills = 0;
  // Pods the lab's StatefulSet controller deleted (a roll, a scale-down) while their etcd led
  // the cluster: each costs a hand-over that strands forwarded writes. The migrator avoids them.
  std::vector<std::string> leaders_stopped;
  // Times the sampled leader changed during the move: each is a hand-over that clients wait on.
  int64_t leader_changes = 0;
  // Moves of etcd leadership ahead of a roll, from the migrators' metrics
  // (seedhop_migrator_etcd_leadership_moves_total) as last scraped at a step's end: moved, and
  // refused by etcd.
  int64_t leadership_moves = 0;
  int64_t leadership_moves_failed = 0;
  int link_cuts = 0;
  double link_cut_at_seconds = 0;  // when the cut began, from the migration's start
  // Steps the lab saw complete while the link was cut: the step under way may finish, but no
  // step should start while a voter on the other side is unreachable.
  int steps_completed_during_cut = 0;
  // Most voters that answered for themselves without a leader while another voter had one, in
  // one sample during the cut: members the cut isolated from the quorum.
  int isolated_voters_during_cut = 0;

  nlohmann::json ToJson() const;
  // The summary for people.
  std::string Summary() const;
};

// Runs one lab migration, printing progress to `progress`. Errors: the lab could not be set up
// (a binary missing, a port taken); a migration that does not finish is a report with
// completed=false.
Result<LabReport> RunLab(const LabOptions& options, std::ostream& progress);

}  // namespace seedhop::lab
