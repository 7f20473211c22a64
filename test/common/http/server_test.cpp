#include "common/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "common/http/client.h"
#include "common/obs/log.h"
#include "common/obs/metrics.h"
#include "test/support/certs.h"
#include "test/support/raw_tls.h"

namespace seedhop::http {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A scratch directory with a CA and a serving certificate for 127.0.0.1.
class TlsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = seedhop::testing::MakeTempDir("seedhop-http-");
    ASSERT_TRUE(made.ok()) << made.error().message();
    dir_ = *made;
    ca_ = testing::MakeCa("seedhop-test-ca");
    auto leaf = testing::MakeLeaf(ca_, "server", {"127.0.0.1", "localhost"});
    ASSERT_TRUE(testing::WriteFile(cert_file(), leaf.cert_pem).ok());
    ASSERT_TRUE(testing::WriteFile(key_file(), leaf.key_pem).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string cert_file() const { return (dir_ / "tls.crt").string(); }
  std::string key_file() const { return (dir_ / "tls.key").string(); }

  ServerOptions TlsOptions() const {
    ServerOptions options;
    options.address = "127.0.0.1";
    options.cert_file = cert_file();
    options.key_file = key_file();
    options.cert_poll_interval = 50ms;
    return options;
  }

  ClientOptions TrustingClient() const {
    ClientOptions options;
    options.ca_pem = ca_.cert_pem;
    return options;
  }

  static std::string Url(const Server& server, const std::string& path, bool tls = true) {
    return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(server.port()) +
           path;
  }

  // A raw TLS connection to `server`, for tests that control what goes on the wire.
  std::unique_ptr<testing::RawTls> RawTlsTo(const Server& server) {
    return testing::RawTls::Connect(raw_context_.get(), server.port());
  }

  fs::path dir_;
  testing::CertPair ca_;
  testing::SslContext raw_context_ = testing::UnverifiedClientContext();
};

Response Echo(const Request& request) {
  return Response::Text(200, request.method + " " + request.path + " q=" + request.QueryParam("q") +
                                 " body=" + request.body);
}

// Opens a raw TCP connection to 127.0.0.1:port.
int RawConnect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

// Reads until the peer closes or 5 s pass; returns what arrived.
std::string ReadUntilClosed(int fd) {
  std::string out;
  char buffer[4096];
  while (true) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0)
      break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

TEST_F(TlsFixture, ServesRoutesOverTlsIgnoringTheQueryString) {
  obs::Metrics metrics;
  Server server(TlsOptions(), &metrics, nullptr);
  server.Route("/mutate", Echo);
  server.AddStandardRoutes();
  ASSERT_TRUE(server.Start().ok());
  EXPECT_TRUE(server.ready());

  Client client(TrustingClient());
  auto response = client.Send({"POST", Url(server, "/mutate?timeout=10s&q=a%20b"), {}, "hello"});
  ASSERT_TRUE(response.ok()) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /mutate q=a b body=hello");

  auto missing = client.Send({"GET", Url(server, "/nope"), {}, ""});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);

  auto ready = client.Send({"GET", Url(server, "/readyz"), {}, ""});
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);

  auto scrape = client.Send({"GET", Url(server, "/metrics"), {}, ""});
  ASSERT_TRUE(scrape.ok());
  EXPECT_NE(scrape->body.find("seedhop_http_requests_total{code=\"200\",path=\"/mutate\"} 1"),
            std::string::npos)
      << scrape->body;
  EXPECT_NE(scrape->body.find("seedhop_http_requests_total{code=\"404\",path=\"unmatched\"} 1"),
            std::string::npos);
  EXPECT_NE(scrape->body.find("seedhop_http_certificate_expiry_timestamp_seconds"),
            std::string::npos);
  EXPECT_NE(scrape->body.find("seedhop_http_request_duration_seconds_bucket"), std::string::npos);
  server.Shutdown();
}

