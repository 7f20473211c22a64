#include "test/lab/lab.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "common/encoding/base64.h"
#include "common/http/client.h"
#include "common/kube/client.h"
#include "common/kube/kubeconfig.h"
#include "common/yaml/yaml_json.h"
#include "migrator/flow.h"
#include "migrator/live_migration.h"
#include "migrator/runner.h"
#include "test/lab/link_proxy.h"
#include "test/lab/statefulset_runner.h"
#include "test/lab/traffic.h"
#include "test/support/certs.h"
#include "test/support/kube_objects.h"
#include "test/support/process.h"

namespace seedhop::lab {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr char kShootNs[] = "shoot--lab--demo";
constexpr char kGardenNs[] = "garden-lab";
constexpr char kShoot[] = "demo";
constexpr char kEtcd[] = "etcd-main";
constexpr char kDnsRecord[] = "demo-internal";
constexpr int kSeeds = 2;  // 0: source, 1: target
// Slow writes due at most this far apart make one burst: a restart or a reconfiguration holds up
// the writes in flight for tens of milliseconds, and the pods of a roll restart 300 ms or more
// apart, so one burst is one event.
constexpr std::chrono::milliseconds kBurstGap{100};
// Ordinals the lab gives addresses for: the safe plan for n = 5 uses 0..9 (docs/migrator.md).
constexpr int kAddressedOrdinals = 10;
const char* const kSeedNames[kSeeds] = {"lab-source", "lab-target"};
const char* const kRoles[kSeeds] = {"source", "target"};

using seedhop::testing::kCrds;
using seedhop::testing::kNamespaces;
const kube::ResourceRef kWebhookConfigs{"admissionregistration.k8s.io", "v1",
                                        "mutatingwebhookconfigurations", ""};
const kube::ResourceRef kStatefulSets{"apps", "v1", "statefulsets", kShootNs};
const kube::ResourceRef kDeployments{"apps", "v1", "deployments", kShootNs};
const kube::ResourceRef kDnsRecords{"extensions.gardener.cloud", "v1alpha1", "dnsrecords",
                                    kShootNs};

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  close(fd);
  return port;
}

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The StatefulSet as etcd-druid writes it on every reconcile (labels, selector, Parallel pods,
// the one hostAlias it owns): etcd-druid internal/component/statefulset/builder.go. Only what the
// lab's runner and the webhook read is filled in.
json DruidStatefulSet(int replicas) {
  json labels = {{"app.kubernetes.io/managed-by", "etcd-druid"},
                 {"app.kubernetes.io/part-of", kEtcd},
                 {"app.kubernetes.io/component", "etcd-statefulset"},
                 {"app.kubernetes.io/name", kEtcd}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", {{"name", kEtcd}, {"namespace", kShootNs}, {"labels", labels}}},
          {"spec",
           {{"replicas", replicas},
            {"podManagementPolicy", "Parallel"},
            {"updateStrategy", {{"type", "RollingUpdate"}}},
            {"serviceName", std::string(kEtcd) + "-peer"},
            {"selector",
             {{"matchLabels",
               {{"app.kubernetes.io/managed-by", "etcd-druid"},
                {"app.kubernetes.io/part-of", kEtcd}}}}},
            {"template",
             {{"metadata", {{"labels", labels}}},
              {"spec",
               {{"hostAliases",
                 {{{"ip", "127.0.0.1"}, {"hostnames", {std::string(kEtcd) + "-local"}}}}},
                {"containers",
                 {{{"name", "etcd"},
                   {"image", "europe-docker.pkg.dev/gardener-project/etcd-wrapper"}}}}}}}}}}};
}

// The shoot's internal API DNSRecord as gardenlet writes it on the seed that runs the control plane
// (gardener/gardener pkg/component/shoot/dnsrecord), pointing at the source's ingress.
json DnsRecord() {
  return {{"apiVersion", "extensions.gardener.cloud/v1alpha1"},
          {"kind", "DNSRecord"},
          {"metadata", {{"name", kDnsRecord}}},
          {"spec",
           {{"type", "local"},
            {"name", "api.demo.lab.internal.example.com"},
            {"recordType", "A"},
            {"values", {"10.0.1.1"}},
            {"ttl", 120}}}};
}

struct Process {
  pid_t pid = -1;
  std::string log;
};

struct LeadershipMoves {
  int64_t moved = 0;
  int64_t failed = 0;
};

// Sums seedhop_migrator_etcd_leadership_moves_total by outcome in a Prometheus text exposition.
LeadershipMoves CountLeadershipMoves(const std::string& exposition) {
  constexpr std::string_view kCounter = "seedhop_migrator_etcd_leadership_moves_total{";
  LeadershipMoves moves;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    const size_t value_at = line.rfind(' ');
    if (!line.starts_with(kCounter) || value_at == std::string::npos)
      continue;
    const auto count = static_cast<int64_t>(std::strtod(line.c_str() + value_at + 1, nullptr));
    if (line.find("outcome=\"moved\"") != std::string::npos)
      moves.moved += count;
    else if (line.find("outcome=\"failed\"") != std::string::npos)
      moves.failed += count;
  }
  return moves;
}

class Lab {
 public:
  Lab(const LabOptions& options, std::ostream& progress) : options_(options), out_(progress) {}
  ~Lab() { TearDown(); }

  Status SetUp();
  LabReport Run();
  const std::string& work_dir() const { return work_; }

