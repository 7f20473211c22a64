#include "test/lab/statefulset_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/etcd/client.h"
#include "common/kube/client.h"

namespace seedhop::lab {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const kube::ResourceRef kStatefulSets{"apps", "v1", "statefulsets", ""};

constexpr auto kFirstBackoff = 250ms;
constexpr auto kMaxBackoff = 4000ms;
// How often a pod that cannot start yet asks the cluster again. etcd-backup-restore retries
// inside the running container (pkg/member/member_control.go RetryPeriod, 2 s), so kubelet's
// backoff does not apply.
constexpr auto kRetryPeriod = 1000ms;

// kubelet's managed header (pkg/kubelet/kubelet_pods.go managedHostsHeader and
// managedHostsFileContent) up to the pod's own entry.
constexpr char kManagedHosts[] =
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n";
constexpr char kDnsHeader[] =
    "# seedhop lab: this seed's cluster DNS records (rewritten in place)\n";
// No DNS server listens here: a name the hosts file lacks fails at once instead of reaching the
// machine's resolver.
constexpr char kResolvConf[] = "nameserver 127.19.0.53\noptions timeout:1 attempts:1\n";

// FNV-1a 64: a stable hash of the pod template, for revision names.
std::string TemplateHash(const json& pod_template) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : pod_template.dump()) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash));
  return std::string(text, 10);
}

std::string DnsLines(const std::vector<DnsRecord>& dns, const std::set<std::string>& hidden) {
  std::string out = kDnsHeader;
  for (const auto& record : dns) {
    for (const auto& name : record.names) {
      if (!hidden.contains(name))
        out += record.address + "\t" + name + "\n";
    }
  }
  return out;
}

std::string ClientUrl(const std::string& address) {
  return "http://" + address + ":" + std::to_string(kClientPort);
}

}  // namespace

std::string PodAddress(int seed_index, int etcd_index, int ordinal) {
  return "127." + std::to_string(20 + seed_index) + "." + std::to_string(etcd_index) + "." +
         std::to_string(ordinal + 1);
}

std::string PodPeerHost(const std::string& ns, const std::string& statefulset, int ordinal) {
  return statefulset + "-" + std::to_string(ordinal) + "." + statefulset + "-peer." + ns + ".svc";
}

std::string PodPeerUrl(const std::string& ns, const std::string& statefulset, int ordinal) {
  return "http://" + PodPeerHost(ns, statefulset, ordinal) + ":" + std::to_string(kPeerPort);
}

std::string RenderPodHosts(const std::string& pod_address, const std::string& pod_fqdn,
                           const std::string& hostname, const json& host_aliases,
                           const std::vector<DnsRecord>& dns) {
  std::string out = kManagedHosts;
  out += pod_address + "\t" + pod_fqdn + "\t" + hostname + "\n";
  std::set<std::string> aliased;
  if (host_aliases.is_array() && !host_aliases.empty()) {
    // kubelet_pods.go hostsEntriesFromHostAliases: one line per hostname.
    out += "\n# Entries added by HostAliases.\n";
    for (const auto& alias : host_aliases) {
      const std::string ip = alias.value("ip", "");
      for (const auto& name : alias.value("hostnames", json::array())) {
        if (!name.is_string())
          continue;
        out += ip + "\t" + name.get<std::string>() + "\n";
        aliased.insert(name.get<std::string>());
      }
    }
  }
  return out + "\n" + DnsLines(dns, aliased);
}

const char* PodEventKindName(PodEventKind kind) {
  switch (kind) {
    case PodEventKind::kCreated:
      return "created";
    case PodEventKind::kStarted:
      return "started";
    case PodEventKind::kReady:
      return "ready";
    case PodEventKind::kWaiting:
      return "waiting";
    case PodEventKind::kExited:
      return "exited";
    case PodEventKind::kDeleted:
      return "deleted";
  }
  return "unknown";
}

// The parts of a StatefulSet the runner acts on.
struct SeedRunner::Spec {
  bool exists = false;
  int64_t generation = 0;
  int start = 0;
  int replicas = 0;
  bool parallel = false;
  bool on_delete = false;
  std::string revision;  // "<sts>-<template hash>"
  json host_aliases = json::array();

  bool Wants(int ordinal) const { return exists && ordinal >= start && ordinal < start + replicas; }
};

