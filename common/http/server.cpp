#include "common/http/server.h"

#include <sys/stat.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <future>
#include <list>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "common/http/tls.h"
#include "common/io/file.h"
#include "common/obs/log.h"
#include "common/obs/metrics.h"

namespace seedhop::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Server metrics, registered once per Server (docs/metrics.md).
struct ServerMetrics {
  explicit ServerMetrics(prometheus::Registry& registry)
      : requests(prometheus::BuildCounter()
                     .Name("seedhop_http_requests_total")
                     .Help("HTTP requests served, by route and status code.")
                     .Register(registry)),
        latency(prometheus::BuildHistogram()
                    .Name("seedhop_http_request_duration_seconds")
                    .Help("Time from a complete request to its response being handed to TLS.")
                    .Register(registry)),
        in_flight(prometheus::BuildGauge()
                      .Name("seedhop_http_requests_in_flight")
                      .Help("Requests being handled now.")
                      .Register(registry)
                      .Add({})),
        connections(prometheus::BuildGauge()
                        .Name("seedhop_http_connections")
                        .Help("Open client connections.")
                        .Register(registry)
                        .Add({})),
        connections_rejected(
            prometheus::BuildCounter()
                .Name("seedhop_http_connections_rejected_total")
                .Help("Connections closed at once because max_connections was reached.")
                .Register(registry)
                .Add({})),
        tls_handshake_errors(prometheus::BuildCounter()
                                 .Name("seedhop_http_tls_handshake_errors_total")
                                 .Help("TLS handshakes that failed or timed out.")
                                 .Register(registry)
                                 .Add({})),
        cert_reloads(prometheus::BuildCounter()
                         .Name("seedhop_http_certificate_reloads_total")
                         .Help("Serving certificate (re)loads, by result (success, error).")
                         .Register(registry)),
        cert_expiry(prometheus::BuildGauge()
                        .Name("seedhop_http_certificate_expiry_timestamp_seconds")
                        .Help("notAfter of the serving certificate in use, as Unix time.")
                        .Register(registry)
                        .Add({})) {}

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Gauge& in_flight;
  prometheus::Gauge& connections;
  prometheus::Counter& connections_rejected;
  prometheus::Counter& tls_handshake_errors;
  prometheus::Family<prometheus::Counter>& cert_reloads;
  prometheus::Gauge& cert_expiry;
};

// Identifies the content behind a path, following symlinks, so that a Kubernetes secret volume's
// `..data` swap (a new directory behind the same names) counts as a change.
struct FileSignature {
  ino_t inode = 0;
  dev_t device = 0;
  off_t size = -1;
  int64_t mtime_ns = 0;
  bool operator==(const FileSignature&) const = default;
};

