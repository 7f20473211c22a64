// The migrator's runtime against three API-server emulators (garden, source seed, target seed),
// without etcd pods: the state-copy steps, recording in status, halting after the step timeout,
// resume and abort through the real seedhop-migrator binary, and leader election. The etcd moves
// themselves are covered by test/lab with real etcd processes.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/kube/client.h"
#include "common/obs/metrics.h"
#include "migrator/leader.h"
#include "migrator/metrics.h"
#include "migrator/runner.h"
#include "test/emulator/emulator.h"
#include "test/support/certs.h"
#include "test/support/kube_objects.h"
#include "test/support/process.h"
#include "test/support/repo_manifest.h"

namespace seedhop::migrator {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kShootNs[] = "shoot--dev--a";
constexpr char kGardenNs[] = "garden-dev";
using seedhop::testing::kCrds;
using seedhop::testing::kNamespaces;

json Migration(int step_timeout_seconds) {
  json object = seedhop::testing::LiveMigrationObject({.garden_namespace = kGardenNs,
                                                       .name = "a",
                                                       .shoot_namespace = kShootNs,
                                                       .etcd = "etcd-main"});
  object["spec"]["stepTimeoutSeconds"] = step_timeout_seconds;
  return object;
}

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Per test process: ctest runs the tests of this file in parallel, and a kubeconfig they
    // shared would send one test's commands to another test's garden.
    auto dir = seedhop::testing::MakeTempDir("seedhop-runtime-test-");
    ASSERT_TRUE(dir.ok()) << dir.error().message();
    dir_ = *dir;
    for (auto* e : {&garden_emulator_, &source_emulator_, &target_emulator_})
      ASSERT_TRUE(e->Start().ok());
    garden_ = Connect(garden_emulator_);
    source_ = Connect(source_emulator_);
    target_ = Connect(target_emulator_);
    Must(garden_->Create(
        kCrds, seedhop::testing::RepoManifest("manifests/crds/garden/livemigrations.yaml")));
    Must(garden_->Create(kCrds, seedhop::testing::PreservingCrd("core.gardener.cloud", "v1beta1",
                                                                "ShootState", "shootstates")));
    Must(garden_->Create(kNamespaces, seedhop::testing::NamespaceObject(kGardenNs)));
    for (kube::Client* seed : {source_.get(), target_.get()}) {
      Must(seed->Create(kCrds, seedhop::testing::RepoManifest("manifests/crds/etcdplans.yaml")));
      Must(seed->Create(kNamespaces, seedhop::testing::NamespaceObject("garden")));
    }
    Must(source_->Create(kNamespaces, seedhop::testing::NamespaceObject(kShootNs)));
    json secret = {{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata", {{"name", "ca"}, {"labels", {{"persist", "true"}}}}},
                   {"data", {{"ca.crt", "c2VjcmV0LXZhbHVl"}}}};
    Must(source_->Create({"", "v1", "secrets", kShootNs}, secret));
  }

  void TearDown() override {
    for (auto* e : {&garden_emulator_, &source_emulator_, &target_emulator_})
      e->Stop();
    if (!dir_.empty())
      std::filesystem::remove_all(dir_);
  }

  static std::unique_ptr<kube::Client> Connect(emulator::Emulator& emulator) {
    kube::ClientOptions options;
    options.max_attempts = 2;
    return std::make_unique<kube::Client>(emulator.rest_config(), options);
  }

  static void Must(const Result<json>& result) {
    ASSERT_TRUE(result.ok()) << result.error().message();
  }

  RunnerOptions Options(Side role) {
    RunnerOptions options;
    options.access.role = role;
    options.access.garden = garden_.get();
    options.access.seed = role == Side::kSource ? source_.get() : target_.get();
    options.access.etcd_client_url = "http://127.0.0.1:1/{pod}";
    options.seed_name = role == Side::kSource ? "eu1" : "eu2";
    options.identity = std::string(SideName(role)) + "-0";
    options.poll_interval = 100ms;
    options.metrics = &migrator_metrics_;
    return options;
  }

  json Object() {
    auto object = garden_->Get(LiveMigrations(kGardenNs), "a");
    EXPECT_TRUE(object.ok());
    return object.ok() ? *object : json();
  }

