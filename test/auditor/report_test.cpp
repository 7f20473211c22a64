#include "auditor/report.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "auditor/object.h"
#include "test/auditor/fixtures.h"

namespace seedhop::auditor {
namespace {

using testing::ReferenceNamespace;
using testing::ReferenceNow;

AuditReport SampleReport() {
  SeedSnapshot seed;
  seed.seed = "aws-eu1";
  seed.namespaces.push_back(ReferenceNamespace());
  NamespaceSnapshot safe;
  safe.name = "shoot--dev--safe";
  safe.deployments.push_back(testing::Reference("seed-deployment-kube-controller-manager.json"));
  seed.namespaces.push_back(safe);
  NamespaceSnapshot gone;
  gone.name = "shoot--dev--gone";
  gone.gone = true;
  seed.namespaces.push_back(gone);
  return Audit(seed, DefaultRules(), ReferenceNow());
}

// Converts a YAML node back to JSON, reading scalars the way a YAML 1.1 reader would.
nlohmann::json YamlToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& kv : node) {
      out[kv.first.Scalar()] = YamlToJson(kv.second);
    }
    return out;
  }
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : node) {
      out.push_back(YamlToJson(item));
    }
    return out;
  }
  if (node.IsNull()) {
    return nullptr;
  }
  if (node.Tag() == "!") {  // quoted: always a string
    return node.Scalar();
  }
  bool b = false;
  if (YAML::convert<bool>::decode(node, b)) {
    return b;
  }
  nlohmann::json number = nlohmann::json::parse(node.Scalar(), nullptr, false);
  if (!number.is_discarded() && number.is_number()) {
    return number;
  }
  return node.Scalar();
}

TEST(ParseFormat, KnownNamesAndAClearError) {
  EXPECT_EQ(*ParseFormat("table"), Format::kTable);
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(*ParseFormat("yaml"), Format::kYaml);
  EXPECT_EQ(*ParseFormat("markdown"), Format::kMarkdown);
  EXPECT_EQ(*ParseFormat("md"), Format::kMarkdown);
  auto bad = ParseFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("table, json, yaml, markdown"), std::string::npos);
}

TEST(ReportToJson, CarriesVerdictsBlockersLocksAndTheExitCode) {
  const nlohmann::json j = ReportToJson(SampleReport());
  EXPECT_EQ(j["seed"], "aws-eu1");
  EXPECT_EQ(j["auditedAt"], "2026-08-21T10:15:05Z");
  EXPECT_EQ(j["exitCode"], kExitBlockers);
  EXPECT_EQ(j["summary"]["namespaces"], 3);
  EXPECT_EQ(j["summary"]["blocked"], 1);
  EXPECT_EQ(j["summary"]["safe"], 1);
  EXPECT_EQ(j["summary"]["gone"], 1);
  const auto& ns = j["namespaces"][0];
  EXPECT_EQ(ns["name"], "shoot--dev--aws01");
  EXPECT_EQ(ns["verdict"], "blocked");
  ASSERT_EQ(ns["blockers"].size(), 3u);
  EXPECT_EQ(ns["blockers"][0]["component"], "gardener-resource-manager");
  EXPECT_EQ(ns["observedLocks"].size(), 4u);
  EXPECT_EQ(ns["notLocks"][0]["name"], "etcd-main-0");
  bool mcm_seen = false;
  for (const auto& l : ns["observedLocks"]) {
    if (l["name"] == "machine-controller-manager") {
      mcm_seen = true;
      EXPECT_EQ(l["holderPod"], "machine-controller-manager-6c8b9d7f5d-k2p9x");
      EXPECT_EQ(l["holderWorkload"], "deployment/machine-controller-manager");
      EXPECT_EQ(l["leaseDurationSeconds"], 15);
      EXPECT_EQ(l["transitions"], 7);
      EXPECT_EQ(l["stale"], false);
      EXPECT_EQ(l["location"], "seed");
    }
  }
  EXPECT_TRUE(mcm_seen);
  EXPECT_EQ(j["namespaces"][1]["verdict"], "safe");
  EXPECT_EQ(j["namespaces"][1]["inferredLocks"][0]["location"], "shoot");
}

TEST(RenderReport, JsonRendersTheSameDocument) {
  const AuditReport report = SampleReport();
  const nlohmann::json parsed = nlohmann::json::parse(RenderReport(report, Format::kJson));
  EXPECT_EQ(parsed, ReportToJson(report));
}

// WriteReport writes the JSON one namespace at a time; the bytes must still be those of the whole
// document dumped at once (indentation inside nested namespaces, separators, an empty list).
TEST(RenderReport, JsonIsByteForByteTheDumpedDocument) {
  for (const AuditReport& report : {SampleReport(), AuditReport{}}) {
    EXPECT_EQ(RenderReport(report, Format::kJson), ReportToJson(report).dump(2) + "\n");
  }
}

