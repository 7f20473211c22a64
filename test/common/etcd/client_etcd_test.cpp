// The etcd client against real etcd clusters (Debian etcd-server) started on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "common/etcd/client.h"
#include "test/support/etcd_cluster.h"

namespace seedhop::etcd {
namespace {

using namespace std::chrono_literals;
using testing::EtcdCluster;
using testing::EtcdClusterOptions;

// Retries `call` while it fails with a retryable error, for up to `timeout`.
template <typename Call>
auto Eventually(Call call, std::chrono::milliseconds timeout = 10000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto result = call();
  while (!result.ok() && result.error().IsRetryable() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    result = call();
  }
  return result;
}

// Waits until CheckHealth reports `predicate`, returning the last summary.
template <typename Predicate>
ClusterHealth WaitForHealth(Client& client, Predicate predicate,
                            std::chrono::milliseconds timeout = 10000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto health = client.CheckHealth();
    if ((health.ok() && predicate(*health)) || std::chrono::steady_clock::now() > deadline)
      return health.ok() ? *health : ClusterHealth{};
    std::this_thread::sleep_for(100ms);
  }
}

// The member's "name=peerURL" entries for a joining member's --initial-cluster; the member
// without a name yet is the one joining, under `joining_name`.
std::string InitialCluster(const std::vector<Member>& members, const std::string& joining_name) {
  std::string out;
  for (const auto& member : members) {
    const std::string& name = member.name.empty() ? joining_name : member.name;
    out += (out.empty() ? "" : ",") + name + "=" + member.peer_urls.at(0);
  }
  return out;
}

class EtcdClusterTest : public ::testing::Test {
 protected:
  void StartCluster(EtcdClusterOptions options = {}) {
    auto cluster = EtcdCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.error().message();
    cluster_ = std::move(*cluster);
    client_ = std::make_unique<Client>(cluster_->RunningClientUrls(), cluster_->ClientOptions());
  }

  // Member id of cluster slot `index`, from its own status.
  uint64_t IdOf(int index) {
    auto status = client_->Status(cluster_->ClientUrl(index));
    EXPECT_TRUE(status.ok()) << status.error().message();
    return status.ok() ? status->member_id : 0;
  }

  int SlotOf(uint64_t id) {
    for (int i = 0; i < cluster_->size(); ++i) {
      if (cluster_->IsRunning(i) && IdOf(i) == id)
        return i;
    }
    return -1;
  }

  uint64_t Leader() {
    auto status = client_->Status(cluster_->RunningClientUrls().front());
    EXPECT_TRUE(status.ok()) << status.error().message();
    return status.ok() ? status->leader_id : 0;
  }

