// kube::Client against a scripted plain-HTTP server: request shapes, typed errors, the retry
// policy and watch stream parsing. Behaviour against a faithful API server is in
// client_emulator_test.cpp.
#include "common/kube/client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/http/server.h"
#include "common/kube/json_patch.h"
#include "common/obs/metrics.h"
#include "test/support/certs.h"
#include "test/support/kube_objects.h"

namespace seedhop::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
              {"message", message}, {"reason", reason},   {"code", code}}
      .dump();
}

http::Response Reply(int status, std::string body, http::Headers headers = {}) {
  http::Response response = http::Response::Json(status, std::move(body));
  for (auto& [name, value] : headers)
    response.headers[name] = value;
  return response;
}

// A plain-HTTP server that answers from a script (then 404) and records every request.
class ScriptedServer {
 public:
  ScriptedServer() {
    http::ServerOptions options;
    options.address = "127.0.0.1";
    options.blocking_handlers = true;
    server_ = std::make_unique<http::Server>(options, nullptr, nullptr);
    server_->RoutePrefix("/", [this](const http::Request& request) { return Handle(request); });
    EXPECT_TRUE(server_->Start().ok());
  }
  ~ScriptedServer() { server_->Shutdown(); }

  void Then(http::Response response) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(response));
  }
  // Every later request is answered by `handler` (after the script runs out).
  void Always(http::Handler handler) {
    std::lock_guard lock(mutex_);
    fallback_ = std::move(handler);
  }
  std::vector<http::Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

 private:
  http::Response Handle(const http::Request& request) {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
    if (!script_.empty()) {
      http::Response response = std::move(script_.front());
      script_.pop_front();
      return response;
    }
    if (fallback_)
      return fallback_(request);
    return Reply(404, StatusBody(404, "NotFound", "nothing scripted"));
  }

  std::unique_ptr<http::Server> server_;
  mutable std::mutex mutex_;
  std::deque<http::Response> script_;
  http::Handler fallback_;
  std::vector<http::Request> requests_;
};

const ResourceRef kConfigMaps{"", "v1", "configmaps", "ns1"};
const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", "ns1"};
using seedhop::testing::kNamespaces;

class ClientTest : public ::testing::Test {
 protected:
  Client MakeClient(int max_attempts = 4) {
    RestConfig config;
    config.server = server_.url();
    config.token = "test-token";
    ClientOptions options;
    options.max_attempts = max_attempts;
    options.initial_backoff = 5ms;
    options.max_backoff = 20ms;
    return Client(config, options);
  }

  ScriptedServer server_;
};

json ConfigMap(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "ns1"}, {"resourceVersion", "7"}}}};
}

TEST_F(ClientTest, RequestShapes) {
  Client client = MakeClient();
  server_.Always([](const http::Request&) { return Reply(200, ConfigMap("a").dump()); });
  ASSERT_TRUE(client.Get(kConfigMaps, "a").ok());
  ASSERT_TRUE(client.Get(kLeases, "kcm").ok());
  ASSERT_TRUE(client.Get(kNamespaces, "garden").ok());
  ListOptions list;
  list.label_selector = "app=etcd,role in (main,events)";
  list.field_selector = "metadata.name=x";
  list.limit = 10;
  ASSERT_TRUE(client.List(kLeases.In(""), list).ok());
  ASSERT_TRUE(client.Create(kConfigMaps.In(""), ConfigMap("b")).ok());
  ASSERT_TRUE(client.Update(kConfigMaps, ConfigMap("b"), "status").ok());
  ASSERT_TRUE(client.Patch(kConfigMaps, "b", PatchType::kMerge, {{"data", {{"k", "v"}}}}).ok());
  JsonPatch patch;
  patch.Replace("/data/k", R"("w")");
  ASSERT_TRUE(
      client.Patch(kConfigMaps, "b", PatchType::kJsonPatch, json::parse(patch.text())).ok());
  ASSERT_TRUE(client.Delete(kConfigMaps, "b", {"42", "Foreground"}).ok());

  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 9u);
  EXPECT_EQ(requests[0].target, "/api/v1/namespaces/ns1/configmaps/a");
  EXPECT_EQ(requests[0].Header("authorization"), "Bearer test-token");
  EXPECT_EQ(requests[0].Header("accept"), "application/json");
  EXPECT_EQ(requests[1].target, "/apis/coordination.k8s.io/v1/namespaces/ns1/leases/kcm");
  EXPECT_EQ(requests[2].target, "/api/v1/namespaces/garden");
  EXPECT_EQ(requests[3].path, "/apis/coordination.k8s.io/v1/leases");
  EXPECT_EQ(requests[3].QueryParam("labelSelector"), "app=etcd,role in (main,events)");
  EXPECT_EQ(requests[3].QueryParam("fieldSelector"), "metadata.name=x");
  EXPECT_EQ(requests[3].QueryParam("limit"), "10");
  // Create takes the namespace from the object when the ref has none.
  EXPECT_EQ(requests[4].method, "POST");
  EXPECT_EQ(requests[4].target, "/api/v1/namespaces/ns1/configmaps");
  EXPECT_EQ(json::parse(requests[4].body), ConfigMap("b"));
  EXPECT_EQ(requests[5].method, "PUT");
  EXPECT_EQ(requests[5].target, "/api/v1/namespaces/ns1/configmaps/b/status");
  EXPECT_EQ(requests[6].method, "PATCH");
  EXPECT_EQ(requests[6].Header("content-type"), "application/merge-patch+json");
  EXPECT_EQ(requests[7].Header("content-type"), "application/json-patch+json");
  EXPECT_EQ(json::parse(requests[7].body), json::parse(patch.text()));
  EXPECT_EQ(requests[8].method, "DELETE");
  json options = json::parse(requests[8].body);
  EXPECT_EQ(options["preconditions"]["resourceVersion"], "42");
  EXPECT_EQ(options["propagationPolicy"], "Foreground");
}

