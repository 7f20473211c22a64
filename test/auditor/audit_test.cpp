#include "auditor/audit.h"

#include <gtest/gtest.h>

#include "auditor/object.h"
#include "auditor/report.h"
#include "test/auditor/fixtures.h"

namespace seedhop::auditor {
namespace {

using testing::kNamespace;
using testing::Reference;
using testing::ReferenceNamespace;
using testing::ReferenceNow;

std::vector<std::string> BlockerNames(const NamespaceAudit& audit) {
  std::vector<std::string> out;
  for (const auto& b : audit.blockers) {
    out.push_back(b.component);
  }
  return out;
}

bool HasFinding(const NamespaceAudit& audit, Severity severity, const std::string& subject,
                const std::string& text) {
  for (const auto& f : audit.findings) {
    if (f.severity == severity && f.subject == subject &&
        f.message.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

const Blocker* BlockerFor(const NamespaceAudit& audit, const std::string& component) {
  for (const auto& b : audit.blockers) {
    if (b.component == component) {
      return &b;
    }
  }
  return nullptr;
}

// A namespace whose controllers all elect in the shoot: KCM only.
NamespaceSnapshot SafeNamespace(const std::string& name) {
  NamespaceSnapshot ns;
  ns.name = name;
  ns.deployments.push_back(Reference("seed-deployment-kube-controller-manager.json"));
  ns.leases.push_back(Reference("seed-lease-etcd-member-NOT-a-lock.json"));
  ns.pods.push_back(testing::DeploymentPod("kube-controller-manager", "5f7d9c8b46", "7xqzt"));
  return ns;
}

TEST(AuditNamespace, ReferenceNamespaceIsBlockedByTheThreeSeedLocks) {
  const NamespaceAudit audit = AuditNamespace(ReferenceNamespace(), DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kBlocked);
  EXPECT_EQ(BlockerNames(audit),
            (std::vector<std::string>{"gardener-resource-manager", "machine-controller",
                                      "machine-controller-manager"}));
  const Blocker* mcm = BlockerFor(audit, "machine-controller-manager");
  ASSERT_NE(mcm, nullptr);
  EXPECT_EQ(mcm->workloads, std::vector<std::string>{"deployment/machine-controller-manager"});
  EXPECT_EQ(mcm->locks,
            std::vector<std::string>{"leases shoot--dev--aws01/machine-controller-manager"});
  ASSERT_EQ(mcm->reasons.size(), 2u);  // observed and inferred agree
  EXPECT_EQ(mcm->reasons[0].rfind("observed:", 0), 0u);
  EXPECT_EQ(mcm->reasons[1].rfind("inferred:", 0), 0u);
  EXPECT_NE(mcm->advice.find("Scale machine-controller-manager to 0"), std::string::npos);
  // The etcd member lease is left out by rule, KCM is fine, the legacy lock is a stale leftover.
  ASSERT_EQ(audit.excluded.size(), 1u);
  EXPECT_EQ(audit.excluded[0].reason, "etcd-druid member lease");
  EXPECT_EQ(BlockerFor(audit, "kube-controller-manager"), nullptr);
  EXPECT_TRUE(HasFinding(audit, Severity::kWarning, "configmaps/legacy-controller-leader-election",
                         "legacy configmaps lock"));
  EXPECT_TRUE(HasFinding(audit, Severity::kWarning, "configmaps/legacy-controller-leader-election",
                         "stale lock left behind"));
  EXPECT_EQ(BlockerFor(audit, "unknown"), nullptr);
  for (const auto& l : audit.observed) {
    if (l.name != "legacy-controller-leader-election") {
      EXPECT_EQ(l.component, l.name);
    }
  }
}

TEST(AuditNamespace, SafeWhenEverythingElectsInTheShoot) {
  const NamespaceAudit audit =
      AuditNamespace(SafeNamespace(kNamespace), DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kSafe);
  EXPECT_TRUE(audit.blockers.empty());
  EXPECT_TRUE(audit.observed.empty());
  ASSERT_EQ(audit.inferred.size(), 1u);
  EXPECT_EQ(audit.inferred[0].location, Location::kShoot);
}

TEST(AuditNamespace, SeedLockNotYetTakenStillBlocks) {
  NamespaceSnapshot ns = ReferenceNamespace();
  ns.leases.clear();
  ns.deployments[0]["spec"]["replicas"] = 0;  // MCM scaled down, e.g. hibernated
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kBlocked);
  const Blocker* mcm = BlockerFor(audit, "machine-controller-manager");
  ASSERT_NE(mcm, nullptr);
  EXPECT_NE(mcm->reasons.back().find("0 replicas"), std::string::npos);
  // GRM runs but holds no lock: observed and inferred disagree.
  EXPECT_TRUE(HasFinding(audit, Severity::kWarning,
                         "deployment/gardener-resource-manager container gardener-resource-manager",
                         "disagreement"));
}

TEST(AuditNamespace, FlagsSayShootButTheSeedHoldsALiveLock) {
  NamespaceSnapshot ns = SafeNamespace(kNamespace);
  ns.leases.push_back(testing::Lease("kube-controller-manager",
                                     "kube-controller-manager-5f7d9c8b46-7xqzt_1234",
                                     "2026-08-21T10:15:00.000000Z"));
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kBlocked);
  EXPECT_EQ(BlockerNames(audit), std::vector<std::string>{"kube-controller-manager"});
  EXPECT_TRUE(HasFinding(audit, Severity::kWarning,
                         "deployment/kube-controller-manager container kube-controller-manager",
                         "disagreement"));
}

TEST(AuditNamespace, TwoLocksForOneComponent) {
  NamespaceSnapshot ns = ReferenceNamespace();
  // A configmapsleases hybrid lock: the ConfigMap record next to the Lease of the same name.
  nlohmann::json cm = {
      {"metadata",
       {{"name", "machine-controller-manager"},
        {"annotations",
         {{"control-plane.alpha.kubernetes.io/leader",
           R"({"holderIdentity":"machine-controller-manager-6c8b9d7f5d-k2p9x","leaseDurationSeconds":15,"renewTime":"2026-08-21T10:15:02Z"})"}}}}}};
  ns.configmaps.push_back(cm);
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  EXPECT_TRUE(HasFinding(audit, Severity::kWarning, "machine-controller-manager", "holds 2 locks"));
  const Blocker* mcm = BlockerFor(audit, "machine-controller-manager");
  ASSERT_NE(mcm, nullptr);
  EXPECT_EQ(mcm->locks.size(), 2u);
}

TEST(AuditNamespace, HolderGoneButFreshLockStillBlocks) {
  NamespaceSnapshot ns = ReferenceNamespace();
  ns.pods.clear();
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kBlocked);
  EXPECT_TRUE(HasFinding(audit, Severity::kWarning, "leases/machine-controller-manager",
                         "held from another seed"));
}

TEST(AuditNamespace, StaleLeftoverIsAWarningNotABlocker) {
  NamespaceSnapshot ns = SafeNamespace(kNamespace);
  ns.leases.push_back(testing::Lease("old-operator", "old-operator-6d9f8c7b5-abcde_x",
                                     "2026-08-01T00:00:00.000000Z"));
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kSafe);
  EXPECT_TRUE(HasFinding(audit, Severity::kWarning, "leases/old-operator", "stale lock left"));
}

TEST(AuditNamespace, UnknownComponentWithALiveSeedLockBlocks) {
  NamespaceSnapshot ns = SafeNamespace(kNamespace);
  ns.deployments.push_back(
      testing::Deployment("my-operator", {{"name", "my-operator"}, {"args", {"--leader-elect"}}}));
  ns.pods.push_back(testing::DeploymentPod("my-operator", "7f8d9c", "zz9xy"));
  ns.leases.push_back(testing::Lease("my-operator-lock", "my-operator-7f8d9c-zz9xy_abc",
                                     "2026-08-21T10:15:01.000000Z"));
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kBlocked);
  const Blocker* unknown = BlockerFor(audit, "unknown");
  ASSERT_NE(unknown, nullptr);
  EXPECT_EQ(unknown->workloads, std::vector<std::string>{"deployment/my-operator"});
  EXPECT_NE(unknown->advice.find("add a rule"), std::string::npos);
  EXPECT_TRUE(HasFinding(audit, Severity::kWarning, "leases/my-operator-lock",
                         "matches no component rule (held by deployment/my-operator)"));
}