  std::unique_ptr<EtcdCluster> cluster_;
  std::unique_ptr<Client> client_;
};

TEST_F(EtcdClusterTest, ListStatusPutGetAndMoveLeader) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  auto members = client_->MemberList();
  ASSERT_TRUE(members.ok()) << members.error().message();
  ASSERT_EQ(members->size(), 3u);
  std::set<std::string> names;
  std::set<uint64_t> ids;
  for (const auto& member : *members) {
    names.insert(member.name);
    ids.insert(member.id);
    EXPECT_FALSE(member.is_learner);
    ASSERT_EQ(member.client_urls.size(), 1u);
    ASSERT_EQ(member.peer_urls.size(), 1u);
  }
  EXPECT_EQ(names, (std::set<std::string>{"m0", "m1", "m2"}));
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids.count(0), 0u);

  auto status = client_->Status(cluster_->ClientUrl(1));
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(status->endpoint, cluster_->ClientUrl(1));
  EXPECT_TRUE(ids.count(status->member_id));
  EXPECT_TRUE(ids.count(status->leader_id));
  EXPECT_GT(status->raft_index, 0u);
  EXPECT_GT(status->raft_term, 0u);
  EXPECT_GT(status->db_size_bytes, 0);
  EXPECT_EQ(status->version.rfind("3.", 0), 0u) << status->version;
  EXPECT_FALSE(status->is_learner);
  EXPECT_TRUE(status->errors.empty());

  auto health = client_->Health(cluster_->ClientUrl(0));
  ASSERT_TRUE(health.ok()) << health.error().message();
  EXPECT_TRUE(health->healthy);

  auto revision = client_->Put("/seedhop/test", std::string("value with \0 and \xff", 18));
  ASSERT_TRUE(revision.ok()) << revision.error().message();
  EXPECT_GT(*revision, 1);
  auto revision2 = client_->Put("/seedhop/test", "second");
  ASSERT_TRUE(revision2.ok());
  EXPECT_EQ(*revision2, *revision + 1);
  auto value = client_->Get("/seedhop/test");
  ASSERT_TRUE(value.ok()) << value.error().message();
  EXPECT_EQ(value->value_or("<none>"), "second");
  auto missing = client_->Get("/seedhop/missing");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(client_->Put("/seedhop/binary", std::string("a\0b", 3)).ok());
  EXPECT_EQ(client_->Get("/seedhop/binary")->value_or(""), std::string("a\0b", 3));

  const uint64_t leader = Leader();
  uint64_t target = 0;
  for (uint64_t id : ids) {
    if (id != leader)
      target = id;
  }
  auto moved = client_->MoveLeader(target);
  ASSERT_TRUE(moved.ok()) << moved.error().message();
  EXPECT_EQ(Leader(), target);
  EXPECT_TRUE(client_->MoveLeader(target).ok()) << "moving to the leader is a no-op";
  auto bad = client_->MoveLeader(12345);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("etcd move leader to 12345 "), std::string::npos)
      << bad.error().message();

  // The leader move works when only a follower is configured: the client finds the leader's URL.
  const int follower = SlotOf(target) == 0 ? 1 : 0;
  Client follower_only({cluster_->ClientUrl(follower)}, cluster_->ClientOptions());
  const uint64_t follower_id = IdOf(follower);
  moved = follower_only.MoveLeader(follower_id);
  ASSERT_TRUE(moved.ok()) << moved.error().message();
  EXPECT_EQ(Leader(), follower_id);
}