  SideStatus StatusOf(Side side) {
    auto status = ParseSideStatus(Object(), side);
    EXPECT_TRUE(status.ok());
    return status.ok() ? *status : SideStatus{};
  }

  // Waits until `predicate` holds for the LiveMigration, up to 20 s.
  bool WaitFor(const std::function<bool(const json&)>& predicate) {
    for (int i = 0; i < 200; ++i) {
      if (predicate(Object()))
        return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  // Runs the real binary with `args` plus the garden kubeconfig; returns its exit code and
  // stdout.
  std::pair<int, std::string> Cli(const std::string& args) {
    std::string kubeconfig = dir_ + "/garden-kubeconfig";
    EXPECT_TRUE(garden_emulator_.WriteKubeconfig(kubeconfig).ok());
    std::string command = std::string(SEEDHOP_BINARY_DIR) + "/migrator/seedhop-migrator " + args +
                          " --garden-kubeconfig " + kubeconfig + " 2>&1";
    return testing::RunShell(command);
  }

  // From now on, `change` runs on the garden's stored LiveMigration right before each PATCH of
  // it is served: a write that lands between a command's read and its patch, every time.
  void ChangeBeforeEachPatch(std::function<void(json&)> change) {
    std::lock_guard lock(before_patch_mutex_);
    before_patch_ = std::move(change);
  }

  int patches_seen() {
    std::lock_guard lock(before_patch_mutex_);
    return patches_seen_;
  }

  std::string dir_;
  std::mutex before_patch_mutex_;
  std::function<void(json&)> before_patch_;
  int patches_seen_ = 0;

  emulator::Emulator garden_emulator_{{.before_request = [this](const http::Request& request) {
    if (request.method != "PATCH" || !request.path.ends_with("/livemigrations/a"))
      return;
    std::lock_guard lock(before_patch_mutex_);
    ++patches_seen_;
    if (!before_patch_)
      return;
    // The emulator's storage key: group/resource (ResourceInfo::StorageKey).
    const std::string key = "seedhop.io/livemigrations";
    auto& store = garden_emulator_.api().store();
    auto stored = store.Get(key, kGardenNs, "a");
    ASSERT_TRUE(stored.ok());
    json changed = (*stored)->object;
    before_patch_(changed);
    ASSERT_TRUE(store.Update(key, std::move(changed)).ok());
  }}};
  emulator::Emulator source_emulator_{{}};
  emulator::Emulator target_emulator_{{}};
  std::unique_ptr<kube::Client> garden_, source_, target_;
  obs::Metrics metrics_;
  MigratorMetrics migrator_metrics_{metrics_};
};

TEST_F(RuntimeTest, CopiesStateRecordsHistoryAndHaltsAtAnUnreachableEtcd) {
  Must(garden_->Create(LiveMigrations(kGardenNs), Migration(2)));
  std::atomic<bool> stop{false};
  Status source_result = OkStatus(), target_result = OkStatus();
  std::thread source(
      [&] { source_result = RunMigration(Options(Side::kSource), kGardenNs, "a", stop); });
  std::thread target(
      [&] { target_result = RunMigration(Options(Side::kTarget), kGardenNs, "a", stop); });

  // Steps 0-3 (labels and the state copy) complete; step 4, the first etcd step, cannot pass its
  // pre-check (no etcd pod answers) and halts its owner after the 2 s step timeout.
  bool halted = WaitFor([](const json& o) {
    auto s = ParseSideStatus(o, Side::kSource);
    auto t = ParseSideStatus(o, Side::kTarget);
    return s.ok() && s->phase == Phase::kHalted && t.ok() &&
           t->message.find("(it is halted:") != std::string::npos;
  });
  stop = true;
  source.join();
  target.join();
  ASSERT_TRUE(halted) << Object().dump(2);
  EXPECT_TRUE(source_result.ok());
  EXPECT_TRUE(target_result.ok());

  SideStatus s = StatusOf(Side::kSource);
  SideStatus t = StatusOf(Side::kTarget);
  EXPECT_EQ(std::max(s.completed_steps, t.completed_steps), 4);
  EXPECT_EQ(s.current_step, 4);
  EXPECT_NE(s.message.find("halted after 2s: before step etcd-main:"), std::string::npos)
      << s.message;
  ASSERT_FALSE(s.history.empty());
  EXPECT_EQ(s.history.front().name, "label-namespace (source)");
  EXPECT_EQ(s.history.front().result, "Succeeded");
  EXPECT_FALSE(s.history.front().finished.empty());
  EXPECT_EQ(s.history.back().result, "Failed");
  EXPECT_EQ(t.phase, Phase::kWaiting);
  EXPECT_NE(t.message.find("(it is halted: halted after 2s"), std::string::npos) << t.message;
  EXPECT_EQ(s.holder, "source-0");

  // What the steps did: both namespaces labelled for the webhook, the secret copied, and the
  // secret's value nowhere in the LiveMigration.
  for (kube::Client* seed : {source_.get(), target_.get()}) {
    auto ns = seed->Get(kNamespaces, kShootNs);
    ASSERT_TRUE(ns.ok());
    EXPECT_EQ(ns->at("metadata").at("labels").value(kMigratingLabel, ""), "true");
  }
  // Each seed holds its StatefulSet's shape before its label routes it through the webhook: the
  // steady size on the source, nothing on the target.
  for (auto [seed, replicas] : {std::pair{source_.get(), 3}, {target_.get(), 0}}) {
    auto plan = seed->Get({"seedhop.io", "v1alpha1", "etcdplans", kShootNs}, "etcd-main");
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ((*plan)["spec"]["replicas"], replicas);
  }
  auto copied = target_->Get({"", "v1", "secrets", kShootNs}, "ca");
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ((*copied)["data"]["ca.crt"], "c2VjcmV0LXZhbHVl");
  EXPECT_EQ(Object().dump().find("c2VjcmV0LXZhbHVl"), std::string::npos);

  // The metrics say where it stands.
  std::string exposition = metrics_.Serialize();
  EXPECT_NE(exposition.find(
                "seedhop_migrator_halted{role=\"source\",shoot_namespace=\"shoot--dev--a\"} 1"),
            std::string::npos)
      << exposition;
  // The plan's size carries the same labels as the progress, so that completed / steps divides.
  EXPECT_NE(
      exposition.find("seedhop_migrator_steps{role=\"source\",shoot_namespace=\"shoot--dev--a\"} "),
      std::string::npos);
  EXPECT_NE(exposition.find("seedhop_migrator_step_duration_seconds_count{kind=\"export-state\","
                            "role=\"source\"} 1"),
            std::string::npos);
  // No roll happened; the counter is there at 0, so that increase() sees the first move.
  for (const char* outcome : {"moved", "failed"}) {
    EXPECT_NE(exposition.find("seedhop_migrator_etcd_leadership_moves_total{outcome=\"" +
                              std::string(outcome) + "\",role=\"source\"} 0"),
              std::string::npos)
        << exposition;
  }

  // The operator's view, through the real binary: halted exits 1 and says how to go on.
  auto [code, text] = Cli("status -n garden-dev a");
  EXPECT_EQ(code, 1) << text;
  EXPECT_NE(text.find("   4 HALTED   etcd-main:"), std::string::npos) << text;
  EXPECT_NE(text.find("seedhop-migrator resume -n garden-dev a"), std::string::npos);

  // Abort is refused past the point of no return...
  Must(garden_->Update(
      LiveMigrations(kGardenNs),
      [&] {
        json o = Object();
        o["status"]["source"]["completedSteps"] = 5;
        return o;
      }(),
      "status"));
  auto [refused, why] = Cli("abort -n garden-dev a");
  EXPECT_EQ(refused, 1);
  EXPECT_NE(why.find("abort refused"), std::string::npos) << why;

  // ...and resume raises the request a halted side waits for.
  auto [resumed, said] = Cli("resume -n garden-dev a");
  EXPECT_EQ(resumed, 0) << said;
  EXPECT_EQ(Object()["spec"]["resumeRequest"], 1);
}

TEST_F(RuntimeTest, ResumeRetriesTheHaltedStep) {
  Must(garden_->Create(LiveMigrations(kGardenNs), Migration(1)));
  std::atomic<bool> stop{false};
  std::thread source([&] { (void)RunMigration(Options(Side::kSource), kGardenNs, "a", stop); });
  std::thread target([&] { (void)RunMigration(Options(Side::kTarget), kGardenNs, "a", stop); });
  auto halted_with = [](int64_t resume) {
    return [resume](const json& o) {
      auto s = ParseSideStatus(o, Side::kSource);
      return s.ok() && s->phase == Phase::kHalted && s->observed_resume_request == resume;
    };
  };
  bool first = WaitFor(halted_with(0));
  auto [code, text] = Cli("resume -n garden-dev a");
  bool second = WaitFor(halted_with(1));
  stop = true;
  source.join();
  target.join();
  ASSERT_TRUE(first);
  EXPECT_EQ(code, 0) << text;
  ASSERT_TRUE(second) << Object().dump(2);
  int resumed = 0, failed = 0;
  for (const HistoryEntry& entry : StatusOf(Side::kSource).history) {
    resumed += entry.result == "Resumed";
    failed += entry.result == "Failed";
  }
  EXPECT_EQ(resumed, 1);
  EXPECT_EQ(failed, 2);
}

TEST_F(RuntimeTest, ResumeDecidesAgainWhenTheMigrationChangedSinceItWasRead) {
  Must(garden_->Create(LiveMigrations(kGardenNs), Migration(600)));
  // Another operator's resume lands first, once: ours must count on top of it, not overwrite it.
  bool changed_once = false;
  ChangeBeforeEachPatch([&](json& o) {
    if (!changed_once)
      o["spec"]["resumeRequest"] = 1;
    changed_once = true;
  });
  auto [code, text] = Cli("resume -n garden-dev a");
  EXPECT_EQ(code, 0) << text;
  EXPECT_EQ(patches_seen(), 2);
  EXPECT_EQ(Object()["spec"]["resumeRequest"], 2) << text;
}

TEST_F(RuntimeTest, AbortDecidesAgainAndRefusesWhenTheMoveStartedMeanwhile) {
  Must(garden_->Create(LiveMigrations(kGardenNs), Migration(600)));
  // Between the command's read and its patch the source reaches the etcd move.
  ChangeBeforeEachPatch([](json& o) { o["status"]["source"]["completedSteps"] = 5; });
  auto [code, text] = Cli("abort -n garden-dev a");
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("abort refused"), std::string::npos) << text;
  EXPECT_EQ(patches_seen(), 1);
  EXPECT_FALSE(Object()["spec"].contains("abortRequested")) << Object().dump(2);
}

TEST_F(RuntimeTest, ACommandThatKeepsLosingTheRaceGivesUpWithoutWriting) {
  Must(garden_->Create(LiveMigrations(kGardenNs), Migration(600)));
  ChangeBeforeEachPatch([](json& o) {
    o["metadata"]["annotations"]["example.com/writes"] = std::to_string(
        std::stoi(
            o["metadata"].value("annotations", json::object()).value("example.com/writes", "0")) +
        1);
  });
  auto [code, text] = Cli("resume -n garden-dev a");
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("changed by someone else 5 times in a row; nothing written"),
            std::string::npos)
      << text;
  EXPECT_EQ(patches_seen(), 5);
  json object = Object();
  EXPECT_FALSE(object["spec"].contains("resumeRequest")) << object.dump(2);
  EXPECT_EQ(object["metadata"]["annotations"]["example.com/writes"], "5");
}