 private:
  Status StartEmulator(int index, const std::string& name);
  Status StartWebhook(int seed);
  Status WriteShoot();
  Status StartMigrator(int seed);
  // SIGKILLs the migrator of `seed`, keeping the leadership moves it was last seen to count.
  void StopMigrator(int seed);
  // Reads the leadership moves each running migrator counts from its /metrics.
  void ScrapeLeadershipMoves();
  void DruidLoop();
  void Reconcile(int seed);
  std::map<int, std::string> PodUrls() const;
  json LiveMigration() const;
  void TearDown();
  void Say(const std::string& line) {
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "[%7.1fs] ", Seconds(Clock::now() - started_));
    out_ << stamp << line << "\n" << std::flush;
  }

  const LabOptions& options_;
  std::ostream& out_;
  Clock::time_point started_ = Clock::now();
  std::string work_;
  // 0: garden, 1: source seed, 2: target seed.
  Process emulators_[3];
  std::string kubeconfigs_[3];
  std::unique_ptr<kube::Client> clients_[3];
  Process webhooks_[kSeeds];
  Process migrators_[kSeeds];
  int migrator_ports_[kSeeds] = {0, 0};
  std::unique_ptr<SeedRunner> runners_[kSeeds];
  std::unique_ptr<LinkProxy> link_;
  std::atomic<bool> stop_druid_{false};
  std::thread druid_;
  // From the runners' pod events: pods deleted while their etcd led the cluster, and when a
  // pod's etcd process started.
  std::mutex pod_events_mutex_;
  std::vector<std::string> leaders_stopped_;
  std::vector<Clock::time_point> etcd_starts_;
  // seedhop_migrator_etcd_leadership_moves_total by outcome: each running migrator's count as
  // last scraped, and what migrators stopped since had counted.
  LeadershipMoves moves_scraped_[kSeeds];
  LeadershipMoves moves_of_stopped_;
  // Scrapes the migrators' /metrics, keeping a connection to each between steps.
  http::Client metrics_client_{http::ClientOptions{}};

  kube::Client& garden() { return *clients_[0]; }
  kube::Client& seed(int s) { return *clients_[1 + s]; }
};

Status Lab::StartEmulator(int index, const std::string& name) {
  kubeconfigs_[index] = work_ + "/" + name + ".kubeconfig";
  emulators_[index].log = work_ + "/" + name + ".log";
  testing::ProcessSpec spec;
  spec.argv = {options_.binary_dir + "/test/emulator/seedhop-emulator", "--port",
               std::to_string(FreePort()), "--kubeconfig-out", kubeconfigs_[index]};
  spec.log_path = emulators_[index].log;
  auto pid = testing::SpawnProcess(spec);
  if (!pid.ok())
    return pid.error().Wrap(name);
  emulators_[index].pid = *pid;
  for (int i = 0; i < 100 && !std::filesystem::exists(kubeconfigs_[index]); ++i)
    std::this_thread::sleep_for(50ms);
  auto config = kube::LoadKubeconfig(kubeconfigs_[index]);
  if (!config.ok())
    return config.error().Wrap(name + ": " + testing::FileTail(emulators_[index].log, 500));
  kube::ClientOptions client_options;
  client_options.max_attempts = 3;
  clients_[index] = std::make_unique<kube::Client>(*config, client_options);
  for (int i = 0; i < 100; ++i) {
    if (clients_[index]->List(kNamespaces).ok())
      return OkStatus();
    std::this_thread::sleep_for(50ms);
  }
  return Error(ErrorCode::kUnavailable, name + ": the emulator does not answer");
}

Status Lab::StartWebhook(int s) {
  std::string dir = work_ + "/webhook-" + kRoles[s];
  std::filesystem::create_directories(dir);
  testing::CertPair ca = testing::MakeCa("seedhop-lab-ca");
  testing::CertPair leaf = testing::MakeLeaf(ca, "seedhop-webhook", {"127.0.0.1"});
  for (auto [file, content] : {std::pair{"/tls.crt", leaf.cert_pem}, {"/tls.key", leaf.key_pem}}) {
    if (Status written = testing::WriteFile(dir + file, content); !written.ok())
      return written;
  }
  int port = FreePort();
  testing::ProcessSpec spec;
  spec.argv = {options_.binary_dir + "/webhook/seedhop-webhook",
               "--address",
               "127.0.0.1",
               "--port",
               std::to_string(port),
               "--kubeconfig",
               kubeconfigs_[1 + s],
               "--cert-file",
               dir + "/tls.crt",
               "--key-file",
               dir + "/tls.key",
               "--log-level",
               "warn"};
  spec.log_path = dir + "/webhook.log";
  webhooks_[s].log = spec.log_path;
  auto pid = testing::SpawnProcess(spec);
  if (!pid.ok())
    return pid.error().Wrap("seedhop-webhook");
  webhooks_[s].pid = *pid;
  http::ClientOptions tls;
  tls.ca_pem = ca.cert_pem;
  http::Client probe(tls);
  bool ready = false;
  for (int i = 0; i < 200 && !ready; ++i) {
    http::ClientRequest request;
    request.url = "https://127.0.0.1:" + std::to_string(port) + "/readyz";
    auto response = probe.Send(request);
    ready = response.ok() && response->status == 200;
    if (!ready)
      std::this_thread::sleep_for(50ms);
  }
  if (!ready)
    return Error(ErrorCode::kUnavailable,
                 "seedhop-webhook not ready: " + testing::FileTail(webhooks_[s].log, 500));
  // The shipped registration, pointed at this process instead of the in-cluster Service.
  auto documents = yaml::ReadDocuments(options_.source_dir +
                                       "/manifests/webhook/mutatingwebhookconfiguration.yaml");
  if (!documents.ok())
    return documents.error();
  json configuration = (*documents)[0];
  for (auto& hook : configuration["webhooks"]) {
    hook["clientConfig"] = {{"url", "https://127.0.0.1:" + std::to_string(port) + "/mutate"},
                            {"caBundle", encoding::Base64Encode(ca.cert_pem)}};
  }
  auto created = seed(s).Create(kWebhookConfigs, configuration);
  return created.ok() ? OkStatus() : Status(created.error());
}