TEST_F(EtcdClusterTest, LearnerJoinsIsPromotedAndMembersAreRemoved) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(client_->Put("/k/" + std::to_string(i), std::string(1000, 'x')).ok());

  const int slot = cluster_->Reserve();
  // etcd refuses member add for a while after the cluster started ("unhealthy cluster").
  auto added = Eventually([&] { return client_->MemberAdd({cluster_->PeerUrl(slot)}, true); });
  ASSERT_TRUE(added.ok()) << added.error().message();
  EXPECT_NE(added->id, 0u);
  EXPECT_TRUE(added->is_learner);
  EXPECT_EQ(added->name, "");
  EXPECT_EQ(added->peer_urls, std::vector<std::string>{cluster_->PeerUrl(slot)});

  // A second learner is refused while the first exists.
  auto second = client_->MemberAdd({"http://127.0.0.1:1"}, true);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kConflict) << second.error().message();

  // Promoting a learner whose process never started: not in sync.
  auto early = client_->MemberPromote(added->id);
  ASSERT_FALSE(early.ok());
  EXPECT_TRUE(IsLearnerNotReady(early.error())) << early.error().message();
  EXPECT_TRUE(early.error().IsRetryable());

  ClusterHealth health = WaitForHealth(*client_, [](const ClusterHealth&) { return true; });
  EXPECT_EQ(health.voters, 3);
  EXPECT_EQ(health.learners, 1);
  EXPECT_EQ(health.healthy_voters, 3);
  EXPECT_EQ(health.failure_tolerance, 1);

  auto members = client_->MemberList();
  ASSERT_TRUE(members.ok());
  ASSERT_TRUE(cluster_->StartJoining(slot, InitialCluster(*members, cluster_->Name(slot))).ok());
  // A learner refuses most requests ("rpc not supported for learner"); a client whose first
  // endpoint is the learner moves on to a voter instead of failing.
  Client learner_first({cluster_->ClientUrl(slot), cluster_->ClientUrl(0)},
                       cluster_->ClientOptions());
  auto listed = Eventually([&] { return learner_first.MemberList(); }, 5000ms);
  ASSERT_TRUE(listed.ok()) << listed.error().message();
  EXPECT_EQ(listed->size(), 4u);
  auto promoted = Eventually([&] { return client_->MemberPromote(added->id); }, 15000ms);
  ASSERT_TRUE(promoted.ok()) << promoted.error().message();

  health = WaitForHealth(*client_, [](const ClusterHealth& h) { return h.healthy_voters == 4; });
  EXPECT_EQ(health.voters, 4);
  EXPECT_EQ(health.learners, 0);
  EXPECT_EQ(health.healthy_voters, 4);
  EXPECT_EQ(health.failure_tolerance, 1);
  auto joined = client_->Status(cluster_->ClientUrl(slot));
  ASSERT_TRUE(joined.ok()) << joined.error().message();
  EXPECT_EQ(joined->member_id, added->id);
  EXPECT_FALSE(joined->is_learner);

  // Remove a follower.
  const uint64_t leader = Leader();
  uint64_t follower = 0;
  for (int i = 0; i < 3 && follower == 0; ++i) {
    if (IdOf(i) != leader)
      follower = IdOf(i);
  }
  const int follower_slot = SlotOf(follower);
  auto follower_removed = Eventually([&] { return client_->MemberRemove(follower); });
  ASSERT_TRUE(follower_removed.ok()) << follower_removed.error().message();
  cluster_->Kill(follower_slot);
  auto removed_again = client_->MemberRemove(follower);
  ASSERT_FALSE(removed_again.ok());
  EXPECT_EQ(removed_again.error().code(), ErrorCode::kNotFound) << removed_again.error().message();

  // Remove the leader after moving leadership to the new member.
  auto moved = client_->MoveLeader(added->id);
  ASSERT_TRUE(moved.ok()) << moved.error().message();
  EXPECT_EQ(Leader(), added->id);
  ASSERT_EQ(SlotOf(added->id), slot);
  const int leader_slot = SlotOf(leader);
  // A new leader refuses membership changes until it has been connected to a quorum for a while.
  auto leader_removed = Eventually([&] { return client_->MemberRemove(leader); }, 15000ms);
  ASSERT_TRUE(leader_removed.ok()) << leader_removed.error().message();
  cluster_->Kill(leader_slot);

  members = client_->MemberList();
  ASSERT_TRUE(members.ok()) << members.error().message();
  std::set<uint64_t> left;
  for (const auto& member : *members)
    left.insert(member.id);
  EXPECT_EQ(left.size(), 2u);
  EXPECT_TRUE(left.count(added->id));
  EXPECT_FALSE(left.count(leader));
  EXPECT_FALSE(left.count(follower));
  EXPECT_EQ(client_->Get("/k/199")->value_or(""), std::string(1000, 'x'));

  // Two voters: quorum 2, no fault tolerance.
  health = WaitForHealth(*client_, [](const ClusterHealth& h) { return h.voters == 2; });
  EXPECT_EQ(health.voters, 2);
  EXPECT_EQ(health.healthy_voters, 2);
  EXPECT_EQ(health.failure_tolerance, 0);
}