TEST_F(ClientTest, BadArgumentsFailBeforeSending) {
  Client client = MakeClient();
  auto no_name = client.Update(kConfigMaps, json{{"metadata", json::object()}});
  ASSERT_FALSE(no_name.ok());
  EXPECT_EQ(no_name.error().code(), ErrorCode::kInvalid);
  auto merge_array = client.Patch(kConfigMaps, "a", PatchType::kMerge, json::array());
  ASSERT_FALSE(merge_array.ok());
  EXPECT_EQ(merge_array.error().code(), ErrorCode::kInvalid);
  auto patch_object = client.Patch(kConfigMaps, "a", PatchType::kJsonPatch, json::object());
  ASSERT_FALSE(patch_object.ok());
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(ClientTest, NotFoundIsTypedAndNotRetried) {
  Client client = MakeClient();
  server_.Then(Reply(404, StatusBody(404, "NotFound", "configmaps \"a\" not found")));
  auto result = client.Get(kConfigMaps, "a");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(result.error().message(), "get configmaps ns1/a: configmaps \"a\" not found");
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(ClientTest, RetriesOn429HonouringRetryAfter) {
  Client client = MakeClient();
  server_.Then(Reply(429, StatusBody(429, "TooManyRequests", "slow down"), {{"retry-after", "1"}}));
  server_.Then(Reply(200, ConfigMap("a").dump()));
  auto started = std::chrono::steady_clock::now();
  auto result = client.Get(kConfigMaps, "a");
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ((*result)["metadata"]["name"], "a");
  EXPECT_EQ(server_.requests().size(), 2u);
  // The client's own backoff is 5-20 ms: only the Retry-After explains a second's wait.
  EXPECT_GE(elapsed, 950ms);
}

TEST_F(ClientTest, CreateIsRetriedOn429ButNotOn5xx) {
  Client client = MakeClient();
  server_.Then(Reply(429, StatusBody(429, "TooManyRequests", "busy"), {{"retry-after", "0"}}));
  server_.Then(Reply(201, ConfigMap("a").dump()));
  ASSERT_TRUE(client.Create(kConfigMaps, ConfigMap("a")).ok());
  EXPECT_EQ(server_.requests().size(), 2u);

  server_.Then(Reply(503, StatusBody(503, "ServiceUnavailable", "etcd leader changed")));
  auto result = client.Create(kConfigMaps, ConfigMap("b"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(result.error().message(), "create configmaps ns1/b: etcd leader changed");
  EXPECT_EQ(server_.requests().size(), 3u);
}

TEST_F(ClientTest, IdempotentVerbsAreRetriedOn5xxUpToTheLimit) {
  Client client = MakeClient(3);
  server_.Always([](const http::Request&) {
    return Reply(503, StatusBody(503, "ServiceUnavailable", "down"));
  });
  auto get = client.Get(kConfigMaps, "a");
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(server_.requests().size(), 3u);
  ASSERT_FALSE(client.Patch(kConfigMaps, "a", PatchType::kMerge, json::object()).ok());
  EXPECT_EQ(server_.requests().size(), 6u);
  // A JSON Patch may not be idempotent: one attempt.
  ASSERT_FALSE(client.Patch(kConfigMaps, "a", PatchType::kJsonPatch, json::array()).ok());
  EXPECT_EQ(server_.requests().size(), 7u);
}

TEST_F(ClientTest, ConflictIsNotRetried) {
  Client client = MakeClient();
  server_.Then(Reply(409, StatusBody(409, "Conflict",
                                     "Operation cannot be fulfilled on configmaps \"a\": the "
                                     "object has been modified")));
  auto result = client.Update(kConfigMaps, ConfigMap("a"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kConflict);
  EXPECT_NE(result.error().message().find("update configmaps ns1/a: Operation cannot"),
            std::string::npos);
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(ClientTest, ConnectionRefused) {
  RestConfig config;
  config.server = "http://127.0.0.1:1";  // nothing listens on port 1
  ClientOptions options;
  options.max_attempts = 2;
  options.initial_backoff = 1ms;
  Client client(config, options);
  auto result = client.Get(kConfigMaps, "a");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(result.error().message().rfind("get configmaps ns1/a: ", 0), 0u)
      << result.error().message();
}

TEST_F(ClientTest, RotatedTokenFileIsReReadOn401) {
  auto made = seedhop::testing::MakeTempDir("seedhop-kube-token-");
  ASSERT_TRUE(made.ok()) << made.error().message();
  const std::filesystem::path dir = *made;
  std::string token_file = (dir / "token").string();
  ASSERT_TRUE(testing::WriteFile(token_file, "old").ok());
  std::string accepted = "old";
  std::mutex accepted_mutex;
  server_.Always([&](const http::Request& request) {
    std::lock_guard lock(accepted_mutex);
    if (request.Header("authorization") != "Bearer " + accepted) {
      return Reply(401, StatusBody(401, "Unauthorized", "Unauthorized"));
    }
    return Reply(200, ConfigMap("a").dump());
  });
  RestConfig config;
  config.server = server_.url();
  config.token_file = token_file;
  Client client(config);
  ASSERT_TRUE(client.Get(kConfigMaps, "a").ok());
  ASSERT_TRUE(testing::WriteFile(token_file, "new").ok());
  {
    std::lock_guard lock(accepted_mutex);
    accepted = "new";
  }
  ASSERT_TRUE(client.Get(kConfigMaps, "a").ok());
  EXPECT_EQ(server_.requests().size(), 3u);
  {
    std::lock_guard lock(accepted_mutex);
    accepted = "newer";  // the file is not updated: the 401 stands after one re-read
  }
  auto denied = client.Get(kConfigMaps, "a");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code(), ErrorCode::kUnauthorized);
  EXPECT_EQ(server_.requests().size(), 5u);
  EXPECT_EQ(denied.error().message().find("new"), std::string::npos);  // no token in errors
  std::filesystem::remove_all(dir);
}

TEST_F(ClientTest, ListAllFollowsContinueTokens) {
  Client client = MakeClient();
  server_.Always([](const http::Request& request) {
    std::string token = request.QueryParam("continue");
    int page = token.empty() ? 0 : std::stoi(token);
    json list = {{"kind", "ConfigMapList"},
                 {"apiVersion", "v1"},
                 {"metadata", {{"resourceVersion", "100"}}},
                 {"items", json::array()}};
    for (int i = 0; i < 2; ++i)
      list["items"].push_back(ConfigMap("cm" + std::to_string(page * 2 + i)));
    if (page < 2)
      list["metadata"]["continue"] = std::to_string(page + 1);
    return Reply(200, list.dump());
  });
  ListOptions options;
  options.limit = 2;
  options.resource_version = "0";
  auto all = client.ListAll(kConfigMaps, options);
  ASSERT_TRUE(all.ok()) << all.error().message();
  ASSERT_EQ((*all)["items"].size(), 6u);
  EXPECT_EQ((*all)["items"][5]["metadata"]["name"], "cm5");
  EXPECT_EQ((*all)["metadata"]["resourceVersion"], "100");
  EXPECT_FALSE((*all)["metadata"].contains("continue"));
  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].QueryParam("resourceVersion"), "0");
  EXPECT_EQ(requests[1].QueryParam("continue"), "1");
  EXPECT_EQ(requests[1].QueryParam("resourceVersion"), "");  // not allowed with continue
  EXPECT_EQ(requests[2].QueryParam("limit"), "2");
}

TEST_F(ClientTest, ListPagesStopsWhenAskedAndSurfacesExpiredTokens) {
  Client client = MakeClient();
  server_.Then(
      Reply(200, json{{"metadata", {{"continue", "x"}}}, {"items", json::array()}}.dump()));
  server_.Then(
      Reply(410, StatusBody(410, "Expired", "The provided continue parameter is too old")));
  auto all = client.ListAll(kConfigMaps);
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.error().code(), ErrorCode::kGone);

  server_.Then(
      Reply(200, json{{"metadata", {{"continue", "x"}}}, {"items", json::array()}}.dump()));
  int pages = 0;
  ASSERT_TRUE(client.ListPages(kConfigMaps, {}, [&](json&) { return ++pages < 1; }).ok());
  EXPECT_EQ(pages, 1);
  EXPECT_EQ(server_.requests().size(), 3u);
}

TEST_F(ClientTest, WatchParsesEventsSplitAcrossChunks) {
  Client client = MakeClient();
  server_.Then([] {
    http::Response response;
    response.headers["content-type"] = "application/json";
    response.stream = [](http::StreamWriter& writer) {
      std::string events =
          json{{"type", "ADDED"}, {"object", ConfigMap("a")}}.dump() + "\n" +
          json{{"type", "BOOKMARK"}, {"object", {{"metadata", {{"resourceVersion", "9"}}}}}}
              .dump() +
          "\n" + json{{"type", "DELETED"}, {"object", ConfigMap("a")}}.dump() + "\n";
      // Split mid-event to exercise reassembly.
      writer.Write(events.substr(0, 17));
      writer.Write(events.substr(17, 60));
      writer.Write(events.substr(77));
    };
    return response;
  }());
  std::vector<std::string> seen;
  WatchOptions options;
  options.resource_version = "5";
  Status status = client.Watch(kConfigMaps, options, [&](const WatchEvent& event) {
    seen.push_back(std::string(EventTypeName(event.type)) + " " +
                   event.object["metadata"]["resourceVersion"].get<std::string>());
    return true;
  });
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED 7", "BOOKMARK 9", "DELETED 7"}));
  auto request = server_.requests().at(0);
  EXPECT_EQ(request.QueryParam("watch"), "true");
  EXPECT_EQ(request.QueryParam("resourceVersion"), "5");
  EXPECT_EQ(request.QueryParam("allowWatchBookmarks"), "true");
}

http::Response StreamOf(std::vector<std::string> lines) {
  http::Response response;
  response.stream = [lines](http::StreamWriter& writer) {
    for (const auto& line : lines)
      writer.Write(line + "\n");
  };
  return response;
}

TEST_F(ClientTest, WatchErrorEventsAndStatuses) {
  Client client = MakeClient();
  auto count = [](int* n) {
    return [n](const WatchEvent&) {
      ++*n;
      return true;
    };
  };
  // 410 as an ERROR event after a delivered event.
  server_.Then(StreamOf(
      {json{{"type", "ADDED"}, {"object", ConfigMap("a")}}.dump(),
       json{{"type", "ERROR"},
            {"object", json::parse(StatusBody(410, "Expired", "too old resource version: 1 (5)"))}}
           .dump()}));
  int delivered = 0;
  Status gone = client.Watch(kConfigMaps, {}, count(&delivered));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code(), ErrorCode::kGone);
  EXPECT_EQ(gone.error().message(), "watch configmaps ns1: too old resource version: 1 (5)");
  EXPECT_EQ(delivered, 1);

  // 410 as the response status.
  server_.Then(Reply(410, StatusBody(410, "Gone", "gone")));
  Status gone_status = client.Watch(kConfigMaps, {}, count(&delivered));
  ASSERT_FALSE(gone_status.ok());
  EXPECT_EQ(gone_status.error().code(), ErrorCode::kGone) << gone_status.error().message();

  // A line that is not an event.
  server_.Then(StreamOf({"{not json"}));
  Status malformed = client.Watch(kConfigMaps, {}, count(&delivered));
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code(), ErrorCode::kInternal);

  server_.Then(StreamOf({json{{"type", "SURPRISE"}, {"object", json::object()}}.dump()}));
  Status unknown = client.Watch(kConfigMaps, {}, count(&delivered));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("unknown watch event type"), std::string::npos);

  // The callback ends the watch.
  server_.Then(StreamOf({json{{"type", "ADDED"}, {"object", ConfigMap("a")}}.dump(),
                         json{{"type", "ADDED"}, {"object", ConfigMap("b")}}.dump()}));
  int stopped_after = 0;
  Status stopped = client.Watch(kConfigMaps, {}, [&](const WatchEvent&) {
    ++stopped_after;
    return false;
  });
  EXPECT_TRUE(stopped.ok());
  EXPECT_EQ(stopped_after, 1);
  EXPECT_EQ(delivered, 1);
}