Status Lab::SetUp() {
  work_ = options_.work_dir;
  if (work_.empty()) {
    auto work = testing::MakeTempDir("seedhop-lab.");
    if (!work.ok())
      return work.error().Wrap("work directory");
    work_ = *work;
  }
  std::filesystem::create_directories(work_);
  Say("work directory " + work_);
  const char* names[3] = {"garden", "seed-source", "seed-target"};
  for (int i = 0; i < 3; ++i) {
    if (Status started = StartEmulator(i, names[i]); !started.ok())
      return started;
  }
  auto lm_crd =
      yaml::ReadDocuments(options_.source_dir + "/manifests/crds/garden/livemigrations.yaml");
  auto plan_crd = yaml::ReadDocuments(options_.source_dir + "/manifests/crds/etcdplans.yaml");
  if (!lm_crd.ok())
    return lm_crd.error();
  if (!plan_crd.ok())
    return plan_crd.error();
  std::vector<std::pair<kube::Client*, json>> objects = {
      {&garden(), (*lm_crd)[0]},
      {&garden(),
       testing::PreservingCrd("core.gardener.cloud", "v1beta1", "ShootState", "shootstates")},
      {&garden(), testing::NamespaceObject(kGardenNs)}};
  for (int s = 0; s < kSeeds; ++s) {
    objects.push_back({&seed(s), (*plan_crd)[0]});
    objects.push_back({&seed(s), testing::PreservingCrd("extensions.gardener.cloud", "v1alpha1",
                                                        "DNSRecord", "dnsrecords")});
    objects.push_back({&seed(s), testing::NamespaceObject("garden")});
  }
  for (auto& [client, object] : objects) {
    auto created = client->Create(
        kube::ResourceRef{
            object["apiVersion"] == "v1" ? "" : "apiextensions.k8s.io", "v1",
            object["kind"] == "Namespace" ? "namespaces" : "customresourcedefinitions", ""},
        object);
    if (!created.ok())
      return created.error();
  }
  for (int s = 0; s < kSeeds; ++s) {
    if (Status started = StartWebhook(s); !started.ok())
      return started;
  }
  Say("garden, source and target seeds up; seedhop-webhook registered on both seeds");

  // Each seed reaches the other's members only through the link: the LiveMigration gives their
  // exposed addresses, which relay to the pods' peer ports.
  std::vector<LinkRoute> routes;
  for (int s = 0; s < kSeeds; ++s) {
    for (int o = 0; o < kAddressedOrdinals; ++o) {
      int seed_index = options_.seed_index_base + s;
      routes.push_back(
          {ExposedAddress(seed_index, 0, o), kPeerPort, PodAddress(seed_index, 0, o), kPeerPort});
    }
  }
  link_ = std::make_unique<LinkProxy>(std::move(routes));
  if (Status linked = link_->Start(); !linked.ok())
    return linked.error().Wrap("the link between the seeds");

  for (int s = 0; s < kSeeds; ++s) {
    RunnerOptions runner;
    auto config = kube::LoadKubeconfig(kubeconfigs_[1 + s]);
    if (!config.ok())
      return config.error();
    runner.rest = *config;
    runner.ns = kShootNs;
    runner.statefulsets = {kEtcd};
    runner.seed_index = options_.seed_index_base + s;
    runner.lab_seeds = {options_.seed_index_base, options_.seed_index_base + 1};
    runner.work_dir = work_ + "/pods-" + kRoles[s];
    runner.etcd_nice = options_.etcd_nice;
    auto on_event = [this, s](const PodEvent& event) {
      const std::string pod = std::string(kRoles[s]) + " pod " + event.statefulset + "-" +
                              std::to_string(event.ordinal);
      if (event.kind == PodEventKind::kDeleted && event.was_leader) {
        char at[32];
        std::snprintf(at, sizeof at, " at %.1fs (", Seconds(event.time - started_));
        std::lock_guard lock(pod_events_mutex_);
        leaders_stopped_.push_back(pod + at + event.detail + ")");
      }
      if (event.kind == PodEventKind::kStarted) {
        std::lock_guard lock(pod_events_mutex_);
        etcd_starts_.push_back(event.time);
      }
      if (options_.verbose) {
        Say("  " + pod + " " + PodEventKindName(event.kind) +
            (event.detail.empty() ? "" : ": " + event.detail));
      }
    };
    runners_[s] = std::make_unique<SeedRunner>(runner, on_event);
    if (Status started = runners_[s]->Start(); !started.ok())
      return started;
  }
  if (Status written = WriteShoot(); !written.ok())
    return written;
  druid_ = std::thread([this] { DruidLoop(); });
  return OkStatus();
}

Status Lab::WriteShoot() {
  kube::Client& source = seed(0);
  std::vector<std::pair<kube::ResourceRef, json>> objects = {
      {kNamespaces, testing::NamespaceObject(kShootNs)},
      {{"", "v1", "secrets", kShootNs},
       {{"apiVersion", "v1"},
        {"kind", "Secret"},
        {"metadata", {{"name", "ca-etcd"}, {"labels", {{"persist", "true"}}}}},
        {"data", {{"ca.crt", encoding::Base64Encode("lab CA certificate")}}}}},
      {kDnsRecords, DnsRecord()},
      {kStatefulSets, DruidStatefulSet(options_.members)}};
  for (auto& [ref, object] : objects) {
    auto created = source.Create(ref, object);
    if (!created.ok())
      return created.error();
  }
  Say("shoot " + std::string(kShootNs) + " on the source: etcd-main with " +
      std::to_string(options_.members) + " members, a persist=true Secret, a DNSRecord");
  return OkStatus();
}