TEST(AuditNamespace, LockOfAKnownComponentFoundThroughItsHolder) {
  NamespaceSnapshot ns = SafeNamespace(kNamespace);
  ns.deployments.push_back(testing::GardenerResourceManagerDeployment());
  ns.configmaps.push_back(Reference("seed-configmap-gardener-resource-manager.json"));
  ns.pods.push_back(testing::DeploymentPod("gardener-resource-manager", "7c9d8f6b5", "q8wzn"));
  ns.leases.push_back(testing::Lease("grm-renamed", "gardener-resource-manager-7c9d8f6b5-q8wzn_1",
                                     "2026-08-21T10:15:01.000000Z"));
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  ASSERT_EQ(audit.observed.size(), 1u);
  EXPECT_EQ(audit.observed[0].component, "gardener-resource-manager");
  EXPECT_EQ(BlockerNames(audit), std::vector<std::string>{"gardener-resource-manager"});
}

TEST(AuditNamespace, UnknownLocationBlocksRatherThanClaimingSafe) {
  NamespaceSnapshot ns = ReferenceNamespace();
  ns.configmaps.erase(ns.configmaps.begin() + 1);  // GRM's config is gone
  ns.leases.clear();
  ns.deployments.erase(ns.deployments.begin());  // no MCM
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kBlocked);
  const Blocker* grm = BlockerFor(audit, "gardener-resource-manager");
  ASSERT_NE(grm, nullptr);
  EXPECT_EQ(grm->reasons[0].rfind("unknown:", 0), 0u);
}