TEST(RenderReport, YamlReadsBackAsTheJsonDocument) {
  AuditReport report = SampleReport();
  // Strings that look like other types must survive the trip.
  report.namespaces[1].findings.push_back(Finding{Severity::kInfo, "true", "15"});
  report.namespaces[1].findings.push_back(Finding{Severity::kInfo, "no", ""});
  const std::string yaml = RenderReport(report, Format::kYaml);
  const YAML::Node node = YAML::Load(yaml);
  EXPECT_EQ(YamlToJson(node), ReportToJson(report));
}

TEST(RenderReport, TableNamesVerdictsBlockersAndAdvice) {
  const std::string table = RenderReport(SampleReport(), Format::kTable);
  EXPECT_NE(table.find("NAMESPACE"), std::string::npos);
  EXPECT_NE(table.find("shoot--dev--aws01  blocked"), std::string::npos) << table;
  EXPECT_NE(table.find("shoot--dev--safe   safe"), std::string::npos) << table;
  EXPECT_NE(table.find("BLOCKER machine-controller-manager would run twice"), std::string::npos);
  EXPECT_NE(table.find("advice: Scale machine-controller-manager to 0"), std::string::npos);
  EXPECT_NE(table.find("[warning] configmaps/legacy-controller-leader-election"),
            std::string::npos);
  EXPECT_EQ(table.find("[info]"), std::string::npos);  // info stays in json/yaml
}

TEST(RenderReport, MarkdownHasTablesAndEscapesPipes) {
  AuditReport report = SampleReport();
  report.namespaces[0].findings.push_back(Finding{Severity::kWarning, "a|b", "x"});
  const std::string md = RenderReport(report, Format::kMarkdown);
  EXPECT_NE(md.find("# Leader-election audit of seed `aws-eu1`"), std::string::npos);
  EXPECT_NE(md.find("| namespace | verdict | blockers |\n| --- | --- | --- |"), std::string::npos);
  EXPECT_NE(md.find("| `shoot--dev--aws01` | blocked | gardener-resource-manager, "
                    "machine-controller, machine-controller-manager |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("### Controllers that would run twice"), std::string::npos);
  EXPECT_NE(md.find("a\\|b"), std::string::npos);
  EXPECT_EQ(md.find("## `shoot--dev--gone`"), std::string::npos);
}

TEST(RenderReport, SeedWideErrorsAreShown) {
  SeedSnapshot seed;
  seed.errors.push_back(Error(ErrorCode::kForbidden, "cannot list namespaces: forbidden"));
  const AuditReport report = Audit(seed, DefaultRules(), ReferenceNow());
  for (Format f : {Format::kTable, Format::kMarkdown, Format::kJson, Format::kYaml}) {
    EXPECT_NE(RenderReport(report, f).find("cannot list namespaces"), std::string::npos);
  }
  EXPECT_EQ(ReportToJson(report)["exitCode"], kExitError);
}

NamespaceSnapshot Trimmed(const NamespaceSnapshot& ns) {
  NamespaceSnapshot out;
  out.name = ns.name;
  std::vector<std::string> mounted;
  for (const auto* list : {&ns.deployments, &ns.statefulsets}) {
    for (const auto& w : *list) {
      for (auto& name : MountedConfigMaps(w)) {
        mounted.push_back(name);
      }
    }
  }
  for (const auto& d : ns.deployments) {
    out.deployments.push_back(TrimWorkload(d));
  }
  for (const auto& p : ns.pods) {
    out.pods.push_back(TrimPod(p));
  }
  for (const auto& l : ns.leases) {
    out.leases.push_back(TrimLease(l));
  }
  for (const auto& cm : ns.configmaps) {
    const bool keep = std::find(mounted.begin(), mounted.end(), NameOf(cm)) != mounted.end();
    if (keep || HasLeaderAnnotation(cm)) {
      out.configmaps.push_back(TrimLockCarrier(cm, keep));
    }
  }
  return out;
}

TEST(Trim, TrimmedObjectsGiveTheSameReport) {
  const NamespaceSnapshot full = ReferenceNamespace();
  const NamespaceSnapshot trimmed = Trimmed(full);
  EXPECT_EQ(MountedConfigMaps(testing::GardenerResourceManagerDeployment()),
            std::vector<std::string>{"gardener-resource-manager-5d1c7f2e"});
  EXPECT_LT(nlohmann::json(trimmed.deployments).dump().size(),
            nlohmann::json(full.deployments).dump().size());
  SeedSnapshot a;
  a.namespaces.push_back(full);
  SeedSnapshot b;
  b.namespaces.push_back(trimmed);
  EXPECT_EQ(ReportToJson(Audit(a, DefaultRules(), ReferenceNow())),
            ReportToJson(Audit(b, DefaultRules(), ReferenceNow())));
}

}  // namespace
}  // namespace seedhop::auditor
