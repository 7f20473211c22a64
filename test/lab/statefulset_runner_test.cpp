// The lab's StatefulSet runner against the real emulator and real etcd processes: bootstrap,
// crash restarts, rolls, a learner joining, removal and scale-down, and name resolution through
// the pod's hosts file only.
#include "test/lab/statefulset_runner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <thread>

#include "common/etcd/client.h"
#include "common/http/client.h"
#include "common/kube/client.h"
#include "common/yaml/yaml_json.h"
#include "test/emulator/emulator.h"
#include "test/support/certs.h"
#include "test/support/exposition.h"
#include "test/support/kube_objects.h"

namespace seedhop::lab {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr char kNamespace[] = "shoot--my-project--my-shoot";
constexpr char kSts[] = "etcd-main";
const kube::ResourceRef kStatefulSets{"apps", "v1", "statefulsets", kNamespace};
using seedhop::testing::kNamespaces;

// Polls `condition` every 50 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 15000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

// Repeats `call` until it succeeds or `timeout` passes; returns the last result. etcd refuses
// reconfigurations for a few seconds after it starts and promotions until a learner caught up.
template <typename Call>
auto Eventually(Call call, std::chrono::milliseconds timeout = 15000ms) {
  auto result = call();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!result.ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    result = call();
  }
  return result;
}

// etcd-druid's StatefulSet (podManagementPolicy Parallel) with `replicas` pods from `start`.
json DruidStatefulSet(int replicas, int start = 0) {
  auto documents = yaml::ReadDocuments(std::string(SEEDHOP_SHARED_DIR) +
                                       "/reference/gardener/etcd-main-sts.druid.synth.yaml");
  EXPECT_TRUE(documents.ok() && !documents->empty());
  json sts = documents.ok() && !documents->empty() ? documents->front() : json::object();
  sts["metadata"].erase("ownerReferences");
  sts["spec"]["replicas"] = replicas;
  if (start != 0)
    sts["spec"]["ordinals"] = {{"start", start}};
  return sts;
}

// hostAliases entries resolving member `ordinal`'s peer names to its pod on seed `seed`.
json AliasFor(int seed, int ordinal) {
  const std::string host = PodPeerHost(kNamespace, kSts, ordinal);
  return {{"ip", PodAddress(seed, 0, ordinal)}, {"hostnames", {host, host + ".cluster.local"}}};
}

