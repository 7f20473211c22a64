// The lab's stand-in for one seed's kubelet, StatefulSet controller and etcd-backup-restore, for
// etcd StatefulSets in etcd-druid's shape (../shared/reference/gardener/etcd-main-sts.druid.synth
// .yaml) stored in that seed's API-server emulator: each pod is one real etcd process
// (/usr/bin/etcd) on a loopback address of its own, resolving peer names only through a private
// /etc/hosts, as migrator/planner.h models a pod.
//
// What it emulates:
// - StatefulSet controller (kubernetes pkg/controller/statefulset/stateful_set_control.go): pods
//   `<sts>-<i>` for i in [spec.ordinals.start, start + spec.replicas). podManagementPolicy
//   OrderedReady (the Kubernetes default) creates one pod at a time in ascending order, each after
//   every lower pod is ready, and deletes surplus pods highest first, one at a time, only while
//   the others are ready; Parallel (what druid sets) creates and deletes them all at once. A fresh
//   multi-member etcd StatefulSet only forms a cluster under Parallel: under OrderedReady its first
//   pod waits for a quorum that would need the pods after it, as in a real cluster.
//   updateStrategy RollingUpdate (no partition, no maxUnavailable): when the hash of
//   spec.template changes, pods are replaced one at a time from the highest ordinal down, each
//   replacement waiting until every pod above it is ready again; OnDelete replaces none. Status
//   (observedGeneration, replicas, readyReplicas, currentReplicas, updatedReplicas,
//   availableReplicas, currentRevision, updateRevision) is written through the status subresource
//   whenever it changes.
// - kubelet: a pod's /etc/hosts is written once when the pod is created: kubelet's managed
//   header and the template's hostAliases as they are then (pkg/kubelet/kubelet_pods.go
//   managedHostsFileContent). A container restart (crash, KillPod, member removed) keeps the pod
//   and its hosts file; only replacing the pod (a roll) picks up new aliases. Restarts back off
//   from 250 ms, doubling up to 4 s, reset once the pod is ready (kubelet starts at 10 s). A pod
//   the initializer holds back (below) asks again every second.
// - cluster DNS: the headless peer Service (publishNotReadyAddresses, as druid sets it) gives
//   every pod that exists on THIS seed the names `<pod>.<sts>-peer.<ns>.svc[.cluster.local]`. The
//   lab appends those records to every pod's hosts file, leaving out names the pod has a hostAlias
//   for (`hosts: files dns`: an alias wins, and a stale alias hides a local member), and rewrites
//   them in place as pods come and go. A pod's resolv.conf names a server nobody listens on, so a
//   name the hosts file lacks fails at once: no alias and no local pod, no route.
// - etcd-backup-restore's initializer (gardener/etcd-backup-restore pkg/initializer,
//   pkg/member/member_control.go), before every container start: ask the cluster for its member
//   list (the runner, as kubelet, reaches every pod address of the lab's seeds directly), then
//     * no member answers: wait while another pod of the StatefulSet runs on this seed (it was
//       only slow); else restart from the data directory if there is one; else, when no pod of
//       the StatefulSet on this seed has data yet, bootstrap a new cluster of all of
//       [start, start + replicas) (--initial-cluster-state new); else wait;
//     * the pod's member is listed (by name or by peer URL) and has published client URLs: restart
//       from the data directory if there is one;
//     * listed but never started (a learner the migrator added), or started but without data:
//       wipe the data directory and join (--initial-cluster-state existing, --initial-cluster of
//       the named members plus this one);
//     * not listed: stay not ready and ask again later. The runner never adds or removes members:
//       the migrator does. A removed member's etcd exits; its restart then waits here.
// - readiness: a voter is ready when /health says true; a learner (no vote, so no health of its
//   own) when its client port answers a status request.
//
// Plain http on client and peer ports (no TLS yet). Data directories (the PVCs) live under the
// work directory and survive pod deletion, as PVCs do under the default retention policy.
// Needs root: every etcd runs in a mount namespace of its own (test/support/process.h).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/kube/kubeconfig.h"
#include "common/result.h"
#include "test/support/process.h"

namespace seedhop::kube {
class Client;
}
namespace seedhop::etcd {
class Client;
}

