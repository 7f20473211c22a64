// Plain HTTP request/response values. Handlers see only these: nothing here knows about sockets,
// TLS or Beast, so handlers are unit-testable without a server.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace seedhop::http {

// Header names are stored lower-case; lookups must use lower-case names.
using Headers = std::map<std::string, std::string>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path plus "?query"
  std::string path;    // target without the query string
  std::string query;   // the part after '?', undecoded ("" when absent)
  Headers headers;
  std::string body;
  std::string remote_address;

  // Returns the header's value, or "" when absent. REQUIRES: `name` is lower-case.
  std::string Header(std::string_view name) const;
  // Returns the decoded value of query parameter `name`, or "" when absent.
  std::string QueryParam(std::string_view name) const;
};

// Writes chunks of a streamed (chunked) response body. Returns false once the client is gone or
// the server is shutting down: the producer must then return.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual bool Write(std::string chunk) = 0;
  // Blocks up to `timeout_ms` while the connection is alive; returns false once it is gone.
  virtual bool WaitAlive(int timeout_ms) = 0;
};

struct Response {
  int status = 200;
  Headers headers;  // lower-case names; content-length is set by the server
  std::string body;
  // When set, the server sends `headers`, then streams with chunked encoding whatever this
  // producer writes, on a thread of its own; `body` is ignored. Used for Kubernetes watches.
  std::function<void(StreamWriter&)> stream;

  // A response with `status`, content-type `content_type` and `body`.
  static Response Text(int status, std::string body, std::string content_type = "text/plain");
  static Response Json(int status, std::string body);
};

using Handler = std::function<Response(const Request&)>;

// Decodes %XX escapes and '+' (as space) in a URL query component.
std::string UrlDecode(std::string_view text);
// Encodes everything but unreserved characters (RFC 3986 section 2.3) as %XX.
std::string UrlEncode(std::string_view text);

}  // namespace seedhop::http