FileSignature Signature(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    return {};
  return {st.st_ino, st.st_dev, st.st_size,
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

struct RouteEntry {
  std::string label;  // metrics label: the path, or the prefix followed by '*'
  Handler handler;
};

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, obs::Metrics* metrics, obs::Logger* logger)
      : options_(std::move(options)),
        metrics_registry_(metrics),
        logger_(logger),
        ioc_(options_.threads),
        acceptor_(net::make_strand(ioc_)),
        workers_(static_cast<size_t>(std::max(1, options_.threads))) {
    if (metrics != nullptr)
      metrics_.emplace(metrics->registry());
  }

  ~Impl() { Shutdown(); }

  bool tls() const { return !options_.cert_file.empty(); }

  void Log(obs::LogLevel level, std::string_view msg, std::initializer_list<obs::Field> fields) {
    if (logger_ != nullptr)
      logger_->Log(level, msg, fields);
  }

  // Looks up the route for `path`: exact first, then the longest matching prefix.
  const RouteEntry* FindRoute(const std::string& path) const {
    auto exact = exact_routes_.find(path);
    if (exact != exact_routes_.end())
      return &exact->second;
    const RouteEntry* best = nullptr;
    size_t best_length = 0;
    for (const auto& [prefix, route] : prefix_routes_) {
      if (path.compare(0, prefix.size(), prefix) == 0 && prefix.size() >= best_length) {
        best = &route;
        best_length = prefix.size();
      }
    }
    return best;
  }

  std::shared_ptr<ssl::context> CurrentTlsContext() {
    std::lock_guard lock(tls_mutex_);
    return tls_context_;
  }

  Status ReloadCertificate() {
    FileSignature cert_signature = Signature(options_.cert_file);
    FileSignature key_signature = Signature(options_.key_file);
    Status status = LoadCertificate();
    std::lock_guard lock(tls_mutex_);
    loaded_cert_signature_ = cert_signature;
    loaded_key_signature_ = key_signature;
    return status;
  }

  Status LoadCertificate() {
    auto cert = ReadFile(options_.cert_file);
    auto key = ReadFile(options_.key_file);
    std::string client_ca;
    if (!options_.client_ca_file.empty()) {
      auto ca = ReadFile(options_.client_ca_file);
      if (!ca)
        return CountReload(ca.error());
      client_ca = *ca;
    }
    if (!cert)
      return CountReload(cert.error());
    if (!key)
      return CountReload(key.error().Wrap("key file"));
    auto context = internal::MakeServerContext(*cert, *key, client_ca);
    if (!context) {
      return CountReload(context.error().Wrap(options_.cert_file + " / " + options_.key_file));
    }
    auto not_after = internal::CertificateNotAfter(*cert);
    {
      std::lock_guard lock(tls_mutex_);
      tls_context_ = *context;
    }
    if (metrics_) {
      metrics_->cert_reloads.Add({{"result", "success"}}).Increment();
      if (not_after)
        metrics_->cert_expiry.Set(static_cast<double>(*not_after));
    }
    Log(obs::LogLevel::kInfo, "serving certificate loaded", {{"cert_file", options_.cert_file}});
    return OkStatus();
  }

  Status CountReload(const Error& error) {
    if (metrics_)
      metrics_->cert_reloads.Add({{"result", "error"}}).Increment();
    Log(obs::LogLevel::kError, "serving certificate not loaded; keeping the previous one",
        {{"error", error.message()}});
    return error;
  }

  // Re-reads the certificate whenever either file's signature changes. A pair that fails to load
  // is not retried until the files change again, so a broken rotation logs once, not every poll.
  void PollCertificates() {
    std::unique_lock lock(poll_mutex_);
    while (!poll_cv_.wait_for(lock, options_.cert_poll_interval,
                              [this] { return stopping_.load(); })) {
      FileSignature cert_signature = Signature(options_.cert_file);
      FileSignature key_signature = Signature(options_.key_file);
      bool changed;
      {
        std::lock_guard tls_lock(tls_mutex_);
        changed = !(cert_signature == loaded_cert_signature_) ||
                  !(key_signature == loaded_key_signature_);
      }
      if (changed)
        (void)ReloadCertificate();
    }
  }

  Status Start();
  void Accept();
  void Shutdown();
  void CheckReady();

  ServerOptions options_;
  obs::Metrics* metrics_registry_;
  obs::Logger* logger_;
  std::optional<ServerMetrics> metrics_;
  std::map<std::string, RouteEntry> exact_routes_;
  std::map<std::string, RouteEntry> prefix_routes_;
  std::vector<std::function<bool()>> readiness_checks_;

  std::thread poller_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<size_t> connections_{0};
  std::atomic<size_t> busy_{0};

  std::mutex tls_mutex_;
  std::shared_ptr<ssl::context> tls_context_;
  FileSignature loaded_cert_signature_;
  FileSignature loaded_key_signature_;

  std::mutex poll_mutex_;
  std::condition_variable poll_cv_;

  // Live sessions, so Shutdown can close idle keep-alive connections. Sessions register on
  // start and unregister in their destructor.
  std::mutex sessions_mutex_;
  std::list<std::function<void()>> idle_closers_;
  using CloserHandle = std::list<std::function<void()>>::iterator;
  CloserHandle RegisterCloser(std::function<void()> closer) {
    std::lock_guard lock(sessions_mutex_);
    idle_closers_.push_front(std::move(closer));
    return idle_closers_.begin();
  }
  void UnregisterCloser(CloserHandle handle) {
    std::lock_guard lock(sessions_mutex_);
    idle_closers_.erase(handle);
  }

  // Declared last so they are destroyed first: handlers still queued when the io_context goes
  // away hold sessions whose destructors use the members above.
  net::io_context ioc_;
  // Keeps the I/O threads running while a blocking handler works and nothing else is pending.
  net::executor_work_guard<net::io_context::executor_type> keep_running_{ioc_.get_executor()};
  tcp::acceptor acceptor_;
  net::thread_pool workers_;
  std::vector<std::thread> threads_;
};

