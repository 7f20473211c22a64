// etcd client logic without etcd: the health arithmetic, and how the client reads answers it did
// not expect (served by a fake gateway on loopback).
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "common/etcd/client.h"
#include "common/http/server.h"

namespace seedhop::etcd {
namespace {

using namespace std::chrono_literals;

Member Voter(uint64_t id) {
  Member member;
  member.id = id;
  member.name = "m" + std::to_string(id);
  member.client_urls = {"http://127.0.0.1:" + std::to_string(2000 + id)};
  return member;
}

Member Learner(uint64_t id) {
  Member member = Voter(id);
  member.is_learner = true;
  return member;
}

EndpointStatus StatusOf(uint64_t id, uint64_t leader, uint64_t term = 2) {
  EndpointStatus status;
  status.endpoint = "http://127.0.0.1:" + std::to_string(2000 + id);
  status.member_id = id;
  status.leader_id = leader;
  status.raft_term = term;
  return status;
}

Result<EndpointStatus> Unreachable() {
  return Error(ErrorCode::kUnavailable, "connect: Connection refused");
}

TEST(AssessMemberTest, HealthyWhenItKnowsALeaderAndHasNoErrors) {
  MemberHealth health = AssessMember(Voter(1), StatusOf(1, 2));
  EXPECT_TRUE(health.healthy);
  EXPECT_EQ(health.problem, "");
  ASSERT_TRUE(health.status.has_value());
  EXPECT_EQ(health.status->leader_id, 2u);
}

TEST(AssessMemberTest, UnreachableMemberCarriesTheReason) {
  MemberHealth health = AssessMember(Voter(1), Unreachable());
  EXPECT_FALSE(health.healthy);
  EXPECT_FALSE(health.status.has_value());
  EXPECT_NE(health.problem.find("Connection refused"), std::string::npos);
}

TEST(AssessMemberTest, NoLeaderIsUnhealthy) {
  MemberHealth health = AssessMember(Voter(1), StatusOf(1, 0));
  EXPECT_FALSE(health.healthy);
  EXPECT_EQ(health.problem, "no leader");
}

TEST(AssessMemberTest, AlarmsAreUnhealthy) {
  EndpointStatus status = StatusOf(1, 1);
  status.errors = {"memberID:1 alarm:NOSPACE", "second"};
  MemberHealth health = AssessMember(Voter(1), status);
  EXPECT_FALSE(health.healthy);
  EXPECT_EQ(health.problem, "errors: memberID:1 alarm:NOSPACE; second");
}

TEST(AssessMemberTest, AnswerFromAnotherMemberIsUnhealthy) {
  MemberHealth health = AssessMember(Voter(1), StatusOf(7, 7));
  EXPECT_FALSE(health.healthy);
  EXPECT_NE(health.problem.find("answered as member 7"), std::string::npos);
}

TEST(SummarizeHealthTest, ThreeHealthyVotersTolerateOne) {
  ClusterHealth cluster = SummarizeHealth({AssessMember(Voter(1), StatusOf(1, 2)),
                                           AssessMember(Voter(2), StatusOf(2, 2)),
                                           AssessMember(Voter(3), StatusOf(3, 2))});
  EXPECT_EQ(cluster.voters, 3);
  EXPECT_EQ(cluster.learners, 0);
  EXPECT_EQ(cluster.healthy_voters, 3);
  EXPECT_EQ(cluster.leader_id, 2u);
  EXPECT_EQ(cluster.failure_tolerance, 1);
  EXPECT_EQ(cluster.members.size(), 3u);
}

TEST(SummarizeHealthTest, LearnersNeverCount) {
  ClusterHealth cluster = SummarizeHealth(
      {AssessMember(Voter(1), StatusOf(1, 1)), AssessMember(Voter(2), StatusOf(2, 1)),
       AssessMember(Voter(3), StatusOf(3, 1)), AssessMember(Learner(4), StatusOf(4, 1))});
  EXPECT_EQ(cluster.voters, 3);
  EXPECT_EQ(cluster.learners, 1);
  EXPECT_EQ(cluster.healthy_voters, 3);
  EXPECT_EQ(cluster.failure_tolerance, 1);
}

TEST(SummarizeHealthTest, ToleranceFallsAsVotersFail) {
  // 5 voters, quorum 3.
  std::vector<MemberHealth> members;
  for (uint64_t id = 1; id <= 5; ++id)
    members.push_back(AssessMember(Voter(id), StatusOf(id, 1)));
  EXPECT_EQ(SummarizeHealth(members).failure_tolerance, 2);
  members[4] = AssessMember(Voter(5), Unreachable());
  EXPECT_EQ(SummarizeHealth(members).failure_tolerance, 1);
  members[3] = AssessMember(Voter(4), Unreachable());
  EXPECT_EQ(SummarizeHealth(members).failure_tolerance, 0);
  members[2] = AssessMember(Voter(3), StatusOf(3, 0));
  ClusterHealth lost = SummarizeHealth(members);
  EXPECT_EQ(lost.healthy_voters, 2);
  EXPECT_EQ(lost.failure_tolerance, -1);
}

TEST(SummarizeHealthTest, LeaderOfTheNewestTermWins) {
  ClusterHealth cluster = SummarizeHealth({AssessMember(Voter(1), StatusOf(1, 1, 3)),
                                           AssessMember(Voter(2), StatusOf(2, 2, 5)),
                                           AssessMember(Voter(3), StatusOf(3, 1, 4))});
  EXPECT_EQ(cluster.leader_id, 2u);
}

TEST(SummarizeHealthTest, EmptyAndUnreachableClustersHaveNoLeader) {
  ClusterHealth empty = SummarizeHealth({});
  EXPECT_EQ(empty.voters, 0);
  EXPECT_EQ(empty.leader_id, 0u);
  EXPECT_EQ(empty.failure_tolerance, -1);
  ClusterHealth down = SummarizeHealth({AssessMember(Voter(1), Unreachable())});
  EXPECT_EQ(down.leader_id, 0u);
  EXPECT_EQ(down.failure_tolerance, -1);
}

TEST(IsLearnerNotReadyTest, RecognizesOnlyEtcdsMessage) {
  EXPECT_TRUE(IsLearnerNotReady(
      Error(ErrorCode::kUnavailable,
            "etcd member promote 5: etcdserver: can only promote a learner member which is in "
            "sync with leader")));
  EXPECT_FALSE(IsLearnerNotReady(
      Error(ErrorCode::kConflict, "etcdserver: can only promote a learner member")));
  EXPECT_FALSE(IsLearnerNotReady(Error(ErrorCode::kUnavailable, "connection refused")));
}

// A fake etcd gateway: answers every /v3/ path and /health with whatever the test sets.
class FakeGateway : public ::testing::Test {
 protected:
  void SetUp() override {
    http::ServerOptions options;
    options.address = "127.0.0.1";
    server_ = std::make_unique<http::Server>(options, nullptr, nullptr);
    auto handler = [this](const http::Request& request) {
      ++requests_;
      last_path_ = request.path;
      return http::Response::Text(status_.load(), body_, content_type_);
    };
    server_->RoutePrefix("/", handler);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override { server_->Shutdown(); }

  void Answer(int status, std::string body, std::string content_type = "application/json") {
    status_ = status;
    body_ = std::move(body);
    content_type_ = std::move(content_type);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  Client MakeClient() { return Client({Url()}, http::ClientOptions{}); }

  std::unique_ptr<http::Server> server_;
  std::atomic<int> status_{200};
  std::string body_ = "{}";
  std::string content_type_ = "application/json";
  std::atomic<int> requests_{0};
  std::string last_path_;
};

TEST_F(FakeGateway, ParsesMembersWithStringIds) {
  Answer(200, R"({"members":[{"ID":"18446744073709551615","name":"a","peerURLs":["http://p:1"],
               "clientURLs":["http://c:1"]},{"ID":"5","peerURLs":["http://p:2"],"isLearner":true}]})");
  Client client = MakeClient();
  auto members = client.MemberList();
  ASSERT_TRUE(members.ok()) << members.error().message();
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].id, 18446744073709551615ull);
  EXPECT_EQ((*members)[0].name, "a");
  EXPECT_EQ((*members)[0].client_urls, std::vector<std::string>{"http://c:1"});
  EXPECT_FALSE((*members)[0].is_learner);
  EXPECT_EQ((*members)[1].id, 5u);
  EXPECT_EQ((*members)[1].name, "");
  EXPECT_TRUE((*members)[1].client_urls.empty());
  EXPECT_TRUE((*members)[1].is_learner);
  EXPECT_EQ(last_path_, "/v3/cluster/member/list");
}