TEST(AuditNamespace, RbacErrorForOneResourceIsAnItemAndTheRestGoesOn) {
  NamespaceSnapshot ns = SafeNamespace(kNamespace);
  ns.errors.push_back(
      FetchError{"configmaps", Error(ErrorCode::kForbidden, "configmaps is forbidden")});
  NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kIncomplete);
  EXPECT_TRUE(
      HasFinding(audit, Severity::kError, "configmaps", "cannot list configmaps (forbidden)"));
  EXPECT_EQ(audit.inferred.size(), 1u);  // Deployments were still read

  // Blockers found elsewhere still make the verdict "blocked".
  NamespaceSnapshot blocked = ReferenceNamespace();
  blocked.errors.push_back(FetchError{"endpoints", Error(ErrorCode::kForbidden, "no")});
  EXPECT_EQ(AuditNamespace(blocked, DefaultRules(), ReferenceNow()).verdict, Verdict::kBlocked);
}

TEST(AuditNamespace, ForbiddenLeasesSkipTheNoLockDisagreement) {
  NamespaceSnapshot ns = ReferenceNamespace();
  ns.leases.clear();
  ns.errors.push_back(FetchError{"leases", Error(ErrorCode::kForbidden, "no")});
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  for (const auto& f : audit.findings) {
    EXPECT_EQ(f.message.find("no lock"), std::string::npos) << f.message;
  }
}

TEST(AuditNamespace, MalformedRecordMakesItIncomplete) {
  NamespaceSnapshot ns = SafeNamespace(kNamespace);
  ns.configmaps.push_back(
      {{"metadata",
        {{"name", "broken"},
         {"annotations", {{"control-plane.alpha.kubernetes.io/leader", "{"}}}}}});
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kIncomplete);
  EXPECT_TRUE(HasFinding(audit, Severity::kError, "configmaps/broken", "malformed"));
}

TEST(AuditNamespace, NamespaceGone) {
  NamespaceSnapshot ns;
  ns.name = "shoot--a--gone";
  ns.gone = true;
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), ReferenceNow());
  EXPECT_EQ(audit.verdict, Verdict::kGone);
  EXPECT_TRUE(HasFinding(audit, Severity::kInfo, "namespaces/shoot--a--gone", "deleted"));
}