// One emulated seed: its API server and its runner, with every event recorded.
class Seed {
 public:
  explicit Seed(std::string root) : root_(std::move(root)) {
    EXPECT_TRUE(emulator_.Start().ok());
    client_ = std::make_unique<kube::Client>(emulator_.rest_config());
    json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNamespace}}}};
    EXPECT_TRUE(client_->Create(kNamespaces, ns).ok());
  }
  ~Seed() {
    runner_.reset();
    emulator_.Stop();
  }

  // Starts a runner for seed `index`; kConflict when another runner on this machine has it.
  Status StartRunner(int index, std::vector<int> lab_seeds, std::string etcd_binary = "") {
    RunnerOptions options;
    if (!etcd_binary.empty())
      options.etcd_binary = std::move(etcd_binary);
    options.rest = emulator_.rest_config();
    options.ns = kNamespace;
    options.statefulsets = {kSts};
    options.seed_index = index;
    options.lab_seeds = std::move(lab_seeds);
    options.work_dir = root_ + "/seed" + std::to_string(index);
    runner_ = std::make_unique<SeedRunner>(options, [this](const PodEvent& event) {
      std::lock_guard lock(mutex_);
      events_.push_back(event);
    });
    index_ = index;
    auto started = runner_->Start();
    if (!started.ok())
      runner_.reset();
    return started;
  }

  int index() const { return index_; }
  void StopRunner() { runner_.reset(); }
  SeedRunner& runner() { return *runner_; }
  kube::Client& client() { return *client_; }

  std::vector<PodEvent> Events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

  // "ordinal:kind" for every event of `kinds`, in order.
  std::vector<std::string> Trace(std::initializer_list<PodEventKind> kinds) const {
    std::vector<std::string> out;
    for (const auto& event : Events()) {
      if (std::find(kinds.begin(), kinds.end(), event.kind) != kinds.end())
        out.push_back(std::to_string(event.ordinal) + ":" + PodEventKindName(event.kind));
    }
    return out;
  }

  bool AllReady(int count) const {
    auto pods = runner_->Pods();
    return static_cast<int>(pods.size()) == count &&
           std::all_of(pods.begin(), pods.end(), [](const PodState& pod) { return pod.ready; });
  }

  // True when pod `ordinal` was held back for a reason containing `reason`.
  bool Waited(int ordinal, const std::string& reason) const {
    auto events = Events();
    return std::any_of(events.begin(), events.end(), [&](const PodEvent& event) {
      return event.ordinal == ordinal && event.kind == PodEventKind::kWaiting &&
             event.detail.find(reason) != std::string::npos;
    });
  }

  bool ReadyLearner(int ordinal) const {
    auto pod = runner_->Pod(kSts, ordinal);
    return pod && pod->ready && pod->learner;
  }

  json Patch(const json& patch) {
    auto patched = client_->Patch(kStatefulSets, kSts, kube::PatchType::kMerge, patch);
    EXPECT_TRUE(patched.ok()) << patched.error().message();
    return patched.ok() ? *patched : json();
  }

  // Everything the runner logged, for failure messages.
  std::string Dump() const {
    std::string out;
    for (const auto& event : Events()) {
      out += event.statefulset + "-" + std::to_string(event.ordinal) + " " +
             PodEventKindName(event.kind) + " " + event.detail + "\n";
    }
    return out;
  }

 private:
  const std::string root_;
  emulator::Emulator emulator_{emulator::EmulatorOptions{}};
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<SeedRunner> runner_;
  int index_ = -1;
  mutable std::mutex mutex_;
  std::vector<PodEvent> events_;
};

// An etcd client for the members with ordinals [0, count) on `seed`.
std::unique_ptr<etcd::Client> EtcdClient(int count, int seed) {
  std::vector<std::string> endpoints;
  for (int ordinal = 0; ordinal < count; ++ordinal)
    endpoints.push_back("http://" + PodAddress(seed, 0, ordinal) + ":2379");
  http::ClientOptions options;
  options.connect_timeout = 1000ms;
  options.request_timeout = 3000ms;
  return std::make_unique<etcd::Client>(endpoints, options);
}

bool Healthy(etcd::Client& client, int voters, int learners = 0) {
  auto health = client.CheckHealth();
  return health.ok() && health->voters == voters && health->healthy_voters == voters &&
         health->learners == learners;
}

// How many /health requests the etcd at `address` has answered healthy, from its own metrics
// (etcd_server_health_success, added in etcd 3.4: CHANGELOG-3.4.md, etcd-io/etcd#10156); -1 when
// it does not say.
double HealthChecksServed(const std::string& address) {
  http::Client client(http::ClientOptions{});
  auto response = client.Send({.url = "http://" + address + ":2379/metrics"});
  if (!response.ok() || response->status != 200)
    return -1;
  return testing::SampleValue(response->body, "etcd_server_health_success").value_or(-1);
}

// The position of the first `item` in `trace` at or after `from`; trace.size() when there is none.
size_t Find(const std::vector<std::string>& trace, const std::string& item, size_t from = 0) {
  auto it = std::find(trace.begin() + std::min(from, trace.size()), trace.end(), item);
  return static_cast<size_t>(it - trace.begin());
}