TEST_F(FakeGateway, RejectsMalformedIds) {
  Client client = MakeClient();
  for (const char* id : {R"("12x")", R"("-3")", R"("")", R"("99999999999999999999999")", "true"}) {
    Answer(200, std::string(R"({"members":[{"ID":)") + id + "}]}");
    auto members = client.MemberList();
    ASSERT_FALSE(members.ok()) << id;
    EXPECT_EQ(members.error().code(), ErrorCode::kInternal);
    EXPECT_NE(members.error().message().find("not an integer"), std::string::npos)
        << members.error().message();
  }
}

TEST_F(FakeGateway, NonJsonAnswersAreErrorsNamingTheOperation) {
  Client client = MakeClient();
  Answer(200, "<html>proxy</html>", "text/html");
  auto members = client.MemberList();
  ASSERT_FALSE(members.ok());
  EXPECT_EQ(members.error().message().rfind("etcd member list (via " + Url() + ")", 0), 0u)
      << members.error().message();
  Answer(200, R"({"header":{}})");
  members = client.MemberList();
  ASSERT_FALSE(members.ok());
  EXPECT_NE(members.error().message().find("no members"), std::string::npos);
}

TEST_F(FakeGateway, GrpcErrorsMapToErrorCodes) {
  Client client = MakeClient();
  struct Case {
    int http_status;
    int grpc_code;
    std::string message;
    ErrorCode expected;
  };
  const std::vector<Case> cases = {
      {404, 5, "etcdserver: member not found", ErrorCode::kNotFound},
      {412, 9, "etcdserver: too many learner members in cluster", ErrorCode::kConflict},
      {503, 14, "etcdserver: unhealthy cluster", ErrorCode::kUnavailable},
      {400, 3, "etcdserver: bad member URLs", ErrorCode::kInvalid},
      {401, 16, "etcdserver: invalid auth token", ErrorCode::kUnauthorized},
      {412, 9, "etcdserver: can only promote a learner member which is in sync with leader",
       ErrorCode::kUnavailable},
  };
  for (const auto& c : cases) {
    Answer(c.http_status, R"({"error":")" + c.message + R"(","message":")" + c.message +
                              R"(","code":)" + std::to_string(c.grpc_code) + "}");
    auto promoted = client.MemberPromote(42);
    ASSERT_FALSE(promoted.ok());
    EXPECT_EQ(promoted.error().code(), c.expected) << c.message;
    EXPECT_EQ(promoted.error().message(),
              "etcd member promote 42 (via " + Url() + "): " + c.message);
  }
  Answer(412, R"({"error":"etcdserver: can only promote a learner member which is in sync with )"
              R"(leader","code":9})");
  EXPECT_TRUE(IsLearnerNotReady(client.MemberPromote(1).error()));
}

