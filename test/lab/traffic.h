// The lab's load and its observers: a writer that puts keys into the shoot's etcd at a steady rate
// through whichever member leads (as kube-apiserver keeps writing during a migration), a reader
// that checks every acknowledged write at the end, and a sampler that records voters, learners,
// leader and failure tolerance every 50 ms. All talk to the pods' loopback addresses directly.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/etcd/client.h"
#include "common/etcd/sessions.h"

namespace seedhop::lab {

// Where every pod of the lab's etcd might run: address by ordinal, for one seed each.
// Returns the client URLs ("http://127.20.0.1:2379") of pods that exist now, by ordinal.
using PodDirectory = std::function<std::map<int, std::string>()>;

// One cluster sample. A voter is up when it answers its status for itself (within 2 s, or 10 s
// when asked again) with no alarm and has not been without a leader for kLeaderlessSamples
// samples in a row; failure tolerance is up voters minus quorum.
struct Sample {
  std::chrono::steady_clock::time_point at;
  int voters = 0;
  int learners = 0;
  int healthy_voters = 0;
  // Voters that answered for themselves but have had no leader for kLeaderlessSamples samples
  // while another voter has one: cut off from the quorum. Not counted as up.
  int isolated_voters = 0;
  uint64_t leader_id = 0;
  int failure_tolerance = 0;
  bool known = false;  // false: no member answered the member list
};

// Samples in a row without a leader after which a voter counts as down (150 ms at 50 ms).
inline constexpr int kLeaderlessSamples = 3;

// Samples the cluster every `interval` on a thread of its own until Stop().
class Sampler {
 public:
  Sampler(std::string etcd, PodDirectory pods, std::chrono::milliseconds interval);
  ~Sampler();
  void Start();
  void Stop();
  // Samples taken so far (thread-safe copy).
  std::vector<Sample> Samples() const;
  // The leader's client URL as last seen, "" when unknown.
  std::string LeaderUrl() const;

 private:
  Sample Take();

  const std::string etcd_;
  const PodDirectory pods_;
  const std::chrono::milliseconds interval_;
  // Kept from sample to sample while the pods stay the same (sampler thread only): its pooled
  // connections spare the members 20 connection setups per second each.
  etcd::Sessions sessions_;
  mutable std::mutex mutex_;
  std::vector<Sample> samples_;
  std::string leader_url_;
  std::map<uint64_t, int> leaderless_streak_;  // by member id; sampler thread only
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One write as the writer saw it.
struct WriteRecord {
  int64_t key = 0;  // the n of "/seedhop-lab/<n>"
  // When the write was due at the writer's steady rate, which is when it was sent unless an
  // earlier slow write held it back. Latency counts from here, so a write that waited behind a
  // stall carries that wait (no coordinated omission: the tail is what a client queue sees).
  std::chrono::steady_clock::time_point started;
  std::chrono::microseconds latency{0};  // from `started` until acknowledged, retries included
  bool acknowledged = false;
  int attempts = 0;
};

// Writers even at low rates: with one, a write waiting on a member that cannot answer (a pod
// restarting and replaying its log, one going away) stops all writing, a stall of the lab's
// client that kube-apiserver, with its many concurrent requests, does not have.
inline constexpr int kMinWriters = 4;
// One writer per this many writes/s, so each may take 1/25 s (40 ms) per write before its next
// one is late. Latency counts from when a write was due, so too few writers would measure the
// writer's own queue: kube-apiserver's etcd client does not make a write wait for the one before.
inline constexpr int kWritesPerWriter = 25;
inline constexpr int kMaxWriters = 64;

// Writes slower than this are kept with what each attempt met (Writer::SlowWrites).
inline constexpr std::chrono::milliseconds kSlowWrite{500};

struct VerifyResult {
  int64_t checked = 0;
  // Acknowledged writes that could not be read back because the cluster did not answer.
  int64_t unverified = 0;
  int64_t lost = 0;  // acknowledged writes whose key is missing or holds another value
  std::vector<std::string> lost_keys;  // the first few
};

// The client URL of the member that leads now ("" when unknown), e.g. Sampler::LeaderUrl.
using LeaderDirectory = std::function<std::string()>;

// Writes keys "/seedhop-lab/<n>" = "value-<n>" at `rate` per second until Stop(), from one
// thread per kWritesPerWriter writes/s (kMinWriters to kMaxWriters), each at its share of the rate,
// so that one slow write does not hold the others back, as kube-apiserver's many clients do not
// wait for each other. Each write goes to the member `leader` names (any pod when it names none;
// `leader` may be empty) and is retried until it is acknowledged or `give_up` passes (then it
// counts as failed, not lost: it was never acknowledged): on the leader named then, when that is
// not the member that just failed, else on the pods in turn, from one that depends on the key. A
// leader that refused only because leadership is changing hands has not failed: a follower would
// forward the retry into the hand-over, where it is dropped without an answer.
class Writer {
 public:
  Writer(PodDirectory pods, LeaderDirectory leader, int rate, std::chrono::milliseconds give_up);
  ~Writer();
  void Start();
  void Stop();
  std::vector<WriteRecord> Records() const;
  // The first few writes slower than kSlowWrite, each with its attempts: which member, how long,
  // what error. Where a stall comes from when the cluster itself kept serving.
  std::vector<std::string> SlowWrites() const;
  // Reads back every acknowledged key through any pod. Call after Stop().
  VerifyResult Verify();

