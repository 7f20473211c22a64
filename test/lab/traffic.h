// The lab's load and its observers: a writer that puts keys into the shoot's etcd at a steady rate
// through whichever member leads (as kube-apiserver keeps writing during a migration), a reader
// that checks every acknowledged write at the end, and a sampler that records voters, learners,
// leader and failure tolerance every 50 ms. All talk to the pods' loopback addresses directly.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/etcd/client.h"

namespace seedhop::lab {

// Where every pod of the lab's etcd might run: address by ordinal, for one seed each.
// Returns the client URLs ("http://127.20.0.1:2379") of pods that exist now, by ordinal.
using PodDirectory = std::function<std::map<int, std::string>()>;

// One cluster sample. A voter is up when it answers its status for itself with no alarm; failure
// tolerance is up voters minus quorum.
struct Sample {
  std::chrono::steady_clock::time_point at;
  int voters = 0;
  int learners = 0;
  int healthy_voters = 0;
  uint64_t leader_id = 0;
  int failure_tolerance = 0;
  bool known = false;  // false: no member answered the member list
};

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
  mutable std::mutex mutex_;
  std::vector<Sample> samples_;
  std::string leader_url_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One write as the writer saw it.
struct WriteRecord {
  std::chrono::steady_clock::time_point started;
  std::chrono::microseconds latency{0};  // until acknowledged, retries included
  bool acknowledged = false;
};

struct VerifyResult {
  int64_t checked = 0;
  int64_t lost = 0;  // acknowledged writes whose key is missing or holds another value
  std::vector<std::string> lost_keys;  // the first few
};

// Writes keys "/seedhop-lab/<n>" = "value-<n>" at `rate` per second until Stop(). Each write goes
// to the leader the sampler reports (any pod when none is known) and is retried on another pod
// until it is acknowledged or `give_up` passes (then it counts as failed, not lost: it was never
// acknowledged).
class Writer {
 public:
  Writer(PodDirectory pods, const Sampler* sampler, int rate, std::chrono::milliseconds give_up);
  ~Writer();
  void Start();
  void Stop();
  std::vector<WriteRecord> Records() const;
  // Reads back every acknowledged key through any pod. Call after Stop().
  VerifyResult Verify();

 private:
  bool WriteOne(int64_t n, WriteRecord& record);
  etcd::Client& ClientFor(const std::string& url);

  const PodDirectory pods_;
  const Sampler* sampler_;
  const int rate_;
  const std::chrono::milliseconds give_up_;
  mutable std::mutex mutex_;
  std::vector<WriteRecord> records_;
  std::map<std::string, std::unique_ptr<etcd::Client>> clients_;  // writer thread only
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The p-th percentile (0..100) of acknowledged latencies of writes started in [from, to), in ms;
// 0 when there are none.
double LatencyPercentileMs(const std::vector<WriteRecord>& records, double p,
                           std::chrono::steady_clock::time_point from,
                           std::chrono::steady_clock::time_point to);

// The longest stretch without an acknowledged write completing, in ms, within [from, to).
double LongestStallMs(const std::vector<WriteRecord>& records,
                      std::chrono::steady_clock::time_point from,
                      std::chrono::steady_clock::time_point to);

}  // namespace seedhop::lab