// etcd-druid (and gardenlet, for the DNSRecord and kube-apiserver the DNS switch needs on the
// target): rewrites the etcd
// StatefulSet in its own shape every second on each seed whose namespace is there; on the target
// only once the migrator labelled it (it wrote the EtcdPlan that holds the target empty first).
void Lab::DruidLoop() {
  while (!stop_druid_) {
    for (int s = 0; s < kSeeds; ++s)
      Reconcile(s);
    for (int i = 0; i < 10 && !stop_druid_; ++i)
      std::this_thread::sleep_for(100ms);
  }
}

void Lab::Reconcile(int s) {
  auto ns = seed(s).Get(kNamespaces, kShootNs);
  if (!ns.ok())
    return;
  if (s == 1 &&
      ns->at("metadata").value("labels", json::object()).value(migrator::kMigratingLabel, "") !=
          "true")
    return;
  json desired = DruidStatefulSet(options_.members);
  auto existing = seed(s).Get(kStatefulSets, kEtcd);
  if (!existing.ok()) {
    (void)seed(s).Create(kStatefulSets, desired);
  } else {
    json object = *existing;
    object["metadata"]["labels"] = desired["metadata"]["labels"];
    object["spec"] = desired["spec"];
    (void)seed(s).Update(kStatefulSets, object);
  }
  if (s == 1 && !seed(s).Get(kDnsRecords, kDnsRecord).ok())
    (void)seed(s).Create(kDnsRecords, DnsRecord());
  if (s == 1 && !seed(s).Get(kDeployments, "kube-apiserver").ok()) {
    json deployment = {
        {"apiVersion", "apps/v1"},
        {"kind", "Deployment"},
        {"metadata", {{"name", "kube-apiserver"}}},
        {"spec",
         {{"replicas", 1},
          {"selector", {{"matchLabels", {{"app", "kube-apiserver"}}}}},
          {"template",
           {{"metadata", {{"labels", {{"app", "kube-apiserver"}}}}},
            {"spec",
             {{"containers", {{{"name", "kube-apiserver"}, {"image", "kube-apiserver"}}}}}}}}}}};
    auto created = seed(s).Create(kDeployments, deployment);
    if (created.ok()) {
      json object = *created;
      object["status"] = {{"replicas", 1}, {"readyReplicas", 1}, {"availableReplicas", 1}};
      (void)seed(s).Update(kDeployments, object, "status");
    }
  }
}

std::map<int, std::string> Lab::PodUrls() const {
  std::map<int, std::string> urls;
  for (int s = 0; s < kSeeds; ++s) {
    if (!runners_[s])
      continue;
    for (const PodState& pod : runners_[s]->Pods()) {
      if (pod.running)
        urls[pod.ordinal] = "http://" + pod.address + ":" + std::to_string(kClientPort);
    }
  }
  return urls;
}

json Lab::LiveMigration() const {
  json seeds[kSeeds];
  for (int s = 0; s < kSeeds; ++s) {
    json members = json::array();
    for (int o = 0; o < kAddressedOrdinals; ++o)
      members.push_back(
          {{"ordinal", o}, {"address", ExposedAddress(options_.seed_index_base + s, 0, o)}});
    seeds[s] = {{"seed", kSeedNames[s]},
                {"peerAddresses", {{{"etcd", kEtcd}, {"members", members}}}}};
  }
  seeds[1]["ingressAddress"] = "10.0.2.1";
  json spec = {{"shootNamespace", kShootNs},
               {"source", seeds[0]},
               {"target", seeds[1]},
               {"etcds", {{{"name", kEtcd}, {"replicas", options_.members}}}},
               {"strategy", options_.strategy},
               {"dns", {{"records", {kDnsRecord}}, {"maxWaitSeconds", 1}}},
               {"stepTimeoutSeconds", options_.step_timeout_seconds}};
  if (options_.strategy == "Swap")
    spec["allowUnsafeStrategy"] = true;
  return {{"apiVersion", "seedhop.io/v1alpha1"},
          {"kind", "LiveMigration"},
          {"metadata", {{"name", kShoot}, {"namespace", kGardenNs}}},
          {"spec", spec}};
}

Status Lab::StartMigrator(int s) {
  if (migrator_ports_[s] == 0)
    migrator_ports_[s] = FreePort();
  std::string role = kRoles[s];
  testing::ProcessSpec spec;
  spec.argv = {options_.binary_dir + "/migrator/seedhop-migrator",
               "run",
               "--role=" + role,
               std::string("--seed-name=") + kSeedNames[s],
               "--garden-kubeconfig=" + kubeconfigs_[0],
               "--seed-kubeconfig=" + kubeconfigs_[1 + s],
               "--lease-namespace=garden",
               "--identity=lab-" + role,
               "--etcd-client-url=http://{pod}.{etcd}-peer.{namespace}.svc:2379",
               "--etcd-peer-url=http://{pod}.{etcd}-peer.{namespace}.svc:2380",
               "--address=127.0.0.1",
               "--port=" + std::to_string(migrator_ports_[s]),
               "--poll-interval=200ms",
               "--exit-when-done"};
  spec.log_path = work_ + "/migrator-" + role + ".log";
  // The migrator resolves the etcd pods' names as a pod of its seed does: cluster DNS only.
  spec.bind_mounts = runners_[s]->SeedMounts();
  migrators_[s].log = spec.log_path;
  auto pid = testing::SpawnProcess(spec);
  if (!pid.ok())
    return pid.error().Wrap("seedhop-migrator " + role);
  migrators_[s].pid = *pid;
  return OkStatus();
}