TEST_F(FakeGateway, PlainHttpErrorsUseTheStatus) {
  Client client = MakeClient();
  Answer(404, "404 page not found\n", "text/plain");
  auto removed = client.MemberRemove(3);
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(removed.error().message().find("HTTP 404: 404 page not found"), std::string::npos);
  Answer(502, std::string(5000, 'x'), "text/plain");
  removed = client.MemberRemove(3);
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().code(), ErrorCode::kUnavailable);
  EXPECT_LT(removed.error().message().size(), 400u) << "bodies are truncated in errors";
}

TEST_F(FakeGateway, AnEtcdAnswerIsFinalEvenWithOtherEndpoints) {
  Answer(412, R"({"error":"etcdserver: too many learner members in cluster","code":9})");
  Client client({Url(), Url()}, http::ClientOptions{});
  auto added = client.MemberAdd({"http://127.0.0.1:1"}, true);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(requests_.load(), 1);
}

TEST_F(FakeGateway, StatusParsesNumbersAndRejectsGarbage) {
  Client client = MakeClient();
  Answer(200, R"({"header":{"member_id":"7"},"version":"3.4.23","dbSize":"20480","leader":"9",
               "raftIndex":"11","raftTerm":"3","raftAppliedIndex":"10","isLearner":true,
               "errors":["alarm"]})");
  auto status = client.Status(Url() + "/");
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(status->endpoint, Url());
  EXPECT_EQ(status->member_id, 7u);
  EXPECT_EQ(status->leader_id, 9u);
  EXPECT_EQ(status->raft_index, 11u);
  EXPECT_EQ(status->raft_applied_index, 10u);
  EXPECT_EQ(status->raft_term, 3u);
  EXPECT_EQ(status->db_size_bytes, 20480);
  EXPECT_EQ(status->version, "3.4.23");
  EXPECT_TRUE(status->is_learner);
  EXPECT_EQ(status->errors, std::vector<std::string>{"alarm"});

  Answer(200, R"({"leader":"nine"})");
  status = client.Status(Url());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message().find("field leader is not an integer"), std::string::npos)
      << status.error().message();
}

