// The lab's link: bytes pass both ways through a route, a cut resets live connections and refuses
// new ones, and a heal lets connections through again.
#include "test/lab/link_proxy.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <thread>

namespace seedhop::lab {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Echoes every connection to 127.0.0.1:<port> on a thread of its own, until destroyed.
class EchoServer {
 public:
  EchoServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoServer() {
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  struct Connection {
    explicit Connection(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::array<char, 4096> buffer{};
  };

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec)
        return;
      Echo(std::make_shared<Connection>(std::move(socket)));
      Accept();
    });
  }

  static void Echo(std::shared_ptr<Connection> c) {
    c->socket.async_read_some(asio::buffer(c->buffer), [c](boost::system::error_code ec, size_t n) {
      if (ec)
        return;
      asio::async_write(c->socket, asio::buffer(c->buffer, n),
                        [c](boost::system::error_code ec, size_t) {
                          if (!ec)
                            Echo(c);
                        });
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

// Sends `text` and reads the same number of bytes back; "" when the connection failed.
std::string RoundTrip(tcp::socket& socket, const std::string& text) {
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(text), ec);
  if (ec)
    return "";
  std::string reply(text.size(), '\0');
  asio::read(socket, asio::buffer(reply), ec);
  return ec ? "" : reply;
}

class LinkProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A port free on 127.0.0.1 is almost surely free on 127.29.130.1, nobody's address.
    tcp::acceptor probe(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    listen_port_ = probe.local_endpoint().port();
    probe.close();
    proxy_ = std::make_unique<LinkProxy>(
        std::vector<LinkRoute>{{ExposedAddress(9, 2, 0), listen_port_, "127.0.0.1", echo_.port()}});
    ASSERT_TRUE(proxy_->Start().ok());
  }

  tcp::socket Dial() {
    tcp::socket socket(io_);
    socket.connect(tcp::endpoint(asio::ip::make_address(ExposedAddress(9, 2, 0)), listen_port_));
    return socket;
  }

  asio::io_context io_;
  EchoServer echo_;
  uint16_t listen_port_ = 0;
  std::unique_ptr<LinkProxy> proxy_;
};

TEST(ExposedAddressTest, SitsBesideThePodAddresses) {
  EXPECT_EQ(ExposedAddress(0, 0, 0), "127.20.128.1");
  EXPECT_EQ(ExposedAddress(11, 1, 9), "127.31.129.10");
}

TEST_F(LinkProxyTest, RelaysBothWays) {
  tcp::socket socket = Dial();
  EXPECT_EQ(RoundTrip(socket, "ping"), "ping");
  std::string large(200 * 1024, 'x');
  for (size_t i = 0; i < large.size(); i += 97)
    large[i] = static_cast<char>('a' + i % 26);
  EXPECT_EQ(RoundTrip(socket, large), large);
  EXPECT_EQ(proxy_->relayed(), 1);
}

TEST_F(LinkProxyTest, ACutResetsLiveConnectionsAndRefusesNewOnesUntilHealed) {
  tcp::socket before = Dial();
  ASSERT_EQ(RoundTrip(before, "before"), "before");
  proxy_->Cut();
  EXPECT_EQ(RoundTrip(before, "after the cut"), "");
  tcp::socket during = Dial();  // the listener stays: the connection is accepted, then closed
  EXPECT_EQ(RoundTrip(during, "during"), "");
  EXPECT_GE(proxy_->refused(), 1);

  proxy_->Heal();
  tcp::socket after = Dial();
  EXPECT_EQ(RoundTrip(after, "healed"), "healed");
}

TEST(LinkProxyStartTest, NamesARouteThatCannotBind) {
  LinkProxy proxy({{"203.0.113.7", 1, "127.0.0.1", 1}});
  Status started = proxy.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message().find("203.0.113.7:1"), std::string::npos)
      << started.error().message();
}

}  // namespace
}  // namespace seedhop::lab