void Lab::StopMigrator(int s) {
  if (migrators_[s].pid > 0)
    testing::StopProcess(migrators_[s].pid, SIGKILL, 1s);
  migrators_[s].pid = -1;
  moves_of_stopped_.moved += moves_scraped_[s].moved;
  moves_of_stopped_.failed += moves_scraped_[s].failed;
  moves_scraped_[s] = {};
}

void Lab::ScrapeLeadershipMoves() {
  for (int s = 0; s < kSeeds; ++s) {
    if (migrators_[s].pid <= 0)
      continue;
    http::ClientRequest request;
    request.url = "http://127.0.0.1:" + std::to_string(migrator_ports_[s]) + "/metrics";
    request.timeout = 1s;
    // A migrator that just exited, being done, keeps the count of its last scrape.
    if (auto response = metrics_client_.Send(request); response.ok() && response->status == 200)
      moves_scraped_[s] = CountLeadershipMoves(response->body);
  }
}

void Lab::TearDown() {
  stop_druid_ = true;
  if (druid_.joinable())
    druid_.join();
  for (int s = 0; s < kSeeds; ++s) {
    StopMigrator(s);
    if (runners_[s])
      runners_[s]->Stop();
    if (webhooks_[s].pid > 0)
      testing::StopProcess(webhooks_[s].pid, SIGTERM, 5s);
    webhooks_[s].pid = -1;
  }
  if (link_)
    link_->Stop();
  for (Process& emulator : emulators_) {
    if (emulator.pid > 0)
      testing::StopProcess(emulator.pid, SIGTERM, 5s);
    emulator.pid = -1;
  }
}

