#include "common/http/client.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <variant>
#include <vector>

#include "common/http/tls.h"

namespace seedhop::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

struct ParsedUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path + query
  std::string PoolKey() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};

Result<ParsedUrl> ParseUrl(const std::string& url) {
  ParsedUrl parsed;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    parsed.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return Error(ErrorCode::kInvalid, "URL " + url + ": scheme must be http or https");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  parsed.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty())
    return Error(ErrorCode::kInvalid, "URL " + url + ": no host");
  if (authority.front() == '[') {  // [IPv6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos)
      return Error(ErrorCode::kInvalid, "URL " + url + ": bad IPv6 host");
    parsed.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      parsed.port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    parsed.host = authority.substr(0, colon);
    if (colon != std::string::npos)
      parsed.port = authority.substr(colon + 1);
  }
  if (parsed.port.empty())
    parsed.port = parsed.tls ? "443" : "80";
  return parsed;
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One pooled connection with its own io_context: calls on it are single-threaded, and a
// timeout is the tcp_stream's expiry on each asynchronous operation.
struct Connection {
  net::io_context ioc;
  std::variant<std::monostate, beast::tcp_stream, TlsStream> stream;
  beast::flat_buffer buffer;
  bool reused = false;

  beast::tcp_stream& Lowest() {
    if (auto* tls = std::get_if<TlsStream>(&stream))
      return beast::get_lowest_layer(*tls);
    return std::get<beast::tcp_stream>(stream);
  }

  // Runs the posted operations to completion.
  void Run() {
    ioc.restart();
    ioc.run();
  }

  template <typename Operation>
  beast::error_code Do(Operation&& operation) {
    beast::error_code result;
    std::visit(
        [&](auto& s) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
            operation(s, result);
          }
        },
        stream);
    Run();
    return result;
  }
};

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == net::error::eof || ec == bhttp::error::end_of_stream ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

// Whether a request may go out again after it was sent and the connection closed before an answer:
// only when repeating it cannot change what it did. The methods are net/http's isReplayable
// (go/src/net/http/request.go): a POST or PATCH the server read before it closed may have been
// applied.
bool IsReplayable(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE";
}