TEST(Audit, VerdictPerShootAndExitCodes) {
  SeedSnapshot seed;
  seed.seed = "aws-eu1";
  seed.namespaces.push_back(SafeNamespace("shoot--a--safe"));
  AuditReport report = Audit(seed, DefaultRules(), ReferenceNow());
  ASSERT_EQ(report.namespaces.size(), 1u);
  EXPECT_EQ(ExitCode(report), kExitSafe);

  NamespaceSnapshot gone;
  gone.name = "shoot--a--gone";
  gone.gone = true;
  seed.namespaces.push_back(gone);
  EXPECT_EQ(ExitCode(Audit(seed, DefaultRules(), ReferenceNow())), kExitSafe);

  seed.namespaces.push_back(ReferenceNamespace());
  report = Audit(seed, DefaultRules(), ReferenceNow());
  EXPECT_EQ(report.seed, "aws-eu1");
  EXPECT_EQ(report.namespaces[2].verdict, Verdict::kBlocked);
  EXPECT_EQ(ExitCode(report), kExitBlockers);

  NamespaceSnapshot forbidden = SafeNamespace("shoot--a--rbac");
  forbidden.errors.push_back(FetchError{"pods", Error(ErrorCode::kForbidden, "no")});
  seed.namespaces.push_back(forbidden);
  EXPECT_EQ(ExitCode(Audit(seed, DefaultRules(), ReferenceNow())), kExitError);

  SeedSnapshot denied;
  denied.errors.push_back(Error(ErrorCode::kForbidden, "cannot list namespaces"));
  report = Audit(denied, DefaultRules(), ReferenceNow());
  ASSERT_EQ(report.findings.size(), 1u);
  EXPECT_EQ(ExitCode(report), kExitError);
}

TEST(Audit, StalenessFollowsNow) {
  const auto later = ReferenceNow() + std::chrono::hours(1);
  NamespaceSnapshot ns = ReferenceNamespace();
  ns.pods.clear();
  ns.deployments.clear();
  const NamespaceAudit audit = AuditNamespace(ns, DefaultRules(), later);
  EXPECT_EQ(audit.verdict, Verdict::kSafe);  // only stale leftovers, nobody runs
  EXPECT_TRUE(HasFinding(audit, Severity::kWarning, "leases/machine-controller-manager",
                         "stale lock left behind"));
}

// Every file in shared/reference/leases/ is classified as its README says; a new reference file
// fails this test until it is given an expectation here.
// Packs the objects of `ns` into their lists, taking the lists in turn (one object of each, then
// the next) so that Unpack has to sort interleaved objects back into their lists.
PackedNamespace Packed(const NamespaceSnapshot& ns) {
  const ObjectList lists[] = {&NamespaceSnapshot::leases,       &NamespaceSnapshot::configmaps,
                              &NamespaceSnapshot::endpoints,    &NamespaceSnapshot::deployments,
                              &NamespaceSnapshot::statefulsets, &NamespaceSnapshot::pods};
  PackedNamespace out;
  out.snapshot.name = ns.name;
  out.snapshot.errors = ns.errors;
  out.snapshot.gone = ns.gone;
  for (std::size_t i = 0;; ++i) {
    bool packed = false;
    for (ObjectList list : lists) {
      if (i < (ns.*list).size()) {
        Pack(out, list, (ns.*list)[i]);
        packed = true;
      }
    }
    if (!packed) {
      return out;
    }
  }
}

TEST(AuditPacked, SameReportAsAuditOfTheUnpackedObjects) {
  SeedSnapshot seed;
  seed.errors.push_back(Error(ErrorCode::kForbidden, "cannot list pods"));
  seed.namespaces.push_back(ReferenceNamespace());
  NamespaceSnapshot two_locks = SafeNamespace("shoot--a--two");
  two_locks.leases.push_back(Reference("seed-lease-machine-controller-manager.json"));
  two_locks.configmaps.push_back(Reference("legacy-configmap-lock.json"));
  two_locks.errors.push_back(FetchError{"endpoints", Error(ErrorCode::kForbidden, "no")});
  seed.namespaces.push_back(two_locks);
  NamespaceSnapshot gone;
  gone.name = "shoot--a--gone";
  gone.gone = true;
  seed.namespaces.push_back(gone);

  PackedSeed packed;
  packed.errors = seed.errors;
  for (const auto& ns : seed.namespaces) {
    packed.namespaces.push_back(Packed(ns));
    const NamespaceSnapshot unpacked = Unpack(packed.namespaces.back());
    EXPECT_EQ(unpacked.leases, ns.leases) << ns.name;
    EXPECT_EQ(unpacked.configmaps, ns.configmaps) << ns.name;
    EXPECT_EQ(unpacked.deployments, ns.deployments) << ns.name;
    EXPECT_EQ(unpacked.pods, ns.pods) << ns.name;
    EXPECT_EQ(unpacked.errors.size(), ns.errors.size()) << ns.name;
  }
  const AuditReport report = AuditPacked(packed, DefaultRules(), ReferenceNow());
  ASSERT_EQ(report.namespaces.size(), 3u);
  EXPECT_EQ(report.namespaces[0].verdict, Verdict::kBlocked);
  EXPECT_EQ(report.namespaces[2].verdict, Verdict::kGone);
  EXPECT_EQ(ReportToJson(report), ReportToJson(Audit(seed, DefaultRules(), ReferenceNow())));
}

