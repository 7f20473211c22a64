#include "test/support/raw_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string_view>

namespace seedhop::testing {

SslContext UnverifiedClientContext() {
  SslContext context(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  return context;
}

std::unique_ptr<RawTls> RawTls::Connect(SSL_CTX* context, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return nullptr;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return nullptr;
  }
  auto connection = std::unique_ptr<RawTls>(new RawTls(fd, SSL_new(context)));
  SSL_set_fd(connection->ssl_, fd);
  if (SSL_connect(connection->ssl_) != 1)
    return nullptr;
  return connection;
}

RawTls::~RawTls() {
  SSL_free(ssl_);
  ::close(fd_);
}

bool RawTls::Write(std::string_view data) {
  return SSL_write(ssl_, data.data(), static_cast<int>(data.size())) ==
         static_cast<int>(data.size());
}

namespace {

// The size of the response at the start of `in` (head and Content-Length body), or nullopt while
// its head is incomplete. Looks at the head only: a body of megabytes is not scanned again on
// every read.
std::optional<size_t> ResponseSize(std::string_view in) {
  size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos)
    return std::nullopt;
  std::string_view head = in.substr(0, head_end);
  size_t at = head.find("\r\ncontent-length: ");
  if (at == std::string_view::npos)
    at = head.find("\r\nContent-Length: ");
  size_t length = 0;
  if (at != std::string_view::npos)
    length =
        std::stoul(std::string(head.substr(at + std::string_view("\r\ncontent-length: ").size())));
  return head_end + 4 + length;
}

}  // namespace

std::string RawTls::ReadResponse() {
  std::string in = std::move(pending_);
  pending_.clear();
  char buffer[16384];
  std::optional<size_t> size = ResponseSize(in);
  while (!size || in.size() < *size) {
    int n = SSL_read(ssl_, buffer, sizeof buffer);
    if (n <= 0)
      return in;
    in.append(buffer, static_cast<size_t>(n));
    if (!size)
      size = ResponseSize(in);
  }
  pending_ = in.substr(*size);
  in.resize(*size);
  return in;
}

bool RawTls::WaitForClose(std::string* received) {
  received->append(pending_);
  pending_.clear();
  char buffer[4096];
  while (true) {
    int n = SSL_read(ssl_, buffer, sizeof buffer);
    int saved_errno = errno;
    if (n > 0) {
      received->append(buffer, static_cast<size_t>(n));
      continue;
    }
    int error = SSL_get_error(ssl_, n);
    // SO_RCVTIMEO surfaces as EAGAIN: the server kept the connection open.
    bool timed_out = (error == SSL_ERROR_SYSCALL || error == SSL_ERROR_WANT_READ) &&
                     (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK);
    return !timed_out;
  }
}

}  // namespace seedhop::testing