namespace {

// Stream adapters: the session logic is the same for TLS and plain TCP.
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using PlainStream = beast::tcp_stream;

beast::tcp_stream& Lowest(TlsStream& stream) {
  return beast::get_lowest_layer(stream);
}
beast::tcp_stream& Lowest(PlainStream& stream) {
  return stream;
}

template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <typename... StreamArgs>
  Session(Server::Impl& server, StreamArgs&&... stream_args)
      : server_(server), stream_(std::forward<StreamArgs>(stream_args)...) {}

  ~Session() {
    if (registered_)
      server_.UnregisterCloser(closer_);
    server_.connections_.fetch_sub(1);
    if (server_.metrics_)
      server_.metrics_->connections.Decrement();
  }

  void Start() {
    std::weak_ptr<Session> weak = this->shared_from_this();
    closer_ = server_.RegisterCloser([weak] {
      if (auto self = weak.lock()) {
        net::post(self->Lowest().get_executor(), [self] { self->CloseIfIdle(); });
      }
    });
    registered_ = true;
    remote_ = RemoteAddress();
    net::dispatch(Lowest().get_executor(),
                  beast::bind_front_handler(&Session::Handshake, this->shared_from_this()));
  }

 private:
  beast::tcp_stream& Lowest() { return http::Lowest(stream_); }

  std::string RemoteAddress() {
    boost::system::error_code ec;
    auto endpoint = Lowest().socket().remote_endpoint(ec);
    return ec ? std::string() : endpoint.address().to_string();
  }