struct SeedRunner::SetRecord {
  std::string name;
  Spec spec;
  bool have_spec = false;        // a Get has succeeded at least once
  std::string current_revision;  // status.currentRevision
  json written_status;           // the last status written
};

struct SeedRunner::PodRecord {
  int etcd_index = 0;
  int ordinal = 0;
  std::string statefulset;
  std::string name;
  std::string address;
  std::string revision;
  json host_aliases;
  std::string hosts_path;
  std::string hosts_content;  // last written
  std::string log_path;
  std::string pvc_dir;
  pid_t pid = -1;
  bool ready = false;
  bool learner = false;
  bool started_once = false;
  int restarts = 0;
  std::chrono::milliseconds backoff = kFirstBackoff;
  Clock::time_point next_start;
  Clock::time_point next_probe;  // while ready; a pod not ready is probed every pass
  std::string waiting;           // the last kWaiting detail, to log each reason once

  std::string DataDir() const { return pvc_dir + "/new.etcd"; }
};

// What asking the cluster for its member list gave.
struct SeedRunner::MemberView {
  bool answered = false;
  std::vector<etcd::Member> members;
  std::string problem;         // why nobody answered
  bool local_running = false;  // a pod of the StatefulSet runs on this seed
  // A pod of the StatefulSet on this seed has etcd data. Looked at once, before the pass starts
  // any pod: a bootstrap member started a moment earlier in the same pass writes its data dir at
  // once, and must not make its peers think a cluster already existed.
  bool any_data = false;
};

SeedRunner::SeedRunner(RunnerOptions options, EventCallback on_event)
    : options_(std::move(options)), on_event_(std::move(on_event)) {}

SeedRunner::~SeedRunner() {
  Stop();
}

Status SeedRunner::Start() {
  const std::string context = "seed " + std::to_string(options_.seed_index) + " runner";
  if (started_)
    return Error(ErrorCode::kConflict, context + ": already started");
  if (options_.ns.empty() || options_.statefulsets.empty() || options_.work_dir.empty())
    return Error(ErrorCode::kInvalid,
                 context + ": namespace, statefulsets and work_dir are required");
  if (options_.seed_index < 0 || options_.seed_index >= 200 || options_.statefulsets.size() > 256)
    return Error(ErrorCode::kInvalid, context + ": seed index or StatefulSet count out of range");
  if (::access(options_.etcd_binary.c_str(), X_OK) != 0)
    return Error(ErrorCode::kNotFound, context + ": " + options_.etcd_binary +
                                           " not found (apt-get install etcd-server)");
  // Pod addresses are a function of the seed index: two runners with one index on one machine
  // would fight over them (two test binaries, or a lab next to a test). The kernel drops the
  // lock when this process ends.
  const std::string lock_path =
      (fs::temp_directory_path() /
       ("seedhop-lab-seed-" + std::to_string(options_.seed_index) + ".lock"))
          .string();
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const std::string reason = std::strerror(errno);
    if (lock_fd_ >= 0)
      ::close(lock_fd_);
    lock_fd_ = -1;
    return Error(ErrorCode::kConflict,
                 context + ": seed index in use by another runner on this machine (" + lock_path +
                     ": " + reason + ")");
  }
  std::error_code error;
  for (const char* dir : {"pods", "pvc"}) {
    fs::create_directories(fs::path(options_.work_dir) / dir, error);
    if (error)
      return Error(ErrorCode::kInternal,
                   context + ": create " + options_.work_dir + "/" + dir + ": " + error.message());
  }
  if (auto written = testing::RewriteInPlace(SeedResolvConfPath(), kResolvConf); !written.ok())
    return written.error().Wrap(context);
  seed_hosts_ = std::string(kManagedHosts) + "\n" + DnsLines({}, {});
  if (auto written = testing::RewriteInPlace(SeedHostsPath(), seed_hosts_); !written.ok())
    return written.error().Wrap(context);
  for (const auto& name : options_.statefulsets) {
    auto set = std::make_unique<SetRecord>();
    set->name = name;
    sets_.push_back(std::move(set));
  }

  kube::ClientOptions kube_options;
  kube_options.max_attempts = 2;
  kube_options.request_timeout = 5000ms;
  kube_ = std::make_unique<kube::Client>(options_.rest, kube_options);
  http::ClientOptions probe_options;
  probe_options.connect_timeout = 500ms;
  probe_options.request_timeout = 1000ms;
  // Health and Status name their endpoint; the configured one is never used.
  probe_ = std::make_unique<etcd::Client>(std::vector<std::string>{ClientUrl("127.0.0.1")},
                                          probe_options);
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
  return OkStatus();
}