std::string ReadText(const std::string& path) {
  auto text = testing::ReadFile(path);
  return text.ok() ? *text : "";
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = seedhop::testing::MakeTempDir("seedhop-lab-runner-");
    ASSERT_TRUE(dir.ok()) << dir.error().message();
    root_ = *dir;
  }
  void TearDown() override {
    seeds_.clear();
    fs::remove_all(root_);
  }

  // `count` seeds with consecutive indexes that no other runner on this machine uses (ctest runs
  // tests in parallel, and other test runs may share the machine), each asking all of them for
  // member lists.
  std::vector<Seed*> AddSeeds(int count, const std::string& etcd_binary = "") {
    std::vector<Seed*> added;
    for (int i = 0; i < count; ++i) {
      seeds_.push_back(std::make_unique<Seed>(root_));
      added.push_back(seeds_.back().get());
    }
    for (int first = 0; first + count <= 200; first += count) {
      std::vector<int> indexes;
      for (int i = 0; i < count; ++i)
        indexes.push_back(first + i);
      bool all = true;
      for (int i = 0; i < count && all; ++i) {
        auto started = added[i]->StartRunner(indexes[i], indexes, etcd_binary);
        EXPECT_TRUE(started.ok() || started.error().code() == ErrorCode::kConflict)
            << started.error().message();
        all = started.ok();
      }
      if (all)
        return added;
      for (Seed* seed : added)
        seed->StopRunner();
    }
    ADD_FAILURE() << "no free seed indexes";
    return added;
  }

  // Creates the druid StatefulSet on `seed` and waits until its `replicas` pods are ready.
  void Bootstrap(Seed& seed, int replicas) {
    ASSERT_TRUE(seed.client().Create(kStatefulSets, DruidStatefulSet(replicas)).ok());
    ASSERT_TRUE(WaitFor([&] { return seed.AllReady(replicas); })) << seed.Dump();
  }

  std::string root_;
  std::vector<std::unique_ptr<Seed>> seeds_;
};

TEST(PodHosts, AnAliasHidesTheClusterDnsRecordOfTheSameName) {
  const json aliases = json::array({{{"ip", "127.0.0.1"}, {"hostnames", {"etcd-main-local"}}},
                                    {{"ip", "10.0.0.9"}, {"hostnames", {"b.svc"}}}});
  const std::string hosts = RenderPodHosts(
      "127.20.0.1", "a.peer.ns.svc.cluster.local", "a", aliases,
      {{"127.20.0.1", {"a.svc", "a.svc.cluster.local"}}, {"127.20.0.2", {"b.svc", "c.svc"}}});
  EXPECT_NE(hosts.find("127.20.0.1\ta.peer.ns.svc.cluster.local\ta\n"), std::string::npos);
  EXPECT_NE(hosts.find("127.0.0.1\tetcd-main-local\n"), std::string::npos);
  EXPECT_NE(hosts.find("10.0.0.9\tb.svc\n"), std::string::npos);
  EXPECT_EQ(hosts.find("127.20.0.2\tb.svc"), std::string::npos) << hosts;
  EXPECT_NE(hosts.find("127.20.0.2\tc.svc\n"), std::string::npos);
  EXPECT_NE(hosts.find("127.20.0.1\ta.svc.cluster.local\n"), std::string::npos);
  // Aliases come before the DNS records: a resolver reading top down meets the alias first.
  EXPECT_LT(hosts.find("10.0.0.9"), hosts.find("127.20.0.2"));
}

TEST(PodAddresses, AreDistinctPerSeedStatefulSetAndOrdinal) {
  EXPECT_EQ(PodAddress(0, 0, 0), "127.20.0.1");
  EXPECT_EQ(PodAddress(1, 2, 4), "127.21.2.5");
  EXPECT_EQ(PodPeerUrl(kNamespace, kSts, 3),
            "http://etcd-main-3.etcd-main-peer.shoot--my-project--my-shoot.svc:2380");
}

