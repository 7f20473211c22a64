// Real etcd clusters for tests and the lab: etcd processes (/usr/bin/etcd, Debian etcd-server) on
// loopback ports, data in a temporary directory, optionally with TLS and client certificates
// required on both the client and the peer port. Processes die with the test: the destructor kills
// them, and each child asks the kernel for SIGKILL when its parent goes away (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/http/client.h"
#include "common/result.h"
#include "test/support/certs.h"

namespace seedhop::testing {

struct EtcdClusterOptions {
  int members = 3;
  // Member names are this followed by the slot index: "m0", "m1", ..., or with "etcd-main-" the
  // names etcd-druid gives the members of StatefulSet etcd-main, as the migrator reads them.
  std::string name_prefix = "m";
  bool tls = false;  // https on client and peer ports, client certificates required on both
  std::string etcd_binary = "/usr/bin/etcd";
  // Fast elections, so that leader loss and moves take well under a second.
  int heartbeat_interval_ms = 50;
  int election_timeout_ms = 500;
  std::chrono::milliseconds start_timeout{15000};
};

// Not thread-safe. REQUIRES: created and destroyed on the same thread (PR_SET_PDEATHSIG fires when
// the forking thread exits).
class EtcdCluster {
 public:
  // Starts `options.members` processes as one new cluster and waits until every member reports
  // healthy. Errors carry the tail of a failing member's log.
  static Result<std::unique_ptr<EtcdCluster>> Start(EtcdClusterOptions options);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Number of member slots: the initial members plus every reserved one (stopped ones included).
  int size() const { return static_cast<int>(slots_.size()); }
  // Member slot `index`'s name (name_prefix and the index), client URL and peer URL.
  const std::string& Name(int index) const;
  const std::string& ClientUrl(int index) const;
  const std::string& PeerUrl(int index) const;
  // Client URLs of the members whose processes are running.
  std::vector<std::string> RunningClientUrls() const;
  bool IsRunning(int index) const;

  // Picks a name and free ports for a new member and returns its slot; nothing starts yet. Add it
  // with etcd (MemberAdd of PeerUrl(index)), then StartJoining.
  int Reserve();
  // Starts slot `index` as a member joining the existing cluster. `initial_cluster` must list the
  // cluster's current membership as "name=peerURL,..." including this member under Name(index).
  // Waits until its client port accepts connections (a learner reports no health of its own).
  Status StartJoining(int index, const std::string& initial_cluster);

  // Kills member `index` with SIGKILL and reaps it; its data stays. No-op when not running.
  void Kill(int index);
  // Restarts a killed member from its data directory. Waits until its client port accepts
  // connections.
  Status Restart(int index);

  // Client options trusting the cluster's CA with a client certificate (TLS), or plain defaults.
  http::ClientOptions ClientOptions() const;
  // Like ClientOptions() but without a client certificate: a TLS cluster must refuse it.
  http::ClientOptions ClientOptionsWithoutCert() const;

  // The member's log file (etcd's stderr), for diagnostics.
  std::string LogPath(int index) const;

 private:
  struct Slot {
    std::string name;
    std::string client_url;
    std::string peer_url;
    std::string data_dir;
    pid_t pid = -1;
  };

  explicit EtcdCluster(EtcdClusterOptions options);
  Status Prepare();
  Status Spawn(int index, const std::string& initial_cluster, const std::string& state);
  Status WaitListening(int index);
  std::string LogTail(int index) const;

  EtcdClusterOptions options_;
  std::string root_;  // temporary directory holding data dirs, logs and certificates
  std::string token_;
  CertPair ca_;
  CertPair client_;
  std::vector<Slot> slots_;
};

}  // namespace seedhop::testing
