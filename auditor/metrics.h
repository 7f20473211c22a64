// The gauges `seedhop-auditor serve` exports after each audit. Samples() is the pure mapping from
// a report to series; AuditMetrics replaces the previous audit's series with the new ones, so
// series of deleted namespaces disappear instead of going stale.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "auditor/audit.h"
#include "common/obs/metrics.h"

namespace seedhop::auditor {

// Series names (docs/auditor.md, "Metrics"). Labels are low-cardinality: namespace, component,
// location, source, verdict, severity; never pod names or lock holders.
inline constexpr char kMetricLocks[] = "seedhop_auditor_locks";
inline constexpr char kMetricBlockers[] = "seedhop_auditor_blockers";
inline constexpr char kMetricShootVerdict[] = "seedhop_auditor_shoot_verdict";
inline constexpr char kMetricFindings[] = "seedhop_auditor_findings";

// One gauge value.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;

  bool operator==(const Sample&) const = default;
};

// The gauges for `report`:
//   seedhop_auditor_locks{namespace,component,location,source}: locks (observed ones live in the
//     seed; inferred ones by where they point; "none" is left out);
//   seedhop_auditor_blockers{namespace}: controllers that would run twice;
//   seedhop_auditor_shoot_verdict{namespace,verdict}: 1 for the namespace's verdict;
//   seedhop_auditor_findings{namespace,severity}: findings ("" namespace: seed-wide).
std::vector<Sample> Samples(const AuditReport& report);

// Publishes audits into a registry. Not thread-safe: call Publish from one thread.
class AuditMetrics {
 public:
  // REQUIRES: `metrics` outlives this object.
  explicit AuditMetrics(obs::Metrics& metrics);

  // Replaces every gauge with Samples(report); records the duration and the outcome.
  void Publish(const AuditReport& report, double duration_seconds);

 private:
  prometheus::Family<prometheus::Gauge>& Family(const std::string& name);

  obs::Metrics& metrics_;
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> families_;
  std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> live_;
  prometheus::Histogram& duration_;
  prometheus::Family<prometheus::Counter>& audits_;
  prometheus::Gauge& last_audit_;
};

}  // namespace seedhop::auditor