TEST_F(EtcdClusterTest, ToleranceFallsAsMembersAreKilled) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ClusterHealth health = WaitForHealth(*client_, [](const ClusterHealth&) { return true; });
  EXPECT_EQ(health.voters, 3);
  EXPECT_EQ(health.healthy_voters, 3);
  EXPECT_EQ(health.failure_tolerance, 1);
  EXPECT_NE(health.leader_id, 0u);

  // Kill a follower, so the client's preferred endpoint may be dead: failover must hide it.
  const int victim = SlotOf(Leader()) == 0 ? 1 : 0;
  const uint64_t victim_id = IdOf(victim);
  cluster_->Kill(victim);
  health = WaitForHealth(*client_, [](const ClusterHealth& h) { return h.healthy_voters == 2; });
  EXPECT_EQ(health.voters, 3);
  EXPECT_EQ(health.healthy_voters, 2);
  EXPECT_EQ(health.failure_tolerance, 0);
  bool found = false;
  for (const auto& member : health.members) {
    if (member.member.id == victim_id) {
      found = true;
      EXPECT_FALSE(member.healthy);
      EXPECT_FALSE(member.status.has_value());
      EXPECT_NE(member.problem, "");
    }
  }
  EXPECT_TRUE(found);
  auto down = client_->Status(cluster_->ClientUrl(victim));
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(down.error().IsRetryable());
  EXPECT_TRUE(client_->Put("/still", "writable").ok());

  // Kill a second one: quorum lost, the survivor knows no leader after an election timeout.
  int second = -1;
  for (int i = 0; i < 3; ++i) {
    if (cluster_->IsRunning(i) && second < 0)
      second = i;
  }
  cluster_->Kill(second);
  health = WaitForHealth(*client_, [](const ClusterHealth& h) { return h.healthy_voters == 0; });
  EXPECT_EQ(health.voters, 3);
  EXPECT_EQ(health.healthy_voters, 0);
  EXPECT_EQ(health.failure_tolerance, -2);
  const int survivor = cluster_->IsRunning(0) ? 0 : (cluster_->IsRunning(1) ? 1 : 2);
  auto verdict = client_->Health(cluster_->ClientUrl(survivor));
  ASSERT_TRUE(verdict.ok()) << verdict.error().message();
  EXPECT_FALSE(verdict->healthy);
  EXPECT_NE(verdict->reason, "");

  // Bring both back: the cluster recovers.
  ASSERT_TRUE(cluster_->Restart(victim).ok());
  ASSERT_TRUE(cluster_->Restart(second).ok());
  health = WaitForHealth(*client_, [](const ClusterHealth& h) { return h.healthy_voters == 3; });
  EXPECT_EQ(health.failure_tolerance, 1);
  EXPECT_EQ(client_->Get("/still")->value_or(""), "writable");
}

TEST_F(EtcdClusterTest, MutualTlsClusterRequiresClientCertificates) {
  EtcdClusterOptions options;
  options.tls = true;
  ASSERT_NO_FATAL_FAILURE(StartCluster(options));
  ASSERT_EQ(cluster_->ClientUrl(0).rfind("https://127.0.0.1:", 0), 0u);

  auto members = client_->MemberList();
  ASSERT_TRUE(members.ok()) << members.error().message();
  EXPECT_EQ(members->size(), 3u);
  EXPECT_EQ(members->front().client_urls.at(0).rfind("https://", 0), 0u);
  ASSERT_TRUE(client_->Put("/tls", "yes").ok());
  EXPECT_EQ(client_->Get("/tls")->value_or(""), "yes");
  auto health = client_->CheckHealth();
  ASSERT_TRUE(health.ok()) << health.error().message();
  EXPECT_EQ(health->healthy_voters, 3);
  auto verdict = client_->Health(cluster_->ClientUrl(2));
  ASSERT_TRUE(verdict.ok()) << verdict.error().message();
  EXPECT_TRUE(verdict->healthy);

  Client no_cert({cluster_->ClientUrl(0)}, cluster_->ClientOptionsWithoutCert());
  auto refused = no_cert.MemberList();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message().rfind("etcd member list", 0), 0u)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find(cluster_->ClientUrl(0)), std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find("no client certificate configured"), std::string::npos)
      << refused.error().message();

  http::ClientOptions untrusted = cluster_->ClientOptions();
  untrusted.ca_pem = testing::MakeCa("some-other-ca").cert_pem;
  Client wrong_ca({cluster_->ClientUrl(0)}, untrusted);
  auto unverified = wrong_ca.Status(cluster_->ClientUrl(0));
  ASSERT_FALSE(unverified.ok());
  EXPECT_NE(unverified.error().message().find("etcd status"), std::string::npos);
}

TEST_F(EtcdClusterTest, FailsOverToTheNextEndpoint) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  Client client({"http://127.0.0.1:1", cluster_->ClientUrl(2)}, cluster_->ClientOptions());
  auto members = client.MemberList();
  ASSERT_TRUE(members.ok()) << members.error().message();
  EXPECT_EQ(members->size(), 3u);
  ASSERT_TRUE(client.Put("/failover", "ok").ok());
  cluster_->Kill(2);
  auto lost = client.Get("/failover");
  ASSERT_FALSE(lost.ok());
  EXPECT_NE(lost.error().message().find("no endpoint reachable"), std::string::npos)
      << lost.error().message();
}

}  // namespace
}  // namespace seedhop::etcd