  void Handshake() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      // The handshake counts against the read timeout: a client that connects and says
      // nothing is cut off like any other slow client.
      Lowest().expires_after(server_.options_.read_timeout);
      stream_.async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
    } else {
      Read();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      if (server_.metrics_)
        server_.metrics_->tls_handshake_errors.Increment();
      server_.Log(obs::LogLevel::kDebug, "TLS handshake failed",
                  {{"remote", remote_}, {"error", ec.message()}});
      Lowest().close();
      return;
    }
    Read();
  }

  void Read() {
    if (server_.stopping_) {
      Close();
      return;
    }
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options_.max_header_bytes));
    parser_->body_limit(server_.options_.max_body_bytes);
    idle_ = true;
    // The first request of a connection must arrive within the read timeout; later ones may
    // wait for the idle timeout. Either way a request's header must be complete by then.
    Lowest().expires_after(served_ == 0 ? server_.options_.read_timeout
                                        : server_.options_.idle_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnHeader, this->shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    idle_ = false;
    if (ec)
      return OnReadError(ec);
    // The body must follow within the read timeout, however slowly it trickles in.
    Lowest().expires_after(server_.options_.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, this->shared_from_this()));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      return WriteError(431, "request header fields too large");
    }
    if (ec == bhttp::error::body_limit) {
      return WriteError(413, "request body larger than " +
                                 std::to_string(server_.options_.max_body_bytes) + " bytes");
    }
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::ssl::error::stream_truncated) {
      return Close();
    }
    if (ec.category() == beast::error_code(bhttp::error::end_of_stream).category()) {
      return WriteError(400, "malformed HTTP request: " + ec.message());
    }
    Close();
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec)
      return OnReadError(ec);
    auto& message = parser_->get();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    size_t question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos)
      request.query = request.target.substr(question + 1);
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[name] = std::string(field.value());
    }
    request.body = std::move(message.body());
    request.remote_address = remote_;
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    Dispatch(std::move(request));
  }

  void Dispatch(Request request) {
    const RouteEntry* route = server_.FindRoute(request.path);
    route_label_ = route ? route->label : "unmatched";
    started_ = Clock::now();
    server_.busy_.fetch_add(1);
    if (server_.metrics_)
      server_.metrics_->in_flight.Increment();
    if (route == nullptr) {
      return Respond(Response::Text(404, "no handler for " + request.path + "\n"));
    }
    if (!server_.options_.blocking_handlers) {
      return Respond(Invoke(*route, request));
    }
    // Blocking handlers run on the worker pool; the response comes back to the session's strand.
    net::post(server_.workers_, [self = this->shared_from_this(), route,
                                 request = std::move(request)] {
      Response response = self->Invoke(*route, request);
      net::post(self->Lowest().get_executor(), [self, response = std::move(response)]() mutable {
        self->Respond(std::move(response));
      });
    });
  }

  Response Invoke(const RouteEntry& route, const Request& request) {
    try {
      return route.handler(request);
    } catch (const std::exception& e) {
      server_.Log(obs::LogLevel::kError, "handler failed",
                  {{"path", request.path}, {"error", e.what()}});
      return Response::Text(500, "internal error\n");
    }
  }

  void Respond(Response response) {
    if (response.stream)
      return StartStream(std::move(response));
    auto reply = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), version_);
    for (const auto& [name, value] : response.headers)
      reply->set(name, value);
    reply->body() = std::move(response.body);
    reply->keep_alive(keep_alive_ && !server_.stopping_);
    reply->prepare_payload();
    Finished(response.status);
    Lowest().expires_after(server_.options_.write_timeout);
    bhttp::async_write(stream_, *reply,
                       [self = this->shared_from_this(), reply](beast::error_code ec, size_t) {
                         self->OnWrite(ec, reply->keep_alive());
                       });
  }

  void Finished(int status) {
    server_.busy_.fetch_sub(1);
    if (!server_.metrics_)
      return;
    server_.metrics_->in_flight.Decrement();
    double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    server_.metrics_->requests.Add({{"path", route_label_}, {"code", std::to_string(status)}})
        .Increment();
    server_.metrics_->latency.Add({{"path", route_label_}}, obs::Metrics::LatencyBuckets())
        .Observe(seconds);
  }

  // Answers a request that could not be read (limits, malformed) and closes the connection.
  void WriteError(int status, std::string message) {
    auto reply = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(status), 11);
    reply->set(bhttp::field::content_type, "text/plain");
    reply->body() = std::move(message) + "\n";
    reply->keep_alive(false);
    reply->prepare_payload();
    if (server_.metrics_) {
      server_.metrics_->requests.Add({{"path", "unread"}, {"code", std::to_string(status)}})
          .Increment();
    }
    Lowest().expires_after(server_.options_.write_timeout);
    bhttp::async_write(
        stream_, *reply,
        [self = this->shared_from_this(), reply](beast::error_code, size_t) { self->Close(); });
  }

  void OnWrite(beast::error_code ec, bool keep_alive) {
    ++served_;
    if (ec || !keep_alive)
      return Close();
    Read();
  }

  // Shutdown closes idle keep-alive connections without a TLS close_notify exchange: a pending
  // read owns the stream, and a client sees a plain EOF, which HTTP clients retry safely. A
  // streamed response is ended through its producer, which then closes the connection.
  void CloseIfIdle() {
    if (streaming_)
      return MarkStreamDead();
    if (idle_)
      CloseSocket();
  }

  void CloseSocket() {
    if (closed_)
      return;
    closed_ = true;
    boost::system::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().socket().close(ignored);
  }

  void Close() {
    // After a streamed response the hang-up read is still pending, and a close_notify exchange
    // would wait behind it.
    if (streaming_)
      return CloseSocket();
    if (closed_)
      return;
    closed_ = true;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      Lowest().expires_after(std::chrono::milliseconds(500));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        self->Lowest().socket().close();
      });
    } else {
      boost::system::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      Lowest().close();
    }
  }

  // Streaming: the producer runs on a thread of its own and hands chunks to the session's
  // strand; a concurrent read notices the client hanging up.
  class Writer : public StreamWriter {
   public:
    explicit Writer(std::shared_ptr<Session> session) : session_(std::move(session)) {}

    bool Write(std::string chunk) override {
      if (chunk.empty())
        return Alive();
      std::ostringstream framed;
      framed << std::hex << chunk.size() << "\r\n" << chunk << "\r\n";
      return session_->WriteRaw(framed.str());
    }

    bool WaitAlive(int timeout_ms) override {
      std::unique_lock lock(session_->stream_mutex_);
      session_->stream_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                    [this] { return !session_->stream_alive_; });
      return session_->stream_alive_;
    }

    bool Alive() {
      std::lock_guard lock(session_->stream_mutex_);
      return session_->stream_alive_;
    }

   private:
    std::shared_ptr<Session> session_;
  };

  void StartStream(Response response) {
    Finished(response.status);
    std::ostringstream head;
    head << "HTTP/1.1 " << response.status << " "
         << bhttp::obsolete_reason(static_cast<bhttp::status>(response.status)) << "\r\n";
    for (const auto& [name, value] : response.headers)
      head << name << ": " << value << "\r\n";
    head << "transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    stream_alive_ = true;
    streaming_ = true;
    // A streamed response can last for hours; only write stalls and shutdown end it.
    Lowest().expires_never();
    WatchForHangup();
    std::thread([self = this->shared_from_this(), head = head.str(),
                 producer = std::move(response.stream)] {
      if (self->WriteRaw(head)) {
        Writer writer(self);
        producer(writer);
        self->WriteRaw("0\r\n\r\n");
      }
      net::post(self->Lowest().get_executor(), [self] { self->Close(); });
    }).detach();
  }

  void WatchForHangup() {
    hangup_buffer_.resize(256);
    stream_.async_read_some(net::buffer(hangup_buffer_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                self->MarkStreamDead();
                              } else {
                                self->WatchForHangup();
                              }
                            });
  }

  void MarkStreamDead() {
    std::lock_guard lock(stream_mutex_);
    stream_alive_ = false;
    stream_cv_.notify_all();
  }

  // Writes `bytes` from a producer thread; blocks until written. False once the stream is dead.
  bool WriteRaw(std::string bytes) {
    {
      std::lock_guard lock(stream_mutex_);
      if (!stream_alive_ || server_.stopping_)
        return false;
    }
    auto done = std::make_shared<std::promise<bool>>();
    auto future = done->get_future();
    auto data = std::make_shared<std::string>(std::move(bytes));
    net::post(Lowest().get_executor(), [self = this->shared_from_this(), data, done] {
      net::async_write(self->stream_, net::buffer(*data),
                       [self, data, done](beast::error_code ec, size_t) {
                         if (ec)
                           self->MarkStreamDead();
                         done->set_value(!ec);
                       });
    });
    if (future.wait_for(server_.options_.write_timeout) != std::future_status::ready) {
      MarkStreamDead();
      net::post(Lowest().get_executor(),
                [self = this->shared_from_this()] { self->Lowest().close(); });
      return false;
    }
    return future.get();
  }

  Server::Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remote_;
  std::string route_label_;
  Clock::time_point started_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool idle_ = false;
  bool closed_ = false;
  size_t served_ = 0;
  bool registered_ = false;
  Server::Impl::CloserHandle closer_;

  std::string hangup_buffer_;
  std::mutex stream_mutex_;
  std::condition_variable stream_cv_;
  bool stream_alive_ = false;
  bool streaming_ = false;
};

}  // namespace