void SeedRunner::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
  if (lock_fd_ >= 0)
    ::close(lock_fd_);
  lock_fd_ = -1;
}

std::string SeedRunner::SeedHostsPath() const {
  return options_.work_dir + "/seed-hosts";
}

std::string SeedRunner::SeedResolvConfPath() const {
  return options_.work_dir + "/resolv.conf";
}

std::vector<testing::BindMount> SeedRunner::SeedMounts() const {
  return {{SeedHostsPath(), "/etc/hosts"}, {SeedResolvConfPath(), "/etc/resolv.conf"}};
}

std::string SeedRunner::PodName(int etcd_index, int ordinal) const {
  return options_.statefulsets.at(etcd_index) + "-" + std::to_string(ordinal);
}

std::string SeedRunner::PvcDir(int etcd_index, int ordinal) const {
  return options_.work_dir + "/pvc/" + PodName(etcd_index, ordinal);
}

PodState SeedRunner::StateOf(const PodRecord& pod) const {
  PodState state;
  state.statefulset = pod.statefulset;
  state.ordinal = pod.ordinal;
  state.name = pod.name;
  state.address = pod.address;
  state.running = pod.pid > 0;
  state.ready = pod.ready;
  state.learner = pod.learner;
  state.template_hash = pod.revision;
  state.restarts = pod.restarts;
  state.hosts_path = pod.hosts_path;
  state.log_path = pod.log_path;
  state.data_dir = pod.DataDir();
  state.waiting = pod.waiting;
  return state;
}

std::vector<PodState> SeedRunner::Pods() const {
  std::lock_guard lock(mutex_);
  std::vector<PodState> out;
  for (const auto& [key, pod] : pods_)
    out.push_back(StateOf(*pod));
  return out;
}

std::optional<PodState> SeedRunner::Pod(const std::string& statefulset, int ordinal) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, pod] : pods_) {
    if (pod->statefulset == statefulset && pod->ordinal == ordinal)
      return StateOf(*pod);
  }
  return std::nullopt;
}

Status SeedRunner::KillPod(const std::string& statefulset, int ordinal) {
  const std::string name = statefulset + "-" + std::to_string(ordinal);
  // Under the lock the loop cannot reap the process, so the pid cannot have been reused.
  std::lock_guard lock(mutex_);
  for (const auto& [key, pod] : pods_) {
    if (pod->statefulset != statefulset || pod->ordinal != ordinal)
      continue;
    if (pod->pid <= 0)
      return Error(ErrorCode::kUnavailable, "kill pod " + name + ": its etcd is not running");
    ::kill(pod->pid, SIGKILL);
    return OkStatus();
  }
  return Error(ErrorCode::kNotFound,
               "kill pod " + name + ": no such pod on seed " + std::to_string(options_.seed_index));
}

void SeedRunner::Emit(const PodRecord& pod, PodEventKind kind, const std::string& detail,
                      bool was_leader) {
  if (on_event_)
    on_event_(PodEvent{Clock::now(), pod.statefulset, pod.ordinal, kind, detail, was_leader});
}

void SeedRunner::Loop() {
  while (true) {
    Tick();
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, options_.poll_interval, [this] { return stopping_; }))
      break;
  }
  KillAll();
}

void SeedRunner::Tick() {
  ReapExited();
  Probe();
  for (size_t i = 0; i < sets_.size(); ++i)
    Reconcile(static_cast<int>(i));
  WriteHostsFiles();
  StartContainers();
  for (size_t i = 0; i < sets_.size(); ++i)
    WriteStatus(static_cast<int>(i), sets_[i]->spec);
}

void SeedRunner::ReapExited() {
  for (auto& [key, pod] : pods_) {
    if (pod->pid <= 0)
      continue;
    int status = 0;
    {
      std::lock_guard lock(mutex_);
      if (!testing::ReapIfExited(pod->pid, &status))
        continue;
      pod->pid = -1;
      pod->ready = false;
      pod->learner = false;
      pod->next_start = Clock::now() + pod->backoff;
      pod->backoff = std::min(pod->backoff * 2, std::chrono::milliseconds(kMaxBackoff));
    }
    Emit(*pod, PodEventKind::kExited,
         testing::DescribeExit(status) + "; log: " + testing::FileTail(pod->log_path, 400));
  }
}