TEST_F(RunnerTest, FreshStatefulSetBootstrapsAClusterAndACrashedPodComesBack) {
  Seed& seed = *AddSeeds(1)[0];
  Bootstrap(seed, 3);
  auto etcd = EtcdClient(3, seed.index());
  ASSERT_TRUE(WaitFor([&] { return Healthy(*etcd, 3); })) << seed.Dump();
  ASSERT_TRUE(etcd->Put("k", "v").ok());

  // Status as the StatefulSet controller writes it.
  ASSERT_TRUE(WaitFor([&] {
    auto sts = seed.client().Get(kStatefulSets, kSts);
    return sts.ok() && (*sts)["status"].value("readyReplicas", 0) == 3;
  }));
  json sts = *seed.client().Get(kStatefulSets, kSts);
  EXPECT_EQ(sts["status"]["replicas"], 3);
  EXPECT_EQ(sts["status"]["updatedReplicas"], 3);
  EXPECT_EQ(sts["status"]["observedGeneration"], sts["metadata"]["generation"]);
  EXPECT_EQ(sts["status"]["currentRevision"], sts["status"]["updateRevision"]);

  // Every pod's hosts file: druid's alias and this seed's DNS records.
  auto pod = seed.runner().Pod(kSts, 1);
  ASSERT_TRUE(pod.has_value());
  const std::string hosts = ReadText(pod->hosts_path);
  EXPECT_NE(hosts.find("127.0.0.1\tetcd-main-local\n"), std::string::npos) << hosts;
  for (int ordinal = 0; ordinal < 3; ++ordinal) {
    EXPECT_NE(hosts.find(PodAddress(seed.index(), 0, ordinal) + "\t" +
                         PodPeerHost(kNamespace, kSts, ordinal) + "\n"),
              std::string::npos)
        << hosts;
  }
  const std::string seed_hosts = ReadText(seed.runner().SeedHostsPath());
  EXPECT_NE(seed_hosts.find(PodAddress(seed.index(), 0, 2) + "\t" +
                            PodPeerHost(kNamespace, kSts, 2) + ".cluster.local\n"),
            std::string::npos)
      << seed_hosts;
  EXPECT_EQ(seed_hosts.find("etcd-main-local"), std::string::npos);

  // A killed etcd restarts from its data, in the same pod.
  ASSERT_TRUE(seed.runner().KillPod(kSts, 1).ok());
  ASSERT_TRUE(WaitFor([&] {
    auto state = seed.runner().Pod(kSts, 1);
    return state && state->restarts == 1 && state->ready;
  })) << seed.Dump();
  EXPECT_EQ(seed.runner().Pod(kSts, 1)->template_hash, pod->template_hash);
  ASSERT_TRUE(WaitFor([&] { return Healthy(*etcd, 3); }));
  auto value = etcd->Get("k");
  ASSERT_TRUE(value.ok() && value->has_value());
  EXPECT_EQ(**value, "v");
  EXPECT_EQ(seed.runner().KillPod(kSts, 7).error().code(), ErrorCode::kNotFound);

  // A second runner for the same seed index would fight over the pod addresses.
  RunnerOptions twin;
  twin.ns = kNamespace;
  twin.statefulsets = {kSts};
  twin.seed_index = seed.index();
  twin.work_dir = root_ + "/twin";
  EXPECT_EQ(SeedRunner(twin).Start().error().code(), ErrorCode::kConflict);
}

// The pods of a fresh StatefulSet decide together that they bootstrap. The wrapper creates each
// member's data directory before its etcd starts, as a fast etcd does while the runner is still
// starting the next pod: the pods started after the first must not take that directory for an
// existing cluster's and wait for members that cannot answer without them.
TEST_F(RunnerTest, PodsOfAFreshStatefulSetBootstrapTogetherWhenTheFirstWritesItsDataAtOnce) {
  const std::string eager = root_ + "/etcd-writes-data-first";
  ASSERT_TRUE(
      testing::WriteFile(eager,
                         "#!/bin/sh\n"
                         "for arg; do case $arg in --data-dir=*)\n"
                         "  dir=${arg#--data-dir=}; mkdir -p -m 700 \"$dir\" \"$dir/member\";;\n"
                         "esac; done\n"
                         "exec " +
                             RunnerOptions{}.etcd_binary + " \"$@\"\n")
          .ok());
  fs::permissions(eager, fs::perms::owner_all);
  Seed& seed = *AddSeeds(1, eager)[0];
  Bootstrap(seed, 5);
  auto etcd = EtcdClient(5, seed.index());
  ASSERT_TRUE(WaitFor([&] { return Healthy(*etcd, 5); })) << seed.Dump();
  for (int ordinal = 0; ordinal < 5; ++ordinal)
    EXPECT_FALSE(seed.Waited(ordinal, "answer")) << seed.Dump();
}