namespace seedhop::lab {

// Ordinals the runner runs and looks for when it asks for a member list: 0..kMaxOrdinals-1
// (migrator/planner.h uses the same bound). A StatefulSet reaching past them is left as it is.
inline constexpr int kMaxOrdinals = 32;
inline constexpr int kClientPort = 2379;
inline constexpr int kPeerPort = 2380;

// Returns the loopback address of pod `ordinal` of the `etcd_index`-th etcd StatefulSet on seed
// `seed_index`: 127.(20+seed_index).(etcd_index).(ordinal+1).
// REQUIRES: 0 <= seed_index < 200, 0 <= etcd_index < 256, 0 <= ordinal < kMaxOrdinals.
std::string PodAddress(int seed_index, int etcd_index, int ordinal);

// Returns "<sts>-<ordinal>.<sts>-peer.<ns>.svc", the name a pod advertises its URLs under.
std::string PodPeerHost(const std::string& ns, const std::string& statefulset, int ordinal);

// Returns "http://<PodPeerHost>:2380", the member's peer URL as the migrator adds it.
std::string PodPeerUrl(const std::string& ns, const std::string& statefulset, int ordinal);

// One record of a seed's cluster DNS: `names` resolve to `address`.
struct DnsRecord {
  std::string address;
  std::vector<std::string> names;
};

// Returns a pod's hosts file: kubelet's managed header with the pod's own entry
// (`pod_address` `pod_fqdn` `hostname`), the entries of `host_aliases` (a pod spec's hostAliases
// array), then every name of `dns` the aliases do not name. Pure.
std::string RenderPodHosts(const std::string& pod_address, const std::string& pod_fqdn,
                           const std::string& hostname, const nlohmann::json& host_aliases,
                           const std::vector<DnsRecord>& dns);

struct RunnerOptions {
  kube::RestConfig rest;  // the seed's API server
  std::string ns;         // the namespace of the StatefulSets
  // The etcd StatefulSets to run; a name's position is its etcd_index in PodAddress.
  std::vector<std::string> statefulsets;
  int seed_index = 0;
  // Every seed of the lab, this one included: the runner asks their pod addresses for the member
  // list, standing in for the client endpoints etcd-backup-restore is given. Empty: this seed only.
  std::vector<int> lab_seeds;
  // Created if missing: data directories, hosts files, logs. Not removed by the runner.
  std::string work_dir;
  std::string etcd_binary = "/usr/bin/etcd";
  // The etcd processes' nice value. 0 (the default): the same CPU priority as the lab's writer.
  // Raised, etcd yields the machine's cores to the writer: a client with a CPU of its own, as
  // kube-apiserver has in a landscape (docs/lab.md, "the writer first").
  int etcd_nice = 0;
  // Fast elections, as test/support/etcd_cluster.h uses.
  int heartbeat_interval_ms = 50;
  int election_timeout_ms = 500;
  std::chrono::milliseconds poll_interval{200};
  // How often a ready pod's etcd is probed (health, a linearizable read, and status); a pod not
  // ready yet is probed every poll. etcd-druid's readiness probe runs every 5 s
  // (../shared/reference/gardener/etcd-main-sts.druid.synth.yaml, periodSeconds); probing each
  // ready member 5 times a second would put a raft round per probe on the leader that a
  // landscape does not have. A pod whose etcd exits is not ready at once (the runner reaps it).
  std::chrono::milliseconds ready_probe_period{5000};
  // How long a deleted pod's etcd gets between SIGTERM and SIGKILL.
  std::chrono::milliseconds termination_grace{5000};
};

enum class PodEventKind {
  kCreated,  // the pod exists: its hosts file is written and its DNS record published
  kStarted,  // its etcd process started; detail: how (bootstrap, restart, join)
  kReady,
  kWaiting,  // its etcd cannot start yet; detail: why (logged once per reason)
  kExited,   // its etcd process ended; detail: exit status and the log's tail
  kDeleted,  // the pod is gone (scale-down or replaced by a roll); detail: which
};

// Returns "created", "started", ... as events are printed.
const char* PodEventKindName(PodEventKind kind);

struct PodEvent {
  std::chrono::steady_clock::time_point time;
  std::string statefulset;
  int ordinal = 0;
  PodEventKind kind = PodEventKind::kCreated;
  std::string detail;
  // kDeleted: its etcd said it led the cluster just before the runner stopped it.
  bool was_leader = false;
};

// What one pod looks like now.
struct PodState {
  std::string statefulset;
  int ordinal = 0;
  std::string name;      // "<sts>-<ordinal>"
  std::string address;   // PodAddress
  bool running = false;  // its etcd process is alive
  bool ready = false;
  bool learner = false;       // as its last status answer said
  std::string template_hash;  // the revision it was created from ("<sts>-<hash>")
  int restarts = 0;           // container restarts (not counting the first start)
  std::string hosts_path;     // its /etc/hosts
  std::string log_path;       // its etcd's stderr, across restarts
  std::string data_dir;       // its PVC's etcd data directory
  std::string waiting;        // why its etcd has not started yet; "" once it has
};

// Starts and stops from the owner's thread; the reconcile loop runs on a thread of its own, which
// forks every etcd (so they die with it). Thread-safe.
class SeedRunner {
 public:
  // Called on the runner's thread for every pod event; keep it short. May be empty.
  using EventCallback = std::function<void(const PodEvent&)>;