void SeedRunner::Probe() {
  const auto now = Clock::now();
  for (auto& [key, pod] : pods_) {
    if (pod->pid <= 0 || (pod->ready && now < pod->next_probe))
      continue;
    pod->next_probe = now + options_.ready_probe_period;
    const std::string url = ClientUrl(pod->address);
    auto health = probe_->Health(url);
    auto status = probe_->Status(url);
    const bool learner = status.ok() && status->is_learner;
    const bool ready = (health.ok() && health->healthy) || learner;
    const bool became_ready = ready && !pod->ready;
    {
      std::lock_guard lock(mutex_);
      pod->ready = ready;
      pod->learner = learner;
      if (became_ready)
        pod->backoff = kFirstBackoff;
    }
    if (became_ready)
      Emit(*pod, PodEventKind::kReady, learner ? "learner" : "voter");
  }
}

void SeedRunner::Reconcile(int etcd_index) {
  SetRecord& set = *sets_[etcd_index];
  auto object = kube_->Get(kStatefulSets.In(options_.ns), set.name);
  Spec spec;
  if (object.ok()) {
    const json& body = *object;
    const json spec_json = body.value("spec", json::object());
    spec.exists = true;
    spec.generation = body.value("metadata", json::object()).value("generation", int64_t{0});
    spec.replicas = spec_json.value("replicas", 1);
    spec.start = spec_json.value("ordinals", json::object()).value("start", 0);
    spec.parallel = spec_json.value("podManagementPolicy", "OrderedReady") == "Parallel";
    spec.on_delete =
        spec_json.value("updateStrategy", json::object()).value("type", "RollingUpdate") ==
        "OnDelete";
    const json pod_template = spec_json.value("template", json::object());
    spec.revision = set.name + "-" + TemplateHash(pod_template);
    spec.host_aliases =
        pod_template.value("spec", json::object()).value("hostAliases", json::array());
    // Pod addresses and the member-list search cover ordinals 0..kMaxOrdinals-1 only: leave the
    // pods as they are rather than run some of a StatefulSet outside them.
    if (spec.start < 0 || spec.replicas < 0 || spec.start + spec.replicas > kMaxOrdinals)
      return;
  } else if (object.error().code() != ErrorCode::kNotFound) {
    // The API server is unreachable: leave the pods as they are until it answers again.
    return;
  }
  set.spec = spec;
  set.have_spec = true;
  ApplySpec(etcd_index, spec);
}

void SeedRunner::ApplySpec(int etcd_index, const Spec& spec) {
  auto find = [&](int ordinal) -> PodRecord* {
    auto it = pods_.find({etcd_index, ordinal});
    return it == pods_.end() ? nullptr : it->second.get();
  };
  // stateful_set_control.go updateStatefulSet: first create missing pods in ascending order;
  // OrderedReady stops at the first pod it creates or finds not ready.
  for (int ordinal = spec.start; spec.exists && ordinal < spec.start + spec.replicas; ++ordinal) {
    PodRecord* pod = find(ordinal);
    if (pod == nullptr) {
      CreatePod(etcd_index, ordinal, spec);
      if (!spec.parallel)
        return;
    } else if (!pod->ready) {
      if (!spec.parallel)
        return;
    }
  }
  // Then surplus pods, highest ordinal first; OrderedReady one at a time, and only once every
  // wanted pod is ready (it returned above otherwise).
  std::vector<int> condemned;
  for (const auto& [key, pod] : pods_) {
    if (key.first == etcd_index && !spec.Wants(key.second))
      condemned.push_back(key.second);
  }
  std::sort(condemned.rbegin(), condemned.rend());
  for (int ordinal : condemned) {
    DeletePod(etcd_index, ordinal, "scaled down");
    if (!spec.parallel)
      return;
  }
  if (!spec.exists || spec.on_delete)
    return;
  // Rolling update: from the top, replace the first pod of an old revision, but only once every
  // pod above it is ready.
  for (int ordinal = spec.start + spec.replicas - 1; ordinal >= spec.start; --ordinal) {
    PodRecord* pod = find(ordinal);
    if (pod == nullptr)
      return;
    if (pod->revision != spec.revision) {
      DeletePod(etcd_index, ordinal, "replaced: template changed to " + spec.revision);
      CreatePod(etcd_index, ordinal, spec);
      return;
    }
    if (!pod->ready)
      return;
  }
}

