// A blocking TLS client connection made with OpenSSL directly, for tests that must control exactly
// what goes on the wire and when (idle connections, stalled or pipelined requests, TLS records of
// one byte). HTTP clients hide all of that.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace seedhop::testing {

// Frees an OpenSSL client context; the deleter of SslContext.
// REQUIRES: no connection made from the context is still in use.
struct SslContextFree {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
// An owned OpenSSL context, for RawTls::Connect.
using SslContext = std::unique_ptr<SSL_CTX, SslContextFree>;

// A client context that does not verify the server (the tests know whom they talk to).
// Thread-safe to use for connections from several threads.
SslContext UnverifiedClientContext();

// One connection to 127.0.0.1:port. Reads and writes time out after 5 s.
class RawTls {
 public:
  // Returns null when the TCP connect or the handshake fails. `context` must outlive the result.
  static std::unique_ptr<RawTls> Connect(SSL_CTX* context, uint16_t port);
  ~RawTls();
  RawTls(const RawTls&) = delete;
  RawTls& operator=(const RawTls&) = delete;

  // Writes `data` as one TLS record (or as few as its size allows); true when all was written.
  bool Write(std::string_view data);

  // Reads one response with a Content-Length body; returns what arrived before the peer closed
  // or 5 s passed when the response is incomplete. Bytes read beyond it are kept for the next call.
  std::string ReadResponse();

  // Reads until the peer closes the connection (cleanly or not) or 5 s pass; returns true when
  // it closed. What arrived meanwhile is appended to `received`.
  bool WaitForClose(std::string* received);

 private:
  RawTls(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  int fd_;
  SSL* ssl_;
  std::string pending_;  // read beyond the last response
};

}  // namespace seedhop::testing
