#include "auditor/metrics.h"

#include <chrono>

namespace seedhop::auditor {
namespace {

const std::map<std::string, std::string> kHelp = {
    {kMetricLocks, "Leader-election locks per shoot namespace, component, location and source."},
    {kMetricBlockers, "Controllers that would run twice during a live migration, per shoot."},
    {kMetricShootVerdict, "1 for the verdict of each shoot namespace in the last audit."},
    {kMetricFindings, "Findings of the last audit per namespace and severity."},
};

}  // namespace

std::vector<Sample> Samples(const AuditReport& report) {
  std::map<std::map<std::string, std::string>, double> locks;
  std::map<std::map<std::string, std::string>, double> findings;
  std::vector<Sample> out;
  for (const auto& f : report.findings) {
    findings[{{"namespace", ""}, {"severity", SeverityName(f.severity)}}] += 1;
  }
  for (const auto& ns : report.namespaces) {
    out.push_back(Sample{
        kMetricShootVerdict, {{"namespace", ns.name}, {"verdict", VerdictName(ns.verdict)}}, 1});
    if (ns.verdict == Verdict::kGone) {
      continue;
    }
    out.push_back(
        Sample{kMetricBlockers, {{"namespace", ns.name}}, static_cast<double>(ns.blockers.size())});
    for (const auto& l : ns.observed) {
      locks[{{"namespace", ns.name},
             {"component", l.component},
             {"location", LocationName(Location::kSeed)},
             {"source", "observed"}}] += 1;
    }
    for (const auto& l : ns.inferred) {
      if (l.location == Location::kNone) {
        continue;
      }
      locks[{{"namespace", ns.name},
             {"component", l.component.empty() ? "unknown" : l.component},
             {"location", LocationName(l.location)},
             {"source", "inferred"}}] += 1;
    }
    for (const auto& f : ns.findings) {
      findings[{{"namespace", ns.name}, {"severity", SeverityName(f.severity)}}] += 1;
    }
  }
  for (const auto& [labels, value] : locks) {
    out.push_back(Sample{kMetricLocks, labels, value});
  }
  for (const auto& [labels, value] : findings) {
    out.push_back(Sample{kMetricFindings, labels, value});
  }
  return out;
}

AuditMetrics::AuditMetrics(obs::Metrics& metrics)
    : metrics_(metrics),
      duration_(prometheus::BuildHistogram()
                    .Name("seedhop_auditor_audit_duration_seconds")
                    .Help("Wall time of one full audit: fetching and classifying.")
                    .Register(metrics.registry())
                    .Add({}, obs::Metrics::StepBuckets())),
      audits_(prometheus::BuildCounter()
                  .Name("seedhop_auditor_audits_total")
                  .Help("Audits run, by result: safe, blockers, incomplete (exit codes 0/1/2).")
                  .Register(metrics.registry())),
      last_audit_(prometheus::BuildGauge()
                      .Name("seedhop_auditor_last_audit_timestamp_seconds")
                      .Help("Unix time of the last completed audit.")
                      .Register(metrics.registry())
                      .Add({})) {}

prometheus::Family<prometheus::Gauge>& AuditMetrics::Family(const std::string& name) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto help = kHelp.find(name);
    auto& family = prometheus::BuildGauge()
                       .Name(name)
                       .Help(help == kHelp.end() ? name : help->second)
                       .Register(metrics_.registry());
    it = families_.emplace(name, &family).first;
  }
  return *it->second;
}

void AuditMetrics::Publish(const AuditReport& report, double duration_seconds) {
  for (auto& [family, gauge] : live_) {
    family->Remove(gauge);
  }
  live_.clear();
  for (const auto& s : Samples(report)) {
    auto& family = Family(s.name);
    auto& gauge = family.Add(s.labels);
    gauge.Set(s.value);
    live_.emplace_back(&family, &gauge);
  }
  duration_.Observe(duration_seconds);
  const int code = ExitCode(report);
  audits_
      .Add({{"result", code == kExitSafe       ? "safe"
                       : code == kExitBlockers ? "blockers"
                                               : "incomplete"}})
      .Increment();
  last_audit_.Set(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace seedhop::auditor
