#include "test/emulator/emulator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "common/http/client.h"
#include "test/support/certs.h"

namespace seedhop::emulator {
namespace {

using nlohmann::json;

class EmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emulator_.Start().ok());
    client_ = std::make_unique<http::Client>(http::ClientOptions{.ca_pem = emulator_.ca_pem()});
  }

  http::ClientRequest Request(const std::string& method, const std::string& path,
                              const std::string& body = "") {
    http::ClientRequest request;
    request.method = method;
    request.url = emulator_.url() + path;
    request.headers["authorization"] = "Bearer " + emulator_.token();
    request.headers["content-type"] = "application/json";
    request.body = body;
    return request;
  }
  http::ClientResponse Send(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    auto response = client_->Send(Request(method, path, body));
    EXPECT_TRUE(response.ok()) << (response.ok() ? "" : response.error().message());
    return response.ok() ? *response : http::ClientResponse{};
  }

  Emulator emulator_{EmulatorOptions{.token = "http-test-token"}};
  std::unique_ptr<http::Client> client_;  // trusts the CA that Start() makes
};

TEST_F(EmulatorTest, ServesHttpsWithTheTokenAndItsOwnCa) {
  EXPECT_EQ(emulator_.url().rfind("https://127.0.0.1:", 0), 0u);
  http::Client client(http::ClientOptions{.ca_pem = emulator_.ca_pem()});
  EXPECT_EQ(Send("GET", "/api/v1/namespaces").status, 200);
  http::ClientRequest anonymous = Request("GET", "/api/v1/namespaces");
  anonymous.headers.erase("authorization");
  auto unauthorized = client.Send(anonymous);
  ASSERT_TRUE(unauthorized.ok());
  EXPECT_EQ(unauthorized->status, 401);
  http::Client stranger(http::ClientOptions{.ca_pem = testing::MakeCa("other").cert_pem});
  EXPECT_FALSE(stranger.Send(Request("GET", "/version")).ok());
}

TEST_F(EmulatorTest, SeveralEmulatorsRunSideBySide) {
  Emulator other(EmulatorOptions{.token = "other-token"});
  ASSERT_TRUE(other.Start().ok());
  EXPECT_NE(other.url(), emulator_.url());
  EXPECT_EQ(Send("POST", "/api/v1/namespaces", R"({"metadata":{"name":"only-here"}})").status, 201);
  http::Client client(http::ClientOptions{.ca_pem = other.ca_pem()});
  http::ClientRequest request;
  request.url = other.url() + "/api/v1/namespaces/only-here";
  request.headers["authorization"] = "Bearer other-token";
  auto response = client.Send(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 404);
}

TEST_F(EmulatorTest, PaginatesLargeListsOverHttp) {
  ASSERT_EQ(Send("POST", "/api/v1/namespaces", R"({"metadata":{"name":"bulk"}})").status, 201);
  for (int i = 0; i < 1200; ++i) {
    json cm = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", {{"name", "cm-" + std::to_string(i)}, {"namespace", "bulk"}}}};
    ASSERT_TRUE(emulator_.api().store().Create("/configmaps", cm).ok());
  }
  size_t total = 0;
  int pages = 0;
  std::string token;
  do {
    http::ClientResponse page = Send(
        "GET", "/api/v1/namespaces/bulk/configmaps?limit=500&continue=" + http::UrlEncode(token));
    ASSERT_EQ(page.status, 200);
    json parsed = json::parse(page.body);
    total += parsed["items"].size();
    token = parsed["metadata"].value("continue", "");
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(total, 1200u);
  EXPECT_EQ(pages, 3);
}

TEST_F(EmulatorTest, StreamsWatchEventsAndStopEndsThem) {
  ASSERT_EQ(Send("POST", "/api/v1/namespaces", R"({"metadata":{"name":"w"}})").status, 201);
  std::atomic<bool> saw_added{false};
  std::string received;
  std::thread watcher([&] {
    http::ClientRequest request = Request("GET", "/api/v1/namespaces/w/configmaps?watch=true");
    auto response = client_->Stream(
        request,
        [&](std::string_view chunk) {
          received += chunk;
          if (received.find(R"("type":"ADDED")") != std::string::npos)
            saw_added = true;
          return true;
        },
        std::chrono::milliseconds(10000));
    EXPECT_TRUE(response.ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(Send("POST", "/api/v1/namespaces/w/configmaps", R"({"metadata":{"name":"c"}})").status,
            201);
  for (int i = 0; i < 50 && !saw_added; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(saw_added);
  auto start = std::chrono::steady_clock::now();
  emulator_.api().Close();  // must end the open watch instead of waiting for the client
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // Let the ended stream's connection finish closing before the server shuts down: closing a
  // session concurrently with Server::Shutdown can deadlock in common/http (reported).
  client_.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  emulator_.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(EmulatorTest, WritesAKubeconfig) {
  std::string path = std::filesystem::temp_directory_path() /
                     ("seedhop-emulator-kubeconfig-" + std::to_string(::getpid()));
  ASSERT_TRUE(emulator_.WriteKubeconfig(path).ok());
  auto text = testing::ReadFile(path);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("server: " + emulator_.url() + "\n"), std::string::npos);
  EXPECT_NE(text->find("token: http-test-token\n"), std::string::npos);
  EXPECT_NE(text->find("current-context: emulator\n"), std::string::npos);
  EXPECT_NE(text->find("certificate-authority-data: "), std::string::npos);
  std::filesystem::remove(path);
  EXPECT_FALSE(emulator_.WriteKubeconfig("/nonexistent-dir/x/kubeconfig").ok());
}

}  // namespace
}  // namespace seedhop::emulator
