// One plain-HTTP address in front of real etcd members, each under a path named for its pod
// ("http://127.0.0.1:<port>/etcd-main-0/v3/..."), so that a migrator's client URL template
// ("http://127.0.0.1:<port>/{pod}") reaches them without cluster DNS. It forwards every request
// unchanged, unless told to make etcd refuse leadership transfers (a fault on cue, see below).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/http/client.h"
#include "common/http/server.h"
#include "common/result.h"

namespace seedhop::testing {

class EtcdPodFront {
 public:
  // `members`: each pod's name and its etcd client URL (plain http).
  explicit EtcdPodFront(std::map<std::string, std::string> members);
  ~EtcdPodFront();
  EtcdPodFront(const EtcdPodFront&) = delete;
  EtcdPodFront& operator=(const EtcdPodFront&) = delete;

  // Listens on 127.0.0.1 at a free port.
  Status Start();
  // The client URL template for the migrator: "http://127.0.0.1:<port>/{pod}".
  std::string UrlTemplate() const;

  // While on, a transfer-leadership request reaches etcd naming a transferee no member has, so
  // etcd itself refuses it with its own error ("bad leader transferee"), as it refuses a transfer
  // it cannot complete. Every other request still passes unchanged.
  void RefuseLeaderTransfers(bool on) { refuse_transfers_ = on; }
  // Transfer-leadership requests seen so far (refused or not).
  int LeaderTransfers() const { return transfers_; }

 private:
  http::Response Forward(const http::Request& request);

  const std::map<std::string, std::string> members_;
  std::atomic<bool> refuse_transfers_{false};
  std::atomic<int> transfers_{0};
  std::mutex client_mutex_;  // http::Client serves one request at a time
  http::Client client_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace seedhop::testing
