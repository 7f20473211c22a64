#include "test/lab/link_proxy.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <future>
#include <thread>

namespace seedhop::lab {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string ExposedAddress(int seed_index, int etcd_index, int ordinal) {
  return "127." + std::to_string(20 + seed_index) + "." + std::to_string(128 + etcd_index) + "." +
         std::to_string(ordinal + 1);
}

namespace {

// One relayed connection: both directions pump until either side ends, then both sockets close.
// Owned by its pending handlers (the Beast examples' shared_from_this lifetime); the proxy keeps
// only weak references, to reset it on a cut.
class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(tcp::socket downstream, asio::io_context& io)
      : downstream_(std::move(downstream)), upstream_(io) {}

  void Connect(const tcp::endpoint& target) {
    upstream_.async_connect(target, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) {
        self->Close();
        return;
      }
      self->Pump(self->downstream_, self->upstream_, self->to_upstream_);
      self->Pump(self->upstream_, self->downstream_, self->to_downstream_);
    });
  }

  void Close() {
    boost::system::error_code ignored;
    downstream_.close(ignored);
    upstream_.close(ignored);
  }

 private:
  using Buffer = std::array<char, 16 * 1024>;

  void Pump(tcp::socket& from, tcp::socket& to, Buffer& buffer) {
    from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer](
                                                   boost::system::error_code ec, size_t n) {
      if (ec) {
        self->Close();
        return;
      }
      asio::async_write(to, asio::buffer(buffer, n),
                        [self, &from, &to, &buffer](boost::system::error_code ec, size_t) {
                          if (ec) {
                            self->Close();
                            return;
                          }
                          self->Pump(from, to, buffer);
                        });
    });
  }

  tcp::socket downstream_;
  tcp::socket upstream_;
  Buffer to_upstream_{};
  Buffer to_downstream_{};
};

}  // namespace

class LinkProxy::Impl {
 public:
  explicit Impl(std::vector<LinkRoute> routes) : routes_(std::move(routes)) {}

  Status Start() {
    for (const LinkRoute& route : routes_) {
      boost::system::error_code ec;
      auto listen = asio::ip::make_address(route.listen_address, ec);
      auto target = asio::ip::make_address(route.target_address, ec);
      if (ec) {
        return Error(ErrorCode::kInvalid, "link route " + route.listen_address + " -> " +
                                              route.target_address + ": not an IP address");
      }
      auto acceptor = std::make_unique<tcp::acceptor>(io_);
      tcp::endpoint endpoint(listen, route.listen_port);
      acceptor->open(endpoint.protocol(), ec);
      if (!ec)
        acceptor->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec)
        acceptor->bind(endpoint, ec);
      if (!ec)
        acceptor->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        return Error(ErrorCode::kUnavailable, "link route " + route.listen_address + ":" +
                                                  std::to_string(route.listen_port) + ": " +
                                                  ec.message());
      }
      Accept(*acceptor, tcp::endpoint(target, route.target_port));
      acceptors_.push_back(std::move(acceptor));
    }
    thread_ = std::thread([this] { io_.run(); });
    return OkStatus();
  }

  void Stop() {
    if (!thread_.joinable())
      return;
    OnIoThread([this] {
      for (auto& acceptor : acceptors_) {
        boost::system::error_code ignored;
        acceptor->close(ignored);
      }
      ResetAll();
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  void SetCut(bool cut) {
    if (!thread_.joinable()) {
      cut_ = cut;
      return;
    }
    OnIoThread([this, cut] {
      cut_ = cut;
      if (cut)
        ResetAll();
    });
  }

  std::atomic<int64_t> relayed{0};
  std::atomic<int64_t> refused{0};

 private:
  void Accept(tcp::acceptor& acceptor, tcp::endpoint target) {
    acceptor.async_accept(
        [this, &acceptor, target](boost::system::error_code ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted)
            return;
          if (!ec) {
            // Counted first: the peer may see the effect before this thread runs again.
            if (cut_) {
              ++refused;
              boost::system::error_code ignored;
              socket.close(ignored);
            } else {
              ++relayed;
              auto relay = std::make_shared<Relay>(std::move(socket), io_);
              std::erase_if(relays_, [](const std::weak_ptr<Relay>& r) { return r.expired(); });
              relays_.push_back(relay);
              relay->Connect(target);
            }
          }
          Accept(acceptor, target);
        });
  }

  void ResetAll() {
    for (auto& weak : relays_) {
      if (auto relay = weak.lock())
        relay->Close();
    }
    relays_.clear();
  }

  // Runs `task` on the I/O thread and returns once it ran, so that the caller sees its effect.
  template <typename Task>
  void OnIoThread(Task task) {
    std::promise<void> done;
    asio::post(io_, [&] {
      task();
      done.set_value();
    });
    done.get_future().wait();
  }

  const std::vector<LinkRoute> routes_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::vector<std::weak_ptr<Relay>> relays_;  // I/O thread only
  bool cut_ = false;                          // I/O thread only
  std::thread thread_;
};

LinkProxy::LinkProxy(std::vector<LinkRoute> routes)
    : impl_(std::make_unique<Impl>(std::move(routes))) {}

LinkProxy::~LinkProxy() {
  Stop();
}

Status LinkProxy::Start() {
  return impl_->Start();
}

void LinkProxy::Stop() {
  impl_->Stop();
}

void LinkProxy::Cut() {
  impl_->SetCut(true);
}

void LinkProxy::Heal() {
  impl_->SetCut(false);
}

int64_t LinkProxy::relayed() const {
  return impl_->relayed;
}

int64_t LinkProxy::refused() const {
  return impl_->refused;
}

}  // namespace seedhop::lab
