#include "migrator/metrics.h"

namespace seedhop::migrator {

namespace {

prometheus::Family<prometheus::Gauge>& Gauge(obs::Metrics& metrics, const char* name,
                                             const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(metrics.registry());
}

}  // namespace

MigratorMetrics::MigratorMetrics(obs::Metrics& metrics)
    : leader_(Gauge(metrics, "seedhop_migrator_leader",
                    "1 while this replica holds the migrator's leader lease.")),
      steps_(Gauge(metrics, "seedhop_migrator_steps", "Steps in the migration's flow.")),
      completed_(Gauge(metrics, "seedhop_migrator_steps_completed",
                       "Steps completed, as this side has observed them.")),
      started_(Gauge(metrics, "seedhop_migrator_step_started_timestamp_seconds",
                     "Unix time the step this side executes or waits on began; 0 when idle.")),
      halted_(Gauge(metrics, "seedhop_migrator_halted",
                    "1 while this side is halted and waits for an operator (resume or abort).")),
      duration_(prometheus::BuildHistogram()
                    .Name("seedhop_migrator_step_duration_seconds")
                    .Help("Time a step took on the side that executed it.")
                    .Register(metrics.registry())),
      errors_(prometheus::BuildCounter()
                  .Name("seedhop_migrator_errors_total")
                  .Help("Step attempts that failed, by step kind.")
                  .Register(metrics.registry())),
      leadership_moves_(prometheus::BuildCounter()
                            .Name("seedhop_migrator_etcd_leadership_moves_total")
                            .Help("Moves of etcd leadership ahead of a StatefulSet roll.")
                            .Register(metrics.registry())),
      voters_(Gauge(metrics, "seedhop_migrator_etcd_voters", "Voting etcd members.")),
      learners_(Gauge(metrics, "seedhop_migrator_etcd_learners", "etcd learners.")),
      tolerance_(Gauge(metrics, "seedhop_migrator_etcd_failure_tolerance",
                       "Healthy etcd voters minus quorum: members that may still fail.")) {}

void MigratorMetrics::SetLeader(Side role, bool leader) {
  leader_.Add({{"role", SideName(role)}}).Set(leader ? 1 : 0);
}

void MigratorMetrics::SetProgress(const std::string& shoot_namespace, Side role, int steps,
                                  int completed, double step_started_unix, bool halted) {
  std::map<std::string, std::string> labels = {{"shoot_namespace", shoot_namespace},
                                               {"role", SideName(role)}};
  steps_.Add(labels).Set(steps);
  completed_.Add(labels).Set(completed);
  started_.Add(labels).Set(step_started_unix);
  halted_.Add(labels).Set(halted ? 1 : 0);
  // The counter's series start at 0 with the first pass, so that increase() sees the first move.
  for (const char* outcome : {"moved", "failed"})
    leadership_moves_.Add({{"role", SideName(role)}, {"outcome", outcome}});
}

void MigratorMetrics::ObserveStep(Side role, const std::string& kind, double seconds) {
  duration_.Add({{"role", SideName(role)}, {"kind", kind}}, obs::Metrics::StepBuckets())
      .Observe(seconds);
}

void MigratorMetrics::CountError(Side role, const std::string& kind) {
  errors_.Add({{"role", SideName(role)}, {"kind", kind}}).Increment();
}

void MigratorMetrics::CountLeadershipMove(Side role, bool moved) {
  leadership_moves_.Add({{"role", SideName(role)}, {"outcome", moved ? "moved" : "failed"}})
      .Increment();
}

void MigratorMetrics::SetEtcd(const std::string& shoot_namespace, const std::string& etcd,
                              int voters, int learners, int failure_tolerance) {
  std::map<std::string, std::string> labels = {{"shoot_namespace", shoot_namespace},
                                               {"etcd", etcd}};
  voters_.Add(labels).Set(voters);
  learners_.Add(labels).Set(learners);
  tolerance_.Add(labels).Set(failure_tolerance);
}

}  // namespace seedhop::migrator