Status Server::Impl::Start() {
  if (tls()) {
    Status loaded = ReloadCertificate();
    if (!loaded)
      return loaded.error().Wrap("serving certificate");
  }
  boost::system::error_code ec;
  auto address = net::ip::make_address(options_.address, ec);
  if (ec)
    return Error(ErrorCode::kInvalid, "listen address " + options_.address + ": " + ec.message());
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec)
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    acceptor_.bind(endpoint, ec);
  if (!ec)
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(ErrorCode::kUnavailable, "listen on " + options_.address + ":" +
                                              std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
  if (tls()) {
    poller_ = std::thread([this] { PollCertificates(); });
    CheckReady();
  } else {
    ready_ = true;
  }
  Log(obs::LogLevel::kInfo, "serving",
      {{"address", options_.address},
       {"port", std::to_string(port_.load())},
       {"tls", tls() ? "true" : "false"}});
  return OkStatus();
}

// Ready means a client really completes a TLS handshake with us, not merely that we listen.
void Server::Impl::CheckReady() {
  net::io_context probe_ioc;
  auto client = internal::MakeClientContext("", "", "", /*insecure=*/true);
  if (!client)
    return;
  TlsStream probe(probe_ioc, **client);
  boost::system::error_code ec;
  auto loopback = options_.address == "0.0.0.0" || options_.address == "::"
                      ? net::ip::make_address("127.0.0.1")
                      : net::ip::make_address(options_.address);
  beast::get_lowest_layer(probe).expires_after(std::chrono::seconds(5));
  beast::get_lowest_layer(probe).async_connect(
      tcp::endpoint(loopback, port_), [&](beast::error_code connect_ec) {
        ec = connect_ec;
        if (connect_ec)
          return;
        probe.async_handshake(ssl::stream_base::client,
                              [&](beast::error_code hs_ec) { ec = hs_ec; });
      });
  probe_ioc.run();
  if (ec) {
    Log(obs::LogLevel::kError, "readiness probe: TLS handshake with self failed",
        {{"error", ec.message()}});
    return;
  }
  ready_ = true;
  probe_ioc.restart();
  probe.async_shutdown([](beast::error_code) {});
  probe_ioc.run_for(std::chrono::milliseconds(200));
}