TEST(ReferenceObjects, EveryOneIsClassified) {
  const Rules rules = DefaultRules();
  const NamespaceSnapshot ns = ReferenceNamespace();
  const std::map<std::string, std::string> expected = {
      {"seed-lease-machine-controller-manager.json", "seed lock machine-controller-manager"},
      {"seed-lease-machine-controller.json", "seed lock machine-controller"},
      {"seed-lease-gardener-resource-manager.json", "seed lock gardener-resource-manager"},
      {"seed-lease-etcd-member-NOT-a-lock.json", "not a lock"},
      {"shoot-lease-kube-controller-manager.json", "held by deployment/kube-controller-manager"},
      {"legacy-configmap-lock.json", "legacy lock, stale"},
      {"seed-configmap-gardener-resource-manager.json", "component config: seed"},
      {"seed-deployment-machine-controller-manager.json", "inferred seed seed"},
      {"seed-deployment-kube-controller-manager.json", "inferred shoot"},
      {"seed-namespace-leaselist.json", "3 locks, 1 not a lock"},
  };
  for (const auto& file : testing::ReferenceFiles()) {
    SCOPED_TRACE(file);
    const nlohmann::json object = Reference(file);
    const std::string kind = object.value("kind", "");
    std::string got;
    if (file == "shoot-lease-kube-controller-manager.json") {
      // A lock in the shoot, held by a pod of the seed namespace (research 1.5).
      const HolderIdentity holder =
          ParseHolderIdentity(object["spec"]["holderIdentity"].get<std::string>());
      for (const auto& pod : ns.pods) {
        if (NameOf(pod) == holder.pod) {
          got = "held by " + WorkloadText(*OwningWorkload(pod));
        }
      }
    } else if (kind == "Lease") {
      NamespaceSnapshot one;
      one.name = kNamespace;
      one.leases = {object};
      one.pods = ns.pods;
      const NamespaceAudit audit = AuditNamespace(one, rules, ReferenceNow());
      got = !audit.excluded.empty()
                ? "not a lock"
                : "seed lock " + (audit.blockers.empty() ? std::string("(none)")
                                                         : audit.blockers[0].component);
    } else if (kind == "LeaseList") {
      NamespaceSnapshot one;
      one.name = kNamespace;
      for (const auto& item : object["items"]) {
        one.leases.push_back(item);
      }
      const Observation o = ObserveLocks(one, rules, ReferenceNow());
      got = std::to_string(o.locks.size()) + " locks, " + std::to_string(o.excluded.size()) +
            " not a lock";
    } else if (kind == "ConfigMap" && object["metadata"].contains("annotations") &&
               object["metadata"]["annotations"].contains(kLeaderAnnotation)) {
      NamespaceSnapshot one;
      one.name = kNamespace;
      one.configmaps = {object};
      const Observation o = ObserveLocks(one, rules, ReferenceNow());
      got = o.locks.size() == 1 && o.locks[0].kind == LockKind::kConfigMap
                ? std::string("legacy lock") + (o.locks[0].stale ? ", stale" : "")
                : "?";
    } else if (kind == "ConfigMap") {
      NamespaceSnapshot one = ns;
      one.configmaps = {object};
      const Inference inf =
          InferWorkload(testing::GardenerResourceManagerDeployment(), "Deployment", one, rules);
      got = std::string("component config: ") + LocationName(inf.locks.at(0).location);
    } else if (kind == "Deployment") {
      const Inference inf = InferWorkload(object, "Deployment", ns, rules);
      got = "inferred";
      for (const auto& l : inf.locks) {
        got += std::string(" ") + LocationName(l.location);
      }
    }
    auto it = expected.find(file);
    ASSERT_NE(it, expected.end()) << "no expectation for reference file " << file;
    EXPECT_EQ(got, it->second);
  }
  EXPECT_EQ(testing::ReferenceFiles().size(), expected.size());
}

}  // namespace
}  // namespace seedhop::auditor
