// An etcd v3 client over the JSON gRPC gateway that etcd serves on its client port (`/v3/...`,
// etcd 3.4+): cluster membership (list, add as learner, promote, remove), per-endpoint status and
// health, leadership transfer, and single-key put/get. Used by the migrator before and during each
// member move, and by the lab's writer.
//
// Wire shapes follow etcd's rpc.proto (etcd 3.4: etcdserver/etcdserverpb/rpc.proto; 3.5+:
// api/etcdserverpb/rpc.proto) as rendered by grpc-gateway (etcdserverpb/gw/rpc.pb.gw.go): uint64
// and int64 fields arrive as JSON strings, keys and values are base64, and errors are bodies of
// the form {"error": ..., "code": <gRPC code>}. `/health` is etcd's etcdhttp handler
// (etcd 3.4: etcdserver/api/etcdhttp/metrics.go).
//
// Endpoint failover: requests that the cluster answers as a whole (membership, put/get) try the
// configured endpoints in turn, starting with the last one that answered, and move on only when an
// endpoint cannot be reached (a transport error) or is a learner refusing the request. Any other
// answer from etcd, even an error, is final.
// A request that timed out may still have been applied (e.g. a member add): callers re-read the
// member list before repeating one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http/client.h"
#include "common/result.h"

namespace seedhop::etcd {

// One member as the cluster lists it.
struct Member {
  uint64_t id = 0;
  std::string name;  // empty until the member's process has started and joined
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;  // empty until the member has started
  bool is_learner = false;
};

// What one endpoint says about itself and its view of the cluster (etcd's StatusResponse).
struct EndpointStatus {
  std::string endpoint;
  uint64_t member_id = 0;
  uint64_t leader_id = 0;  // 0: this member currently knows no leader
  uint64_t raft_index = 0;
  uint64_t raft_applied_index = 0;
  uint64_t raft_term = 0;
  int64_t db_size_bytes = 0;
  std::string version;
  bool is_learner = false;
  std::vector<std::string> errors;  // e.g. raised alarms ("NOSPACE"); empty when fine
};

// The endpoint's own `/health` verdict (etcd serves 503 with health "false" when it has no leader
// or an alarm is raised).
struct EndpointHealth {
  std::string endpoint;
  bool healthy = false;
  std::string reason;  // etcd's reason, or the HTTP status when etcd gave none; "" when healthy
};

// One member's health as the migrator judges it: it answered a status request, knows a leader and
// reports no errors.
struct MemberHealth {
  Member member;
  bool healthy = false;
  std::optional<EndpointStatus> status;  // absent when the member could not be asked
  std::string problem;                   // why it is not healthy; "" when healthy
};

// The cluster's fault tolerance in numbers. Learners never count: they have no vote.
struct ClusterHealth {
  int voters = 0;
  int learners = 0;
  int healthy_voters = 0;
  uint64_t leader_id = 0;  // as reported by the healthy member with the highest raft term; 0: none
  // healthy_voters - quorum, where quorum = voters / 2 + 1. Negative: quorum is lost.
  int failure_tolerance = 0;
  std::vector<MemberHealth> members;  // in member-list order
};

// Judges one member from the outcome of asking its endpoint for its status.
MemberHealth AssessMember(const Member& member, const Result<EndpointStatus>& status);

// Sums up assessed members into the cluster's numbers. Pure: no I/O.
ClusterHealth SummarizeHealth(std::vector<MemberHealth> members);

// True when `error` is etcd refusing to promote a learner that has not caught up with the leader
// yet (etcd's ErrLearnerNotReady). Such errors carry kUnavailable: wait and promote again.
bool IsLearnerNotReady(const Error& error);

// Thread-safe.
class Client {
 public:
  // `endpoints` are client URLs such as "https://10.0.0.1:2379". `options` carry the CA and, for
  // clusters that require client certificates, the client certificate and key.
  // REQUIRES: `endpoints` is not empty.
  Client(std::vector<std::string> endpoints, http::ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Returns every member, learners and not yet started members included.
  Result<std::vector<Member>> MemberList();

  // Adds a member with `peer_urls`, as a learner when `learner` (the way to grow a cluster without
  // changing its quorum). Returns the new member (not started: no name, no client URLs). etcd
  // refuses with kUnavailable for a few seconds after a cluster starts, and with kConflict while
  // another learner exists.
  Result<Member> MemberAdd(const std::vector<std::string>& peer_urls, bool learner);

  // Removes member `id` from the cluster. Removing the leader works but costs an election: move
  // leadership away first. kNotFound when there is no such member. The request goes to another
  // member's endpoint when one is configured: a removed member shuts down and may drop the answer.
  // A lost answer can still mean the member is gone, so callers treat a later kNotFound as done.
  seedhop::Status MemberRemove(uint64_t id);

  // Promotes learner `id` to a voting member. A learner that has not caught up yet gives an error
  // for which IsLearnerNotReady() is true.
  seedhop::Status MemberPromote(uint64_t id);

  // Asks `endpoint` (one client URL, need not be among the configured ones) for its status.
  Result<EndpointStatus> Status(const std::string& endpoint);

  // Asks `endpoint` for its `/health` verdict. An unhealthy answer is a successful Result; only
  // failing to get an answer is an error.
  Result<EndpointHealth> Health(const std::string& endpoint);

  // Makes voting member `target_id` the leader. The request goes to the current leader, found
  // through the status of the configured endpoints. Succeeds at once when `target_id` already
  // leads.
  seedhop::Status MoveLeader(uint64_t target_id);

  // Lists the members and asks each for its status (through a configured endpoint when one belongs
  // to the member, otherwise through the member's first client URL), then summarizes.
  Result<ClusterHealth> CheckHealth();

  // Writes `value` at `key`. Returns the store's revision after the write.
  Result<int64_t> Put(const std::string& key, const std::string& value);

  // Reads `key` (a linearizable read). Returns nullopt when the key does not exist.
  Result<std::optional<std::string>> Get(const std::string& key);

 private:
  struct Reply;
  // POSTs `body` to `path` on the configured endpoints with failover, trying those in `try_last`
  // only after all others; `op` names the operation in errors ("member add").
  Result<Reply> Call(const std::string& op, const std::string& path, const std::string& body,
                     const std::vector<std::string>& try_last = {});
  // POSTs `body` to `path` on `endpoint` only. Sets `*unreachable` (when given) if no answer came.
  Result<Reply> CallOne(const std::string& op, const std::string& endpoint, const std::string& path,
                        const std::string& body, bool* unreachable = nullptr);

  // Wraps a transport error of `op`, with a hint when a TLS refusal looks like a missing client
  // certificate.
  Error TransportError(const std::string& op, const Error& error) const;

  std::vector<std::string> endpoints_;
  bool has_client_cert_ = false;
  std::unique_ptr<http::Client> http_;
  std::atomic<size_t> preferred_{0};  // index of the endpoint that answered last
};

}  // namespace seedhop::etcd