TEST_F(RuntimeTest, AnOperatorCommandReportsItsRetriesOnStderr) {
  // A garden that was there when the kubeconfig was written and is gone now: every read fails
  // to connect and is retried.
  emulator::Emulator gone({});
  ASSERT_TRUE(gone.Start().ok());
  std::string kubeconfig = dir_ + "/gone-kubeconfig";
  ASSERT_TRUE(gone.WriteKubeconfig(kubeconfig).ok());
  gone.Stop();
  auto [code, text] = testing::RunShell(std::string(SEEDHOP_BINARY_DIR) +
                                        "/migrator/seedhop-migrator status -n garden-dev a "
                                        "--garden-kubeconfig " +
                                        kubeconfig + " 2>&1");
  EXPECT_EQ(code, 1) << text;
  EXPECT_NE(text.find("\"msg\":\"retrying Kubernetes API request\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"request\":\"get livemigrations.seedhop.io garden-dev/a\""),
            std::string::npos)
      << text;
}

TEST_F(RuntimeTest, AbortBeforeTheEtcdMoveUndoesBothSeeds) {
  // Only the source runs at first: it labels and exports, then waits for the target's import.
  Must(garden_->Create(LiveMigrations(kGardenNs), Migration(600)));
  std::atomic<bool> stop{false};
  Status source_result = Error(ErrorCode::kInternal, "not run");
  std::thread source(
      [&] { source_result = RunMigration(Options(Side::kSource), kGardenNs, "a", stop); });
  bool waiting = WaitFor([](const json& o) {
    auto s = ParseSideStatus(o, Side::kSource);
    return s.ok() && s->phase == Phase::kWaiting && s->completed_steps == 2;
  });
  auto [code, text] = Cli("abort -n garden-dev a");
  source.join();  // returns once aborted
  ASSERT_TRUE(waiting) << Object().dump(2);
  EXPECT_EQ(code, 0) << text;
  EXPECT_TRUE(source_result.ok());
  EXPECT_EQ(StatusOf(Side::kSource).phase, Phase::kAborted);
  auto ns = source_->Get(kNamespaces, kShootNs);
  ASSERT_TRUE(ns.ok());
  EXPECT_FALSE(ns->at("metadata").value("labels", json::object()).contains(kMigratingLabel));

  // The target, started later, sees the abort and does nothing else.
  Status target_result = RunMigration(Options(Side::kTarget), kGardenNs, "a", stop);
  EXPECT_TRUE(target_result.ok());
  EXPECT_EQ(StatusOf(Side::kTarget).phase, Phase::kAborted);
  EXPECT_EQ(target_->Get(kNamespaces, kShootNs).error().code(), ErrorCode::kNotFound);
}