// An idle keep-alive connection is usable only when the server has neither closed it nor sent
// anything since the last answer: an HTTP/1.1 server sends nothing unasked but a TLS close_notify
// or alert before it closes.
bool StillIdle(Connection& connection) {
  char byte;
  ssize_t peeked =
      ::recv(connection.Lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

Error TransportError(const std::string& url, const std::string& step, const beast::error_code& ec) {
  ErrorCode code = ec == beast::error::timeout ? ErrorCode::kTimeout : ErrorCode::kUnavailable;
  return Error(code, url + ": " + step + ": " + ec.message());
}

}  // namespace

class Client::Impl {
 public:
  explicit Impl(ClientOptions options) : options_(std::move(options)) {}

  Result<std::shared_ptr<ssl::context>> TlsContext() {
    std::lock_guard lock(mutex_);
    if (tls_context_)
      return tls_context_;
    auto context =
        internal::MakeClientContext(options_.ca_pem, options_.client_cert_pem,
                                    options_.client_key_pem, options_.insecure_skip_verify);
    if (!context)
      return context.error();
    tls_context_ = *context;
    return tls_context_;
  }

  // Returns a pooled connection to `key` the server has not closed, or nullptr; closed ones are
  // dropped.
  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto& idle = idle_[key];
    while (!idle.empty()) {
      auto connection = std::move(idle.back());
      idle.pop_back();
      if (StillIdle(*connection)) {
        connection->reused = true;
        return connection;
      }
    }
    return nullptr;
  }

  void ReturnIdle(const std::string& key, std::unique_ptr<Connection> connection) {
    std::lock_guard lock(mutex_);
    auto& idle = idle_[key];
    if (idle.size() < options_.max_idle_per_host)
      idle.push_back(std::move(connection));
  }

  Result<std::unique_ptr<Connection>> Connect(const ParsedUrl& url, const std::string& full_url) {
    auto connection = std::make_unique<Connection>();
    tcp::resolver resolver(connection->ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(url.host, url.port, ec);
    if (ec)
      return TransportError(full_url, "resolve " + url.host, ec);
    std::shared_ptr<ssl::context> context;
    if (url.tls) {
      auto tls = TlsContext();
      if (!tls)
        return tls.error().Wrap(full_url);
      context = *tls;
      connection->stream.emplace<TlsStream>(connection->ioc, *context);
    } else {
      connection->stream.emplace<beast::tcp_stream>(connection->ioc);
    }
    auto& lowest = connection->Lowest();
    lowest.expires_after(options_.connect_timeout);
    beast::error_code connect_ec;
    lowest.async_connect(endpoints,
                         [&](beast::error_code e, const tcp::endpoint&) { connect_ec = e; });
    connection->Run();
    if (connect_ec)
      return TransportError(full_url, "connect", connect_ec);
    lowest.socket().set_option(tcp::no_delay(true), ec);
    if (url.tls) {
      auto& tls = std::get<TlsStream>(connection->stream);
      std::string server_name = options_.server_name.empty() ? url.host : options_.server_name;
      beast::error_code address_check;
      net::ip::make_address(server_name, address_check);
      // SNI carries DNS names only (RFC 6066 section 3); verification covers IP SANs too.
      if (address_check)
        SSL_set_tlsext_host_name(tls.native_handle(), server_name.c_str());
      if (!options_.insecure_skip_verify) {
        tls.set_verify_callback(ssl::host_name_verification(server_name));
      }
      lowest.expires_after(options_.connect_timeout);
      beast::error_code handshake_ec;
      tls.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { handshake_ec = e; });
      connection->Run();
      if (handshake_ec)
        return TransportError(full_url, "TLS handshake", handshake_ec);
    }
    return connection;
  }

  bhttp::request<bhttp::string_body> BuildRequest(const ParsedUrl& url,
                                                  const ClientRequest& request) {
    bhttp::request<bhttp::string_body> message;
    message.method_string(request.method);
    message.target(url.target);
    message.version(11);
    bool default_port = (url.tls && url.port == "443") || (!url.tls && url.port == "80");
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    message.set(bhttp::field::host, default_port ? host : host + ":" + url.port);
    message.set(bhttp::field::user_agent, "seedhop/0.1");
    for (const auto& [name, value] : request.headers)
      message.set(name, value);
    message.body() = request.body;
    message.keep_alive(true);
    message.prepare_payload();
    return message;
  }

  // Writes the request on a pooled or new connection. A reused connection the server closed
  // after TakeIdle looked at it fails the write; the server has not read the request then, so it
  // goes once more on a new connection, whatever its method.
  Result<std::unique_ptr<Connection>> WriteRequest(const ParsedUrl& url,
                                                   const ClientRequest& request,
                                                   bhttp::request<bhttp::string_body>& message,
                                                   std::chrono::milliseconds timeout) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<Connection> connection = attempt == 0 ? TakeIdle(url.PoolKey()) : nullptr;
      if (!connection) {
        auto fresh = Connect(url, request.url);
        if (!fresh)
          return fresh.error();
        connection = std::move(*fresh);
      }
      connection->Lowest().expires_after(timeout);
      beast::error_code ec = connection->Do([&](auto& stream, beast::error_code& out) {
        bhttp::async_write(stream, message, [&out](beast::error_code e, size_t) { out = e; });
      });
      if (!ec)
        return connection;
      if (!(connection->reused && IsStaleConnectionError(ec))) {
        return TransportError(request.url, "write request", ec);
      }
    }
    return Error(ErrorCode::kUnavailable, request.url + ": write request: connection closed");
  }

  Result<ClientResponse> Send(const ClientRequest& request) {
    auto url = ParseUrl(request.url);
    if (!url)
      return url.error();
    auto timeout = request.timeout.count() > 0 ? request.timeout : options_.request_timeout;
    auto message = BuildRequest(*url, request);
    for (int attempt = 0;; ++attempt) {
      auto connection = WriteRequest(*url, request, message, timeout);
      if (!connection)
        return connection.error();
      bool reused = (*connection)->reused;
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(options_.max_response_bytes);
      parser.header_limit(1024 * 1024);
      (*connection)->Lowest().expires_after(timeout);
      beast::error_code ec = (*connection)->Do([&](auto& stream, beast::error_code& out) {
        bhttp::async_read(stream, (*connection)->buffer, parser,
                          [&out](beast::error_code e, size_t) { out = e; });
      });
      if (ec) {
        // A reused connection closed before an answer: most likely the server closed it while
        // idle just as the request went out, but it may have read and applied it first, so only
        // a request that is safe to repeat goes again (the caller decides on the others).
        if (attempt == 0 && reused && IsStaleConnectionError(ec) && IsReplayable(request.method))
          continue;
        return TransportError(request.url, "read response", ec);
      }
      auto& response = parser.get();
      ClientResponse result;
      result.status = static_cast<int>(response.result_int());
      for (const auto& field : response) {
        std::string name(field.name_string());
        for (auto& c : name)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        result.headers[name] = std::string(field.value());
      }
      result.body = std::move(response.body());
      if (response.keep_alive()) {
        (*connection)->Lowest().expires_never();
        ReturnIdle(url->PoolKey(), std::move(*connection));
      }
      return result;
    }
  }

  Result<ClientResponse> Stream(const ClientRequest& request, const ChunkCallback& on_data,
                                std::chrono::milliseconds idle_timeout) {
    auto url = ParseUrl(request.url);
    if (!url)
      return url.error();
    auto message = BuildRequest(*url, request);
    auto written = WriteRequest(*url, request, message, options_.request_timeout);
    if (!written)
      return written.error();
    std::unique_ptr<Connection> connection = std::move(*written);
    bhttp::response_parser<bhttp::buffer_body> parser;
    // Not boost::none: Beast 1.74 compares a Content-Length against an empty optional as
    // "larger" and fails every non-chunked response with body_limit.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    connection->Lowest().expires_after(options_.request_timeout);
    beast::error_code ec = connection->Do([&](auto& stream, beast::error_code& out) {
      bhttp::async_read_header(stream, connection->buffer, parser,
                               [&out](beast::error_code e, size_t) { out = e; });
    });
    if (ec)
      return TransportError(request.url, "read response header", ec);
    ClientResponse result;
    result.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get()) {
      std::string name(field.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[name] = std::string(field.value());
    }
    bool success = result.status >= 200 && result.status < 300;
    std::vector<char> chunk(64 * 1024);
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      connection->Lowest().expires_after(success ? idle_timeout : options_.request_timeout);
      ec = connection->Do([&](auto& stream, beast::error_code& out) {
        // read_some hands over whatever arrived: a watch event must not wait for a full buffer.
        bhttp::async_read_some(stream, connection->buffer, parser,
                               [&out](beast::error_code e, size_t) { out = e; });
      });
      if (ec == bhttp::error::need_buffer)
        ec = {};
      size_t received = chunk.size() - parser.get().body().size;
      if (received > 0) {
        if (success) {
          if (!on_data(std::string_view(chunk.data(), received)))
            return result;
        } else if (result.body.size() < 1024 * 1024) {
          result.body.append(chunk.data(), received);
        }
      }
      if (ec == bhttp::error::end_of_stream || ec == net::error::eof)
        break;
      if (ec)
        return TransportError(request.url, "read streamed body", ec);
    }
    return result;
  }

 private:
  ClientOptions options_;
  std::mutex mutex_;
  std::shared_ptr<ssl::context> tls_context_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

Result<ClientResponse> Client::Send(const ClientRequest& request) {
  return impl_->Send(request);
}

Result<ClientResponse> Client::Stream(const ClientRequest& request, const ChunkCallback& on_data,
                                      std::chrono::milliseconds idle_timeout) {
  return impl_->Stream(request, on_data, idle_timeout);
}

}  // namespace seedhop::http