void Server::Impl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!stopping_)
        Accept();
      return;
    }
    if (connections_.load() >= options_.max_connections) {
      if (metrics_)
        metrics_->connections_rejected.Increment();
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      connections_.fetch_add(1);
      if (metrics_)
        metrics_->connections.Increment();
      if (tls()) {
        std::make_shared<Session<TlsStream>>(*this, std::move(socket), *CurrentTlsContext())
            ->Start();
      } else {
        std::make_shared<Session<PlainStream>>(*this, std::move(socket))->Start();
      }
    }
    Accept();
  });
}

void Server::Impl::Shutdown() {
  if (stopped_.exchange(true))
    return;
  stopping_ = true;
  poll_cv_.notify_all();
  if (poller_.joinable())
    poller_.join();
  if (threads_.empty())
    return;
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  // Idle keep-alive connections close now; busy ones close after their response is written.
  auto deadline = Clock::now() + options_.shutdown_grace;
  do {
    // Called outside the lock: a closer may drop the last reference to a session, whose
    // destructor unregisters itself.
    std::vector<std::function<void()>> closers;
    {
      std::lock_guard lock(sessions_mutex_);
      closers.assign(idle_closers_.begin(), idle_closers_.end());
    }
    for (auto& closer : closers)
      closer();
    if (busy_.load() == 0 && connections_.load() == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (Clock::now() < deadline);
  if (busy_.load() != 0) {
    Log(obs::LogLevel::kWarn, "shutdown grace period over; dropping in-flight requests",
        {{"in_flight", std::to_string(busy_.load())}});
  }
  workers_.join();
  keep_running_.reset();
  ioc_.stop();
  for (auto& thread : threads_)
    thread.join();
  threads_.clear();
  Log(obs::LogLevel::kInfo, "stopped", {});
}

Server::Server(ServerOptions options, obs::Metrics* metrics, obs::Logger* logger)
    : impl_(std::make_unique<Impl>(std::move(options), metrics, logger)) {}

Server::~Server() = default;

void Server::Route(const std::string& path, Handler handler) {
  impl_->exact_routes_[path] = {path, std::move(handler)};
}

void Server::AddReadinessCheck(std::function<bool()> check) {
  impl_->readiness_checks_.push_back(std::move(check));
}

void Server::RoutePrefix(const std::string& prefix, Handler handler) {
  impl_->prefix_routes_[prefix] = {prefix + "*", std::move(handler)};
}

void Server::AddStandardRoutes() {
  Route("/healthz", [](const Request&) { return Response::Text(200, "ok\n"); });
  Route("/readyz", [impl = impl_.get()](const Request&) {
    bool ready = impl->ready_ && !impl->stopping_;
    for (const auto& check : impl->readiness_checks_)
      ready = ready && check();
    return ready ? Response::Text(200, "ok\n") : Response::Text(503, "not ready\n");
  });
  if (impl_->metrics_registry_ != nullptr) {
    Route("/metrics", [metrics = impl_->metrics_registry_](const Request&) {
      return Response::Text(200, metrics->Serialize(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }
}

Status Server::Start() {
  return impl_->Start();
}
void Server::Shutdown() {
  impl_->Shutdown();
}

void Server::RunUntilSignal() {
  net::io_context signals_ioc;
  net::signal_set signals(signals_ioc, SIGTERM, SIGINT);
  signals.async_wait([this](const boost::system::error_code&, int signal) {
    if (impl_->logger_ != nullptr) {
      impl_->logger_->Info("signal received; draining", {{"signal", std::to_string(signal)}});
    }
  });
  signals_ioc.run();
  Shutdown();
}

uint16_t Server::port() const {
  return impl_->port_;
}
bool Server::ready() const {
  return impl_->ready_ && !impl_->stopping_;
}
Status Server::ReloadCertificate() {
  return impl_->ReloadCertificate();
}

}  // namespace seedhop::http