LabReport Lab::Run() {
  LabReport report;
  // The source cluster forms from druid's StatefulSet before anything else happens.
  auto healthy_at = Clock::now() + 60s;
  Sampler sampler(
      kEtcd, [this] { return PodUrls(); }, 50ms);
  sampler.Start();
  bool formed = false;
  while (!formed && Clock::now() < healthy_at) {
    std::this_thread::sleep_for(200ms);
    auto samples = sampler.Samples();
    formed = !samples.empty() && samples.back().known &&
             samples.back().healthy_voters == options_.members;
  }
  if (!formed) {
    report.failure = "the source etcd cluster did not form within 60 s";
    for (const PodState& pod : runners_[0]->Pods()) {
      if (!pod.running && !pod.waiting.empty())
        report.failure += "; " + pod.name + " waits: " + pod.waiting.substr(0, 200);
    }
    return report;
  }
  Say("source etcd healthy: " + std::to_string(options_.members) + " voters");

  Writer writer([this] { return PodUrls(); }, [&sampler] { return sampler.LeaderUrl(); },
                options_.write_rate, 5s);
  writer.Start();
  auto writes_from = Clock::now();
  const CpuTimes cpu_writes_from = ReadMachineCpu();
  std::this_thread::sleep_for(options_.baseline);

  report.steady = options_.steady.count() > 0;
  std::vector<migrator::FlowStep> flow;
  if (!report.steady) {
    auto created = garden().Create(migrator::LiveMigrations(kGardenNs), LiveMigration());
    if (!created.ok()) {
      report.failure = "create LiveMigration: " + created.error().message();
      return report;
    }
    auto spec = migrator::ParseMigrationSpec(*created);
    auto built = spec.ok() ? migrator::BuildFlow(*spec)
                           : Result<std::vector<migrator::FlowStep>>(spec.error());
    if (!built.ok()) {
      report.failure = built.error().message();
      return report;
    }
    flow = std::move(*built);
  }
  const int total = static_cast<int>(flow.size());
  const int no_return = migrator::PointOfNoReturn(flow);
  auto migration_from = Clock::now();
  const CpuTimes cpu_migration_from = ReadMachineCpu();
  if (report.steady) {
    Say("steady run: no migration; writing " + std::to_string(options_.steady.count()) + " s more");
    std::this_thread::sleep_for(options_.steady);
    report.completed = true;
  } else {
    Say("LiveMigration " + std::string(kGardenNs) + "/" + kShoot +
        " created: " + std::to_string(total) + " steps, strategy " + options_.strategy);
    for (int s = 0; s < kSeeds; ++s) {
      if (Status started = StartMigrator(s); !started.ok()) {
        report.failure = started.error().message();
        return report;
      }
    }
  }

  int seen_done = 0;
  auto step_since = Clock::now();
  Clock::time_point move_from{}, move_to{};
  std::optional<CpuTimes> cpu_move_from, cpu_move_to;
  std::vector<std::pair<Clock::time_point, int>> step_starts = {{Clock::now(), 0}};
  int killed_for_step = -1;
  bool link_cut = false;
  Clock::time_point cut_from{}, heal_at{};
  auto deadline = Clock::now() + options_.deadline;
  while (!report.completed) {
    std::this_thread::sleep_for(100ms);
    if (Clock::now() > deadline) {
      report.failure =
          "the migration did not finish within " + std::to_string(options_.deadline.count()) + " s";
      break;
    }
    auto object = garden().Get(migrator::LiveMigrations(kGardenNs), kShoot);
    if (!object.ok())
      continue;
    auto source = migrator::ParseSideStatus(*object, migrator::Side::kSource);
    auto target = migrator::ParseSideStatus(*object, migrator::Side::kTarget);
    if (!source.ok() || !target.ok())
      continue;
    int done = std::max(source->completed_steps, target->completed_steps);
    for (; seen_done < done && seen_done < total; ++seen_done) {
      auto now = Clock::now();
      StepReport step{seen_done, flow[seen_done].Name(), Seconds(now - step_since)};
      char line[64];
      std::snprintf(line, sizeof line, "%3d/%d %5.1fs  ", seen_done + 1, total, step.seconds);
      Say(line + step.name);
      ScrapeLeadershipMoves();
      report.steps.push_back(step);
      step_since = now;
      step_starts.push_back({now, seen_done + 1});
      report.steps_completed_during_cut += link_cut;
      if (seen_done + 1 == no_return) {
        move_from = now;
        cpu_move_from = ReadMachineCpu();
      }
      if (seen_done + 1 == total - 1) {
        move_to = now;
        cpu_move_to = ReadMachineCpu();
      }
    }
    if (source->phase == migrator::Phase::kDone && target->phase == migrator::Phase::kDone) {
      report.completed = true;
      if (move_to == Clock::time_point{})
        move_to = Clock::now();
      break;
    }
    for (const auto* side : {&*source, &*target}) {
      if (side->phase == migrator::Phase::kHalted) {
        report.failure = "a migrator halted: " + side->message;
        break;
      }
    }
    if (!report.failure.empty())
      break;
    // Faults, injected once per step at its start.
    if (done < total && killed_for_step != done &&
        (options_.kill_migrator_every_step || options_.kill_migrator_at_step == done)) {
      int owner = flow[done].owner == migrator::Side::kSource ? 0 : 1;
      killed_for_step = done;
      Say("fault: SIGKILL the " + std::string(kRoles[owner]) + " migrator at step " +
          std::to_string(done));
      StopMigrator(owner);
      ++report.migrator_kills;
      if (Status started = StartMigrator(owner); !started.ok()) {
        report.failure = started.error().message();
        break;
      }
    }
    // Once: the step does not advance while the killed member is down, so a check on the step
    // alone would kill a pod on every poll.
    if (done == options_.kill_member_at_step && report.member_kills == 0) {
      for (int s = 0; s < kSeeds && report.member_kills == 0; ++s) {
        auto pods = runners_[s]->Pods();
        for (auto it = pods.rbegin(); it != pods.rend(); ++it) {
          if (it->running && runners_[s]->KillPod(kEtcd, it->ordinal).ok()) {
            Say("fault: SIGKILL etcd pod " + it->name + " on the " + kRoles[s]);
            ++report.member_kills;
            break;
          }
        }
      }
    }
    if (done == options_.cut_link_at_step && report.link_cuts == 0) {
      link_->Cut();
      link_cut = true;
      cut_from = Clock::now();
      heal_at = cut_from + options_.cut_link_for;
      ++report.link_cuts;
      report.link_cut_at_seconds = Seconds(cut_from - migration_from);
      Say("fault: cut the link between the seeds for " +
          std::to_string(options_.cut_link_for.count()) + " s at step " + std::to_string(done));
    }
    if (link_cut && Clock::now() >= heal_at) {
      link_->Heal();
      link_cut = false;
      Say("fault: link healed");
    }
    for (int s = 0; s < kSeeds; ++s) {
      int status = 0;
      if (migrators_[s].pid > 0 && testing::ReapIfExited(migrators_[s].pid, &status)) {
        migrators_[s].pid = -1;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
          report.failure = std::string("the ") + kRoles[s] + " migrator exited (" +
                           testing::DescribeExit(status) +
                           "): " + testing::FileTail(migrators_[s].log, 800);
        }
      }
    }
    if (!report.failure.empty())
      break;
  }
  auto migration_to = Clock::now();
  const CpuTimes cpu_migration_to = ReadMachineCpu();
  if (link_cut) {
    link_->Heal();
    heal_at = migration_to;
  }
  report.total_seconds = Seconds(migration_to - migration_from);
  std::this_thread::sleep_for(500ms);
  writer.Stop();
  sampler.Stop();
  if (move_from == Clock::time_point{})
    move_from = migration_from;
  if (move_to == Clock::time_point{})
    move_to = migration_to;

  // The step in progress at `when`, by the lab's view of step completions.
  auto StepAt = [&](Clock::time_point when) {
    int step = 0;
    for (const auto& [at, index] : step_starts) {
      if (at <= when)
        step = index;
    }
    if (report.steady)
      return std::string("no migration");
    return step < total ? flow[step].Name() : std::string("after the last step");
  };
  std::vector<WriteRecord> records = writer.Records();
  report.writes_attempted = static_cast<int64_t>(records.size());
  for (const WriteRecord& r : records)
    report.writes_acknowledged += r.acknowledged;
  VerifyResult verified = writer.Verify();
  report.writes_lost = verified.lost;
  report.writes_unverified = verified.unverified;
  report.lost_keys = verified.lost_keys;
  const Stall stall = LongestStall(records, move_from, move_to);
  report.longest_stall_ms = stall.ms;
  report.longest_stall_at_seconds = Seconds(stall.began - migration_from);
  report.longest_stall_at = StepAt(stall.began);
  report.slow_writes = writer.SlowWrites();
  MoveEvents events;  // what the move's bursts of slow writes may have followed
  {
    std::lock_guard lock(pod_events_mutex_);
    report.leaders_stopped = leaders_stopped_;
    events.etcd_starts = etcd_starts_;
  }
  report.leadership_moves = moves_of_stopped_.moved;
  report.leadership_moves_failed = moves_of_stopped_.failed;
  for (const LeadershipMoves& scraped : moves_scraped_) {
    report.leadership_moves += scraped.moved;
    report.leadership_moves_failed += scraped.failed;
  }
  report.p99_before_ms = LatencyPercentileMs(records, 99, writes_from, migration_from);
  report.p99_during_ms = LatencyPercentileMs(records, 99, move_from, move_to);
  report.cpu_busy_before_percent = BusyPercent(cpu_writes_from, cpu_migration_from);
  report.cpu_busy_during_percent = BusyPercent(cpu_move_from.value_or(cpu_migration_from),
                                               cpu_move_to.value_or(cpu_migration_to));
  const double target_ms = 2 * report.p99_before_ms;
  const WriteCount during = CountWrites(records, target_ms, move_from, move_to);
  report.writes_during = during.acknowledged;
  report.writes_over_target_during = during.slower;
  for (size_t i = 0; i < report.steps.size() && i + 1 < step_starts.size(); ++i) {
    const Clock::time_point from = step_starts[i].first;
    const Clock::time_point to = step_starts[i + 1].first;
    report.steps[i].p99_write_ms = LatencyPercentileMs(records, 99, from, to);
    const WriteCount in_step = CountWrites(records, target_ms, from, to);
    report.steps[i].writes_over_target = in_step.slower;
    report.steps[i].writes = in_step.acknowledged;
  }

  std::optional<Sample> lowest;
  uint64_t last_leader = 0;
  for (const Sample& sample : sampler.Samples()) {
    if (report.link_cuts > 0 && sample.at >= cut_from && sample.at < heal_at) {
      report.isolated_voters_during_cut =
          std::max(report.isolated_voters_during_cut, sample.isolated_voters);
    }
    if (!sample.known || sample.at < move_from || sample.at > move_to)
      continue;
    ++report.samples;
    report.samples_below_one += sample.failure_tolerance < 1;
    if (sample.leader_id != 0) {
      if (last_leader != 0 && sample.leader_id != last_leader) {
        ++report.leader_changes;
        events.leader_changes.push_back(sample.at);
      }
      last_leader = sample.leader_id;
    }
    if (!lowest || sample.failure_tolerance < lowest->failure_tolerance)
      lowest = sample;
  }
  if (lowest) {
    report.min_failure_tolerance = lowest->failure_tolerance;
    report.min_tolerance_at_seconds = Seconds(lowest->at - migration_from);
    report.min_tolerance_at = StepAt(lowest->at);
  }

  for (const auto& [at, index] : step_starts) {
    if (index == 0 || flow[index - 1].kind != migrator::FlowKind::kEtcd)
      continue;
    const migrator::StepKind kind = flow[index - 1].etcd_step.kind;
    if (kind == migrator::StepKind::kAddLearner || kind == migrator::StepKind::kPromote ||
        kind == migrator::StepKind::kRemoveMember)
      events.membership_changes.push_back(at);  // when the step was seen complete
  }
  for (const SlowBurst& burst : FindSlowBursts(records, target_ms, kBurstGap, move_from, move_to)) {
    ++report.over_target_bursts;
    report.largest_over_target_burst = std::max(report.largest_over_target_burst, burst.writes);
    report.longest_over_target_burst_ms =
        std::max(report.longest_over_target_burst_ms,
                 std::chrono::duration<double, std::milli>(burst.ended - burst.began).count());
    LabReport::BurstTally& tally =
        report.over_target_bursts_by_cause[static_cast<size_t>(CauseOf(burst, events))];
    ++tally.bursts;
    tally.writes += burst.writes;
  }
  return report;
}

}  // namespace

