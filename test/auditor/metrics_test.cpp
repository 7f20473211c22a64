#include "auditor/metrics.h"

#include <gtest/gtest.h>

#include "test/auditor/fixtures.h"

namespace seedhop::auditor {
namespace {

AuditReport TwoShoots() {
  SeedSnapshot seed;
  seed.namespaces.push_back(testing::ReferenceNamespace());
  NamespaceSnapshot gone;
  gone.name = "shoot--dev--gone";
  gone.gone = true;
  seed.namespaces.push_back(gone);
  return Audit(seed, DefaultRules(), testing::ReferenceNow());
}

double Value(const std::vector<Sample>& samples, const std::string& name,
             const std::map<std::string, std::string>& labels) {
  for (const auto& s : samples) {
    if (s.name == name && s.labels == labels) {
      return s.value;
    }
  }
  return -1;
}

TEST(Samples, LocksBlockersVerdictsFindings) {
  const auto samples = Samples(TwoShoots());
  const std::string ns = testing::kNamespace;
  EXPECT_EQ(Value(samples, kMetricBlockers, {{"namespace", ns}}), 3);
  EXPECT_EQ(Value(samples, kMetricShootVerdict, {{"namespace", ns}, {"verdict", "blocked"}}), 1);
  EXPECT_EQ(
      Value(samples, kMetricShootVerdict, {{"namespace", "shoot--dev--gone"}, {"verdict", "gone"}}),
      1);
  EXPECT_EQ(Value(samples, kMetricBlockers, {{"namespace", "shoot--dev--gone"}}), -1);
  EXPECT_EQ(Value(samples, kMetricLocks,
                  {{"namespace", ns},
                   {"component", "machine-controller-manager"},
                   {"location", "seed"},
                   {"source", "observed"}}),
            1);
  EXPECT_EQ(Value(samples, kMetricLocks,
                  {{"namespace", ns},
                   {"component", "kube-controller-manager"},
                   {"location", "shoot"},
                   {"source", "inferred"}}),
            1);
  EXPECT_EQ(Value(samples, kMetricFindings, {{"namespace", ns}, {"severity", "warning"}}), 2);
  for (const auto& s : samples) {
    for (const auto& [key, value] : s.labels) {
      EXPECT_EQ(value.find("k2p9x"), std::string::npos) << "pod names are not labels";
    }
  }
}

TEST(AuditMetrics, RepublishingDropsSeriesOfVanishedNamespaces) {
  obs::Metrics metrics;
  AuditMetrics audit_metrics(metrics);
  audit_metrics.Publish(TwoShoots(), 1.5);
  std::string text = metrics.Serialize();
  EXPECT_NE(text.find("seedhop_auditor_blockers{namespace=\"shoot--dev--aws01\"} 3"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("seedhop_auditor_audits_total{result=\"blockers\"} 1"), std::string::npos);
  EXPECT_NE(text.find("seedhop_auditor_audit_duration_seconds_count 1"), std::string::npos);

  SeedSnapshot empty;
  audit_metrics.Publish(Audit(empty, DefaultRules(), testing::ReferenceNow()), 0.1);
  text = metrics.Serialize();
  EXPECT_EQ(text.find("shoot--dev--aws01"), std::string::npos) << text;
  EXPECT_NE(text.find("seedhop_auditor_audits_total{result=\"safe\"} 1"), std::string::npos);
  EXPECT_NE(text.find("seedhop_auditor_audit_duration_seconds_count 2"), std::string::npos);
}

}  // namespace
}  // namespace seedhop::auditor
