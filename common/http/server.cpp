#include "common/http/server.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
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

// A route's metric series, resolved on first use and then kept: Family::Add hashes the labels
// under the family's lock on every call.
struct RouteSeries {
  explicit RouteSeries(std::string route_label) : label(std::move(route_label)) {}
  const std::string label;  // metrics label: the path, or the prefix followed by '*'
  std::atomic<prometheus::Histogram*> latency{nullptr};
  std::array<std::atomic<prometheus::Counter*>, 600> requests{};  // by status code
};

struct RouteEntry {
  Handler handler;
  std::shared_ptr<RouteSeries> series;
};

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, obs::Metrics* metrics, obs::Logger* logger)
      : options_(std::move(options)),
        metrics_registry_(metrics),
        logger_(logger),
        workers_(static_cast<size_t>(std::max(1, options_.threads))) {
    if (metrics != nullptr)
      metrics_.emplace(metrics->registry());
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      // Concurrency hint 1: each context is run by one thread, which lets Asio skip waking
      // others; posts from other threads (workers, stream producers, Shutdown) stay safe.
      contexts_.push_back(std::make_unique<net::io_context>(1));
      keep_running_.emplace_back(contexts_.back()->get_executor());
    }
    acceptor_.emplace(*contexts_.front());
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

  void CountRequest(RouteSeries& series, int status) {
    if (!metrics_)
      return;
    bool cacheable = status >= 0 && static_cast<size_t>(status) < series.requests.size();
    prometheus::Counter* counter =
        cacheable ? series.requests[static_cast<size_t>(status)].load(std::memory_order_acquire)
                  : nullptr;
    if (counter == nullptr) {
      counter = &metrics_->requests.Add({{"path", series.label}, {"code", std::to_string(status)}});
      if (cacheable)
        series.requests[static_cast<size_t>(status)].store(counter, std::memory_order_release);
    }
    counter->Increment();
  }

  void ObserveLatency(RouteSeries& series, double seconds) {
    if (!metrics_)
      return;
    prometheus::Histogram* histogram = series.latency.load(std::memory_order_acquire);
    if (histogram == nullptr) {
      histogram = &metrics_->latency.Add({{"path", series.label}}, obs::Metrics::LatencyBuckets());
      series.latency.store(histogram, std::memory_order_release);
    }
    histogram->Observe(seconds);
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
  RouteSeries unmatched_series_{"unmatched"};  // requests no route takes
  RouteSeries unread_series_{"unread"};        // requests answered before they were read
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

  net::thread_pool workers_;
  // Declared last so they are destroyed first: handlers still queued when an io_context goes
  // away hold connections whose destructors use the members above. One io_context per I/O
  // thread: a connection lives on one of them, so its handlers never run concurrently.
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  // Keeps the I/O threads running while a blocking handler works and nothing else is pending.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running_;
  std::optional<tcp::acceptor> acceptor_;
  size_t next_context_ = 0;  // where the next accepted connection goes; acceptor's thread only
  std::vector<std::thread> threads_;
};

namespace {

// A connection's bytes between the kernel and OpenSSL. OpenSSL reads ciphertext from `in`, which
// Asio's non-blocking receive filled: Asio then knows when the socket is drained and waits for
// the next request without another system call, where a socket BIO plus socket.async_wait would
// re-arm epoll on every wait. Writes go straight to send() (MSG_NOSIGNAL: a socket BIO's write()
// would raise SIGPIPE when the client is gone).
struct TlsTransport {
  int fd = -1;
  const char* in = nullptr;
  size_t in_size = 0;
};

int TransportRead(BIO* bio, char* out, int size) {
  auto* transport = static_cast<TlsTransport*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (transport->in_size == 0) {
    BIO_set_retry_read(bio);
    return -1;
  }
  size_t n = std::min(static_cast<size_t>(size), transport->in_size);
  std::memcpy(out, transport->in, n);
  transport->in += n;
  transport->in_size -= n;
  return static_cast<int>(n);
}

int TransportWrite(BIO* bio, const char* data, int size) {
  auto* transport = static_cast<TlsTransport*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  ssize_t n;
  do {
    n = ::send(transport->fd, data, static_cast<size_t>(size), MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    BIO_set_retry_write(bio);
  return static_cast<int>(n);
}

long TransportCtrl(BIO*, int command, long, void*) {
  // OpenSSL flushes after each flight; send() has already handed everything to the kernel.
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int TransportCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* TransportMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "seedhop transport");
    BIO_meth_set_read(m, TransportRead);
    BIO_meth_set_write(m, TransportWrite);
    BIO_meth_set_ctrl(m, TransportCtrl);
    BIO_meth_set_create(m, TransportCreate);
    return m;
  }();
  return method;
}

std::string OpenSslErrors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text += text.empty() ? "" : "; ";
    text += buffer;
  }
  return text.empty() ? "connection closed by peer" : text;
}