nlohmann::json LabReport::ToJson() const {
  json causes_json = json::object();
  for (int cause = 0; cause < kBurstCauses; ++cause) {
    const BurstTally& tally = over_target_bursts_by_cause[static_cast<size_t>(cause)];
    causes_json[BurstCauseName(static_cast<BurstCause>(cause))] = {{"bursts", tally.bursts},
                                                                   {"writes", tally.writes}};
  }
  json steps_json = json::array();
  for (const StepReport& s : steps)
    steps_json.push_back({{"index", s.index},
                          {"name", s.name},
                          {"seconds", s.seconds},
                          {"p99WriteMs", s.p99_write_ms},
                          {"writesOverTarget", s.writes_over_target},
                          {"writes", s.writes}});
  return {{"completed", completed},
          {"steady", steady},
          {"failure", failure},
          {"totalSeconds", total_seconds},
          {"steps", steps_json},
          {"writesAttempted", writes_attempted},
          {"writesAcknowledged", writes_acknowledged},
          {"writesLost", writes_lost},
          {"writesUnverified", writes_unverified},
          {"lostKeys", lost_keys},
          {"longestStallMs", longest_stall_ms},
          {"longestStallAt", longest_stall_at},
          {"longestStallAtSeconds", longest_stall_at_seconds},
          {"slowWrites", slow_writes},
          {"p99BeforeMs", p99_before_ms},
          {"p99DuringMs", p99_during_ms},
          {"writesDuring", writes_during},
          {"writesOverTargetDuring", writes_over_target_during},
          {"overTargetBursts", over_target_bursts},
          {"largestOverTargetBurst", largest_over_target_burst},
          {"longestOverTargetBurstMs", longest_over_target_burst_ms},
          {"overTargetBurstCauses", causes_json},
          {"cpuBusyBeforePercent", cpu_busy_before_percent},
          {"cpuBusyDuringPercent", cpu_busy_during_percent},
          {"minFailureTolerance", min_failure_tolerance},
          {"samples", samples},
          {"samplesBelowOne", samples_below_one},
          {"minToleranceAt", min_tolerance_at},
          {"minToleranceAtSeconds", min_tolerance_at_seconds},
          {"migratorKills", migrator_kills},
          {"memberKills", member_kills},
          {"leadersStopped", leaders_stopped},
          {"leaderChanges", leader_changes},
          {"leadershipMoves", leadership_moves},
          {"leadershipMovesFailed", leadership_moves_failed},
          {"linkCuts", link_cuts},
          {"linkCutAtSeconds", link_cut_at_seconds},
          {"stepsCompletedDuringCut", steps_completed_during_cut},
          {"isolatedVotersDuringCut", isolated_voters_during_cut}};
}

