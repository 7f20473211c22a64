// Error values and Result<T>: failures are values carried with context, never exceptions across
// a module boundary (LevelDB's Status, leveldb/include/leveldb/status.h, is the model).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace seedhop {

// What went wrong, in categories a caller can act on. The Kubernetes API reasons map one-to-one
// onto the first group (metav1.StatusReason, k8s.io/apimachinery/pkg/apis/meta/v1/types.go).
enum class ErrorCode {
  kNotFound,
  kAlreadyExists,
  kConflict,
  kInvalid,
  kBadRequest,
  kForbidden,
  kUnauthorized,
  kGone,  // 410: a watch resourceVersion is too old; relist.
  kTooManyRequests,
  kRequestEntityTooLarge,
  kTimeout,
  kUnavailable,  // connection refused/reset, 5xx: worth a retry.
  kInternal,
};

// Returns the stable lower-case name of `code`, e.g. "not_found" (used as a metrics label).
const char* ErrorCodeName(ErrorCode code);

// The category of an HTTP error status, for servers whose body says nothing more specific:
// 409/412 conflict, 410 gone, 422 invalid, 504 timeout, other 5xx unavailable, other 4xx bad
// request.
ErrorCode ErrorCodeForHttpStatus(int status);

// An error: a category plus a message that names the object and the step
// ("namespace shoot--a--b: lease kube-controller-manager: ...").
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>".
  Error Wrap(const std::string& context) const { return Error(code_, context + ": " + message_); }

  // True for failures that may succeed when retried (throttling, timeouts, unavailability).
  bool IsRetryable() const {
    return code_ == ErrorCode::kTooManyRequests || code_ == ErrorCode::kTimeout ||
           code_ == ErrorCode::kUnavailable;
  }

 private:
  ErrorCode code_;
  std::string message_;
};

// Either a value of T or an Error.
// REQUIRES: value() only when ok(), error() only when !ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// The value-less result of an operation that can fail.
struct Ok {};
using Status = Result<Ok>;
inline Status OkStatus() {
  return Ok{};
}

}  // namespace seedhop