// Largest TLS record on the wire (16 KiB of data plus header, MAC and padding): one receive
// takes a whole request of typical size.
constexpr size_t kRawBufferSize = 16 * 1024 + 512;
// Decrypted request bytes are parsed from here; it grows up to the header limit.
constexpr size_t kInitialInputSize = 16 * 1024;

// One client connection, TLS or plain. Everything it does runs on the thread of the io_context
// its socket belongs to, so it needs no strand; a blocking handler's answer and a stream
// producer's chunks are posted back to that context. It stays alive while an operation or its
// deadline timer holds a shared_ptr to it: closing the socket and cancelling the timer ends it.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl& server, tcp::socket socket, std::shared_ptr<ssl::context> tls)
      : server_(server),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        tls_context_(std::move(tls)),
        in_(std::make_unique_for_overwrite<char[]>(kInitialInputSize)),
        in_capacity_(kInitialInputSize) {}

  ~Connection() {
    if (ssl_ != nullptr)
      SSL_free(ssl_);
    if (registered_)
      server_.UnregisterCloser(closer_);
    server_.connections_.fetch_sub(1);
    if (server_.metrics_)
      server_.metrics_->connections.Decrement();
  }

  void Start() {
    std::weak_ptr<Connection> weak = shared_from_this();
    closer_ = server_.RegisterCloser([weak] {
      if (auto self = weak.lock()) {
        net::post(self->socket_.get_executor(), [self] { self->CloseIfIdle(); });
      }
    });
    registered_ = true;
    boost::system::error_code ec;
    auto endpoint = socket_.remote_endpoint(ec);
    remote_ = ec ? std::string() : endpoint.address().to_string();
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->Begin(); });
  }

 private:
  enum class Phase { kHandshake, kReading, kHandling, kWriting, kStreaming, kClosing };
  using Step = void (Connection::*)();

  void Begin() {
    if (!tls_context_)
      return StartRequest();
    ssl_ = SSL_new(tls_context_->native_handle());
    BIO* bio = ssl_ == nullptr ? nullptr : BIO_new(TransportMethod());
    if (bio == nullptr) {
      server_.Log(obs::LogLevel::kError, "cannot set up TLS for a connection",
                  {{"remote", remote_}, {"error", OpenSslErrors()}});
      return CloseSocket();
    }
    transport_.fd = socket_.native_handle();
    BIO_set_data(bio, &transport_);
    SSL_set_bio(ssl_, bio, bio);
    // Idle connections then hold no OpenSSL record buffers (1,000 parked connections stay
    // cheap); the allocations per request this costs were not measurable (docs/webhook.md).
    SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
    SSL_set_accept_state(ssl_);
    raw_ = std::make_unique_for_overwrite<char[]>(kRawBufferSize);
    phase_ = Phase::kHandshake;
    idle_ = true;  // no request yet: Shutdown may close it
    // The handshake counts against the read timeout: a client that connects and says nothing
    // is cut off like any other slow client.
    SetDeadline(server_.options_.read_timeout);
    Handshake();
  }

  void Handshake() {
    ERR_clear_error();
    int result = SSL_do_handshake(ssl_);
    if (result == 1)
      return StartRequest();
    int error = SSL_get_error(ssl_, result);
    if (error == SSL_ERROR_WANT_READ)
      return ReceiveRaw(&Connection::Handshake);
    if (error == SSL_ERROR_WANT_WRITE)
      return WaitWritable(&Connection::Handshake);
    HandshakeFailed(OpenSslErrors());
  }

  void HandshakeFailed(const std::string& error) {
    if (socket_closed_)
      return;  // already counted: a timeout closes the socket, which fails the pending read
    if (server_.metrics_)
      server_.metrics_->tls_handshake_errors.Increment();
    server_.Log(obs::LogLevel::kDebug, "TLS handshake failed",
                {{"remote", remote_}, {"error", error}});
    CloseSocket();
  }

  // --- Deadline: one timer per connection. Moving the deadline later only records it (the timer
  // fires, sees the later deadline and waits again); only an earlier deadline re-arms it.

  void SetDeadline(Clock::duration timeout) { SetDeadlineAt(Clock::now() + timeout); }

  void SetDeadlineAt(Clock::time_point deadline) {
    deadline_ = deadline;
    if (timer_armed_ && timer_.expiry() <= deadline)
      return;
    timer_armed_ = true;
    timer_.expires_at(deadline);
    timer_.async_wait([self = shared_from_this(),
                       generation = ++timer_generation_](boost::system::error_code ec) {
      if (ec || generation != self->timer_generation_)
        return;  // cancelled: closed, or replaced by an earlier deadline
      self->timer_armed_ = false;
      if (self->socket_closed_)
        return;
      if (Clock::now() < self->deadline_)
        return self->SetDeadlineAt(self->deadline_);
      self->OnTimeout();
    });
  }

  void ClearDeadline() { deadline_ = Clock::time_point::max(); }

  void OnTimeout() {
    if (phase_ == Phase::kHandshake)
      return HandshakeFailed("timed out");
    if (phase_ == Phase::kHandling || phase_ == Phase::kStreaming)
      return;  // a handler's time is its own; streams end through their producer
    CloseSocket();
  }

  // --- Socket operations. Each takes the step to resume with once the socket is ready.

  // Receives ciphertext into raw_ for OpenSSL, which has consumed the previous batch when it
  // asks for more. One receive at a time: a stream's hang-up read and a write that wanted to
  // read (which TLS 1.2 without renegotiation and TLS 1.3 never do) must not share raw_.
  void ReceiveRaw(Step resume) {
    if (raw_pending_) {
      return OnTransportError(
          boost::system::errc::make_error_code(boost::system::errc::operation_in_progress));
    }
    raw_pending_ = true;
    socket_.async_read_some(
        net::buffer(raw_.get(), kRawBufferSize),
        [self = shared_from_this(), resume](boost::system::error_code ec, size_t n) {
          self->raw_pending_ = false;
          if (ec)
            return self->OnTransportError(ec);
          self->transport_.in = self->raw_.get();
          self->transport_.in_size = n;
          (self.get()->*resume)();
        });
  }

  void WaitWritable(Step resume) {
    socket_.async_wait(tcp::socket::wait_write,
                       [self = shared_from_this(), resume](boost::system::error_code ec) {
                         if (ec)
                           return self->OnTransportError(ec);
                         (self.get()->*resume)();
                       });
  }

  // After SSL_read or SSL_write returned `result` <= 0: waits for what OpenSSL needs, then
  // resumes; closes on a TLS error or the client's close_notify.
  void TlsWait(int result, Step resume) {
    int error = SSL_get_error(ssl_, result);
    if (error == SSL_ERROR_WANT_READ)
      return ReceiveRaw(resume);
    if (error == SSL_ERROR_WANT_WRITE)
      return WaitWritable(resume);
    ERR_clear_error();
    if (phase_ == Phase::kStreaming) {
      CompleteStreamWrite(false);
      return MarkStreamDead();
    }
    if (error == SSL_ERROR_ZERO_RETURN)
      return Close();
    CloseSocket();
  }

  void OnTransportError(boost::system::error_code ec) {
    switch (phase_) {
      case Phase::kHandshake:
        return HandshakeFailed(ec.message());
      case Phase::kStreaming:
        CompleteStreamWrite(false);
        return MarkStreamDead();
      default:
        return CloseSocket();  // client gone, timed out, or closed by Shutdown
    }
  }

  // --- Reading a request: decrypted bytes go to in_, Beast's parser reads them from there.
  // Bytes after a complete request stay for the next one (pipelining).

  void StartRequest() {
    if (server_.stopping_)
      return Close();
    phase_ = Phase::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options_.max_header_bytes));
    parser_->body_limit(server_.options_.max_body_bytes);
    parser_->eager(true);
    request_started_ = false;
    // The first request of a connection must arrive within the read timeout; later ones may
    // wait for the idle timeout. Once a request's first byte is in, the read timeout applies.
    SetDeadline(served_ == 0 ? server_.options_.read_timeout : server_.options_.idle_timeout);
    ContinueRead();
  }

  void ContinueRead() {
    while (true) {
      if (in_begin_ < in_end_) {
        if (!request_started_) {
          request_started_ = true;
          idle_ = false;
        }
        beast::error_code ec;
        size_t used = parser_->put(net::buffer(in_.get() + in_begin_, in_end_ - in_begin_), ec);
        in_begin_ += used;
        if (in_begin_ == in_end_)
          in_begin_ = in_end_ = 0;
        if (ec && ec != bhttp::error::need_more)
          return OnParseError(ec);
        if (parser_->is_done())
          return OnRequest();
        if (used > 0 && in_begin_ < in_end_)
          continue;
      }
      if (!MakeRoom())
        return WriteError(431, "request header fields too large");
      if (request_started_ && !read_deadline_set_) {
        // Only now, when a started request waits for more bytes: a request that arrives whole
        // never moves the timer.
        read_deadline_set_ = true;
        SetDeadlineAt(std::min(deadline_, Clock::now() + server_.options_.read_timeout));
      }
      idle_ = !request_started_;
      if (ssl_ == nullptr) {
        socket_.async_read_some(
            net::buffer(in_.get() + in_end_, in_capacity_ - in_end_),
            [self = shared_from_this()](boost::system::error_code ec, size_t n) {
              if (ec)
                return self->OnTransportError(ec);
              self->in_end_ += n;
              self->ContinueRead();
            });
        return;
      }
      ERR_clear_error();
      int result = SSL_read(ssl_, in_.get() + in_end_, static_cast<int>(in_capacity_ - in_end_));
      if (result <= 0)
        return TlsWait(result, &Connection::ContinueRead);
      in_end_ += static_cast<size_t>(result);
    }
  }

  // Makes space after in_end_: moves unparsed bytes to the front, or grows the buffer while the
  // parser may still need them (a header not yet complete). False when the buffer is at its cap.
  bool MakeRoom() {
    if (in_end_ < in_capacity_)
      return true;
    if (in_begin_ > 0) {
      std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
      return true;
    }
    size_t cap = server_.options_.max_header_bytes + kInitialInputSize;
    if (in_capacity_ >= cap)
      return false;
    size_t capacity = std::min(cap, in_capacity_ * 2);
    auto grown = std::make_unique_for_overwrite<char[]>(capacity);
    std::memcpy(grown.get(), in_.get(), in_end_);
    in_ = std::move(grown);
    in_capacity_ = capacity;
    return true;
  }

  void OnParseError(beast::error_code ec) {
    if (ec == bhttp::error::header_limit)
      return WriteError(431, "request header fields too large");
    if (ec == bhttp::error::body_limit) {
      return WriteError(413, "request body larger than " +
                                 std::to_string(server_.options_.max_body_bytes) + " bytes");
    }
    WriteError(400, "malformed HTTP request: " + ec.message());
  }

  void OnRequest() {
    read_deadline_set_ = false;
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
      request.headers[std::move(name)] = std::string(field.value());
    }
    request.body = std::move(message.body());
    request.remote_address = remote_;
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    parser_.reset();
    Dispatch(std::move(request));
  }

  void Dispatch(Request request) {
    const RouteEntry* route = server_.FindRoute(request.path);
    series_ = route != nullptr ? route->series.get() : &server_.unmatched_series_;
    started_ = Clock::now();
    phase_ = Phase::kHandling;
    ClearDeadline();
    server_.busy_.fetch_add(1);
    if (server_.metrics_)
      server_.metrics_->in_flight.Increment();
    if (route == nullptr) {
      return Respond(Response::Text(404, "no handler for " + request.path + "\n"));
    }
    if (!server_.options_.blocking_handlers) {
      return Respond(Invoke(*route, request));
    }
    // Blocking handlers run on the worker pool; the answer comes back to this connection's
    // I/O thread.
    net::post(server_.workers_, [self = shared_from_this(), route, request = std::move(request)] {
      Response response = self->Invoke(*route, request);
      net::post(self->socket_.get_executor(), [self, response = std::move(response)]() mutable {
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

  // --- Writing: the whole answer, status line to body, is built in out_ (kept across requests)
  // and handed to TLS or the socket in one call.

  void AppendHead(unsigned version, int status, const Headers& headers) {
    out_.clear();
    out_ += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out_ += std::to_string(status);
    out_ += ' ';
    auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    out_.append(reason.data(), reason.size());
    out_ += "\r\n";
    for (const auto& [name, value] : headers) {
      out_ += name;
      out_ += ": ";
      out_ += value;
      out_ += "\r\n";
    }
  }

  // Ends the head with the framing headers and appends `body` (as Beast's prepare_payload did:
  // no Content-Length and no body for 1xx, 204 and 304).
  void AppendFramingAndBody(unsigned version, int status, bool keep_alive, std::string_view body) {
    if (version >= 11 && !keep_alive)
      out_ += "connection: close\r\n";
    if (version < 11 && keep_alive)
      out_ += "connection: keep-alive\r\n";
    bool bodyless = (status >= 100 && status < 200) || status == 204 || status == 304;
    if (!bodyless) {
      out_ += "content-length: ";
      out_ += std::to_string(body.size());
      out_ += "\r\n";
    }
    out_ += "\r\n";
    if (!bodyless)
      out_ += body;
  }

  void Respond(Response response) {
    if (response.stream)
      return StartStream(std::move(response));
    bool keep_alive = keep_alive_ && !server_.stopping_;
    AppendHead(version_, response.status, response.headers);
    AppendFramingAndBody(version_, response.status, keep_alive, response.body);
    Finished(response.status);
    close_after_write_ = !keep_alive;
    StartWrite();
  }

  void Finished(int status) {
    server_.busy_.fetch_sub(1);
    if (!server_.metrics_)
      return;
    server_.metrics_->in_flight.Decrement();
    std::chrono::duration<double> seconds = Clock::now() - started_;
    server_.CountRequest(*series_, status);
    server_.ObserveLatency(*series_, seconds.count());
  }

  // Answers a request that could not be read (limits, malformed) and closes the connection.
  void WriteError(int status, std::string message) {
    read_deadline_set_ = false;
    parser_.reset();
    AppendHead(11, status, {{"content-type", "text/plain"}});
    AppendFramingAndBody(11, status, false, message + "\n");
    server_.CountRequest(server_.unread_series_, status);
    close_after_write_ = true;
    StartWrite();
  }

  void StartWrite() {
    if (phase_ != Phase::kStreaming)
      phase_ = Phase::kWriting;
    out_written_ = 0;
    ContinueWrite();
  }

  void ContinueWrite() {
    while (out_written_ < out_.size()) {
      const char* data = out_.data() + out_written_;
      size_t size = std::min<size_t>(out_.size() - out_written_, 1 << 30);
      if (ssl_ != nullptr) {
        ERR_clear_error();
        int result = SSL_write(ssl_, data, static_cast<int>(size));
        if (result <= 0) {
          SetDeadlineAt(std::min(deadline_, Clock::now() + server_.options_.write_timeout));
          return TlsWait(result, &Connection::ContinueWrite);
        }
        out_written_ += static_cast<size_t>(result);
        continue;
      }
      ssize_t n;
      do {
        n = ::send(socket_.native_handle(), data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      } while (n < 0 && errno == EINTR);
      if (n >= 0) {
        out_written_ += static_cast<size_t>(n);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        SetDeadlineAt(std::min(deadline_, Clock::now() + server_.options_.write_timeout));
        return WaitWritable(&Connection::ContinueWrite);
      } else {
        return OnTransportError(boost::system::error_code(errno, boost::system::system_category()));
      }
    }
    OnWritten();
  }

  void OnWritten() {
    if (phase_ == Phase::kStreaming)
      return CompleteStreamWrite(true);
    ++served_;
    if (close_after_write_)
      return Close();
    StartRequest();
  }

  // --- Closing.

  // Shutdown closes idle keep-alive connections without a TLS close_notify: a client sees a plain
  // EOF between requests, which HTTP clients retry safely. A streamed response is ended through
  // its producer, which then closes the connection.
  void CloseIfIdle() {
    if (streaming_)
      return MarkStreamDead();
    if (idle_)
      CloseSocket();
  }

  void CloseSocket() {
    if (socket_closed_)
      return;
    socket_closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
    CompleteStreamWrite(false);
  }

  // Ends the connection after an answer: close_notify, FIN, then reads and drops whatever the
  // client still sends until it closes too (at most 500 ms). Closing with unread bytes in the
  // socket would send a reset, which can destroy the answer before the client has read it.
  void Close() {
    if (streaming_)
      return CloseSocket();  // the hang-up read is still pending on the stream
    if (phase_ == Phase::kClosing || socket_closed_)
      return;
    phase_ = Phase::kClosing;
    idle_ = false;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      SSL_shutdown(ssl_);  // sends close_notify; the client's is not waited for
      ERR_clear_error();
    }
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    SetDeadlineAt(std::min(deadline_, Clock::now() + std::chrono::milliseconds(500)));
    Linger();
  }

  void Linger() {
    socket_.async_read_some(net::buffer(in_.get(), in_capacity_),
                            [self = shared_from_this()](boost::system::error_code ec, size_t) {
                              if (ec)
                                return self->CloseSocket();
                              self->Linger();
                            });
  }

  // --- Streaming: the producer runs on a thread of its own and hands chunks to this
  // connection's I/O thread; a concurrent read notices the client hanging up.

  class Writer : public StreamWriter {
   public:
    explicit Writer(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}

    bool Write(std::string chunk) override {
      if (chunk.empty())
        return Alive();
      std::ostringstream framed;
      framed << std::hex << chunk.size() << "\r\n" << chunk << "\r\n";
      return connection_->WriteRaw(framed.str());
    }

    bool WaitAlive(int timeout_ms) override {
      std::unique_lock lock(connection_->stream_mutex_);
      connection_->stream_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                       [this] { return !connection_->stream_alive_; });
      return connection_->stream_alive_;
    }

    bool Alive() {
      std::lock_guard lock(connection_->stream_mutex_);
      return connection_->stream_alive_;
    }

   private:
    std::shared_ptr<Connection> connection_;
  };

  void StartStream(Response response) {
    Finished(response.status);
    AppendHead(11, response.status, response.headers);
    out_ += "transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    std::string head = std::move(out_);
    out_.clear();
    {
      std::lock_guard lock(stream_mutex_);
      stream_alive_ = true;
    }
    streaming_ = true;
    phase_ = Phase::kStreaming;
    // A streamed response can last for hours; only write stalls and shutdown end it.
    ClearDeadline();
    WatchForHangup();
    std::thread([self = shared_from_this(), head = std::move(head),
                 producer = std::move(response.stream)] {
      if (self->WriteRaw(head)) {
        Writer writer(self);
        producer(writer);
        self->WriteRaw("0\r\n\r\n");
      }
      net::post(self->socket_.get_executor(), [self] { self->Close(); });
    }).detach();
  }

  void WatchForHangup() {
    if (ssl_ == nullptr) {
      socket_.async_read_some(net::buffer(in_.get(), in_capacity_),
                              [self = shared_from_this()](boost::system::error_code ec, size_t) {
                                if (ec)
                                  return self->MarkStreamDead();
                                self->WatchForHangup();
                              });
      return;
    }
    while (true) {
      ERR_clear_error();
      int result = SSL_read(ssl_, in_.get(), static_cast<int>(in_capacity_));
      if (result <= 0)
        return TlsWait(result, &Connection::WatchForHangup);
    }
  }

  void MarkStreamDead() {
    std::lock_guard lock(stream_mutex_);
    stream_alive_ = false;
    stream_cv_.notify_all();
  }

  void CompleteStreamWrite(bool ok) {
    if (stream_write_done_) {
      stream_write_done_->set_value(ok);
      stream_write_done_.reset();
    }
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
    net::post(socket_.get_executor(),
              [self = shared_from_this(), bytes = std::move(bytes), done]() mutable {
                if (self->socket_closed_)
                  return done->set_value(false);
                self->stream_write_done_ = std::move(done);
                self->out_ = std::move(bytes);
                self->StartWrite();
              });
    if (future.wait_for(server_.options_.write_timeout) != std::future_status::ready) {
      MarkStreamDead();
      net::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseSocket(); });
      return false;
    }
    try {
      return future.get();
    } catch (const std::future_error&) {
      return false;  // the I/O thread was stopped with the write still queued
    }
  }

  Server::Impl& server_;
  tcp::socket socket_;
  net::steady_timer timer_;
  std::shared_ptr<ssl::context> tls_context_;  // null: plain HTTP
  SSL* ssl_ = nullptr;
  TlsTransport transport_;
  std::unique_ptr<char[]> raw_;  // ciphertext received, TLS only
  bool raw_pending_ = false;
  std::unique_ptr<char[]> in_;  // decrypted, unparsed request bytes in [in_begin_, in_end_)
  size_t in_capacity_;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string out_;
  size_t out_written_ = 0;

  Phase phase_ = Phase::kReading;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timer_armed_ = false;
  uint64_t timer_generation_ = 0;
  bool read_deadline_set_ = false;
  bool request_started_ = false;

  std::string remote_;
  RouteSeries* series_ = nullptr;
  Clock::time_point started_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool close_after_write_ = false;
  bool idle_ = false;
  bool socket_closed_ = false;
  size_t served_ = 0;
  bool registered_ = false;
  Server::Impl::CloserHandle closer_;

  std::mutex stream_mutex_;
  std::condition_variable stream_cv_;
  bool stream_alive_ = false;
  bool streaming_ = false;
  std::shared_ptr<std::promise<bool>> stream_write_done_;
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
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec)
    acceptor_->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    acceptor_->bind(endpoint, ec);
  if (!ec)
    acceptor_->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(ErrorCode::kUnavailable, "listen on " + options_.address + ":" +
                                              std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint().port();
  Accept();
  for (auto& context : contexts_)
    threads_.emplace_back([context = context.get()] { context->run(); });
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
  beast::ssl_stream<beast::tcp_stream> probe(probe_ioc, **client);
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
  // Connections are spread over the I/O threads' contexts in turn.
  net::io_context& context = *contexts_[next_context_++ % contexts_.size()];
  acceptor_->async_accept(context, [this](beast::error_code ec, tcp::socket socket) {
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
      // Every answer leaves in one send() per TLS record, so Nagle's algorithm could only hold
      // a record back (TLS 1.3 session tickets after the handshake, the first answer) until the
      // client's delayed ACK, 40 ms later.
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Connection>(*this, std::move(socket), tls() ? CurrentTlsContext() : nullptr)
          ->Start();
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
  net::post(acceptor_->get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
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
  for (auto& guard : keep_running_)
    guard.reset();
  for (auto& context : contexts_)
    context->stop();
  for (auto& thread : threads_)
    thread.join();
  threads_.clear();
  Log(obs::LogLevel::kInfo, "stopped", {});
}

Server::Server(ServerOptions options, obs::Metrics* metrics, obs::Logger* logger)
    : impl_(std::make_unique<Impl>(std::move(options), metrics, logger)) {}

Server::~Server() = default;

void Server::Route(const std::string& path, Handler handler) {
  impl_->exact_routes_[path] = {std::move(handler), std::make_shared<RouteSeries>(path)};
}

void Server::AddReadinessCheck(std::function<bool()> check) {
  impl_->readiness_checks_.push_back(std::move(check));
}

void Server::RoutePrefix(const std::string& prefix, Handler handler) {
  impl_->prefix_routes_[prefix] = {std::move(handler), std::make_shared<RouteSeries>(prefix + "*")};
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