TEST_F(ClientTest, SilentWatchEndsWithTimeout) {
  Client client = MakeClient();
  server_.Then([] {
    http::Response response;
    response.stream = [](http::StreamWriter& writer) { writer.WaitAlive(3000); };
    return response;
  }());
  WatchOptions options;
  options.idle_timeout = 200ms;
  auto started = std::chrono::steady_clock::now();
  Status status = client.Watch(kConfigMaps, options, [](const WatchEvent&) { return true; });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST_F(ClientTest, CountsRequestsIncludingRetries) {
  obs::Metrics metrics;
  RestConfig config;
  config.server = server_.url();
  ClientOptions options;
  options.metrics = &metrics;
  options.initial_backoff = 1ms;
  Client client(config, options);
  server_.Then(Reply(503, StatusBody(503, "ServiceUnavailable", "down")));
  server_.Then(Reply(200, ConfigMap("a").dump()));
  ASSERT_TRUE(client.Get(kConfigMaps, "a").ok());
  std::string text = metrics.Serialize();
  EXPECT_NE(text.find(R"(seedhop_kube_client_requests_total{code="503",verb="get"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(seedhop_kube_client_requests_total{code="200",verb="get"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(seedhop_kube_client_request_duration_seconds_count{verb="get"} 2)"),
            std::string::npos);
}

TEST(StatusErrorTest, ReasonsMapToCodes) {
  struct Case {
    int status;
    std::string reason;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {404, "NotFound", ErrorCode::kNotFound},
      {409, "AlreadyExists", ErrorCode::kAlreadyExists},
      {409, "Conflict", ErrorCode::kConflict},
      {422, "Invalid", ErrorCode::kInvalid},
      {400, "BadRequest", ErrorCode::kBadRequest},
      {403, "Forbidden", ErrorCode::kForbidden},
      {401, "Unauthorized", ErrorCode::kUnauthorized},
      {410, "Expired", ErrorCode::kGone},
      {410, "Gone", ErrorCode::kGone},
      {429, "TooManyRequests", ErrorCode::kTooManyRequests},
      {413, "RequestEntityTooLarge", ErrorCode::kRequestEntityTooLarge},
      {504, "Timeout", ErrorCode::kTimeout},
      {503, "ServiceUnavailable", ErrorCode::kUnavailable},
      {500, "InternalError", ErrorCode::kInternal},
      // No reason: the code decides.
      {409, "", ErrorCode::kConflict},
      {422, "", ErrorCode::kInvalid},
      {418, "", ErrorCode::kBadRequest},
      {502, "", ErrorCode::kUnavailable},
  };
  for (const auto& c : cases) {
    Error error = StatusError(c.status, StatusBody(c.status, c.reason, "why"), "get x");
    EXPECT_EQ(error.code(), c.code) << c.status << " " << c.reason;
    EXPECT_EQ(error.message(), "get x: why");
  }
  Error plain = StatusError(502, "<html>bad gateway</html>", "list y");
  EXPECT_EQ(plain.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(plain.message(), "list y: HTTP 502: <html>bad gateway</html>");
  Error empty = StatusError(403, "", "delete z");
  EXPECT_EQ(empty.code(), ErrorCode::kForbidden);
  EXPECT_EQ(empty.message(), "delete z: HTTP 403");
}

}  // namespace
}  // namespace seedhop::kube