TEST_F(FakeGateway, HealthReadsVerdictsAndRejectsOtherAnswers) {
  Client client = MakeClient();
  Answer(200, R"({"health":"true"})");
  auto health = client.Health(Url());
  ASSERT_TRUE(health.ok());
  EXPECT_TRUE(health->healthy);
  Answer(503, R"({"health":"false","reason":"RAFT NO LEADER"})");
  health = client.Health(Url());
  ASSERT_TRUE(health.ok());
  EXPECT_FALSE(health->healthy);
  EXPECT_EQ(health->reason, "RAFT NO LEADER");
  Answer(503, R"({"health":"false"})");
  health = client.Health(Url());
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->reason, "HTTP 503");
  Answer(200, "ok", "text/plain");
  health = client.Health(Url());
  ASSERT_FALSE(health.ok());
  EXPECT_NE(health.error().message().find("not a health answer"), std::string::npos);
}

TEST_F(FakeGateway, GetRejectsValuesThatAreNotBase64) {
  Client client = MakeClient();
  Answer(200, R"({"kvs":[{"key":"Zm9v","value":"!!!"}]})");
  auto value = client.Get("foo");
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.error().message().find("not base64"), std::string::npos);
  Answer(200, R"({"kvs":[{"key":"Zm9v","value":"YQ=="}]})");
  value = client.Get("foo");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->value_or("<none>"), "a");
}

TEST_F(FakeGateway, FailsOverPastUnreachableEndpoints) {
  Answer(200, R"({"members":[]})");
  // Port 1 on loopback refuses connections.
  Client client({"http://127.0.0.1:1", Url()}, http::ClientOptions{});
  auto members = client.MemberList();
  ASSERT_TRUE(members.ok()) << members.error().message();
  EXPECT_TRUE(members->empty());
  // The endpoint that answered is asked first from now on.
  ASSERT_TRUE(client.MemberList().ok());
  EXPECT_EQ(requests_.load(), 2);
}

TEST(ClientTest, AllEndpointsUnreachableNamesEachOne) {
  http::ClientOptions options;
  options.connect_timeout = 500ms;
  Client client({"http://127.0.0.1:1", "http://127.0.0.1:2"}, options);
  auto members = client.MemberList();
  ASSERT_FALSE(members.ok());
  EXPECT_EQ(members.error().code(), ErrorCode::kUnavailable);
  const std::string& message = members.error().message();
  EXPECT_EQ(message.rfind("etcd member list: no endpoint reachable: ", 0), 0u) << message;
  EXPECT_NE(message.find("127.0.0.1:1"), std::string::npos) << message;
  EXPECT_NE(message.find("127.0.0.1:2"), std::string::npos) << message;
}

TEST(ClientTest, SingleUnreachableEndpoint) {
  Client client({"http://127.0.0.1:1"}, http::ClientOptions{});
  auto status = client.Status("http://127.0.0.1:1");
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(status.error().IsRetryable());
  EXPECT_EQ(status.error().message().rfind("etcd status: http://127.0.0.1:1", 0), 0u)
      << status.error().message();
  auto added = client.MemberAdd({"http://127.0.0.1:3"}, true);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().message().rfind("etcd member add http://127.0.0.1:3: ", 0), 0u)
      << added.error().message();
  auto health = client.Health("http://127.0.0.1:1");
  ASSERT_FALSE(health.ok());
  EXPECT_TRUE(health.error().IsRetryable());
}

TEST(ClientTest, MemberAddNeedsPeerUrls) {
  Client client({"http://127.0.0.1:1"}, http::ClientOptions{});
  auto added = client.MemberAdd({}, true);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code(), ErrorCode::kInvalid);
}

}  // namespace
}  // namespace seedhop::etcd