// kubelet probes a ready pod every periodSeconds (5 s in druid's StatefulSet), and each of the
// runner's probes is a /health request, a raft round on the leader: a ready pod must not be
// probed on each of the runner's 200 ms passes.
TEST_F(RunnerTest, AReadyPodIsProbedEveryReadyProbePeriodNotOnEveryPass) {
  Seed& seed = *AddSeeds(1)[0];
  Bootstrap(seed, 1);
  const std::string address = PodAddress(seed.index(), 0, 0);
  const double before = HealthChecksServed(address);
  ASSERT_GE(before, 1) << "the probe that found the pod ready";
  std::this_thread::sleep_for(2s);  // ten of the runner's passes
  EXPECT_LE(HealthChecksServed(address) - before, 1) << seed.Dump();
}

TEST_F(RunnerTest, TemplateChangeRollsPodsHighestFirstEachAfterTheLastIsReady) {
  Seed& seed = *AddSeeds(1)[0];
  Bootstrap(seed, 3);
  auto etcd = EtcdClient(3, seed.index());
  ASSERT_TRUE(WaitFor([&] { return Healthy(*etcd, 3); }));
  const std::string old_revision = seed.runner().Pod(kSts, 0)->template_hash;

  json aliases = DruidStatefulSet(3)["spec"]["template"]["spec"]["hostAliases"];
  aliases.push_back({{"ip", "127.99.0.1"}, {"hostnames", {"new-alias"}}});
  seed.Patch({{"spec", {{"template", {{"spec", {{"hostAliases", aliases}}}}}}}});
  ASSERT_TRUE(WaitFor([&] {
    auto pods = seed.runner().Pods();
    return seed.AllReady(3) && std::none_of(pods.begin(), pods.end(), [&](const PodState& pod) {
             return pod.template_hash == old_revision;
           });
  })) << seed.Dump();

  // Replacements from the top, each after the one above is ready again. Readiness may flap while
  // leadership moves, so this checks the order of first occurrences, not the exact trace.
  auto trace = seed.Trace({PodEventKind::kDeleted, PodEventKind::kCreated, PodEventKind::kReady});
  const size_t deleted2 = Find(trace, "2:deleted");
  const size_t deleted1 = Find(trace, "1:deleted");
  const size_t deleted0 = Find(trace, "0:deleted");
  EXPECT_LT(Find(trace, "2:ready", Find(trace, "2:created", deleted2)), deleted1) << seed.Dump();
  EXPECT_LT(Find(trace, "1:ready", Find(trace, "1:created", deleted1)), deleted0) << seed.Dump();
  EXPECT_LT(Find(trace, "0:ready", Find(trace, "0:created", deleted0)), trace.size());
  for (int ordinal = 0; ordinal < 3; ++ordinal) {
    EXPECT_NE(ReadText(seed.runner().Pod(kSts, ordinal)->hosts_path).find("127.99.0.1\tnew-alias"),
              std::string::npos);
  }
  EXPECT_TRUE(WaitFor([&] { return Healthy(*etcd, 3); }));
  ASSERT_TRUE(WaitFor([&] {
    auto sts = seed.client().Get(kStatefulSets, kSts);
    return sts.ok() && (*sts)["status"].value("currentRevision", "") != old_revision &&
           (*sts)["status"].value("updatedReplicas", 0) == 3;
  }));
}