TEST_F(RuntimeTest, RefusesAMigrationOfAnotherSeed) {
  Must(garden_->Create(LiveMigrations(kGardenNs), Migration(600)));
  RunnerOptions options = Options(Side::kSource);
  options.seed_name = "eu3";
  std::atomic<bool> stop{false};
  Status result = RunMigration(options, kGardenNs, "a", stop);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message(),
            "livemigration garden-dev/a: spec.source.seed is eu1, not this seed (eu3)");
}

TEST_F(RuntimeTest, OneLeaderAtATimeAndTakeoverAfterTheLeaseRunsOut) {
  LeaderOptions options;
  options.namespace_name = "garden";
  options.lease_name = "seedhop-migrator-source";
  options.lease_duration = 2s;
  options.renew_interval = 500ms;
  options.identity = "a";
  LeaderElector a(source_.get(), options);
  options.identity = "b";
  LeaderElector b(source_.get(), options);
  auto a_first = a.TryAcquireOrRenew();
  auto b_first = b.TryAcquireOrRenew();
  ASSERT_TRUE(a_first.ok() && b_first.ok());
  EXPECT_TRUE(*a_first);
  EXPECT_FALSE(*b_first);
  EXPECT_TRUE(a.IsLeader());
  EXPECT_FALSE(b.IsLeader());
  // While a renews, b never takes over.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(500ms);
    ASSERT_TRUE(*a.TryAcquireOrRenew());
    ASSERT_FALSE(*b.TryAcquireOrRenew());
  }
  // a stops renewing: b takes over once the record stayed unchanged for a lease duration, and a
  // no longer considers itself leader by then.
  bool took_over = false;
  for (int i = 0; i < 12 && !took_over; ++i) {
    std::this_thread::sleep_for(500ms);
    took_over = *b.TryAcquireOrRenew();
  }
  EXPECT_TRUE(took_over);
  EXPECT_FALSE(a.IsLeader());
  auto lease =
      source_->Get({"coordination.k8s.io", "v1", "leases", "garden"}, "seedhop-migrator-source");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
}

}  // namespace
}  // namespace seedhop::migrator