TEST_F(TlsFixture, KeepAliveReusesOneConnection) {
  std::atomic<int> handled{0};
  std::set<std::string> remotes;
  std::mutex mutex;
  Server server(TlsOptions(), nullptr, nullptr);
  obs::Metrics metrics;
  server.Route("/x", [&](const Request&) {
    ++handled;
    return Response::Text(200, "x");
  });
  ASSERT_TRUE(server.Start().ok());
  Client client(TrustingClient());
  for (int i = 0; i < 20; ++i) {
    auto response = client.Send({"GET", Url(server, "/x"), {}, ""});
    ASSERT_TRUE(response.ok()) << response.error().message();
    EXPECT_NE(response->headers["connection"], "close");
  }
  EXPECT_EQ(handled.load(), 20);
  server.Shutdown();
}

// A request "POST /x?q=<i>" with body "b<i>", as Echo answers it: "POST /x q=<i> body=b<i>".
std::string EchoRequest(int i, const std::string& version = "HTTP/1.1",
                        const std::string& extra_headers = "") {
  return "POST /x?q=" + std::to_string(i) + " " + version + "\r\nHost: a\r\n" + extra_headers +
         "Content-Length: " + std::to_string(1 + std::to_string(i).size()) + "\r\n\r\nb" +
         std::to_string(i);
}
std::string EchoAnswer(int i) {
  return "POST /x q=" + std::to_string(i) + " body=b" + std::to_string(i);
}

TEST_F(TlsFixture, PipelinedRequestsAreAnsweredInOrder) {
  Server server(TlsOptions(), nullptr, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());
  auto connection = RawTlsTo(server);
  ASSERT_TRUE(connection);
  // Three requests in one TLS record: the server must keep what follows the first.
  ASSERT_TRUE(connection->Write(EchoRequest(0) + EchoRequest(1) + EchoRequest(2)));
  for (int i = 0; i < 3; ++i) {
    std::string response = connection->ReadResponse();
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
    EXPECT_TRUE(response.ends_with(EchoAnswer(i))) << response;
  }
  // The connection is still good for more.
  ASSERT_TRUE(connection->Write(EchoRequest(3)));
  EXPECT_TRUE(connection->ReadResponse().ends_with(EchoAnswer(3)));
  server.Shutdown();
}