TEST_F(RunnerTest, AnAddedLearnerJoinsWhenItsPodStartsAndCanBePromoted) {
  Seed& seed = *AddSeeds(1)[0];
  Bootstrap(seed, 3);
  auto etcd = EtcdClient(4, seed.index());
  ASSERT_TRUE(WaitFor([&] { return Healthy(*etcd, 3); }));

  // A pod whose member the cluster does not list waits: the runner adds no members.
  seed.Patch({{"spec", {{"replicas", 4}}}});
  ASSERT_TRUE(WaitFor([&] { return seed.Waited(3, "not a member"); })) << seed.Dump();
  EXPECT_FALSE(seed.runner().Pod(kSts, 3)->running);
  EXPECT_NE(seed.runner().Pod(kSts, 3)->waiting.find("not a member"), std::string::npos);

  auto added = Eventually([&] { return etcd->MemberAdd({PodPeerUrl(kNamespace, kSts, 3)}, true); });
  ASSERT_TRUE(added.ok()) << added.error().message();
  ASSERT_TRUE(WaitFor([&] { return seed.ReadyLearner(3); })) << seed.Dump();
  EXPECT_EQ(seed.runner().Pod(kSts, 3)->waiting, "");
  auto promoted = Eventually([&] { return etcd->MemberPromote(added->id); });
  ASSERT_TRUE(promoted.ok()) << promoted.error().message();
  EXPECT_TRUE(WaitFor([&] { return Healthy(*etcd, 4); })) << seed.Dump();
}

TEST_F(RunnerTest, ARemovedMemberWaitsNotReadyAndScaleDownStopsTheTopPod) {
  Seed& seed = *AddSeeds(1)[0];
  Bootstrap(seed, 3);
  auto etcd = EtcdClient(3, seed.index());
  ASSERT_TRUE(WaitFor([&] { return Healthy(*etcd, 3); }));
  auto members = etcd->MemberList();
  ASSERT_TRUE(members.ok());
  uint64_t top = 0;
  for (const auto& member : *members) {
    if (member.name == "etcd-main-2")
      top = member.id;
  }
  ASSERT_NE(top, 0u);
  auto removed = Eventually([&] { return etcd->MemberRemove(top); });
  ASSERT_TRUE(removed.ok()) << removed.error().message();
  // Its etcd exits; the restarted container finds no member of its own and waits.
  ASSERT_TRUE(WaitFor([&] { return seed.Waited(2, "not a member"); })) << seed.Dump();
  EXPECT_FALSE(seed.runner().Pod(kSts, 2)->ready) << seed.Dump();
  EXPECT_TRUE(WaitFor([&] { return Healthy(*etcd, 2); }));

  seed.Patch({{"spec", {{"replicas", 2}}}});
  ASSERT_TRUE(WaitFor([&] { return !seed.runner().Pod(kSts, 2).has_value(); })) << seed.Dump();
  EXPECT_TRUE(seed.AllReady(2));
  EXPECT_FALSE(testing::AcceptsConnections(PodAddress(seed.index(), 0, 2), 2379));
  EXPECT_EQ(ReadText(seed.runner().SeedHostsPath()).find(PodPeerHost(kNamespace, kSts, 2)),
            std::string::npos);
  ASSERT_TRUE(WaitFor([&] {
    auto sts = seed.client().Get(kStatefulSets, kSts);
    return sts.ok() && (*sts)["status"].value("replicas", 0) == 2;
  }));
}

TEST_F(RunnerTest, OrderedReadyCreatesOnePodAtATimeAndDeletesFromTheTop) {
  Seed& seed = *AddSeeds(1)[0];
  json sts = DruidStatefulSet(1);
  sts["spec"]["podManagementPolicy"] = "OrderedReady";
  ASSERT_TRUE(seed.client().Create(kStatefulSets, sts).ok());
  auto etcd = EtcdClient(2, seed.index());
  ASSERT_TRUE(WaitFor([&] { return seed.AllReady(1) && Healthy(*etcd, 1); })) << seed.Dump();

  // Pod 1 is no member yet, so it never gets ready, and pod 2 waits for it.
  seed.Patch({{"spec", {{"replicas", 3}}}});
  ASSERT_TRUE(WaitFor([&] { return seed.Waited(1, "not a member"); })) << seed.Dump();
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(seed.runner().Pod(kSts, 2).has_value()) << seed.Dump();

  auto added = Eventually([&] { return etcd->MemberAdd({PodPeerUrl(kNamespace, kSts, 1)}, true); });
  ASSERT_TRUE(added.ok()) << added.error().message();
  ASSERT_TRUE(WaitFor([&] { return seed.runner().Pod(kSts, 2).has_value(); })) << seed.Dump();
  EXPECT_TRUE(seed.ReadyLearner(1));

  // Back to one pod: the top one goes first, then the next.
  seed.Patch({{"spec", {{"replicas", 1}}}});
  ASSERT_TRUE(WaitFor([&] { return seed.runner().Pods().size() == 1; })) << seed.Dump();
  auto trace = seed.Trace({PodEventKind::kCreated, PodEventKind::kReady, PodEventKind::kDeleted});
  EXPECT_LT(Find(trace, "1:ready"), Find(trace, "2:created")) << seed.Dump();
  EXPECT_LT(Find(trace, "2:deleted"), Find(trace, "1:deleted")) << seed.Dump();
  EXPECT_LT(Find(trace, "1:deleted"), trace.size());
  EXPECT_TRUE(Healthy(*etcd, 1, 1));
}

