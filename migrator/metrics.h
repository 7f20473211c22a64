// The migrator's runtime metrics (docs/metrics.md lists them with their meaning). Thread-safe:
// prometheus-cpp families are.
#pragma once

#include <string>

#include "common/obs/metrics.h"
#include "migrator/planner.h"

namespace seedhop::migrator {

class MigratorMetrics {
 public:
  // REQUIRES: `metrics` outlives this object.
  explicit MigratorMetrics(obs::Metrics& metrics);

  void SetLeader(Side role, bool leader);
  void SetProgress(const std::string& shoot_namespace, Side role, int steps, int completed,
                   double step_started_unix, bool halted);
  void ObserveStep(Side role, const std::string& kind, double seconds);
  void CountError(Side role, const std::string& kind);
  // One move of etcd leadership ahead of a StatefulSet roll: `moved` when etcd took it.
  void CountLeadershipMove(Side role, bool moved);
  void SetEtcd(const std::string& shoot_namespace, const std::string& etcd, int voters,
               int learners, int failure_tolerance);

 private:
  prometheus::Family<prometheus::Gauge>& leader_;
  prometheus::Family<prometheus::Gauge>& steps_;
  prometheus::Family<prometheus::Gauge>& completed_;
  prometheus::Family<prometheus::Gauge>& started_;
  prometheus::Family<prometheus::Gauge>& halted_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Counter>& leadership_moves_;
  prometheus::Family<prometheus::Gauge>& voters_;
  prometheus::Family<prometheus::Gauge>& learners_;
  prometheus::Family<prometheus::Gauge>& tolerance_;
};

}  // namespace seedhop::migrator