 private:
  using Clients = std::map<std::string, std::unique_ptr<etcd::Client>>;  // one thread's
  void WriteLoop(int worker, int workers);
  bool WriteOne(Clients& clients, WriteRecord& record);

  const PodDirectory pods_;
  const LeaderDirectory leader_;
  const int rate_;
  const std::chrono::milliseconds give_up_;
  mutable std::mutex mutex_;
  std::vector<WriteRecord> records_;
  std::vector<std::string> slow_writes_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// The p-th percentile (0..100) of acknowledged latencies of writes started in [from, to), in ms;
// 0 when there are none.
double LatencyPercentileMs(const std::vector<WriteRecord>& records, double p,
                           std::chrono::steady_clock::time_point from,
                           std::chrono::steady_clock::time_point to);

// The acknowledged writes started in [from, to), and how many of them took longer than
// `threshold_ms`.
struct WriteCount {
  int64_t acknowledged = 0;
  int64_t slower = 0;
};
WriteCount CountWrites(const std::vector<WriteRecord>& records, double threshold_ms,
                       std::chrono::steady_clock::time_point from,
                       std::chrono::steady_clock::time_point to);

// A run of slow writes, each due within a gap of the one before it.
struct SlowBurst {
  std::chrono::steady_clock::time_point began;  // the first write's due time
  std::chrono::steady_clock::time_point ended;  // the last acknowledgement among its writes
  int64_t writes = 0;
};

// The writes CountWrites counts as slower, grouped into bursts in order of due time: a slow write
// due within `gap` of the previous one joins its burst. Many short bursts are discrete events (a
// pod restart, a membership change); few long ones are a cluster that cannot keep up.
std::vector<SlowBurst> FindSlowBursts(const std::vector<WriteRecord>& records, double threshold_ms,
                                      std::chrono::milliseconds gap,
                                      std::chrono::steady_clock::time_point from,
                                      std::chrono::steady_clock::time_point to);

// What the lab saw happen during the move, as times.
struct MoveEvents {
  std::vector<std::chrono::steady_clock::time_point> etcd_starts;  // a pod's etcd process started
  // An add-learner, promote or remove-member step seen complete.
  std::vector<std::chrono::steady_clock::time_point> membership_changes;
  std::vector<std::chrono::steady_clock::time_point> leader_changes;  // a new leader sampled
};

// What a burst of slow writes followed, the first that applies (kNone: none of them, this
// machine's own noise). Each is looked for around the burst's first due time:
// kEtcdStarted: an etcd process started in the 400 ms before it (a starting etcd takes most of
//   its start-up CPU in its first half second);
// kMembershipChanged: a step seen complete from 150 ms before to 350 ms after it (etcd applied
//   the change before the migrator recorded the step, and the lab polls every 100 ms);
// kLeaderChanged: a new leader sampled from 300 ms before to 100 ms after it (every 50 ms).
enum class BurstCause { kEtcdStarted, kMembershipChanged, kLeaderChanged, kNone };
inline constexpr int kBurstCauses = static_cast<int>(BurstCause::kNone) + 1;
BurstCause CauseOf(const SlowBurst& burst, const MoveEvents& events);
// "etcdStarted", "membershipChanged", "leaderChanged", "none": the report's keys.
const char* BurstCauseName(BurstCause cause);

// The longest stretch without an acknowledged write completing within [from, to).
struct Stall {
  double ms = 0;
  std::chrono::steady_clock::time_point began;  // the last completion before it (or `from`)
};
Stall LongestStall(const std::vector<WriteRecord>& records,
                   std::chrono::steady_clock::time_point from,
                   std::chrono::steady_clock::time_point to);

// The machine's CPU time since boot, over all CPUs, in USER_HZ ticks: busy is user, nice,
// system, irq, softirq and steal (time the lab could not use), total adds idle and iowait.
struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};

// Reads the aggregate "cpu" line of /proc/stat's text (proc(5)). Error when it is missing or has
// fewer than the eight fields up to steal.
Result<CpuTimes> ParseProcStat(std::string_view text);

// The machine's CPU times now; zero when /proc/stat cannot be read.
CpuTimes ReadMachineCpu();

// The share of all CPUs' time spent busy between two readings, 0 to 100 (100: every core busy
// throughout); 0 when no time passed between them. Whether the machine had CPU to spare, since
// the lab's etcd members share it where a landscape gives each its own node.
double BusyPercent(const CpuTimes& from, const CpuTimes& to);

}  // namespace seedhop::lab