// Sends `requests` at once on a plain connection to a server with the Echo route and returns
// what arrived until the server closed the connection; "timed out" when it did not within 3 s.
std::string SendToPlainEcho(const std::string& requests) {
  ServerOptions options;
  options.address = "127.0.0.1";
  Server server(options, nullptr, nullptr);
  server.Route("/x", Echo);
  if (!server.Start().ok())
    return "not started";
  int fd = RawConnect(server.port());
  if (fd < 0)
    return "not connected";
  if (::send(fd, requests.data(), requests.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(requests.size())) {
    return "not sent";
  }
  auto start = std::chrono::steady_clock::now();
  std::string received = ReadUntilClosed(fd);
  ::close(fd);
  server.Shutdown();
  return std::chrono::steady_clock::now() - start < 3s ? received : "timed out";
}

TEST(ServerPlainHttp, PipelinedRequestsAreAnsweredInOrderUntilConnectionClose) {
  std::string received = SendToPlainEcho(EchoRequest(0) + EchoRequest(1) +
                                         EchoRequest(2, "HTTP/1.1", "Connection: close\r\n"));
  size_t at = 0;
  for (int i = 0; i < 3; ++i) {
    at = received.find(EchoAnswer(i), at);
    ASSERT_NE(at, std::string::npos) << i << ": " << received;
  }
  EXPECT_TRUE(received.ends_with(EchoAnswer(2)));
  EXPECT_NE(received.find("connection: close\r\n"), std::string::npos);
}

TEST(ServerPlainHttp, Http10IsClosedAfterTheAnswerUnlessItAsksForKeepAlive) {
  // The first asks to be kept open, the second does not.
  std::string received = SendToPlainEcho(EchoRequest(0, "HTTP/1.0", "Connection: keep-alive\r\n") +
                                         EchoRequest(1, "HTTP/1.0"));
  size_t second = received.find("HTTP/1.0 200 OK", 1);
  ASSERT_EQ(received.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << received;
  ASSERT_NE(second, std::string::npos) << received;
  std::string first_answer = received.substr(0, second);
  EXPECT_NE(first_answer.find("connection: keep-alive\r\n"), std::string::npos) << received;
  EXPECT_TRUE(first_answer.ends_with(EchoAnswer(0))) << received;
  EXPECT_TRUE(received.ends_with(EchoAnswer(1))) << received;
}

TEST_F(TlsFixture, RequestInOneByteRecordsIsServed) {
  Server server(TlsOptions(), nullptr, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());
  auto connection = RawTlsTo(server);
  ASSERT_TRUE(connection);
  for (char c : EchoRequest(7))
    ASSERT_TRUE(connection->Write(std::string_view(&c, 1)));
  std::string response = connection->ReadResponse();
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_TRUE(response.ends_with(EchoAnswer(7))) << response;
  server.Shutdown();
}

TEST_F(TlsFixture, LargeRequestAndAnswerToASlowReaderArriveWhole) {
  Server server(TlsOptions(), nullptr, nullptr);
  const std::string big_answer(8 << 20, 'x');
  server.Route("/big", [&](const Request& request) {
    return Response::Text(200, big_answer + std::to_string(request.body.size()));
  });
  ASSERT_TRUE(server.Start().ok());
  auto connection = RawTlsTo(server);
  ASSERT_TRUE(connection);
  const std::string body(1 << 20, 'b');
  ASSERT_TRUE(connection->Write("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body));
  // Not reading for a while fills the socket buffers, so the server has to wait to write.
  std::this_thread::sleep_for(300ms);
  std::string response = connection->ReadResponse();
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response.substr(0, 200);
  EXPECT_TRUE(response.ends_with(big_answer + std::to_string(body.size())));
  server.Shutdown();
}

TEST_F(TlsFixture, ClientThatStopsReadingIsCutAtTheWriteTimeout) {
  ServerOptions options = TlsOptions();
  options.write_timeout = 300ms;
  Server server(options, nullptr, nullptr);
  // The kernel grows a socket's receive buffer only as its reader reads; to a client that reads
  // nothing, 32 MiB is far more than the buffers hold, so the server has to wait.
  const std::string big_answer(32 << 20, 'x');
  server.Route("/big", [&](const Request&) { return Response::Text(200, big_answer); });
  ASSERT_TRUE(server.Start().ok());
  auto connection = RawTlsTo(server);
  ASSERT_TRUE(connection);
  ASSERT_TRUE(connection->Write("GET /big HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::this_thread::sleep_for(1s);  // past the write timeout without reading a byte
  std::string received;
  EXPECT_TRUE(connection->WaitForClose(&received));
  EXPECT_EQ(received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << received.substr(0, 200);
  EXPECT_LT(received.size(), big_answer.size());
  server.Shutdown();
}

TEST_F(TlsFixture, StartedRequestOnAnIdleKeepAliveConnectionIsCutAtTheReadTimeout) {
  ServerOptions options = TlsOptions();
  options.read_timeout = 300ms;
  options.idle_timeout = 20s;
  Server server(options, nullptr, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());
  auto connection = RawTlsTo(server);
  ASSERT_TRUE(connection);
  ASSERT_TRUE(connection->Write(EchoRequest(0)));
  EXPECT_TRUE(connection->ReadResponse().ends_with(EchoAnswer(0)));
  // Idle between requests, the idle timeout applies, not the read timeout.
  std::this_thread::sleep_for(600ms);
  ASSERT_TRUE(connection->Write(EchoRequest(1)));
  EXPECT_TRUE(connection->ReadResponse().ends_with(EchoAnswer(1)));
  // Half a header: from its first byte on, the request has the read timeout to arrive.
  ASSERT_TRUE(connection->Write("GET /x HTTP/1.1\r\nHost: a\r\nX-Slow: "));
  auto start = std::chrono::steady_clock::now();
  std::string received;
  EXPECT_TRUE(connection->WaitForClose(&received));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(received, "");
  server.Shutdown();
}

TEST_F(TlsFixture, RejectsAnUntrustedServerCertificate) {
  Server server(TlsOptions(), nullptr, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());
  ClientOptions options;
  options.ca_pem = testing::MakeCa("some-other-ca").cert_pem;
  Client client(options);
  auto response = client.Send({"GET", Url(server, "/x"), {}, ""});
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.error().message().find("TLS handshake"), std::string::npos);
  server.Shutdown();
}

TEST_F(TlsFixture, BodyOverTheLimitGets413) {
  ServerOptions options = TlsOptions();
  options.max_body_bytes = 1024;
  Server server(options, nullptr, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());
  Client client(TrustingClient());
  auto small = client.Send({"POST", Url(server, "/x"), {}, std::string(1024, 'a')});
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->status, 200);
  auto large = client.Send({"POST", Url(server, "/x"), {}, std::string(1025, 'a')});
  ASSERT_TRUE(large.ok()) << large.error().message();
  EXPECT_EQ(large->status, 413);
  server.Shutdown();
}

TEST_F(TlsFixture, OversizedHeaderGets431) {
  ServerOptions options = TlsOptions();
  options.max_header_bytes = 2048;
  Server server(options, nullptr, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());
  Client client(TrustingClient());
  auto response = client.Send({"GET", Url(server, "/x"), {{"x-big", std::string(4096, 'h')}}, ""});
  ASSERT_TRUE(response.ok()) << response.error().message();
  EXPECT_EQ(response->status, 431);
  server.Shutdown();
}

TEST_F(TlsFixture, SlowLorisHeaderIsCutOffAtTheReadTimeout) {
  ServerOptions options;  // plain HTTP, so the test can dribble bytes by hand
  options.address = "127.0.0.1";
  options.read_timeout = 300ms;
  Server server(options, nullptr, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());
  int fd = RawConnect(server.port());
  ASSERT_GE(fd, 0);
  auto start = std::chrono::steady_clock::now();
  const std::string partial = "GET /x HTTP/1.1\r\nHost: a\r\nX-Slow: ";
  bool cut_off = false;
  for (char c : partial + std::string(100, 'z')) {
    if (::send(fd, &c, 1, MSG_NOSIGNAL) < 0) {
      cut_off = true;
      break;
    }
    std::this_thread::sleep_for(20ms);
    if (std::chrono::steady_clock::now() - start > 3s)
      break;
  }
  if (!cut_off) {
    char byte;
    cut_off = ::recv(fd, &byte, 1, 0) == 0;
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_TRUE(cut_off);
  EXPECT_LT(elapsed, 3s);
  server.Shutdown();
}

TEST_F(TlsFixture, SilentClientIsCutOffDuringTheHandshake) {
  ServerOptions options = TlsOptions();
  options.read_timeout = 300ms;
  obs::Metrics metrics;
  Server server(options, &metrics, nullptr);
  ASSERT_TRUE(server.Start().ok());
  int fd = RawConnect(server.port());
  ASSERT_GE(fd, 0);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadUntilClosed(fd), "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  ::close(fd);
  // Beast closes the socket on timeout before the handler that counts the error runs.
  bool counted = false;
  for (int i = 0; i < 100 && !counted; ++i) {
    counted =
        metrics.Serialize().find("seedhop_http_tls_handshake_errors_total 1") != std::string::npos;
    if (!counted)
      std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(counted);
  server.Shutdown();
}

TEST_F(TlsFixture, ConnectionsBeyondTheCapAreClosed) {
  ServerOptions options;
  options.address = "127.0.0.1";
  options.max_connections = 2;
  Server server(options, nullptr, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());
  int a = RawConnect(server.port());
  int b = RawConnect(server.port());
  std::this_thread::sleep_for(100ms);
  int c = RawConnect(server.port());
  ASSERT_GE(c, 0);
  EXPECT_EQ(ReadUntilClosed(c), "");  // closed without a byte
  const std::string request = "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  ASSERT_GT(::send(a, request.data(), request.size(), MSG_NOSIGNAL), 0);
  EXPECT_NE(ReadUntilClosed(a).find("200 OK"), std::string::npos);
  ::close(a);
  ::close(b);
  ::close(c);
  server.Shutdown();
}

TEST_F(TlsFixture, MalformedRequestGets400) {
  ServerOptions options;
  options.address = "127.0.0.1";
  Server server(options, nullptr, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());
  int fd = RawConnect(server.port());
  const std::string junk = "NOT HTTP AT ALL\r\n\r\n";
  ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
  EXPECT_NE(ReadUntilClosed(fd).find("400 Bad Request"), std::string::npos);
  ::close(fd);
  server.Shutdown();
}

// Kubernetes mounts a secret as <dir>/tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>; a
// rotation writes a new timestamped directory and renames a new ..data link over the old one.
TEST_F(TlsFixture, ReloadsOnSecretVolumeSymlinkSwapAndKeepsOldPairWhenTheNewOneIsBroken) {
  fs::path volume = dir_ / "volume";
  fs::create_directories(volume / "..v1");
  auto first = testing::MakeLeaf(ca_, "first", {"127.0.0.1"});
  ASSERT_TRUE(testing::WriteFile((volume / "..v1" / "tls.crt").string(), first.cert_pem).ok());
  ASSERT_TRUE(testing::WriteFile((volume / "..v1" / "tls.key").string(), first.key_pem).ok());
  fs::create_directory_symlink("..v1", volume / "..data");
  fs::create_symlink("..data/tls.crt", volume / "tls.crt");
  fs::create_symlink("..data/tls.key", volume / "tls.key");

  ServerOptions options = TlsOptions();
  options.cert_file = (volume / "tls.crt").string();
  options.key_file = (volume / "tls.key").string();
  obs::Metrics metrics;
  obs::Logger logger("test", obs::LogLevel::kError);
  Server server(options, &metrics, &logger);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());

  // The CN of the certificate a fresh connection sees.
  auto served_cn = [&]() -> std::string {
    ClientOptions client_options = TrustingClient();
    client_options.max_idle_per_host = 0;
    Client client(client_options);
    auto response = client.Send({"GET", Url(server, "/x"), {}, ""});
    return response.ok() ? "ok" : response.error().message();
  };
  ASSERT_EQ(served_cn(), "ok");

  Client keep_alive(TrustingClient());
  ASSERT_TRUE(keep_alive.Send({"GET", Url(server, "/x"), {}, ""}).ok());

  auto swap_to = [&](const std::string& name, const testing::CertPair& pair) {
    fs::create_directories(volume / name);
    ASSERT_TRUE(testing::WriteFile((volume / name / "tls.crt").string(), pair.cert_pem).ok());
    ASSERT_TRUE(testing::WriteFile((volume / name / "tls.key").string(), pair.key_pem).ok());
    fs::create_directory_symlink(name, volume / "..data_tmp");
    fs::rename(volume / "..data_tmp", volume / "..data");
  };
  auto expiry = [&] {
    std::string text = metrics.Serialize();
    auto at = text.find("\nseedhop_http_certificate_expiry_timestamp_seconds ");
    return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  };
  std::string first_expiry = expiry();

  // A broken pair (key of another certificate) is refused; the old pair keeps serving.
  auto other = testing::MakeLeaf(ca_, "other", {"127.0.0.1"});
  swap_to("..v2", {first.cert_pem, other.key_pem});
  std::this_thread::sleep_for(300ms);
  EXPECT_NE(metrics.Serialize().find("seedhop_http_certificate_reloads_total{result=\"error\"} 1"),
            std::string::npos);
  EXPECT_EQ(served_cn(), "ok");

  // A good pair with a later expiry is picked up without restarting.
  auto second = testing::MakeLeaf(ca_, "second", {"127.0.0.1"}, 2 * 86400);
  swap_to("..v3", second);
  std::this_thread::sleep_for(300ms);
  EXPECT_NE(
      metrics.Serialize().find("seedhop_http_certificate_reloads_total{result=\"success\"} 2"),
      std::string::npos)
      << metrics.Serialize();
  EXPECT_NE(expiry(), first_expiry);
  EXPECT_EQ(served_cn(), "ok");
  // The connection opened before the rotation still works.
  auto old_connection = keep_alive.Send({"GET", Url(server, "/x"), {}, ""});
  ASSERT_TRUE(old_connection.ok());
  EXPECT_EQ(old_connection->status, 200);
  server.Shutdown();
}

TEST_F(TlsFixture, StartFailsClearlyWithAMismatchedKey) {
  auto other = testing::MakeLeaf(ca_, "other", {"127.0.0.1"});
  ASSERT_TRUE(testing::WriteFile(key_file(), other.key_pem).ok());
  obs::Logger logger("test", obs::LogLevel::kError, fopen("/dev/null", "w"));
  Server server(TlsOptions(), nullptr, &logger);
  Status started = server.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message().find("private key"), std::string::npos)
      << started.error().message();
}

TEST_F(TlsFixture, ExpiredCertificateIsRefusedByClients) {
  auto expired = testing::MakeLeaf(ca_, "expired", {"127.0.0.1"}, 60, -7200);
  ASSERT_TRUE(testing::WriteFile(cert_file(), expired.cert_pem).ok());
  ASSERT_TRUE(testing::WriteFile(key_file(), expired.key_pem).ok());
  obs::Metrics metrics;
  Server server(TlsOptions(), &metrics, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());
  Client client(TrustingClient());
  auto response = client.Send({"GET", Url(server, "/x"), {}, ""});
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.error().message().find("certificate"), std::string::npos)
      << response.error().message();
  // The expiry gauge shows the past, which is what an alert on it needs.
  EXPECT_NE(metrics.Serialize().find("seedhop_http_certificate_expiry_timestamp_seconds"),
            std::string::npos);
  server.Shutdown();
}

TEST_F(TlsFixture, MutualTlsRequiresAClientCertificate) {
  ServerOptions options = TlsOptions();
  options.client_ca_file = (dir_ / "client-ca.crt").string();
  ASSERT_TRUE(testing::WriteFile(options.client_ca_file, ca_.cert_pem).ok());
  Server server(options, nullptr, nullptr);
  server.Route("/x", Echo);
  ASSERT_TRUE(server.Start().ok());

  Client anonymous(TrustingClient());
  EXPECT_FALSE(anonymous.Send({"GET", Url(server, "/x"), {}, ""}).ok());

  auto client_cert = testing::MakeLeaf(ca_, "client", {});
  ClientOptions with_cert = TrustingClient();
  with_cert.client_cert_pem = client_cert.cert_pem;
  with_cert.client_key_pem = client_cert.key_pem;
  Client authenticated(with_cert);
  auto response = authenticated.Send({"GET", Url(server, "/x"), {}, ""});
  ASSERT_TRUE(response.ok()) << response.error().message();
  EXPECT_EQ(response->status, 200);
  server.Shutdown();
}

TEST_F(TlsFixture, ShutdownFinishesInFlightRequests) {
  Server server(TlsOptions(), nullptr, nullptr);
  std::atomic<bool> entered{false};
  server.Route("/slow", [&](const Request&) {
    entered = true;
    std::this_thread::sleep_for(500ms);
    return Response::Text(200, "done");
  });
  ServerOptions options = TlsOptions();
  ASSERT_TRUE(server.Start().ok());
  Client client(TrustingClient());
  Result<ClientResponse> response = Error(ErrorCode::kInternal, "not sent");
  std::thread caller([&] { response = client.Send({"GET", Url(server, "/slow"), {}, ""}); });
  while (!entered)
    std::this_thread::sleep_for(5ms);
  server.Shutdown();
  caller.join();
  ASSERT_TRUE(response.ok()) << response.error().message();
  EXPECT_EQ(response->body, "done");
  EXPECT_EQ(response->headers["connection"], "close");
  // No longer accepting.
  Client late(TrustingClient());
  EXPECT_FALSE(late.Send({"GET", Url(server, "/slow"), {}, ""}).ok());
}

TEST_F(TlsFixture, StreamsChunkedResponsesUntilTheClientStops) {
  ServerOptions options = TlsOptions();
  options.blocking_handlers = true;
  Server server(options, nullptr, nullptr);
  std::atomic<bool> producer_saw_hangup{false};
  server.Route("/watch", [&](const Request&) {
    Response response;
    response.headers["content-type"] = "application/json";
    response.stream = [&](StreamWriter& writer) {
      for (int i = 0;; ++i) {
        if (!writer.Write("{\"n\":" + std::to_string(i) + "}\n"))
          break;
        if (!writer.WaitAlive(i < 3 ? 0 : 50))
          break;
      }
      producer_saw_hangup = true;
    };
    return response;
  });
  ASSERT_TRUE(server.Start().ok());
  Client client(TrustingClient());
  std::string received;
  auto response = client.Stream(
      {"GET", Url(server, "/watch"), {}, ""},
      [&](std::string_view data) {
        received.append(data);
        return std::count(received.begin(), received.end(), '\n') < 5;
      },
      2s);
  ASSERT_TRUE(response.ok()) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(received.substr(0, 16), "{\"n\":0}\n{\"n\":1}\n");
  for (int i = 0; i < 100 && !producer_saw_hangup; ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(producer_saw_hangup);
  server.Shutdown();
}

TEST_F(TlsFixture, ShutdownEndsOpenStreamsWithoutWaitingForTheGracePeriod) {
  ServerOptions options = TlsOptions();
  options.blocking_handlers = true;
  options.shutdown_grace = 15s;
  Server server(options, nullptr, nullptr);
  server.Route("/watch", [](const Request&) {
    Response response;
    response.stream = [](StreamWriter& writer) {
      writer.Write("{}\n");
      while (writer.WaitAlive(60000)) {
      }
    };
    return response;
  });
  ASSERT_TRUE(server.Start().ok());
  std::atomic<bool> first_event{false};
  std::thread watcher([&] {
    Client client(TrustingClient());
    (void)client.Stream(
        {"GET", Url(server, "/watch"), {}, ""},
        [&](std::string_view) {
          first_event = true;
          return true;
        },
        30s);
  });
  while (!first_event)
    std::this_thread::sleep_for(5ms);
  auto start = std::chrono::steady_clock::now();
  server.Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  watcher.join();
}

TEST_F(TlsFixture, ClientTimesOutOnASilentServer) {
  ServerOptions options = TlsOptions();
  options.blocking_handlers = true;
  Server server(options, nullptr, nullptr);
  server.Route("/hang", [](const Request&) {
    std::this_thread::sleep_for(1500ms);
    return Response::Text(200, "late");
  });
  ASSERT_TRUE(server.Start().ok());
  Client client(TrustingClient());
  ClientRequest request{"GET", Url(server, "/hang"), {}, ""};
  request.timeout = 200ms;
  auto response = client.Send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code(), ErrorCode::kTimeout);
  server.Shutdown();
}

// A plain-HTTP peer on loopback for the client's keep-alive rules. Its first connection answers
// one request and then, by `first_connection`, closes while idle or reads one more request and
// closes without answering; later connections answer everything. It records each request's
// method, in arrival order.
class ClosingPeer {
 public:
  enum class FirstConnection { kClosesWhenIdle, kClosesAfterReadingTheSecondRequest };

  explicit ClosingPeer(FirstConnection first_connection) : first_connection_(first_connection) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~ClosingPeer() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
    ::close(listener_);
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::vector<std::string> methods() {
    std::lock_guard lock(mutex_);
    return methods_;
  }

  // Waits up to 5 s until the first connection is closed; false if it was not.
  bool WaitForTheFirstClose() {
    for (int i = 0; i < 500 && !first_closed_; ++i)
      std::this_thread::sleep_for(10ms);
    return first_closed_;
  }

 private:
  void Serve() {
    for (int connection = 0; !stop_;) {
      timeval wait{0, 50000};
      fd_set readable;
      FD_ZERO(&readable);
      FD_SET(listener_, &readable);
      if (::select(listener_ + 1, &readable, nullptr, nullptr, &wait) <= 0)
        continue;
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0)
        continue;
      timeval timeout{2, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      if (connection++ == 0) {
        if (ReadRequest(fd))
          Answer(fd);
        if (first_connection_ == FirstConnection::kClosesAfterReadingTheSecondRequest)
          ReadRequest(fd);
        ::close(fd);
        first_closed_ = true;
        continue;
      }
      while (ReadRequest(fd))
        Answer(fd);
      ::close(fd);
    }
  }

  // Reads one request, head and Content-Length body, and records its method. False when the
  // client closed or sent nothing within the socket's timeout.
  bool ReadRequest(int fd) {
    std::string data;
    char buffer[4096];
    size_t head_end = std::string::npos;
    size_t body_length = 0;
    while (head_end == std::string::npos || data.size() < head_end + 4 + body_length) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0)
        return false;
      data.append(buffer, static_cast<size_t>(n));
      if (head_end == std::string::npos &&
          (head_end = data.find("\r\n\r\n")) != std::string::npos) {
        size_t field = data.find("\r\nContent-Length: ");
        if (field != std::string::npos && field < head_end)
          body_length = std::stoul(data.substr(field + 18));
      }
    }
    std::lock_guard lock(mutex_);
    methods_.push_back(data.substr(0, data.find(' ')));
    return true;
  }

  static void Answer(int fd) {
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
  }

  const FirstConnection first_connection_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> first_closed_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> methods_;
};

TEST(Client, ARequestThatMayHaveBeenAppliedIsNotSentAgain) {
  ClosingPeer peer(ClosingPeer::FirstConnection::kClosesAfterReadingTheSecondRequest);
  Client client(ClientOptions{});
  ASSERT_TRUE(client.Send({"GET", peer.Url("/a"), {}, ""}).ok());
  auto posted = client.Send({"POST", peer.Url("/b"), {}, "{}"});
  ASSERT_FALSE(posted.ok());
  EXPECT_EQ(posted.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(posted.error().message().find(peer.Url("/b")), std::string::npos);
  EXPECT_EQ(peer.methods(), (std::vector<std::string>{"GET", "POST"}));
}

TEST(Client, AReadIsSentAgainOnANewConnection) {
  ClosingPeer peer(ClosingPeer::FirstConnection::kClosesAfterReadingTheSecondRequest);
  Client client(ClientOptions{});
  ASSERT_TRUE(client.Send({"GET", peer.Url("/a"), {}, ""}).ok());
  auto read = client.Send({"GET", peer.Url("/b"), {}, ""});
  ASSERT_TRUE(read.ok()) << read.error().message();
  EXPECT_EQ(read->body, "ok");
  EXPECT_EQ(peer.methods(), (std::vector<std::string>{"GET", "GET", "GET"}));
}

TEST(Client, AnIdleConnectionTheServerClosedIsNotUsed) {
  ClosingPeer peer(ClosingPeer::FirstConnection::kClosesWhenIdle);
  Client client(ClientOptions{});
  ASSERT_TRUE(client.Send({"GET", peer.Url("/a"), {}, ""}).ok());
  // On loopback the peer's FIN is in the client's socket once close() returns.
  ASSERT_TRUE(peer.WaitForTheFirstClose());
  auto posted = client.Send({"POST", peer.Url("/b"), {}, "{}"});
  ASSERT_TRUE(posted.ok()) << posted.error().message();
  EXPECT_EQ(posted->status, 200);
  EXPECT_EQ(peer.methods(), (std::vector<std::string>{"GET", "POST"}));
}

TEST(Client, RefusedConnectionIsUnavailableAndNamesTheUrl) {
  Client client(ClientOptions{});
  auto response = client.Send({"GET", "http://127.0.0.1:1/x", {}, ""});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message().find("http://127.0.0.1:1/x"), std::string::npos);
  EXPECT_FALSE(client.Send({"GET", "ftp://x/y", {}, ""}).ok());
}

}  // namespace
}  // namespace seedhop::http