void SeedRunner::CreatePod(int etcd_index, int ordinal, const Spec& spec) {
  auto pod = std::make_unique<PodRecord>();
  pod->etcd_index = etcd_index;
  pod->ordinal = ordinal;
  pod->statefulset = options_.statefulsets[etcd_index];
  pod->name = PodName(etcd_index, ordinal);
  pod->address = PodAddress(options_.seed_index, etcd_index, ordinal);
  pod->revision = spec.revision;
  pod->host_aliases = spec.host_aliases;
  const std::string dir = options_.work_dir + "/pods/" + pod->name;
  std::error_code ignored;
  fs::create_directories(dir, ignored);
  fs::create_directories(PvcDir(etcd_index, ordinal), ignored);
  pod->hosts_path = dir + "/hosts";
  pod->log_path = dir + "/etcd.log";
  pod->pvc_dir = PvcDir(etcd_index, ordinal);
  pod->next_start = Clock::now();
  PodRecord& created = *pod;
  {
    std::lock_guard lock(mutex_);
    pods_[{etcd_index, ordinal}] = std::move(pod);
  }
  Emit(created, PodEventKind::kCreated, spec.revision);
}

void SeedRunner::DeletePod(int etcd_index, int ordinal, const std::string& why) {
  auto it = pods_.find({etcd_index, ordinal});
  if (it == pods_.end())
    return;
  PodRecord& pod = *it->second;
  bool was_leader = false;
  if (pod.pid > 0) {
    auto status = probe_->Status(ClientUrl(pod.address));
    was_leader = status.ok() && status->member_id != 0 && status->leader_id == status->member_id;
    // As kubelet: SIGTERM (etcd hands leadership over on a graceful stop), SIGKILL after the
    // grace period. Reaped under the lock, so that KillPod never signals a reused pid.
    ::kill(pod.pid, SIGTERM);
    const auto deadline = Clock::now() + options_.termination_grace;
    while (true) {
      {
        std::lock_guard lock(mutex_);
        if (testing::ReapIfExited(pod.pid)) {
          pod.pid = -1;
          break;
        }
        if (Clock::now() > deadline) {
          testing::StopProcess(pod.pid, SIGKILL, 0ms);
          pod.pid = -1;
          break;
        }
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  std::unique_ptr<PodRecord> gone;
  {
    std::lock_guard lock(mutex_);
    gone = std::move(it->second);
    pods_.erase(it);
  }
  Emit(*gone, PodEventKind::kDeleted, why, was_leader);
}

void SeedRunner::KillAll() {
  std::lock_guard lock(mutex_);
  for (auto& [key, pod] : pods_) {
    if (pod->pid > 0)
      testing::StopProcess(pod->pid, SIGKILL, 0ms);
    pod->pid = -1;
    pod->ready = false;
  }
}

void SeedRunner::WriteHostsFiles() {
  std::vector<DnsRecord> dns;
  for (const auto& [key, pod] : pods_) {
    const std::string host = PodPeerHost(options_.ns, pod->statefulset, pod->ordinal);
    dns.push_back({pod->address, {host, host + ".cluster.local"}});
  }
  const std::string seed_hosts = std::string(kManagedHosts) + "\n" + DnsLines(dns, {});
  if (seed_hosts != seed_hosts_ && testing::RewriteInPlace(SeedHostsPath(), seed_hosts).ok())
    seed_hosts_ = seed_hosts;
  for (auto& [key, pod] : pods_) {
    const std::string host = PodPeerHost(options_.ns, pod->statefulset, pod->ordinal);
    std::string content =
        RenderPodHosts(pod->address, host + ".cluster.local", pod->name, pod->host_aliases, dns);
    if (content != pod->hosts_content && testing::RewriteInPlace(pod->hosts_path, content).ok())
      pod->hosts_content = std::move(content);
  }
}

SeedRunner::MemberView SeedRunner::AskMembers(int etcd_index) {
  // Pods running here first: they answer fastest. Nothing listens on the other addresses, which
  // refuse at once.
  std::vector<std::string> endpoints;
  std::set<std::string> seen;
  auto add = [&](const std::string& address) {
    if (seen.insert(address).second)
      endpoints.push_back(ClientUrl(address));
  };
  MemberView view;
  std::error_code ignored;
  for (int ordinal = 0; ordinal < kMaxOrdinals && !view.any_data; ++ordinal)
    view.any_data = fs::exists(PvcDir(etcd_index, ordinal) + "/new.etcd/member", ignored);
  for (const auto& [key, pod] : pods_) {
    if (key.first == etcd_index && pod->pid > 0) {
      add(pod->address);
      view.local_running = true;
    }
  }
  std::vector<int> seeds = options_.lab_seeds;
  if (seeds.empty())
    seeds.push_back(options_.seed_index);
  for (int seed : seeds) {
    for (int ordinal = 0; ordinal < kMaxOrdinals; ++ordinal)
      add(PodAddress(seed, etcd_index, ordinal));
  }
  http::ClientOptions client_options;
  client_options.connect_timeout = 1000ms;
  client_options.request_timeout = 3000ms;
  etcd::Client client(endpoints, client_options);
  auto members = client.MemberList();
  if (members.ok()) {
    view.answered = true;
    view.members = std::move(*members);
  } else {
    view.problem = members.error().message();
  }
  return view;
}

void SeedRunner::StartContainers() {
  const auto now = Clock::now();
  for (size_t index = 0; index < sets_.size(); ++index) {
    const int etcd_index = static_cast<int>(index);
    std::vector<PodRecord*> due;
    for (auto& [key, pod] : pods_) {
      if (key.first == etcd_index && pod->pid <= 0 && pod->next_start <= now)
        due.push_back(pod.get());
    }
    if (due.empty())
      continue;
    // One member list for every pod starting now: the pods of a fresh StatefulSet decide
    // together that they bootstrap, before any of them answers.
    const MemberView view = AskMembers(etcd_index);
    for (PodRecord* pod : due) {
      auto started = StartContainer(*pod, view);
      if (started.ok())
        continue;
      const std::string detail = started.error().message();
      pod->next_start = Clock::now() + kRetryPeriod;
      if (detail != pod->waiting) {
        {
          std::lock_guard lock(mutex_);
          pod->waiting = detail;
        }
        Emit(*pod, PodEventKind::kWaiting, detail);
      }
    }
  }
}

Status SeedRunner::StartContainer(PodRecord& pod, const MemberView& view) {
  const Spec& spec = sets_[pod.etcd_index]->spec;
  const std::string own_peer_url = PodPeerUrl(options_.ns, pod.statefulset, pod.ordinal);
  const std::string own_entry = pod.name + "=" + own_peer_url;
  std::error_code ignored;
  const bool has_data = fs::exists(pod.DataDir() + "/member", ignored);

  std::string how;
  std::string state = "existing";
  std::string initial_cluster = own_entry;  // with data, etcd ignores it
  if (!view.answered) {
    if (view.local_running) {
      // A member runs here but did not answer in time (a loaded machine): starting from old data
      // now could revive a removed member until its peers tell it so. Ask again.
      return Error(ErrorCode::kUnavailable,
                   "members running on this seed do not answer: " + view.problem);
    }
    if (has_data) {
      how = "restart from its data (no member answers)";
    } else if (!view.any_data && spec.Wants(pod.ordinal)) {
      how = "bootstrap a new cluster";
      state = "new";
      initial_cluster.clear();
      for (int ordinal = spec.start; ordinal < spec.start + spec.replicas; ++ordinal) {
        initial_cluster += (initial_cluster.empty() ? "" : ",") + PodName(pod.etcd_index, ordinal) +
                           "=" + PodPeerUrl(options_.ns, pod.statefulset, ordinal);
      }
    } else {
      return Error(ErrorCode::kUnavailable,
                   "no member of the cluster answers and this pod has no data: " + view.problem);
    }
  } else {
    const etcd::Member* self = nullptr;
    for (const auto& member : view.members) {
      if (member.name == pod.name || std::find(member.peer_urls.begin(), member.peer_urls.end(),
                                               own_peer_url) != member.peer_urls.end())
        self = &member;
    }
    if (self == nullptr)
      return Error(ErrorCode::kNotFound,
                   "not a member of the cluster (" + std::to_string(view.members.size()) +
                       " members): waiting for the migrator to add " + own_peer_url);
    if (!self->client_urls.empty() && has_data) {
      how = "restart from its data";
    } else {
      // Never started (an added learner, or a bootstrap member that did not get to publish), or
      // its data is gone: start empty and let the leader send it everything.
      fs::remove_all(pod.DataDir(), ignored);
      how = self->is_learner ? "join as learner" : "join";
      for (const auto& member : view.members) {
        if (!member.name.empty() && member.name != pod.name && !member.peer_urls.empty())
          initial_cluster += "," + member.name + "=" + member.peer_urls.front();
      }
    }
  }

  const std::string peer_host = PodPeerHost(options_.ns, pod.statefulset, pod.ordinal);
  // Flags: etcd 3.4's embed/config.go, as `etcd --help` lists them.
  testing::ProcessSpec process;
  process.argv = {
      options_.etcd_binary,
      "--name=" + pod.name,
      "--data-dir=" + pod.DataDir(),
      "--listen-client-urls=" + ClientUrl(pod.address),
      "--advertise-client-urls=http://" + peer_host + ":" + std::to_string(kClientPort),
      "--listen-peer-urls=http://" + pod.address + ":" + std::to_string(kPeerPort),
      "--initial-advertise-peer-urls=" + own_peer_url,
      "--initial-cluster=" + initial_cluster,
      "--initial-cluster-state=" + state,
      "--initial-cluster-token=seedhop-lab-seed" + std::to_string(options_.seed_index) + "-" +
          options_.ns + "-" + pod.statefulset,
      "--heartbeat-interval=" + std::to_string(options_.heartbeat_interval_ms),
      "--election-timeout=" + std::to_string(options_.election_timeout_ms),
      // On by default from etcd 3.5, which landscapes run (gardener/etcd-wrapper's go.mod pins
      // go.etcd.io/etcd/server/v3 v3.5.x; etcd-druid's internal/component/configmap/etcdconfig.go
      // leaves it unset), off in Debian's 3.4. Without it a restarted or cut-off member's
      // election bumps the term and deposes a healthy leader: write stalls a landscape does not
      // see.
      "--pre-vote=true",
      // etcd-druid's value (internal/component/configmap/etcdconfig.go; the shared reference
      // etcd-main-config-cm.druid.synth.yaml), not etcd's 100,000: a restarted member replays at
      // most this many entries from its WAL, and a learner far behind gets a snapshot.
      "--snapshot-count=10000",
      "--logger=zap",
      "--log-outputs=stderr",
  };
  process.log_path = pod.log_path;
  process.bind_mounts = {{pod.hosts_path, "/etc/hosts"},
                         {SeedResolvConfPath(), "/etc/resolv.conf"}};
  process.nice = options_.etcd_nice;
  auto pid = testing::SpawnProcess(process);
  if (!pid.ok())
    return pid.error().Wrap("pod " + pod.name);
  {
    std::lock_guard lock(mutex_);
    pod.pid = *pid;
    if (pod.started_once)
      ++pod.restarts;
    pod.started_once = true;
    pod.waiting.clear();
  }
  Emit(pod, PodEventKind::kStarted, how);
  return OkStatus();
}

void SeedRunner::WriteStatus(int etcd_index, const Spec& spec) {
  SetRecord& set = *sets_[etcd_index];
  if (!set.have_spec || !spec.exists)
    return;
  if (set.current_revision.empty())
    set.current_revision = spec.revision;
  int replicas = 0;
  int ready = 0;
  int updated = 0;
  for (const auto& [key, pod] : pods_) {
    if (key.first != etcd_index)
      continue;
    ++replicas;
    ready += pod->ready ? 1 : 0;
    updated += pod->revision == spec.revision ? 1 : 0;
  }
  // stateful_set_utils.go completeRollingUpdate: the update revision becomes current once every
  // pod runs it and is ready.
  if (updated == spec.replicas && replicas == spec.replicas && ready == spec.replicas)
    set.current_revision = spec.revision;
  int current = 0;
  for (const auto& [key, pod] : pods_) {
    if (key.first == etcd_index && pod->revision == set.current_revision)
      ++current;
  }
  json status = {{"observedGeneration", spec.generation},
                 {"replicas", replicas},
                 {"readyReplicas", ready},
                 {"currentReplicas", current},
                 {"updatedReplicas", updated},
                 {"availableReplicas", ready},
                 {"currentRevision", set.current_revision},
                 {"updateRevision", spec.revision}};
  if (status == set.written_status)
    return;
  auto patched = kube_->Patch(kStatefulSets.In(options_.ns), set.name, kube::PatchType::kMerge,
                              {{"status", status}}, "status");
  if (patched.ok())
    set.written_status = std::move(status);
}

}  // namespace seedhop::lab
