#include "auditor/observed.h"

#include <gtest/gtest.h>

#include "test/auditor/fixtures.h"

namespace seedhop::auditor {
namespace {

using testing::kNamespace;
using testing::Reference;
using testing::ReferenceNamespace;
using testing::ReferenceNow;

TEST(Timestamp, ParsesBothKubernetesForms) {
  auto micro = ParseTimestamp("2026-08-21T10:15:02.118347Z");
  auto whole = ParseTimestamp("2026-08-21T10:15:02Z");
  ASSERT_TRUE(micro && whole);
  EXPECT_EQ((*micro - *whole).count(), 118347);
  auto offset = ParseTimestamp("2026-08-21T12:15:02+02:00");
  ASSERT_TRUE(offset);
  EXPECT_EQ(*offset, *whole);
  EXPECT_EQ(FormatTimestamp(*micro), "2026-08-21T10:15:02Z");
  for (const char* bad :
       {"", "2026-08-21", "2026-08-21T10:15:02", "2026-02-30T10:15:02Z", "2026-08-21T10:15:02.Z",
        "2026-08-21T10:15:02Zjunk", "yesterday", "2026-08-21T25:15:02Z"}) {
    EXPECT_FALSE(ParseTimestamp(bad).has_value()) << bad;
  }
}

TEST(HolderIdentity, EveryFormFromTheResearch) {
  auto with_id = ParseHolderIdentity(
      "gardener-resource-manager-7c9d8f6b5-q8wzn_3f2a9c1e-5b7d-4e8f-a0c2-1d6b9e4f7a35");
  EXPECT_EQ(with_id.form, HolderForm::kPodWithId);
  EXPECT_EQ(with_id.pod, "gardener-resource-manager-7c9d8f6b5-q8wzn");
  auto bare = ParseHolderIdentity("machine-controller-manager-6c8b9d7f5d-k2p9x");
  EXPECT_EQ(bare.form, HolderForm::kPodName);
  EXPECT_EQ(bare.pod, "machine-controller-manager-6c8b9d7f5d-k2p9x");
  EXPECT_EQ(ParseHolderIdentity("").form, HolderForm::kEmpty);
  auto unknown = ParseHolderIdentity(kUnknownLeader);
  EXPECT_EQ(unknown.form, HolderForm::kUnknownLeader);
  EXPECT_TRUE(unknown.pod.empty());
}

TEST(OwningWorkload, ReplicaSetMapsToItsDeployment) {
  auto pod = testing::DeploymentPod("machine-controller-manager", "6c8b9d7f5d", "k2p9x");
  EXPECT_EQ(OwningWorkload(pod), (WorkloadRef{"Deployment", "machine-controller-manager"}));
  nlohmann::json sts_pod = {
      {"metadata",
       {{"name", "etcd-main-0"},
        {"ownerReferences",
         {{{"kind", "StatefulSet"}, {"name", "etcd-main"}, {"controller", true}}}}}}};
  EXPECT_EQ(OwningWorkload(sts_pod), (WorkloadRef{"StatefulSet", "etcd-main"}));
  EXPECT_FALSE(OwningWorkload(nlohmann::json{{"metadata", {{"name", "bare"}}}}).has_value());
  pod["metadata"]["labels"].erase("pod-template-hash");
  EXPECT_EQ(OwningWorkload(pod)->kind, "ReplicaSet");
}

TEST(WorkloadForPodName, GuessesTheLongestMatchingWorkload) {
  NamespaceSnapshot ns;
  ns.deployments = {testing::Deployment("machine-controller-manager", {{"name", "a"}}),
                    testing::Deployment("machine-controller", {{"name", "b"}})};
  ns.statefulsets = {{{"metadata", {{"name", "etcd-main"}}}}};
  EXPECT_EQ(WorkloadForPodName("machine-controller-manager-6c8b9d7f5d-k2p9x", ns)->name,
            "machine-controller-manager");
  EXPECT_EQ(WorkloadForPodName("etcd-main-2", ns), (WorkloadRef{"StatefulSet", "etcd-main"}));
  EXPECT_FALSE(WorkloadForPodName("etcd-main-x", ns).has_value());
  EXPECT_FALSE(WorkloadForPodName("something-else-abc-def", ns).has_value());
}

TEST(LeaseRecord, ReadsEveryReferenceLease) {
  for (const char* file :
       {"seed-lease-machine-controller-manager.json", "seed-lease-machine-controller.json",
        "seed-lease-gardener-resource-manager.json", "shoot-lease-kube-controller-manager.json",
        "seed-lease-etcd-member-NOT-a-lock.json"}) {
    const auto lease = Reference(file);
    auto record = LeaseRecord(lease);
    ASSERT_TRUE(record.ok()) << file << ": " << record.error().message();
    EXPECT_EQ(record->holder, lease["spec"]["holderIdentity"].get<std::string>()) << file;
    EXPECT_EQ(record->lease_duration_seconds, lease["spec"]["leaseDurationSeconds"].get<int64_t>())
        << file;
    ASSERT_TRUE(record->renew_time.has_value()) << file;
    EXPECT_FALSE(IsStale(*record, ReferenceNow())) << file;
    EXPECT_TRUE(IsStale(*record, ReferenceNow() + std::chrono::minutes(5))) << file;
  }
  auto mcm = LeaseRecord(Reference("seed-lease-machine-controller-manager.json"));
  EXPECT_EQ(mcm->transitions, 7);
}

TEST(LeaseRecord, BadFieldsAreNamed) {
  auto lease = testing::Lease("x", "p", "2026-08-21T10:15:02.000000Z");
  lease["spec"]["renewTime"] = "last tuesday";
  auto record = LeaseRecord(lease);
  ASSERT_FALSE(record.ok());
  EXPECT_NE(record.error().message().find("renewTime"), std::string::npos);
  lease["spec"]["renewTime"] = nullptr;
  lease["spec"]["leaseDurationSeconds"] = "15";
  EXPECT_FALSE(LeaseRecord(lease).ok());
  lease["spec"] = nlohmann::json::object();
  lease["spec"]["holderIdentity"] = 42;
  EXPECT_FALSE(LeaseRecord(lease).ok());
  EXPECT_TRUE(LeaseRecord(nlohmann::json{{"metadata", {{"name", "x"}}}}).ok());
}

TEST(LeaderAnnotation, ParsesTheLegacyRecord) {
  const auto cm = Reference("legacy-configmap-lock.json");
  auto record =
      ParseLeaderAnnotation(cm["metadata"]["annotations"][kLeaderAnnotation].get<std::string>());
  ASSERT_TRUE(record.ok()) << record.error().message();
  EXPECT_EQ(record->holder,
            "legacy-controller-84b6f7d9c-m4r2s_0b9e7d3c-1a2f-4c5d-8e6f-9a0b1c2d3e4f");
  EXPECT_EQ(record->transitions, 2);  // "leaderTransitions", not "leaseTransitions"
  EXPECT_EQ(FormatTimestamp(*record->renew_time), "2021-03-02T11:02:55Z");
  EXPECT_TRUE(IsStale(*record, ReferenceNow()));
}

TEST(LeaderAnnotation, MalformedRecordsAreErrors) {
  for (const char* bad : {"", "{", "[]", "\"text\"", R"({"holderIdentity":1})",
                          R"({"holderIdentity":"a","renewTime":"soon"})",
                          R"({"holderIdentity":"a","leaderTransitions":"2"})"}) {
    EXPECT_FALSE(ParseLeaderAnnotation(bad).ok()) << bad;
  }
}

TEST(IsStale, RecordWithoutTimesIsStaleAndDurationDefaults) {
  LeaderRecord r;
  EXPECT_TRUE(IsStale(r, ReferenceNow()));
  r.renew_time = ReferenceNow() - std::chrono::seconds(kDefaultLeaseDurationSeconds - 1);
  EXPECT_FALSE(IsStale(r, ReferenceNow()));
  r.renew_time = ReferenceNow() - std::chrono::seconds(kDefaultLeaseDurationSeconds + 1);
  EXPECT_TRUE(IsStale(r, ReferenceNow()));
  r.lease_duration_seconds = 60;
  EXPECT_FALSE(IsStale(r, ReferenceNow()));
}

TEST(NotALock, EtcdMemberLeaseIsRecognisedByRule) {
  const Rules rules = DefaultRules();
  EXPECT_EQ(NotALock(Reference("seed-lease-etcd-member-NOT-a-lock.json"), rules),
            "etcd-druid member lease");
  // Without druid's labels, its name and holder form still give it away.
  auto unlabelled = Reference("seed-lease-etcd-member-NOT-a-lock.json");
  unlabelled["metadata"].erase("labels");
  EXPECT_EQ(NotALock(unlabelled, rules), "etcd-druid member lease");
  EXPECT_TRUE(NotALock(testing::Lease("etcd-main-full-snap", "1234", "2026-08-21T10:15:02Z"), rules)
                  .has_value());
  nlohmann::json identity = testing::Lease("kube-apiserver-abc", "kube-apiserver-abc_x", "");
  identity["metadata"]["labels"] = {{"apiserver.kubernetes.io/identity", "kube-apiserver"}};
  EXPECT_EQ(NotALock(identity, rules), "kube-apiserver identity lease");
  for (const char* file :
       {"seed-lease-machine-controller-manager.json", "seed-lease-machine-controller.json",
        "seed-lease-gardener-resource-manager.json", "shoot-lease-kube-controller-manager.json"}) {
    EXPECT_FALSE(NotALock(Reference(file), rules).has_value()) << file;
  }
  // An etcd-looking name held by a pod is a lock after all.
  EXPECT_FALSE(
      NotALock(testing::Lease("etcd-main-0", "etcd-main-0_abc", "2026-08-21T10:15:02Z"), rules));
}

TEST(ObserveLocks, ReferenceNamespace) {
  const NamespaceSnapshot ns = ReferenceNamespace();
  const Observation o = ObserveLocks(ns, DefaultRules(), ReferenceNow());
  ASSERT_EQ(o.excluded.size(), 1u);
  EXPECT_EQ(o.excluded[0].name, "etcd-main-0");
  EXPECT_TRUE(o.findings.empty());
  ASSERT_EQ(o.locks.size(), 4u);  // 3 seed leases + the legacy ConfigMap lock
  std::map<std::string, const ObservedLock*> by_name;
  for (const auto& l : o.locks) {
    by_name[l.name] = &l;
    EXPECT_EQ(l.namespace_name, kNamespace);
  }
  const ObservedLock& mcm = *by_name.at("machine-controller-manager");
  EXPECT_EQ(mcm.kind, LockKind::kLease);
  EXPECT_TRUE(mcm.holder_present);
  EXPECT_FALSE(mcm.stale);
  EXPECT_EQ(mcm.holder.form, HolderForm::kPodName);
  EXPECT_EQ(mcm.holder_workload, (WorkloadRef{"Deployment", "machine-controller-manager"}));
  EXPECT_EQ(by_name.at("machine-controller")->holder_workload, mcm.holder_workload);
  const ObservedLock& grm = *by_name.at("gardener-resource-manager");
  EXPECT_EQ(grm.holder.form, HolderForm::kPodWithId);
  EXPECT_EQ(grm.holder_workload, (WorkloadRef{"Deployment", "gardener-resource-manager"}));
  const ObservedLock& legacy = *by_name.at("legacy-controller-leader-election");
  EXPECT_EQ(legacy.kind, LockKind::kConfigMap);
  EXPECT_TRUE(legacy.stale);
  EXPECT_FALSE(legacy.holder_present);
  EXPECT_FALSE(legacy.holder_workload.has_value());
}

TEST(ObserveLocks, HolderGoneIsGuessedFromItsName) {
  NamespaceSnapshot ns = ReferenceNamespace();
  ns.pods.clear();
  const Observation o = ObserveLocks(ns, DefaultRules(), ReferenceNow());
  for (const auto& l : o.locks) {
    EXPECT_FALSE(l.holder_present) << l.name;
    if (l.name == "gardener-resource-manager") {
      EXPECT_EQ(l.holder_workload, (WorkloadRef{"Deployment", "gardener-resource-manager"}));
    }
  }
}

TEST(ObserveLocks, FinishedPodDoesNotHold) {
  NamespaceSnapshot ns = ReferenceNamespace();
  ns.pods[0]["status"]["phase"] = "Failed";
  const Observation o = ObserveLocks(ns, DefaultRules(), ReferenceNow());
  for (const auto& l : o.locks) {
    if (l.name == "machine-controller-manager") {
      EXPECT_FALSE(l.holder_present);
    }
  }
}

TEST(ObserveLocks, MalformedItemsAreFindingsAndTheRestGoesOn) {
  NamespaceSnapshot ns = ReferenceNamespace();
  nlohmann::json bad_cm = Reference("legacy-configmap-lock.json");
  bad_cm["metadata"]["name"] = "broken-lock";
  bad_cm["metadata"]["annotations"][kLeaderAnnotation] = "{not json";
  ns.configmaps.push_back(bad_cm);
  nlohmann::json bad_ep = {
      {"kind", "Endpoints"},
      {"metadata", {{"name", "old-endpoints-lock"}, {"annotations", {{kLeaderAnnotation, 7}}}}}};
  ns.endpoints.push_back(bad_ep);
  nlohmann::json good_ep = {
      {"kind", "Endpoints"},
      {"metadata",
       {{"name", "ep-lock"},
        {"annotations",
         {{kLeaderAnnotation,
           R"({"holderIdentity":"x-1","leaseDurationSeconds":15,"renewTime":"2026-08-21T10:15:00Z"})"}}}}}};
  ns.endpoints.push_back(good_ep);
  auto bad_lease = testing::Lease("bad-lease", "p", "2026-08-21T10:15:02Z");
  bad_lease["spec"]["leaseDurationSeconds"] = "forever";
  ns.leases.push_back(bad_lease);

  const Observation o = ObserveLocks(ns, DefaultRules(), ReferenceNow());
  ASSERT_EQ(o.findings.size(), 3u);
  for (const auto& f : o.findings) {
    EXPECT_EQ(f.severity, Severity::kError);
  }
  EXPECT_EQ(o.findings[0].subject, "leases/bad-lease");
  EXPECT_EQ(o.findings[1].subject, "configmaps/broken-lock");
  EXPECT_EQ(o.findings[2].subject, "endpoints/old-endpoints-lock");
  ASSERT_EQ(o.locks.size(), 5u);
  EXPECT_EQ(o.locks.back().kind, LockKind::kEndpoints);
  EXPECT_FALSE(o.locks.back().stale);
}

TEST(ObserveLocks, ObjectsWithoutTheAnnotationAreNotLocks) {
  NamespaceSnapshot ns;
  ns.name = kNamespace;
  ns.configmaps.push_back(Reference("seed-configmap-gardener-resource-manager.json"));
  ns.endpoints.push_back({{"metadata", {{"name", "kube-apiserver"}}}});
  EXPECT_TRUE(ObserveLocks(ns, DefaultRules(), ReferenceNow()).locks.empty());
}

}  // namespace
}  // namespace seedhop::auditor