std::string LabReport::Summary() const {
  char buffer[1024];
  const StepReport* slowest = nullptr;
  for (const StepReport& s : steps) {
    if (slowest == nullptr || s.seconds > slowest->seconds)
      slowest = &s;
  }
  char steps_text[300] = "no steps";
  if (slowest != nullptr) {
    std::snprintf(steps_text, sizeof steps_text, "%zu steps; slowest %.1f s: %s", steps.size(),
                  slowest->seconds, slowest->name.c_str());
  }
  const std::string heading = !completed ? "MIGRATION FAILED: " + failure
                              : steady   ? "STEADY RUN COMPLETE (no migration)"
                                         : "MIGRATION COMPLETE";
  // What a steady run compares with its baseline: the writes after it, with nothing moving.
  const char* window = steady ? "in the steady window" : "during the move";
  std::snprintf(
      buffer, sizeof buffer,
      "%s\n"
      "  total time           %.1f s (%s)\n"
      "  writes acknowledged  %lld of %lld\n"
      "  writes lost          %lld (%lld could not be read back)\n"
      "  longest write stall  %.0f ms, from %.1f s (%s)\n"
      "  p99 write latency    %.1f ms before, %.1f ms %s; %lld of its %lld writes\n"
      "                       took over 2x before (%.2f%%; the p99 target allows 1%%),\n"
      "                       in %lld bursts: the largest %lld writes, the longest %.0f ms\n"
      "  machine CPU busy     %.0f%% before, %.0f%% %s (of %u cores)\n"
      "  min failure tolerance %d, at %.1f s (%s); below 1 in %lld of %lld samples\n",
      heading.c_str(), total_seconds, steps_text, static_cast<long long>(writes_acknowledged),
      static_cast<long long>(writes_attempted), static_cast<long long>(writes_lost),
      static_cast<long long>(writes_unverified), longest_stall_ms, longest_stall_at_seconds,
      longest_stall_at.c_str(), p99_before_ms, p99_during_ms, window,
      static_cast<long long>(writes_over_target_during), static_cast<long long>(writes_during),
      writes_during > 0 ? 100.0 * static_cast<double>(writes_over_target_during) /
                              static_cast<double>(writes_during)
                        : 0.0,
      static_cast<long long>(over_target_bursts), static_cast<long long>(largest_over_target_burst),
      longest_over_target_burst_ms, cpu_busy_before_percent, cpu_busy_during_percent, window,
      std::thread::hardware_concurrency(), min_failure_tolerance, min_tolerance_at_seconds,
      min_tolerance_at.c_str(), static_cast<long long>(samples_below_one),
      static_cast<long long>(samples));
  std::string out = buffer;
  if (over_target_bursts > 0) {
    auto Tally = [this](BurstCause cause, const char* writes) {
      const BurstTally& tally = over_target_bursts_by_cause[static_cast<size_t>(cause)];
      return std::to_string(tally.bursts) + " (" + std::to_string(tally.writes) + writes + ")";
    };
    out += "  over-target bursts   " + Tally(BurstCause::kEtcdStarted, " writes") +
           " after an etcd start, " + Tally(BurstCause::kMembershipChanged, "") +
           " a membership change,\n                       " +
           Tally(BurstCause::kLeaderChanged, "") + " a leader change, " +
           Tally(BurstCause::kNone, "") + " none of these\n";
  }
  if (migrator_kills > 0 || member_kills > 0 || link_cuts > 0) {
    out += "  faults injected      " + std::to_string(migrator_kills) + " migrator kills, " +
           std::to_string(member_kills) + " etcd pod kills, " + std::to_string(link_cuts) +
           " link cuts\n";
  }
  if (link_cuts > 0) {
    char cut[200];
    std::snprintf(cut, sizeof cut,
                  "  link cut             at %.1f s: %d voters isolated, %d steps completed "
                  "while cut\n",
                  link_cut_at_seconds, isolated_voters_during_cut, steps_completed_during_cut);
    out += cut;
  }
  out += "  leaders stopped      " + std::to_string(leaders_stopped.size()) +
         " (pods deleted while their etcd led the cluster)\n";
  for (const std::string& stopped : leaders_stopped)
    out += "    " + stopped + "\n";
  out += "  leader changes       " + std::to_string(leader_changes) + " " + window + "; " +
         std::to_string(leadership_moves) + " moves ahead of rolls, " +
         std::to_string(leadership_moves_failed) + " refused by etcd\n";
  for (size_t i = 0; i < slow_writes.size() && i < 3; ++i)
    out += "  slow write           " + slow_writes[i] + "\n";
  return out;
}

Result<LabReport> RunLab(const LabOptions& options, std::ostream& progress) {
  std::string work_dir;
  LabReport report;
  {
    Lab lab(options, progress);
    if (Status ready = lab.SetUp(); !ready.ok())
      return ready.error();
    report = lab.Run();
    work_dir = lab.work_dir();
  }
  // A directory the lab made itself goes once the run succeeded; after a failure its logs stay.
  if (options.work_dir.empty() && report.completed && report.writes_lost == 0 &&
      report.writes_unverified == 0) {
    std::error_code ignored;
    std::filesystem::remove_all(work_dir, ignored);
  } else {
    progress << "logs and data: " << work_dir << "\n";
  }
  return report;
}

}  // namespace seedhop::lab