// Seed 1's pod for member 3 reaches seed 0's members only through hostAliases: without them it
// cannot resolve their names and never becomes ready; once its template has them, the roll gives
// the new pod a hosts file that does, and it joins.
TEST_F(RunnerTest, APodOnAnotherSeedJoinsOnlyThroughHostAliases) {
  auto seeds = AddSeeds(2);
  Seed& source = *seeds[0];
  Seed& target = *seeds[1];
  json sts = DruidStatefulSet(3);
  sts["spec"]["template"]["spec"]["hostAliases"].push_back(AliasFor(target.index(), 3));
  ASSERT_TRUE(source.client().Create(kStatefulSets, sts).ok());
  ASSERT_TRUE(WaitFor([&] { return source.AllReady(3); })) << source.Dump();
  auto etcd = EtcdClient(3, source.index());
  ASSERT_TRUE(WaitFor([&] { return Healthy(*etcd, 3); }));
  auto added = Eventually([&] { return etcd->MemberAdd({PodPeerUrl(kNamespace, kSts, 3)}, true); });
  ASSERT_TRUE(added.ok()) << added.error().message();

  ASSERT_TRUE(target.client().Create(kStatefulSets, DruidStatefulSet(1, 3)).ok());
  auto log_path = [&] {
    auto pod = target.runner().Pod(kSts, 3);
    return pod ? pod->log_path : "";
  };
  // It starts as a joining learner, fails to look the members' names up, and keeps failing.
  ASSERT_TRUE(WaitFor([&] {
    return ReadText(log_path()).find("lookup etcd-main-") != std::string::npos;
  })) << target.Dump();
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(target.runner().Pod(kSts, 3).has_value());
  EXPECT_FALSE(target.runner().Pod(kSts, 3)->ready) << target.Dump();

  json aliases = DruidStatefulSet(1)["spec"]["template"]["spec"]["hostAliases"];
  for (int ordinal = 0; ordinal < 3; ++ordinal)
    aliases.push_back(AliasFor(source.index(), ordinal));
  target.Patch({{"spec", {{"template", {{"spec", {{"hostAliases", aliases}}}}}}}});
  ASSERT_TRUE(WaitFor([&] { return target.ReadyLearner(3); })) << target.Dump();
  auto promoted = Eventually([&] { return etcd->MemberPromote(added->id); });
  ASSERT_TRUE(promoted.ok()) << promoted.error().message();
  // Member 3 advertises names the test process cannot resolve: it is asked through its address.
  EXPECT_TRUE(WaitFor([&] {
    auto health = etcd->CheckHealth();
    return health.ok() && health->voters == 4 && health->learners == 0;
  }));
  // The new member serves reads through its own address on seed 1.
  etcd::Client on_target({"http://" + PodAddress(target.index(), 0, 3) + ":2379"},
                         http::ClientOptions{});
  EXPECT_TRUE(WaitFor([&] { return on_target.Put("moved", "yes").ok(); }));
}

}  // namespace
}  // namespace seedhop::lab