  explicit SeedRunner(RunnerOptions options, EventCallback on_event = {});
  // Stops the runner.
  ~SeedRunner();
  SeedRunner(const SeedRunner&) = delete;
  SeedRunner& operator=(const SeedRunner&) = delete;

  // Checks the options and the etcd binary, takes the machine-wide lock on the seed index (a
  // kConflict error while another runner holds it), prepares the work directory and starts the
  // loop. REQUIRES: called once.
  Status Start();
  // Ends the loop, SIGKILLs every etcd, joins the thread and releases the seed index. Data
  // directories stay. Idempotent.
  void Stop();

  // The seed-wide hosts file: localhost and the seed's cluster-DNS records only, kept current.
  // Bind it over /etc/hosts (with SeedResolvConfPath over /etc/resolv.conf, see SeedMounts) for a
  // process that should resolve names as a pod without aliases on this seed does.
  std::string SeedHostsPath() const;
  std::string SeedResolvConfPath() const;
  // The bind mounts that give a process this seed's name resolution (test/support/process.h).
  std::vector<testing::BindMount> SeedMounts() const;

  // Every pod that exists now, by StatefulSet (in options order), then ordinal.
  std::vector<PodState> Pods() const;
  // Pod `ordinal` of `statefulset`, or nullopt when it does not exist.
  std::optional<PodState> Pod(const std::string& statefulset, int ordinal) const;

  // SIGKILLs pod `ordinal`'s etcd, as a crashing container; the runner restarts it after its
  // backoff. kNotFound when the pod does not exist, kUnavailable when its etcd is not running.
  Status KillPod(const std::string& statefulset, int ordinal);

 private:
  struct PodRecord;
  struct SetRecord;
  struct Spec;
  struct MemberView;

  void Loop();
  void Tick();
  void ReapExited();
  void Probe();
  void Reconcile(int etcd_index);
  void ApplySpec(int etcd_index, const Spec& spec);
  void CreatePod(int etcd_index, int ordinal, const Spec& spec);
  void DeletePod(int etcd_index, int ordinal, const std::string& why);
  void WriteHostsFiles();
  void StartContainers();
  Status StartContainer(PodRecord& pod, const MemberView& view);
  MemberView AskMembers(int etcd_index);
  void WriteStatus(int etcd_index, const Spec& spec);
  void KillAll();
  void Emit(const PodRecord& pod, PodEventKind kind, const std::string& detail,
            bool was_leader = false);
  PodState StateOf(const PodRecord& pod) const;
  std::string PodName(int etcd_index, int ordinal) const;
  std::string PvcDir(int etcd_index, int ordinal) const;

  const RunnerOptions options_;
  const EventCallback on_event_;
  std::unique_ptr<kube::Client> kube_;
  std::unique_ptr<etcd::Client> probe_;

  // Guards pods_ (its shape and every field PodState shows) and stopping_. The loop thread is the
  // only writer: it reads without the lock and writes under it.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool started_ = false;
  std::map<std::pair<int, int>, std::unique_ptr<PodRecord>> pods_;  // (etcd_index, ordinal)
  std::vector<std::unique_ptr<SetRecord>> sets_;                    // by etcd_index
  std::string seed_hosts_;  // last content written to SeedHostsPath()
  int lock_fd_ = -1;        // holds the machine-wide lock on the seed index
  std::thread thread_;
};

}  // namespace seedhop::lab
